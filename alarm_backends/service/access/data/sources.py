"""Where the access stage reads its configuration: enabled strategies, the
topic of each result table, and a cheap version that changes with either."""
from __future__ import annotations

from typing import Any

from alarm_backends.core.storage.redis import get_client


def load_strategies(data_type_label: str = "time_series") -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every enabled strategy, and the topic of each table that items of `data_type_label` read
    (metric and custom event topics are consumed by different groups, so they are never mixed)."""
    from bkmonitor.strategies.export import enabled_strategy_configs
    from metadata.models import KafkaStorage

    strategies = enabled_strategy_configs()
    tables = {q["result_table_id"] for s in strategies for i in s.get("items", []) for q in i.get("query_configs", [])
              if q.get("data_type_label", "time_series") == data_type_label}
    topics = dict(KafkaStorage.objects.filter(table_id__in=tables, is_enabled=True).values_list("table_id", "topic"))
    return strategies, topics


def strategy_version() -> str:
    """The Redis change signal (instant) joined with the database's own version (a
    change made while Redis was down is still seen)."""
    from bkmonitor.strategies.export import current_signal_version, strategy_config_version
    from metadata.models import KafkaStorage

    storages = KafkaStorage.objects.filter(is_enabled=True).values_list("table_id", "topic")
    return f"{current_signal_version()}:{strategy_config_version()}:{hash(tuple(sorted(storages)))}"


def redis_client() -> Any:
    return get_client()
