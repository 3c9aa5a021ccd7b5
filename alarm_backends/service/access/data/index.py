"""The strategy index: enabled strategies (docs/ARCHITECTURE.md, Data contracts: strategy) compiled once per
change into what the hot path needs: table -> metric -> aggregations -> items,
with compiled conditions, levels in severity order and the history each item reads.

Items whose query aggregates the same way (table, metric, method, interval,
dimensions, condition) share one aggregation: a point is added to its window
once, however many strategies watch it, and the aggregated series' history is
kept once. Only detection, triggering and alert state are per item.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from alarm_backends.service.access.data.conditions import Predicate, compile_conditions
from alarm_backends.service.detect.batch import BatchDetector, compile_level_batch
from alarm_backends.service.detect.level import compile_level
from alarm_backends.service.detect.history import Detector
from alarm_backends.service.detect.rounding import on_rounded
from alarm_backends.service.detect.registry import required_history
from alarm_backends.service.trigger.nofm import window_span
from alarm_backends.service.trigger.recovery import RecoveryRule


@dataclass(frozen=True, slots=True)
class LevelSpec:
    level: int
    algorithms: tuple[dict[str, Any], ...]
    connector: str
    trigger_count: int
    check_window: int
    uptime: tuple[tuple[int, int], ...]  # (start minute, end minute) of day, inclusive
    recovery_config: dict[str, Any]
    detector: Detector  # (value, t, interval, history) -> anomalous?
    detector_key: str  # equal for levels that detect alike (same algorithms, connector and unit)
    batch: BatchDetector | None = None  # the same detector over a column of rounded values
    span: int = 0  # the trigger window at t is [t - span, t] (nofm.window_span)
    rule: RecoveryRule = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", RecoveryRule.of(self.recovery_config))


@dataclass(frozen=True, slots=True)
class ItemSpec:
    uid: str
    strategy_id: int
    item_id: int
    strategy_name: str
    item_name: str
    bk_biz_id: int
    table_id: str
    metric: str
    agg_method: str
    interval: int
    dimensions: tuple[str, ...]
    condition: Predicate | None
    levels: tuple[LevelSpec, ...]
    unit: str
    history_offsets: tuple[int, ...]
    fingerprint: str
    agg_uid: str  # the aggregation this item reads (shared by items that aggregate alike)
    group_uid: str  # the series group of that aggregation (same table, dimensions, condition, interval)
    no_data_config: dict[str, Any] = field(default_factory=dict)
    key_of: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(default=lambda d: ())  # series key
    by_level: dict[int, LevelSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_of", _key_function(self.dimensions))
        object.__setattr__(self, "by_level", {level.level: level for level in self.levels})

    @property
    def max_check_window(self) -> int:
        return max((lv.check_window for lv in self.levels), default=1)


def _key_function(dimensions: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The series key of a point, specialised for the common short agg_dimension lists."""
    if not dimensions:
        return lambda d: ()
    if len(dimensions) == 1:
        (only,) = dimensions
        return lambda d: (d.get(only),)
    if len(dimensions) == 2:
        first, second = dimensions
        return lambda d: (d.get(first), d.get(second))
    return lambda d: tuple([d.get(k) for k in dimensions])


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _uptime(trigger_config: Mapping[str, Any]) -> tuple[tuple[int, int], ...]:
    ranges = (trigger_config.get("uptime") or {}).get("time_ranges") or []
    return tuple((_minutes(r["start"]), _minutes(r["end"])) for r in ranges)


def query_metric(query: Mapping[str, Any]) -> str:
    """The name a point's metrics are matched by: a custom event counts as a metric named after it."""
    if query.get("data_type_label") == "event":
        return query["custom_event_name"]
    return query["metric_field"]


def compile_item(strategy: Mapping[str, Any], item: Mapping[str, Any]) -> ItemSpec:
    query = item["query_configs"][0]
    interval = int(query["agg_interval"])
    detects = {int(d["level"]): d for d in strategy.get("detects", [])}
    by_level: dict[int, list[dict[str, Any]]] = {}
    for algorithm in item.get("algorithms", []):
        by_level.setdefault(int(algorithm["level"]), []).append(dict(algorithm))
    levels = []
    for level in sorted(by_level):
        detect = detects.get(level, {})
        trigger = detect.get("trigger_config", {})
        levels.append(LevelSpec(
            level=level, algorithms=tuple(by_level[level]), connector=detect.get("connector", "and"),
            trigger_count=int(trigger.get("count", 1)), check_window=int(trigger.get("check_window", 1)),
            span=window_span(int(trigger.get("check_window", 1)), interval),
            uptime=_uptime(trigger), recovery_config=dict(detect.get("recovery_config", {})),
            detector=compile_level(by_level[level], detect.get("connector", "and"), str(query.get("unit") or "")),
            batch=compile_level_batch(by_level[level], detect.get("connector", "and"), str(query.get("unit") or "")),
            detector_key=orjson.dumps(
                [[{k: v for k, v in a.items() if k not in ("level", "id")} for a in by_level[level]],
                 detect.get("connector", "and"), str(query.get("unit") or "")], option=orjson.OPT_SORT_KEYS).decode(),
        ))
    offsets = sorted({o for lv in levels for a in lv.algorithms for o in required_history(a, interval)})
    fingerprint = hashlib.md5(orjson.dumps(
        [strategy.get("bk_biz_id"), query, item.get("algorithms"), strategy.get("detects")],
        option=orjson.OPT_SORT_KEYS)).hexdigest()
    method = str(query.get("agg_method", "AVG")).upper()
    dimensions = tuple(query.get("agg_dimension") or ())
    agg_uid = "a" + hashlib.md5(orjson.dumps(
        [query["result_table_id"], query_metric(query), method, interval, dimensions, query.get("agg_condition") or []],
        option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    group_uid = "g" + hashlib.md5(orjson.dumps(
        [query["result_table_id"], interval, dimensions, query.get("agg_condition") or []],
        option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return ItemSpec(
        uid=f"{strategy['id']}.{item['id']}", strategy_id=int(strategy["id"]), item_id=int(item["id"]),
        strategy_name=str(strategy.get("name", "")), item_name=str(item.get("name", "")),
        bk_biz_id=int(strategy.get("bk_biz_id", 0)), table_id=query["result_table_id"],
        metric=query_metric(query), agg_method=method, interval=interval, dimensions=dimensions,
        condition=compile_conditions(query.get("agg_condition")), levels=tuple(levels),
        unit=str(query.get("unit") or ""), history_offsets=tuple(offsets), fingerprint=fingerprint,
        agg_uid=agg_uid, group_uid=group_uid,
        no_data_config=dict(item.get("no_data_config") or {}),
    )


@dataclass(frozen=True, slots=True)
class AggSpec:
    """One aggregation and the items that read it (all of them query it alike)."""
    uid: str
    group_uid: str
    metric: str
    items: tuple[ItemSpec, ...]
    interval: int
    agg_method: str
    condition: Predicate | None
    key_of: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    history_offsets: tuple[int, ...]  # union of the items' look-backs
    watches_nodata: bool  # some item has no_data_config enabled
    # Levels that detect alike run once per window: `detectors` are the distinct ones, and
    # `plans` gives per item its levels (most severe first) with the index of their detector.
    # When every one of them offers it, `detectors` take the value rounded once (`prerounded`).
    # `batch` are the same detectors over a column of rounded values, when all have that form.
    detectors: tuple[Detector, ...]
    plans: tuple[tuple[ItemSpec, tuple[tuple[LevelSpec, int], ...]], ...]
    prerounded: bool
    batch: tuple[BatchDetector, ...] | None

    @classmethod
    def of(cls, uid: str, items: list[ItemSpec]) -> AggSpec:
        first = items[0]
        slots: dict[str, int] = {}
        detectors: list[Detector] = []
        batch: list[BatchDetector | None] = []
        plans = []
        for item in items:
            plan = []
            for level in item.levels:
                slot = slots.get(level.detector_key)
                if slot is None:
                    slot = slots[level.detector_key] = len(detectors)
                    detectors.append(level.detector)
                    batch.append(level.batch)
                plan.append((level, slot))
            plans.append((item, tuple(plan)))
        rounded_variants = [on_rounded(d) for d in detectors]
        prerounded = all(rounded_variants)
        return cls(uid, first.group_uid, first.metric, tuple(items), first.interval, first.agg_method,
                   first.condition, first.key_of, tuple(sorted({o for i in items for o in i.history_offsets})),
                   any(i.no_data_config.get("is_enabled") for i in items),
                   tuple(rounded_variants if prerounded else detectors), tuple(plans), prerounded,  # type: ignore[arg-type]
                   tuple(batch) if all(b is not None for b in batch) else None)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """Aggregations whose series are keyed alike (table, dimensions, condition, interval): they
    share their series and their windows, so a point is keyed and filed once for all of them."""
    uid: str
    table_id: str
    interval: int
    condition: Predicate | None
    key_of: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    aggs: tuple[AggSpec, ...]
    names: tuple[str, ...]  # the metrics read, each once
    metric_set: frozenset[str]
    readers: dict[str, int]  # metric -> aggregations reading it

    @classmethod
    def of(cls, uid: str, aggs: list[AggSpec]) -> GroupSpec:
        first = aggs[0]
        names = tuple(dict.fromkeys(agg.metric for agg in aggs))
        readers = {name: sum(1 for agg in aggs if agg.metric == name) for name in names}
        return cls(uid, first.items[0].table_id, first.interval, first.condition, first.key_of, tuple(aggs),
                   names, frozenset(names), readers)

    def fed(self, metrics: Mapping[str, Any]) -> int:
        """How many of the aggregations a point with these metrics feeds."""
        if len(self.readers) == len(self.aggs) and metrics.keys() >= self.metric_set:
            return len(self.aggs)
        return sum(n for name, n in self.readers.items() if name in metrics)


class StrategyIndex:
    """The items of one data_type_label ("time_series" for metric topics, "event" for event topics)."""

    def __init__(self, strategies: Iterable[Mapping[str, Any]], topics_by_table: Mapping[str, str],
                 version: str = "", data_type_label: str = "time_series") -> None:
        self.version = version
        self.data_type_label = data_type_label
        self.items: dict[str, ItemSpec] = {}
        self.skipped: list[str] = []
        grouped: dict[str, list[ItemSpec]] = {}
        for strategy in strategies:
            if not strategy.get("is_enabled", True):
                continue
            for item in strategy.get("items", []):
                queries = item.get("query_configs") or []
                if not queries or queries[0].get("data_type_label", "time_series") != data_type_label:
                    continue
                spec = compile_item(strategy, item)
                if spec.table_id not in topics_by_table:
                    self.skipped.append(f"{spec.uid}: result table {spec.table_id!r} has no Kafka storage")
                    continue
                self.items[spec.uid] = spec
                grouped.setdefault(spec.agg_uid, []).append(spec)
        self.aggs = {uid: AggSpec.of(uid, items) for uid, items in grouped.items()}
        by_group: dict[str, list[AggSpec]] = {}
        for agg in self.aggs.values():
            by_group.setdefault(agg.group_uid, []).append(agg)
        self.groups = {uid: GroupSpec.of(uid, aggs) for uid, aggs in by_group.items()}
        by_table: dict[str, list[GroupSpec]] = {}
        for group in self.groups.values():
            by_table.setdefault(group.table_id, []).append(group)
        self.by_table = by_table
        self.table_by_topic = {topics_by_table[t]: t for t in by_table}
        self.fingerprints = {uid: spec.fingerprint for uid, spec in self.items.items()}

    @property
    def topics(self) -> list[str]:
        return sorted(self.table_by_topic)

    def groups_for_topic(self, topic: str) -> list[GroupSpec]:
        table = self.table_by_topic.get(topic)
        return self.by_table.get(table, []) if table else []

    def changed_items(self, previous: StrategyIndex | None) -> set[str]:
        """Items whose config changed or that disappeared: their series state must be reset."""
        if previous is None:
            return set()
        return {uid for uid, spec in previous.items.items()
                if uid not in self.items or self.items[uid].fingerprint != spec.fingerprint}
