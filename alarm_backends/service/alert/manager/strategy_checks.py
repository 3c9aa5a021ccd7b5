"""Which ABNORMAL alerts no longer belong to their strategy, and why (pure).

An alert is closed when its strategy was deleted or disabled, when its item or its level was removed,
when its dimensions no longer are the item's agg_dimension keys, or when the wall clock is outside every
uptime range of its level's detect.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from alarm_backends.service.trigger.nofm import in_uptime

STRATEGY_DELETED = "strategy deleted"
STRATEGY_DISABLED = "strategy disabled"
ITEM_REMOVED = "item removed"
LEVEL_REMOVED = "level removed"
NODATA_DISABLED = "no-data check disabled"
DIMENSION_CHANGED = "dimension changed"
OUTSIDE_UPTIME = "outside the uptime ranges"

Ranges = tuple[tuple[int, int], ...]  # (start minute, end minute) of the day, inclusive


@dataclass(frozen=True)
class OpenAlert:
    id: int
    strategy_id: int
    item_id: int
    severity: int
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    is_nodata: bool = False


@dataclass(frozen=True)
class ItemView:
    levels: frozenset[int]
    dimensions: frozenset[str]
    nodata_enabled: bool = False
    nodata_level: int = 2


@dataclass(frozen=True)
class StrategyView:
    enabled: bool
    items: Mapping[int, ItemView] = field(default_factory=dict)
    uptime: Mapping[int, Ranges] = field(default_factory=dict)  # level -> ranges; absent/empty: always up


def _minutes(hhmm: str) -> int:
    hours, minutes = str(hhmm).split(":")[:2]
    return int(hours) * 60 + int(minutes)


def uptime_ranges(trigger_config: Mapping[str, Any]) -> Ranges:
    ranges = (trigger_config.get("uptime") or {}).get("time_ranges") or []
    return tuple((_minutes(r["start"]), _minutes(r["end"])) for r in ranges)


def item_view(item: Mapping[str, Any]) -> ItemView:
    queries = item.get("query_configs") or [{}]
    nodata = item.get("no_data_config") or {}
    return ItemView(levels=frozenset(int(a["level"]) for a in item.get("algorithms", [])),
                    dimensions=frozenset(queries[0].get("agg_dimension") or ()),
                    nodata_enabled=bool(nodata.get("is_enabled")), nodata_level=int(nodata.get("level", 2)))


def strategy_views(enabled_configs: Sequence[Mapping[str, Any]],
                   known: Mapping[int, bool]) -> dict[int, StrategyView]:
    """Enabled strategies in the API shape, plus every stored strategy's is_enabled (absent: deleted)."""
    views = {sid: StrategyView(enabled=False) for sid, enabled in known.items() if not enabled}
    for config in enabled_configs:
        views[int(config["id"])] = StrategyView(
            enabled=True, items={int(i["id"]): item_view(i) for i in config.get("items", [])},
            uptime={int(d["level"]): uptime_ranges(d.get("trigger_config") or {}) for d in config.get("detects", [])})
    return views


def structural_reason(alert: OpenAlert, strategy: StrategyView | None) -> str | None:
    """Why the strategy no longer produces this alert; None while it still does."""
    if strategy is None:
        return STRATEGY_DELETED
    if not strategy.enabled:
        return STRATEGY_DISABLED
    item = strategy.items.get(alert.item_id)
    if item is None:
        return ITEM_REMOVED
    if alert.is_nodata:
        if not item.nodata_enabled:
            return NODATA_DISABLED
        if alert.severity != item.nodata_level:
            return LEVEL_REMOVED
        if not alert.dimensions:  # the strategy-wide no-data alert has no dimensions by design
            return None
    elif alert.severity not in item.levels:
        return LEVEL_REMOVED
    if frozenset(alert.dimensions) != item.dimensions:
        return DIMENSION_CHANGED
    return None


def outside_uptime(alert: OpenAlert, strategy: StrategyView, now: float, tz: ZoneInfo) -> bool:
    ranges = strategy.uptime.get(alert.severity) or ()
    return bool(ranges) and not in_uptime(int(now), ranges, tz)


def close_reason(alert: OpenAlert, strategy: StrategyView | None, now: float, tz: ZoneInfo) -> str | None:
    reason = structural_reason(alert, strategy)
    if reason is None and strategy is not None and outside_uptime(alert, strategy, now, tz):
        return OUTSIDE_UPTIME
    return reason


def alerts_to_close(alerts: Sequence[OpenAlert], strategies: Mapping[int, StrategyView], now: float,
                    tz: ZoneInfo) -> list[tuple[OpenAlert, str]]:
    decided = ((alert, close_reason(alert, strategies.get(alert.strategy_id), now, tz)) for alert in alerts)
    return [(alert, reason) for alert, reason in decided if reason is not None]
