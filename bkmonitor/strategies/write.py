"""Persist a validated strategy config: items keep their ids, their parts are replaced."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from bkmonitor.models import Algorithm, Detect, QueryConfig, Strategy, StrategyItem
from bkmonitor.signals import batch_write

STRATEGY_FIELDS = ("name", "bk_biz_id", "is_enabled", "labels", "notice")
QUERY_CONFIG_FIELDS = ("data_type_label", "result_table_id", "metric_field", "agg_method", "agg_interval",
                       "agg_dimension", "agg_condition", "unit")


def save_strategy(config: dict[str, Any], instance: Strategy | None = None, user: str = "") -> Strategy:
    """Create (instance None) or replace a strategy from a validated config; one version bump, one signal."""
    with transaction.atomic(), batch_write():
        if instance is None:
            strategy = Strategy(creator=user)
        else:
            strategy = Strategy.objects.select_for_update().get(pk=instance.pk)
        for name in STRATEGY_FIELDS:
            setattr(strategy, name, config[name])
        strategy.update_user = user
        strategy.save()
        _save_items(strategy, config["items"], keep_ids=instance is not None)
        strategy.detects.all().delete()
        Detect.objects.bulk_create(Detect(strategy=strategy, **d) for d in config["detects"])
    return strategy


def _save_items(strategy: Strategy, items: list[dict[str, Any]], keep_ids: bool) -> None:
    existing = {i.pk: i for i in strategy.items.all()} if keep_ids else {}
    kept = {d["id"] for d in items if d.get("id") in existing}
    strategy.items.exclude(pk__in=kept).delete()
    for data in items:
        item = existing.get(data.get("id")) if keep_ids else None
        if item is None:
            item = StrategyItem(strategy=strategy)
        item.name = data["name"]
        item.no_data_config = data["no_data_config"]
        item.save()
        item.query_configs.all().delete()
        item.algorithms.all().delete()
        QueryConfig.objects.bulk_create(
            QueryConfig(item=item, **{f: q[f] for f in QUERY_CONFIG_FIELDS}) for q in data["query_configs"])
        Algorithm.objects.bulk_create(Algorithm(item=item, **a) for a in data["algorithms"])


def set_enabled(strategy: Strategy, enabled: bool, user: str = "") -> bool:
    """Enable or disable; False (and no version bump) when it already was."""
    with transaction.atomic():
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.is_enabled == enabled:
            return False
        locked.is_enabled = enabled
        locked.update_user = user
        locked.save(update_fields=["is_enabled", "update_user"])
    return True
