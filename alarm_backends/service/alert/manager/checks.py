"""The manager's checks: read the database, Redis and Kafka, decide (pure modules), apply as events.

Every effect goes through `apply_events` with deterministic event ids, so a check repeated, run on two
workers at once or interrupted anywhere changes nothing the first run did. The Redis lock only saves
the duplicate work.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis
from django.conf import settings

from alarm_backends.core.kafka.errors import KafkaStorageError, TopicNotFound
from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.access.data.runner import progress_key
from alarm_backends.service.alert.manager import events as ev
from alarm_backends.service.alert.manager.health import (
    TP, Episode, Health, HealthLimits, PartitionProgress, assess, event_clock, lag_since, next_episode,
    parse_progress)
from alarm_backends.service.alert.manager.lock import held
from alarm_backends.service.alert.manager.nodata import (
    NoDataItem, TopicActivity, decide, last_window, next_activity, nodata_items)
from alarm_backends.service.alert.manager.strategy_checks import OpenAlert, alerts_to_close, strategy_views
from alarm_backends.service.trigger.event import build_status_event
from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.flapping import end_stable_flapping
from bkmonitor.alerts.qos import SETTLED_KEEP_SECONDS
from bkmonitor.alerts.qos_store import prune_settled
from bkmonitor.models import Alert, AlertStatus, Strategy

logger = logging.getLogger(__name__)
LOCK_PREFIX = "bkm:alert:manager:lock:"
STATE_PREFIX = "bkm:alert:manager:state:"
BATCH = 500


@dataclass(frozen=True)
class ManagerSettings:
    group: str  # the metric access group: its health gates no-data and recovery decisions
    limits: HealthLimits
    tz: ZoneInfo
    lock_ttl_ms: int
    event_group: str = ""  # the custom-event access group, watched for health too ("" = not watched)

    @classmethod
    def from_settings(cls) -> ManagerSettings:
        return cls(group=settings.ACCESS_DATA_GROUP,
                   limits=HealthLimits(stall_seconds=settings.BKM_PIPELINE_STALL_SECONDS,
                                       max_lag=settings.BKM_PIPELINE_MAX_LAG,
                                       max_delay_seconds=settings.BKM_PIPELINE_MAX_DELAY_SECONDS),
                   tz=ZoneInfo(settings.TIME_ZONE), lock_ttl_ms=settings.BKM_ALERT_MANAGER_LOCK_TTL_SECONDS * 1000,
                   event_group=settings.ACCESS_EVENT_GROUP)


@contextmanager
def _locked(name: str, cfg: ManagerSettings, client: redis.Redis) -> Iterator[bool]:
    with held(client, f"{LOCK_PREFIX}{cfg.group}:{name}", cfg.lock_ttl_ms) as acquired:
        if not acquired:
            logger.info("alert manager: %s is running elsewhere; skipped", name)
        yield acquired


def _apply(events: list[dict[str, Any]]) -> tuple[int, int]:
    """(new events, alerts ended) over all batches."""
    new = ended = 0
    for start in range(0, len(events), BATCH):
        result = apply_events(events[start:start + BATCH])
        new += result.new_events
        ended += len(result.ended)
    return new, ended


# 1 + 2: strategy changes and uptime
def check_strategy_alerts(now: float | None = None, cfg: ManagerSettings | None = None,
                          client: redis.Redis | None = None) -> dict[str, Any]:
    cfg = cfg or ManagerSettings.from_settings()
    with _locked("strategies", cfg, client or get_client()) as acquired:
        if not acquired:
            return {"skipped": True}
        return close_strategy_alerts(time.time() if now is None else now, cfg.tz)


def close_strategy_alerts(now: float, tz: ZoneInfo) -> dict[str, Any]:
    """Close every ABNORMAL alert its strategy no longer produces, or that is outside its uptime."""
    from bkmonitor.strategies.export import enabled_strategy_configs

    views = strategy_views(enabled_strategy_configs(), dict(Strategy.objects.values_list("id", "is_enabled")))
    rows = list(Alert.objects.filter(status=AlertStatus.ABNORMAL, strategy_id__gt=0).values(
        "id", "dedupe_md5", "strategy_id", "item_id", "alert_name", "bk_biz_id", "severity", "latest_time",
        "dimensions", "target_type", "target"))
    by_id = {row["id"]: row for row in rows}
    alerts = [OpenAlert(id=r["id"], strategy_id=r["strategy_id"], item_id=r["item_id"], severity=r["severity"],
                        dimensions=r["dimensions"] or {},
                        is_nodata=ev.is_nodata_alert(r["strategy_id"], r["bk_biz_id"], r["target_type"], r["target"],
                                                     r["dimensions"] or {}, r["dedupe_md5"]))
              for r in rows]
    decided = alerts_to_close(alerts, views, now, tz)
    events = []
    for alert, reason in decided:
        row = by_id[alert.id]
        events.append(ev.close_event(
            dedupe=row["dedupe_md5"], strategy_id=row["strategy_id"], item_id=row["item_id"],
            alert_name=row["alert_name"], bk_biz_id=row["bk_biz_id"], severity=row["severity"],
            latest_time=row["latest_time"], dimensions=alert.dimensions, is_nodata=alert.is_nodata, reason=reason))
    new, ended = _apply(events)
    if ended:
        logger.info("alert manager: closed %d alerts (%s)", ended, dict(Counter(r for _, r in decided)))
    return {"checked": len(alerts), "closed": ended, "new_events": new,
            "reasons": dict(Counter(r for _, r in decided))}


# 3: pipeline health and strategy-wide no-data
def read_lag(group: str, topics: list[str]) -> tuple[dict[TP, int], str | None]:
    """The group's lag per (topic, partition); an error string when Kafka cannot tell."""
    lag: dict[TP, int] = {}
    for topic in topics:
        try:
            for partition, n in OffsetManager(group, topic).lag().items():
                lag[(topic, partition)] = n
        except TopicNotFound:
            continue  # not created yet: nothing to be behind on
        except KafkaStorageError as exc:
            return lag, f"{topic}: {exc}"
    return lag, None


class _State:
    """The manager's own bookkeeping in one Redis hash per access group: lag start per partition, the
    degraded episode, each topic's activity and the anchor of items that never had a window."""

    def __init__(self, client: redis.Redis, group: str) -> None:
        self.client = client
        self.key = f"{STATE_PREFIX}{group}"
        raw = {k.decode(): orjson.loads(v) for k, v in client.hgetall(self.key).items()}
        self.lag_since = {_tp(k[4:]): float(v) for k, v in raw.items() if k.startswith("lag:")}
        self.episode = Episode(int(raw["episode"])) if raw.get("episode") is not None else None
        self.activity = {k[6:]: TopicActivity(v[0], float(v[1])) for k, v in raw.items() if k.startswith("topic:")}
        self.anchors = {k[7:]: int(v) for k, v in raw.items() if k.startswith("anchor:")}
        self._stored = set(raw)

    def save(self) -> None:
        fields: dict[str, bytes] = {f"lag:{t}:{p}": orjson.dumps(s) for (t, p), s in self.lag_since.items()}
        fields.update({f"topic:{t}": orjson.dumps([a.max_time, a.since]) for t, a in self.activity.items()})
        fields.update({f"anchor:{uid}": orjson.dumps(a) for uid, a in self.anchors.items()})
        if self.episode is not None:
            fields["episode"] = orjson.dumps(self.episode.started)
        pipe = self.client.pipeline()
        stale = self._stored - set(fields)
        if stale:
            pipe.hdel(self.key, *stale)
        if fields:
            pipe.hset(self.key, mapping=fields)
        pipe.execute()
        self._stored = set(fields)

    def save_episode(self) -> None:
        if self.episode is None:
            self.client.hdel(self.key, "episode")
        else:
            self.client.hset(self.key, "episode", orjson.dumps(self.episode.started))


def _tp(name: str) -> TP:
    topic, _, partition = name.rpartition(":")
    return topic, int(partition)


def check_pipeline(now: float | None = None, cfg: ManagerSettings | None = None,
                   client: redis.Redis | None = None) -> dict[str, Any]:
    cfg = cfg or ManagerSettings.from_settings()
    client = client or get_client()
    with _locked("pipeline", cfg, client) as acquired:
        if not acquired:
            return {"skipped": True}
        return run_pipeline_check(time.time() if now is None else now, cfg, client)


def run_pipeline_check(now: float, cfg: ManagerSettings, client: redis.Redis) -> dict[str, Any]:
    from alarm_backends.service.access.data.sources import load_strategies

    configs, topics_by_table = load_strategies()
    health, state, progress, lag = _group_health(cfg.group, "time_series", configs, topics_by_table, now, cfg,
                                                 client)
    summary: dict[str, Any] = {"degraded": health.degraded, "reasons": list(health.reasons),
                               "total_lag": health.total_lag}
    summary["pipeline_events"] = _apply_episode(health, state, cfg.group, now)
    items = nodata_items(configs, topics_by_table)
    if health.degraded:
        # A stalled pipeline is not silence: restart the idle clocks so recovery does not set off a storm.
        state.activity = {t: TopicActivity(_max_time(progress, t), now) for t in {i.topic for i in items}}
        summary["nodata"] = "skipped: pipeline degraded"
    else:
        lagging = {topic for (topic, _), n in lag.items() if n > 0}
        summary["nodata"] = _check_nodata(items, progress, lagging, state, now)
    state.save()
    if cfg.event_group:
        summary["event_access"] = _check_event_group(now, cfg, client)
    return summary


def _group_health(group: str, data_type_label: str, configs: list[dict[str, Any]], topics_by_table: dict[str, str],
                  now: float, cfg: ManagerSettings, client: redis.Redis
                  ) -> tuple[Health, _State, list[PartitionProgress], dict[TP, int]]:
    """One access group's health from its progress records and its lag on the topics it reads."""
    progress = parse_progress(client.hgetall(progress_key(group)))
    # the topics the group subscribes to: those of the tables its enabled items read
    topics = sorted({topics_by_table[q["result_table_id"]] for s in configs for i in s.get("items", [])
                     for q in (i.get("query_configs") or [])[:1]
                     if q.get("data_type_label", "time_series") == data_type_label
                     and q.get("result_table_id") in topics_by_table})
    lag, error = read_lag(group, topics)
    state = _State(client, group)
    state.lag_since = lag_since(state.lag_since, lag, now)
    return assess(progress, lag, state.lag_since, now, cfg.limits, error), state, progress, lag


def _check_event_group(now: float, cfg: ManagerSettings, client: redis.Redis) -> dict[str, Any]:
    """The custom-event access group: its own "pipeline degraded" episode (event strategies have no
    no-data check, so nothing else waits on it)."""
    from alarm_backends.service.access.data.sources import load_strategies

    configs, topics_by_table = load_strategies("event")
    health, state, _progress, _lag = _group_health(cfg.event_group, "event", configs, topics_by_table, now, cfg,
                                                   client)
    events = _apply_episode(health, state, cfg.event_group, now)
    state.save()
    return {"degraded": health.degraded, "reasons": list(health.reasons), "total_lag": health.total_lag,
            "pipeline_events": events}


def _max_time(progress: list[PartitionProgress], topic: str) -> int | None:
    times = [p.max_time for p in progress if p.topic == topic]
    return max(times) if times else None


def _apply_episode(health: Health, state: _State, group: str, now: float) -> int:
    episode, kind = next_episode(health, state.episode, now)
    if kind is None:
        return 0
    if kind == "anomaly":
        if state.episode is None:
            state.episode = episode
            state.save_episode()  # before the alert, so a crash in between cannot start a second episode
            logger.warning("alert manager: pipeline degraded: %s", "; ".join(health.reasons))
        assert state.episode is not None
        started = state.episode.started
        event = ev.pipeline_event("anomaly", group=group, started=started, t=started, reasons=health.reasons,
                                  total_lag=health.total_lag)
    else:
        assert state.episode is not None
        started = state.episode.started
        event = ev.pipeline_event("recovered", group=group, started=started, t=max(int(now), started),
                                  total_lag=health.total_lag)
    new, _ = _apply([event])
    if kind == "recovered":
        state.episode = None
        state.save_episode()
        logger.info("alert manager: pipeline healthy again")
    return new


def _check_nodata(items: list[NoDataItem], progress: list[PartitionProgress], lagging: set[str], state: _State,
                  now: float) -> dict[str, int]:
    topics = {i.topic for i in items}
    state.activity = {t: next_activity(state.activity.get(t), progress, t, now, t in lagging) for t in topics}
    clocks = {t: event_clock(progress, t) for t in topics}
    anchors: dict[str, int] = {}
    lasts: dict[str, int | None] = {}
    for item in items:
        lasts[item.uid] = last_window(progress, item)
        if lasts[item.uid] is None:
            clock = clocks[item.topic]
            anchors[item.uid] = state.anchors.get(item.uid, clock if clock is not None else int(now))
    state.anchors = anchors
    keys = {item.uid: _nodata_event(item, "no_data", 0, 0.0)["dedupe_md5"] for item in items}
    open_begin = dict(Alert.objects.filter(status=AlertStatus.ABNORMAL, dedupe_md5__in=list(keys.values()))
                      .values_list("dedupe_md5", "begin_time"))
    events = []
    for item in items:
        decision = decide(item, lasts[item.uid], anchors.get(item.uid), clocks[item.topic],
                          now - state.activity[item.topic].since, open_begin.get(keys[item.uid]))
        if decision is not None:
            kind, t = decision
            events.append(_nodata_event(item, kind, t, 0.0 if kind == "no_data" else None))
    new, ended = _apply(events)
    opened = sum(1 for e in events if e["event_type"] == "no_data")
    return {"items": len(items), "no_data_events": opened, "recovered_events": len(events) - opened,
            "new_events": new, "ended": ended}


def _nodata_event(item: NoDataItem, kind: str, t: int, value: float | None) -> dict[str, Any]:
    # The same content as the access stage's per-series no-data event for an item without dimensions.
    return build_status_event(kind, strategy_id=item.strategy_id, item_id=item.item_id,
                              strategy_name=item.strategy_name, bk_biz_id=item.bk_biz_id, level=item.level, t=t,
                              value=value, dimensions={}, about_nodata=kind != "no_data",
                              reason=_nodata_reason(item, kind))


def _nodata_reason(item: NoDataItem, kind: str) -> str:
    if kind == "no_data":
        return (f"no data for {item.continuous} windows (no_data_config.continuous {item.continuous}): no window "
                f"of {item.strategy_name!r} item {item.item_id} closed on {item.topic}")
    return f"data is back: a window of {item.strategy_name!r} item {item.item_id} closed on {item.topic}"


# 4: flapping
def end_flapping(client: redis.Redis | None = None, cfg: ManagerSettings | None = None) -> dict[str, Any]:
    cfg = cfg or ManagerSettings.from_settings()
    client = client or get_client()
    with _locked("flapping", cfg, client) as acquired:
        if not acquired:
            return {"skipped": True}
        clock = event_clock(parse_progress(client.hgetall(progress_key(cfg.group))))
        now_event = clock if clock is not None else int(time.time())
        return {"event_time": now_event, "ended": end_stable_flapping(now_event)}


# 5: QoS minute rows
def prune_qos_minutes(client: redis.Redis | None = None, cfg: ManagerSettings | None = None) -> dict[str, Any]:
    """Delete the QoS lock rows of minutes settled over SETTLED_KEEP_SECONDS ago: every batch that
    opens alerts adds rows, and without this the table would only grow."""
    cfg = cfg or ManagerSettings.from_settings()
    with _locked("qos", cfg, client or get_client()) as acquired:
        if not acquired:
            return {"skipped": True}
        deleted = prune_settled(settings.BKM_ALERT_QOS_SETTLE_SECONDS, SETTLED_KEEP_SECONDS)
        if deleted:
            logger.info("alert manager: deleted %d settled QoS minute rows", deleted)
        return {"deleted": deleted}


def run_all(client: redis.Redis | None = None) -> dict[str, Any]:
    """One pass of every check (the management command's loop body); a failing check does not stop the rest."""
    results: dict[str, Any] = {}
    checks: Mapping[str, Callable[[], dict[str, Any]]] = {
        "strategies": lambda: check_strategy_alerts(client=client),
        "pipeline": lambda: check_pipeline(client=client),
        "flapping": lambda: end_flapping(client=client),
        "qos": lambda: prune_qos_minutes(client=client),
    }
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - logged, and the next pass retries
            logger.exception("alert manager: %s check failed", name)
            results[name] = {"error": str(exc)}
    return results
