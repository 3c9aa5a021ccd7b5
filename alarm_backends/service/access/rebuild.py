"""Rebuilding what matters of a partition's state when it resumes without it.

A partition the group consumed before (it has a committed offset) but whose snapshot is gone
(Redis restarted empty, or the snapshot was dropped as stale) would start with no memory of the
alerts its series hold open: their recoveries and no-data closes would never be emitted and the
alerts would stay ABNORMAL forever. The database still has them, so on such an assignment the
open alerts of the items read from the topic are seeded into the partition's item state
(docs/ARCHITECTURE.md, Semantics: resuming a partition without state).

Which partition a series lives on is decided by the producer's key, which access never learns,
so every partition of the topic that resumes without state is seeded with all of them. A seeded
series that closes a window on a partition lives there: that partition claims it (a Redis hash
per group) and carries on exactly as an uninterrupted run would. The others keep the seed for
`processor.SEED_GRACE` (30 min) of their own event time after their first silence scan; then a claimed seed
is dropped quietly, and an unclaimed one (the series is gone from every partition) becomes an
ordinary silent series whose last window is the alert's latest event, so the usual no-data rules
end it at a time that depends on the alert only: every partition emits the same event id and the
alert builder applies it once.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from alarm_backends.service.access.data.index import ItemSpec, StrategyIndex
from alarm_backends.service.access.data.state import NEVER, ItemMemory, PartitionState
from alarm_backends.service.trigger.event import NODATA_TAG, dedupe_md5, target_of

CLAIMS_TTL = 7 * 86_400  # claims matter only while seeds wait; a week covers any sane backlog
#: at most two IN lists of this many values per query: under every database's parameter limit (SQLite's
#: oldest default is 999)
PAIRS_PER_QUERY = 400


@dataclass(frozen=True)
class OpenAlert:
    """What of an ABNORMAL alert its series' item state is rebuilt from."""
    strategy_id: int
    item_id: int
    bk_biz_id: int
    severity: int
    dedupe_md5: str
    dimensions: dict[str, Any]
    latest_time: int
    value: float  # of its latest anomaly (0.0 without one)
    anomaly_ids: tuple[str, ...]  # of its latest anomaly: "<record md5>.<window start>.<level>"


def open_alerts(items: Iterable[ItemSpec]) -> list[OpenAlert]:
    """The ABNORMAL alerts of these items, each with its latest anomaly (one query per PAIRS_PER_QUERY
    items; called once per assignment that needs it, never on the hot path)."""
    wanted = sorted({(item.strategy_id, item.item_id) for item in items})
    found: list[OpenAlert] = []
    for start in range(0, len(wanted), PAIRS_PER_QUERY):
        found.extend(_open_alerts_of(set(wanted[start:start + PAIRS_PER_QUERY])))
    return found


def _open_alerts_of(pairs: set[tuple[int, int]]) -> list[OpenAlert]:
    from django.db.models import OuterRef, Subquery

    from bkmonitor.models import Alert, Event

    # Two IN lists and the pairs matched here, not one OR term per pair: SQLite parses an OR chain as
    # a tree as deep as it is long and refuses more than 1000 terms, which a busy topic reaches.
    latest = Event.objects.filter(alert=OuterRef("pk"), event_type="anomaly").order_by("-time", "-id")
    rows = (Alert.objects.filter(strategy_id__in={s for s, _ in pairs}, item_id__in={i for _, i in pairs},
                                 status="ABNORMAL")
            .annotate(last_ids=Subquery(latest.values("anomaly_ids")[:1]),
                      last_value=Subquery(latest.values("value")[:1]))
            .values_list("strategy_id", "item_id", "bk_biz_id", "severity", "dedupe_md5", "dimensions",
                         "latest_time", "last_value", "last_ids"))
    return [OpenAlert(int(sid), int(iid), int(biz), int(severity), md5, dict(dims or {}), int(latest_time),
                      float(value) if value is not None else 0.0, tuple(_decoded(ids)))
            for sid, iid, biz, severity, md5, dims, latest_time, value, ids in rows if (sid, iid) in pairs]


def _decoded(ids: Any) -> list[str]:
    # a JSONField read through a subquery comes back undecoded on some databases
    if isinstance(ids, (str, bytes)):
        ids = orjson.loads(ids)
    return [str(i) for i in ids or []]


def seed(state: PartitionState, index: StrategyIndex, topic: str, alerts: Sequence[OpenAlert]) -> int:
    """Put the open alerts of the items read from `topic` into the partition's item state; returns
    how many were seeded. An alert whose dimensions are not its item's series (agg_dimension
    changed) is left to the alert manager, which closes those."""
    items = {item.uid: item for group in index.groups_for_topic(topic) for agg in group.aggs for item in agg.items}
    seeded = 0
    for alert in alerts:
        item = items.get(f"{alert.strategy_id}.{alert.item_id}")
        if item is None:
            continue
        key = item.key_of(alert.dimensions)
        kind = _kind(item, alert, key)
        if kind is None:
            continue
        table = state.table(item.group_uid)
        slot = table.slot(key)
        mem = state.agg_memory(item.agg_uid, item.group_uid, len(table.keys))
        imem = (mem.items.get(slot) or {}).get(item.uid) or ItemMemory()
        if kind == "nodata":
            imem.nodata_open = True
        else:
            if imem.alert_level is None or alert.severity < imem.alert_level:
                imem.alert_level = alert.severity
            imem.anomalies[alert.severity] = _anomaly_times(alert)
        mem.settle(slot, item.uid, imem)
        if mem.last_closed[slot] == NEVER:
            window = alert.latest_time - alert.latest_time % item.interval
            earlier = state.seeds.get(item.agg_uid, {}).get(slot)
            if earlier is None or earlier[0] < window:
                state.seeds.setdefault(item.agg_uid, {})[slot] = (window, alert.value)
        seeded += 1
    return seeded


def _kind(item: ItemSpec, alert: OpenAlert, key: tuple[Any, ...]) -> str | None:
    """"alert" or "nodata" when the alert is this series' (its dedupe key recomputed), else None."""
    dimensions = dict(zip(item.dimensions, key, strict=True))
    target_type, target = target_of(dimensions)
    if alert.dedupe_md5 == dedupe_md5(alert.strategy_id, alert.bk_biz_id, target_type, target, dimensions):
        return "alert"
    if alert.dedupe_md5 == dedupe_md5(alert.strategy_id, alert.bk_biz_id, target_type, target,
                                      {**dimensions, NODATA_TAG: 1}):
        return "nodata"
    return None


def _anomaly_times(alert: OpenAlert) -> list[int]:
    """The alert level's anomalies still in the trigger window of its latest anomaly: what the
    N-of-M check of the next windows counts (and so when the alert recovers)."""
    times = set()
    for anomaly_id in alert.anomaly_ids:
        parts = anomaly_id.rsplit(".", 2)
        if len(parts) == 3 and parts[2] == str(alert.severity) and parts[1].lstrip("-").isdigit():
            times.add(int(parts[1]))
    return sorted(times)


class SeedClaims:
    """Which seeded series showed up on some partition of the group (so the others let them go)."""

    def __init__(self, client: redis.Redis, group_id: str,
                 guard: Callable[[Callable[[], Any]], Any] = lambda call: call()) -> None:
        self.client = client
        self.key = f"bkm:access:rebuild:claims:{group_id}"
        self.guard = guard  # retries in place through a Redis outage: a closing window cannot stop half-way

    @staticmethod
    def field(group_uid: str, key: tuple[Any, ...]) -> bytes:
        return group_uid.encode() + b":" + orjson.dumps(list(key), option=orjson.OPT_NON_STR_KEYS)

    def claim(self, series: list[tuple[str, tuple[Any, ...]]]) -> None:
        if not series:
            return
        mapping = {self.field(g, k): b"1" for g, k in series}

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(self.key, mapping=mapping)
            pipe.expire(self.key, CLAIMS_TTL)
            pipe.execute()

        self.guard(write)

    def claimed(self, series: list[tuple[str, tuple[Any, ...]]]) -> list[bool]:
        if not series:
            return []
        fields = [self.field(g, k) for g, k in series]
        found = self.guard(lambda: self.client.hmget(self.key, fields))
        return [value is not None for value in found]
