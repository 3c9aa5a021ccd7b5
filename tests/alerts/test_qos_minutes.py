"""The QoS lock rows (one per strategy, severity and minute): a batch locks only the minutes it may
really open alerts in, and the alert manager deletes the rows of minutes settled long ago without
changing any verdict (docs/ARCHITECTURE.md, Semantics: QoS)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings

from alarm_backends import tasks
from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.alert.manager.checks import LOCK_PREFIX, ManagerSettings, prune_qos_minutes
from alarm_backends.service.alert.manager.health import HealthLimits
from alarm_backends.service.alert.manager.lock import held
from bkmonitor.alerts import qos_store
from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.lifecycle import AlertState, Limits
from bkmonitor.alerts.qos import SETTLED_KEEP_SECONDS
from bkmonitor.alerts.qos_store import UnlockedMinute, check_locked, prune_settled
from bkmonitor.models import Alert, AlertLog, Event
from bkmonitor.models.alert import QosMinute
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db

SETTLE = 120
LIMITS = Limits(qos_per_minute=2, qos_settle=SETTLE)


def minutes() -> list[tuple[int, int, int]]:
    return sorted(QosMinute.objects.values_list("strategy_id", "severity", "minute"))


def prunable_clock(minute: int) -> int:
    """The earliest event clock at which `minute`'s row may go."""
    return (minute + 1) * 60 + SETTLE + SETTLED_KEEP_SECONDS


def verdicts() -> tuple[dict[str, bool], list[tuple[str, int, str]]]:
    return (dict(Alert.objects.values_list("dedupe_md5", "is_blocked")),
            sorted(AlertLog.objects.values_list("dedupe_md5", "time", "op")))


def forget() -> None:
    for model in (AlertLog, Event, Alert, QosMinute):
        model.objects.all().delete()


@pytest.fixture
def manager(redis_url: str) -> Iterator[tuple[redis.Redis, ManagerSettings]]:
    cfg = ManagerSettings(group=f"qos-{uuid.uuid4().hex[:8]}", tz=ZoneInfo("UTC"), lock_ttl_ms=30_000,
                          limits=HealthLimits(stall_seconds=120, max_lag=1000, max_delay_seconds=900))
    yield get_client(redis_url), cfg


# which minutes a batch locks
def test_anomalies_of_an_alert_already_open_add_no_minute_row():
    apply_events([make_event(130, key="a")], limits=LIMITS)
    apply_events([make_event(250, key="a"), make_event(310, key="a")], limits=LIMITS)
    assert minutes() == [(1, 2, 2)]
    assert Alert.objects.get().event_count == 3


def test_a_more_severe_anomaly_locks_the_minute_of_the_alert_it_opens():
    apply_events([make_event(130, key="a")], limits=LIMITS)
    apply_events([make_event(370, severity=1, key="a")], limits=LIMITS)
    assert minutes() == [(1, 1, 6), (1, 2, 2)]
    assert sorted(Alert.objects.values_list("severity", "status")) == [(1, "ABNORMAL"), (2, "CLOSED")]


def test_a_batch_that_ends_an_alert_and_opens_the_next_locks_the_new_alerts_minute():
    apply_events([make_event(130, key="a")], limits=LIMITS)
    apply_events([make_event(400, "recovered", key="a"), make_event(430, key="a")], limits=LIMITS)
    assert minutes() == [(1, 2, 2), (1, 2, 7)]
    assert sorted(Alert.objects.values_list("open_time", "status")) == [(130, "RECOVERED"), (430, "ABNORMAL")]


def test_an_alert_opened_in_a_minute_the_batch_did_not_lock_is_refused_naming_the_minute():
    alert = AlertState(dedupe_md5="a", alert_name="x", strategy_id=1, item_id=11, bk_biz_id=2, severity=2,
                       open_time=430, first_anomaly_time=430, begin_time=430, latest_time=430)
    check_locked([(1, 2, 7)], [alert])
    with pytest.raises(UnlockedMinute, match=r"\(1, 2, 7\)"):
        check_locked([(1, 2, 2)], [alert])


# the manager's sweep
def test_the_sweep_deletes_exactly_the_minutes_settled_for_longer_than_the_margin(manager):
    client, cfg = manager
    apply_events([make_event(130, key="a"), make_event(190, key="b")], limits=LIMITS)  # minutes 2 and 3
    apply_events([make_event(prunable_clock(2) - 1, key="clock")], limits=LIMITS)
    assert prune_qos_minutes(client, cfg) == {"deleted": 0}
    apply_events([make_event(prunable_clock(2), key="clock2")], limits=LIMITS)
    assert prune_qos_minutes(client, cfg) == {"deleted": 1}
    assert [m for _, _, m in minutes()] == [3, (prunable_clock(2) - 1) // 60, prunable_clock(2) // 60]
    assert prune_qos_minutes(client, cfg) == {"deleted": 0}  # idempotent


@pytest.mark.parametrize("admitted_before", [1, 2])
def test_an_alert_arriving_for_a_deleted_minute_gets_the_verdict_it_would_have_had_with_the_row(admitted_before):
    early: list[dict[str, Any]] = [make_event(130, key="b"), make_event(140, key="c")][:admitted_before]
    outcomes = []
    for prune in (False, True):
        apply_events(early, limits=LIMITS)
        apply_events([make_event(prunable_clock(2), key="clock")], limits=LIMITS)
        if prune:
            assert prune_settled(SETTLE, SETTLED_KEEP_SECONDS) == 1
            assert (1, 2, 2) not in minutes()
        apply_events([make_event(125, key="a")], limits=LIMITS)  # ranks first, but the minute settled
        assert (1, 2, 2) in minutes()  # locked again for the late alert
        outcomes.append(verdicts())
        forget()
    assert outcomes[0] == outcomes[1]
    blocked, logs = outcomes[1]
    # arrival order in a settled minute: admitted while it has room, never displacing an admitted alert
    assert blocked["a"] is (admitted_before == 2)
    assert not any(blocked[key] for key in ("b", "c")[:admitted_before])
    assert [(key, op) for key, _, op in logs if op == "BLOCK"] == ([("a", "BLOCK")] if admitted_before == 2 else [])


def test_a_sweep_deletes_in_bounded_chunks_and_the_next_one_goes_on(manager, monkeypatch):
    client, cfg = manager
    QosMinute.objects.bulk_create([QosMinute(strategy_id=7, severity=1, minute=m) for m in range(2500)])
    apply_events([make_event(prunable_clock(2499), key="clock")], limits=LIMITS)
    monkeypatch.setattr(qos_store, "PRUNE_CHUNKS_PER_SWEEP", 2)
    assert prune_qos_minutes(client, cfg) == {"deleted": 2 * qos_store.PRUNE_CHUNK}
    assert prune_qos_minutes(client, cfg) == {"deleted": 2500 - 2 * qos_store.PRUNE_CHUNK}
    assert minutes() == [(1, 2, prunable_clock(2499) // 60)]


def test_a_sweep_running_elsewhere_is_skipped(manager):
    client, cfg = manager
    apply_events([make_event(130, key="a"), make_event(prunable_clock(2), key="clock")], limits=LIMITS)
    with held(client, f"{LOCK_PREFIX}{cfg.group}:qos", 30_000) as acquired:
        assert acquired
        assert prune_qos_minutes(client, cfg) == {"skipped": True}
    assert prune_qos_minutes(client, cfg) == {"deleted": 1}


def test_the_sweep_is_a_celery_task_in_the_beat_schedule(redis_url: str):
    apply_events([make_event(130, key="a"), make_event(prunable_clock(2), key="clock")], limits=LIMITS)
    assert tasks.prune_qos_minutes.apply().get() == {"deleted": 1}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "alarm_backends.tasks.prune_qos_minutes" in scheduled
