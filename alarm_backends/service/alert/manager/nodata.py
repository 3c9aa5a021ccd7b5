"""Strategy-wide no-data: an item none of whose windows closed for `continuous` windows (pure).

Silence is measured in event time against the topic's clock (its highest watermark) while the topic
moves; when the topic receives nothing at all its clock stops, so silence is then measured in wall
seconds since the topic's max_time last advanced. Either way the event time is the item's last window
plus `continuous` windows (as the access stage's per-series no-data), so the event id is deterministic.
Only run on a healthy pipeline: a stalled consumer is not silence.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alarm_backends.service.alert.manager.health import PartitionProgress
from alarm_backends.service.trigger.recovery import missing_windows, silence_start


@dataclass(frozen=True)
class NoDataItem:
    uid: str  # "<strategy_id>.<item_id>", as in the access progress
    strategy_id: int
    item_id: int
    strategy_name: str
    bk_biz_id: int
    topic: str
    interval: int
    continuous: int
    level: int


@dataclass(frozen=True)
class TopicActivity:
    max_time: int | None  # highest event time seen on the topic
    since: float  # wall clock from which max_time has not advanced


def nodata_items(configs: Sequence[Mapping[str, Any]], topics_by_table: Mapping[str, str]) -> list[NoDataItem]:
    """Enabled time-series items with no_data_config.is_enabled whose table has a topic."""
    found = []
    for strategy in configs:
        if not strategy.get("is_enabled", True):
            continue
        for item in strategy.get("items", []):
            nodata = item.get("no_data_config") or {}
            queries = item.get("query_configs") or []
            if not nodata.get("is_enabled") or not queries:
                continue
            query = queries[0]
            topic = topics_by_table.get(query.get("result_table_id", ""))
            if query.get("data_type_label", "time_series") != "time_series" or topic is None:
                continue
            found.append(NoDataItem(
                uid=f"{strategy['id']}.{item['id']}", strategy_id=int(strategy["id"]), item_id=int(item["id"]),
                strategy_name=str(strategy.get("name", "")), bk_biz_id=int(strategy.get("bk_biz_id", 0)),
                topic=topic, interval=int(query["agg_interval"]), continuous=max(1, int(nodata.get("continuous", 5))),
                level=int(nodata.get("level", 2))))
    return found


def last_window(progress: Sequence[PartitionProgress], item: NoDataItem) -> int | None:
    starts = [p.items[item.uid] for p in progress if p.topic == item.topic and item.uid in p.items]
    return max(starts) if starts else None


def next_activity(previous: TopicActivity | None, progress: Sequence[PartitionProgress], topic: str,
                  now: float, lagging: bool = False) -> TopicActivity:
    """Advance the topic's activity record: `since` moves to the checkpoint at which max_time advanced.
    A topic with lag is receiving data that is not processed yet, so it is not idle."""
    records = [p for p in progress if p.topic == topic]
    if not records:
        return TopicActivity(None, now) if lagging or previous is None else previous
    newest = max(records, key=lambda p: (p.max_time, p.updated))
    if lagging:
        return TopicActivity(newest.max_time, now)
    if previous is None or previous.max_time is None or newest.max_time > previous.max_time:
        return TopicActivity(newest.max_time, newest.updated)
    return previous


def silence_time(item: NoDataItem, last: int | None, anchor: int | None, clock: int | None,
                 idle_seconds: float) -> int | None:
    """Event time of the item's no-data event, or None while it is not silent. `anchor` stands in for
    the last window of an item that never had one (when the manager first saw it)."""
    base = last if last is not None else anchor
    if base is None:
        return None
    event_silent = clock is not None and missing_windows(base, clock, item.interval) >= item.continuous
    wall_silent = idle_seconds >= item.continuous * item.interval
    return silence_start(base, item.continuous, item.interval) if event_silent or wall_silent else None


def decide(item: NoDataItem, last: int | None, anchor: int | None, clock: int | None, idle_seconds: float,
           open_begin: int | None) -> tuple[str, int] | None:
    """("no_data", t) to open the alert, ("recovered", t) to end the open one (its begin time is
    `open_begin`), or None."""
    if open_begin is not None:
        base = open_begin - item.continuous * item.interval
        if last is not None and last > base:  # a window closed after the one the silence counted from
            return "recovered", max(last, open_begin)
        return None
    t = silence_time(item, last, anchor, clock, idle_seconds)
    return ("no_data", t) if t is not None else None
