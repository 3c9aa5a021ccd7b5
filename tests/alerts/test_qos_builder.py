"""QoS through the builder and the real database: the blocked set and its log do not depend on the
order in which a minute's alerts arrive, until the minute settles."""
from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from django.db import connection, connections

from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.lifecycle import Limits
from bkmonitor.models import Alert, AlertLog, Event
from bkmonitor.models.alert import QosMinute
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db

LIMITS = Limits(qos_per_minute=2, qos_settle=120)
REASON = "QoS: more than 2 new alerts per minute for strategy 1 severity 2"


def blocked() -> dict[str, bool]:
    return dict(Alert.objects.values_list("dedupe_md5", "is_blocked"))


def block_logs() -> list[tuple[str, int, str, str]]:
    return sorted(AlertLog.objects.filter(op="BLOCK").values_list("dedupe_md5", "time", "event_id", "description"))


def forget() -> None:
    for model in (AlertLog, Event, Alert, QosMinute):
        model.objects.all().delete()


def test_the_same_alerts_arriving_in_any_order_and_batching_end_blocked_alike_with_the_same_log():
    # minute 2 (120-179) gets five alerts from four "partitions"; minute 3 gets one
    parts = [[make_event(150, key="p0-a"), make_event(185, key="p0-b")],
             [make_event(121, key="p1-a")],
             [make_event(121, key="p2-a"), make_event(170, key="p2-b")],
             [make_event(179, key="p3-a")]]
    results = set()
    for order in itertools.permutations(parts):
        for batch in order:
            apply_events(batch, limits=LIMITS)
        results.add((tuple(sorted(blocked().items())), tuple(block_logs())))
        forget()
    assert len(results) == 1
    [(final, logs)] = results
    assert dict(final) == {"p1-a": False, "p2-a": False, "p0-a": True, "p2-b": True, "p3-a": True, "p0-b": False}
    assert {(key, time, description) for key, time, _, description in logs} == {
        ("p0-a", 150, REASON), ("p2-b", 170, REASON), ("p3-a", 179, REASON)}
    assert all(event_id == make_event(time, key=key)["event_id"] for key, time, event_id, _ in logs)


def test_an_earlier_alert_arriving_later_blocks_the_last_admitted_one_and_says_so_in_its_log():
    apply_events([make_event(130, key="b"), make_event(140, key="c")], limits=LIMITS)
    assert blocked() == {"b": False, "c": False}
    result = apply_events([make_event(125, key="a")], limits=LIMITS)
    c = Alert.objects.get(dedupe_md5="c")
    assert blocked() == {"a": False, "b": False, "c": True}
    assert result.updated == [c.id]
    log = c.logs.get(op="BLOCK")
    assert (log.time, log.event_id, log.description) == (140, make_event(140, key="c")["event_id"], REASON)


def test_a_displaced_alert_changed_by_the_same_batch_keeps_both_changes():
    apply_events([make_event(130, key="b"), make_event(140, key="c")], limits=LIMITS)
    apply_events([make_event(125, key="a"), make_event(150, "recovering", key="c")], limits=LIMITS)
    c = Alert.objects.get(dedupe_md5="c")
    assert c.is_blocked and c.is_recovering
    assert list(c.logs.values_list("op", flat=True)) == ["CREATE", "BLOCK", "RECOVERING"]


def test_an_alert_that_ended_still_counts_and_can_still_be_displaced_in_its_minute():
    apply_events([make_event(130, key="b"), make_event(140, key="c"), make_event(160, "recovered", key="c")],
                 limits=LIMITS)
    apply_events([make_event(125, key="a")], limits=LIMITS)
    c = Alert.objects.get(dedupe_md5="c")
    assert c.status == "RECOVERED" and c.is_blocked and blocked()["a"] is False


def test_once_a_minute_has_settled_a_late_alert_never_displaces_an_admitted_one():
    apply_events([make_event(130, key="b"), make_event(140, key="c")], limits=LIMITS)
    apply_events([make_event(180 + 120, key="clock")], limits=LIMITS)  # the event clock passes 180 + 120
    apply_events([make_event(125, key="a")], limits=LIMITS)
    assert blocked() == {"a": True, "b": False, "c": False, "clock": False}
    assert list(Alert.objects.get(dedupe_md5="c").logs.values_list("op", flat=True)) == ["CREATE"]


def test_a_settled_minute_with_room_admits_a_late_alert():
    apply_events([make_event(130, key="b")], limits=LIMITS)
    apply_events([make_event(180 + 120, key="clock")], limits=LIMITS)
    apply_events([make_event(125, key="a"), make_event(126, key="a2")], limits=LIMITS)
    assert blocked() == {"a": False, "a2": True, "b": False, "clock": False}


def test_just_before_the_settle_time_a_late_earlier_alert_still_takes_its_place():
    apply_events([make_event(130, key="b"), make_event(140, key="c")], limits=LIMITS)
    apply_events([make_event(180 + 119, key="clock")], limits=LIMITS)
    apply_events([make_event(125, key="a")], limits=LIMITS)
    assert blocked() == {"a": False, "b": False, "c": True, "clock": False}


def test_each_minute_an_alert_may_open_in_gets_one_lock_row():
    apply_events([make_event(130, key="a"), make_event(140, key="a"), make_event(200, severity=1, key="b"),
                  make_event(250, "recovering", key="b")], limits=LIMITS)
    apply_events([make_event(135, key="c")], limits=LIMITS)
    assert sorted(QosMinute.objects.values_list("strategy_id", "severity", "minute")) == [(1, 1, 3), (1, 2, 2)]


def test_replaying_a_batch_that_displaced_an_alert_changes_nothing():
    apply_events([make_event(130, key="b"), make_event(140, key="c")], limits=LIMITS)
    batch: list[dict[str, Any]] = [make_event(125, key="a")]
    apply_events(batch, limits=LIMITS)
    before = (blocked(), block_logs())
    result = apply_events(batch, limits=LIMITS)
    assert result.new_events == 0 and (blocked(), block_logs()) == before


@pytest.mark.django_db(transaction=True)
def test_two_builders_opening_alerts_in_the_same_minute_at_once_admit_exactly_the_limit():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs row locks")
    limits = Limits(qos_per_minute=5, qos_settle=120)
    # two "processes" own disjoint series; each opens 20 alerts per round in the same minutes
    rounds = [[[make_event(60 * r + (i * 7 + side) % 60, key=f"s{side}-{r}-{i}") for i in range(20)]
               for side in (0, 1)] for r in range(2, 8)]
    errors: list[BaseException] = []

    def build(batch: list[dict[str, Any]], start: threading.Barrier) -> None:
        try:
            start.wait()
            apply_events(batch, limits=limits)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    for batches in rounds:
        start = threading.Barrier(2)
        threads = [threading.Thread(target=build, args=(batch, start)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    expected = set()
    for batches in rounds:
        alerts = sorted((e["time"], e["dedupe_md5"]) for batch in batches for e in batch)
        expected |= {key for _, key in alerts[5:]}
    assert {key for key, is_blocked in blocked().items() if is_blocked} == expected
