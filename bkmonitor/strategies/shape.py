"""A stored strategy as the API's JSON (docs/ARCHITECTURE.md, Data contracts: strategy; plus ids,
version and times)."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.fields import DateTimeField

from bkmonitor.choices import DataSourceLabel, DataTypeLabel
from bkmonitor.models import Algorithm, Detect, QueryConfig, Strategy, StrategyItem

PREFETCH = ("items__query_configs", "items__algorithms", "detects")
_datetime = DateTimeField()


def ordered(value: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The documented key order (PostgreSQL's jsonb keeps its own), other keys after."""
    return {**{k: value[k] for k in keys if k in value}, **{k: v for k, v in value.items() if k not in keys}}


def trigger_config_to_dict(config: dict[str, Any]) -> dict[str, Any]:
    config = ordered(config, "count", "check_window", "uptime")
    if isinstance(config.get("uptime"), dict):
        uptime = config["uptime"]
        ranges = [ordered(r, "start", "end") for r in uptime.get("time_ranges", [])]
        config["uptime"] = {**uptime, "time_ranges": ranges}
    return config


def with_relations(queryset: QuerySet[Strategy]) -> QuerySet[Strategy]:
    """Everything strategy_to_dict reads, in a fixed number of queries whatever the number of strategies."""
    return queryset.prefetch_related(*PREFETCH)


def query_config_to_dict(config: QueryConfig) -> dict[str, Any]:
    if config.data_type_label == DataTypeLabel.EVENT:
        return event_query_config_to_dict(config)
    return {
        "data_type_label": config.data_type_label,
        "result_table_id": config.result_table_id,
        "metric_field": config.metric_field,
        "agg_method": config.agg_method,
        "agg_interval": config.agg_interval,
        "agg_dimension": list(config.agg_dimension),
        "agg_condition": [ordered(c, "key", "method", "value", "condition") for c in config.agg_condition],
        "unit": config.unit,
    }


def event_query_config_to_dict(config: QueryConfig) -> dict[str, Any]:
    """An event config names its event in custom_event_name (stored as metric_field) and has no unit."""
    return {
        "data_type_label": config.data_type_label,
        "data_source_label": DataSourceLabel.CUSTOM.value,
        "result_table_id": config.result_table_id,
        "custom_event_name": config.metric_field,
        "agg_method": config.agg_method,
        "agg_interval": config.agg_interval,
        "agg_dimension": list(config.agg_dimension),
        "agg_condition": [ordered(c, "key", "method", "value", "condition") for c in config.agg_condition],
    }


def algorithm_to_dict(algorithm: Algorithm) -> dict[str, Any]:
    return {"level": algorithm.level, "type": algorithm.type, "config": algorithm.config,
            "unit_prefix": algorithm.unit_prefix}


def item_to_dict(item: StrategyItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "name": item.name,
        "query_configs": [query_config_to_dict(c) for c in item.query_configs.all()],
        "algorithms": [algorithm_to_dict(a) for a in item.algorithms.all()],
        "no_data_config": ordered(item.no_data_config, "is_enabled", "continuous", "level"),
    }


def detect_to_dict(detect: Detect) -> dict[str, Any]:
    return {
        "level": detect.level,
        "connector": detect.connector,
        "trigger_config": trigger_config_to_dict(detect.trigger_config),
        "recovery_config": ordered(detect.recovery_config, "check_window", "status_setter"),
    }


def strategy_to_dict(strategy: Strategy) -> dict[str, Any]:
    return {
        "id": strategy.pk,
        "name": strategy.name,
        "bk_biz_id": strategy.bk_biz_id,
        "is_enabled": strategy.is_enabled,
        "labels": list(strategy.labels),
        "items": [item_to_dict(i) for i in strategy.items.all()],
        "detects": [detect_to_dict(d) for d in strategy.detects.all()],
        "notice": ordered(strategy.notice, "user_groups", "signal"),
        "version": strategy.version,
        "create_time": _datetime.to_representation(strategy.create_time),
        "update_time": _datetime.to_representation(strategy.update_time),
    }
