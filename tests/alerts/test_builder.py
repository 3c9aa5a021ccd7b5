"""The builder against the real database: idempotent replays, the lifecycle rules end to end, QoS, flapping."""
from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction

from bkmonitor.alerts.builder import BuildResult, apply_events
from bkmonitor.alerts.flapping import end_stable_flapping
from bkmonitor.alerts.lifecycle import Limits
from bkmonitor.models import Alert, AlertLog, Event
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db

ALERT_FIELDS = ("alert_name", "strategy_id", "item_id", "bk_biz_id", "severity", "status", "is_recovering",
                "dimensions", "target_type", "target", "open_time", "first_anomaly_time", "begin_time",
                "latest_time", "end_time", "event_count", "is_blocked", "is_flapping", "close_reason",
                "recovery_value")


def snapshot(key: str) -> dict[str, Any]:
    """Everything the builder wrote for one dedupe_md5, without ids, so two keys can be compared."""
    alerts = list(Alert.objects.filter(dedupe_md5=key).order_by("id"))
    index = {a.id: n for n, a in enumerate(alerts)}
    return {
        "alerts": [tuple(getattr(a, f) for f in ALERT_FIELDS) for a in alerts],
        "logs": [(index.get(log.alert_id), log.time, log.op, log.description)
                 for log in AlertLog.objects.filter(dedupe_md5=key).order_by("id")],
        "events": sorted((e.time, e.event_type, e.severity, index.get(e.alert_id))
                         for e in Event.objects.filter(dedupe_md5=key)),
    }


def scenario(key: str) -> list[list[dict[str, Any]]]:
    """Batches as they arrive: open, count, escalate, drop a lesser one; an out-of-order one, recovering,
    recover; a late one, reopen, close, and a status event with nothing open."""
    batches = [[(100, "anomaly", 3), (160, "anomaly", 3), (220, "anomaly", 2), (280, "anomaly", 3)],
               [(200, "anomaly", 2), (340, "recovering", 2), (400, "anomaly", 2), (460, "recovered", 2)],
               [(430, "anomaly", 2), (520, "anomaly", 2), (580, "closed", 2), (640, "recovered", 2)]]
    return [[make_event(t, kind, severity, key=key, reason="strategy disabled" if kind == "closed" else "")
             for t, kind, severity in batch] for batch in batches]


def apply_all(batches: list[list[dict[str, Any]]]) -> None:
    for batch in batches:
        apply_events(batch)


def the_alert(key: str = "cpu-10.0.0.1") -> Alert:
    return Alert.objects.get(dedupe_md5=key, status="ABNORMAL")


# --- idempotency ---------------------------------------------------------------------------------------------------

def test_a_batch_stores_its_events_and_opens_an_alert_with_a_create_log():
    result = apply_events([make_event(100), make_event(160)])
    alert = Alert.objects.get()
    assert result == BuildResult(new_events=2, duplicates=0, opened=[alert.id], ended=[], updated=[])
    assert alert.event_count == 2 and (alert.begin_time, alert.latest_time) == (100, 160)
    assert list(alert.logs.values_list("op", "event_id")) == [("CREATE", make_event(100)["event_id"]),
                                                              ("ANOMALY", make_event(160)["event_id"])]
    assert Event.objects.filter(alert=alert).count() == 2
    assert Event.objects.get(time=100).raw == make_event(100)


def test_replaying_every_batch_changes_nothing_and_reports_duplicates():
    batches = scenario("k")
    apply_all(batches)
    before = snapshot("k")
    for batch in batches:
        assert apply_events(batch) == BuildResult(new_events=0, duplicates=len(batch))
    assert apply_events([e for b in batches for e in b]).new_events == 0
    assert snapshot("k") == before


def test_replaying_overlapping_ranges_equals_applying_each_event_once_where_it_first_arrived():
    apply_all(scenario("once"))
    events = [e for batch in scenario("ranges") for e in batch]
    for start, stop in [(0, 4), (2, 8), (0, 2), (5, 8), (8, 12), (4, 12), (0, 12), (11, 12)]:
        apply_events(events[start:stop])
    assert snapshot("ranges") == snapshot("once")


def test_a_replayed_prefix_with_new_events_applies_only_the_new_ones():
    events = scenario("k")[0]
    apply_events(events[:2])
    result = apply_events(events[:2] + [make_event(200, key="k", severity=3)])
    assert result.new_events == 1 and result.duplicates == 2
    assert result.updated == [the_alert("k").id] and result.opened == [] and result.ended == []


def test_an_event_repeated_inside_one_batch_counts_once():
    result = apply_events([make_event(100), make_event(100), make_event(160)])
    assert (result.new_events, result.duplicates) == (2, 1) and Alert.objects.get().event_count == 2


def test_the_result_does_not_depend_on_the_order_events_arrive_in_within_a_batch():
    apply_all(scenario("sorted"))
    apply_all([list(reversed(batch)) for batch in scenario("reversed")])
    assert snapshot("reversed") == snapshot("sorted")


def test_dedupe_keys_are_independent():
    apply_events([make_event(100, key="a"), make_event(100, severity=1, key="b"), make_event(160, key="a")])
    assert the_alert("a").event_count == 2 and the_alert("b").event_count == 1


# --- lifecycle end to end -------------------------------------------------------------------------------------------

def test_the_scenario_ends_with_the_expected_alerts_and_logs():
    apply_all(scenario("k"))
    alerts = list(Alert.objects.filter(dedupe_md5="k").order_by("id"))
    assert [(a.severity, a.status, a.begin_time, a.end_time, a.close_reason) for a in alerts] == [
        (3, "CLOSED", 100, 220, "a more severe alert replaced it"),
        (2, "RECOVERED", 200, 460, ""),
        (2, "CLOSED", 520, 580, "strategy disabled"),
    ]
    assert alerts[1].event_count == 2 and alerts[1].recovery_value == 95.0
    assert alerts[1].first_anomaly_time == 200 and alerts[1].open_time == 220
    ops = list(AlertLog.objects.filter(dedupe_md5="k").order_by("id").values_list("op", flat=True))
    assert ops == ["CREATE", "ANOMALY", "CLOSE", "CREATE", "LOWER_SEVERITY_DROPPED", "MOVED_BEGIN", "RECOVERING",
                   "ANOMALY", "RECOVER", "LATE_EVENT", "CREATE", "CLOSE", "NO_OPEN_ALERT"]


def test_a_more_severe_event_closes_and_replaces_the_alert_in_one_batch():
    apply_events([make_event(100, severity=3)])
    old = the_alert()
    result = apply_events([make_event(160, severity=1)])
    new = the_alert()
    old.refresh_from_db()
    assert old.status == "CLOSED" and old.close_reason == "a more severe alert replaced it" and old.end_time == 160
    assert new.severity == 1 and result.opened == [new.id] and result.ended == [old.id]


def test_a_less_severe_event_is_stored_on_the_alert_and_dropped():
    apply_events([make_event(100, severity=1), make_event(160, severity=2)])
    alert = the_alert()
    assert alert.severity == 1 and alert.event_count == 1
    assert alert.logs.order_by("id").last().op == "LOWER_SEVERITY_DROPPED" and alert.events.count() == 2


def test_an_out_of_order_event_in_a_later_batch_moves_begin_time_back():
    apply_events([make_event(100), make_event(160)])
    result = apply_events([make_event(40)])
    alert = the_alert()
    assert (alert.begin_time, alert.first_anomaly_time, alert.latest_time, alert.event_count) == (40, 40, 160, 2)
    assert result.updated == [alert.id]


def test_recovering_then_recovered_ends_the_alert_with_the_recovery_value():
    apply_events([make_event(100)])
    apply_events([make_event(160, "recovering")])
    assert the_alert().is_recovering
    result = apply_events([make_event(220, "recovered", value=3.5)])
    alert = Alert.objects.get()
    assert (alert.status, alert.end_time, alert.recovery_value, alert.is_recovering) == ("RECOVERED", 220, 3.5, False)
    assert result.ended == [alert.id]


def test_closed_ends_the_alert_with_its_reason():
    apply_events([make_event(100), make_event(160, "closed", reason="no data")])
    alert = Alert.objects.get()
    assert (alert.status, alert.close_reason, alert.end_time) == ("CLOSED", "no data", 160)


def test_a_status_event_without_an_open_alert_is_stored_and_logged():
    result = apply_events([make_event(160, "recovered")])
    assert result == BuildResult(new_events=1, duplicates=0)
    assert Alert.objects.count() == 0 and Event.objects.get().alert is None
    log = AlertLog.objects.get()
    assert log.alert is None and log.op == "NO_OPEN_ALERT" and log.dedupe_md5 == "cpu-10.0.0.1"


def test_a_late_event_after_the_end_is_attached_to_the_ended_alert_and_reopens_nothing():
    apply_events([make_event(100), make_event(200, "recovered")])
    result = apply_events([make_event(150)])
    alert = Alert.objects.get()
    assert result.opened == [] and alert.status == "RECOVERED" and alert.event_count == 1
    assert alert.logs.order_by("id").last().op == "LATE_EVENT" and Event.objects.get(time=150).alert == alert


def test_the_next_anomaly_after_the_end_opens_a_new_alert():
    apply_events([make_event(100), make_event(200, "recovered")])
    apply_events([make_event(260)])
    assert Alert.objects.count() == 2 and the_alert().begin_time == 260


def test_a_no_data_event_opens_its_own_alert():
    apply_events([make_event(100, "no_data", severity=3, key="nodata")])
    alert = the_alert("nodata")
    assert alert.severity == 3 and "no data" in alert.logs.get().description


# --- constraint ----------------------------------------------------------------------------------------------------

def test_the_database_rejects_a_second_abnormal_alert_for_a_dedupe_md5():
    apply_events([make_event(100)])
    duplicate = Alert(**{f: getattr(the_alert(), f) for f in ALERT_FIELDS}, dedupe_md5="cpu-10.0.0.1")
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    duplicate.status = "CLOSED"
    duplicate.save()  # any number of ended ones
    assert Alert.objects.filter(dedupe_md5="cpu-10.0.0.1").count() == 2


# --- QoS -------------------------------------------------------------------------------------------------------------

def test_qos_blocks_the_alert_after_the_limit_in_a_minute_and_logs_why():
    limits = Limits(qos_per_minute=3)
    apply_events([make_event(120 + i, key=f"k{i}") for i in range(2)], limits=limits)
    apply_events([make_event(125 + i, key=f"k{i}") for i in range(2, 5)], limits=limits)
    blocked = dict(Alert.objects.values_list("dedupe_md5", "is_blocked"))
    assert blocked == {"k0": False, "k1": False, "k2": False, "k3": True, "k4": True}
    log = AlertLog.objects.get(dedupe_md5="k3", op="BLOCK")
    assert log.description == "QoS: more than 3 new alerts per minute for strategy 1 severity 2"


def test_qos_starts_again_in_the_next_minute_and_counts_severities_apart():
    limits = Limits(qos_per_minute=1)
    apply_events([make_event(120, key="a"), make_event(121, severity=1, key="b"), make_event(180, key="c"),
                  make_event(130, key="d")], limits=limits)
    blocked = dict(Alert.objects.values_list("dedupe_md5", "is_blocked"))
    assert blocked == {"a": False, "b": False, "c": False, "d": True}


# --- flapping -------------------------------------------------------------------------------------------------------

def flapping_events(start: int, cycles: int) -> list[dict[str, Any]]:
    events = []
    for i in range(cycles):
        events += [make_event(start + 120 * i), make_event(start + 120 * i + 60, "recovered")]
    return events


def test_the_seventh_state_change_in_the_window_opens_a_flapping_alert_across_batches():
    for event in flapping_events(1000, 3):
        apply_events([event])
    apply_events([make_event(1360)])
    alert = the_alert()
    assert alert.is_flapping and list(alert.logs.values_list("op", flat=True)) == ["CREATE", "FLAPPING_START"]
    assert not Alert.objects.filter(status="RECOVERED", is_flapping=True).exists()


def test_flapping_ends_when_an_event_arrives_after_the_stable_period():
    apply_events(flapping_events(1000, 3) + [make_event(1360)])
    apply_events([make_event(1360 + 1000)])
    assert the_alert().is_flapping
    result = apply_events([make_event(1360 + 1800)])
    alert = the_alert()
    assert not alert.is_flapping and result.updated == [alert.id]
    log = alert.logs.get(op="FLAPPING_END")
    assert log.time == 1360 + 1800 and log.event_id == make_event(1360 + 1800)["event_id"]


def test_the_periodic_sweep_ends_stable_flapping_and_is_idempotent():
    apply_events(flapping_events(1000, 3) + [make_event(1360)])
    alert = the_alert()
    assert end_stable_flapping(1360 + 1799) == []
    assert end_stable_flapping(1360 + 5000) == [alert.id]
    assert end_stable_flapping(1360 + 6000) == []
    alert.refresh_from_db()
    assert not alert.is_flapping and alert.logs.get(op="FLAPPING_END").time == 1360 + 1800


# --- edges and concurrency -------------------------------------------------------------------------------------------

def test_an_empty_batch_does_nothing():
    assert apply_events([]) == BuildResult(new_events=0, duplicates=0)


@pytest.mark.django_db(transaction=True)
def test_two_builders_applying_the_same_batch_at_once_apply_it_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs row locks")
    apply_events([make_event(100, key=f"k{i}") for i in range(50)])
    batch = [make_event(100 + 60 * step, key=f"k{i}", severity=1 + step % 2)
             for step in range(1, 6) for i in range(50)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def build() -> None:
        try:
            start.wait()
            apply_events(batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Event.objects.count() == 300 and AlertLog.objects.filter(op="CREATE").count() == Alert.objects.count()
    assert Alert.objects.filter(status="ABNORMAL").count() == 50
    # per key: the warning alert counted one more, then a fatal one replaced it and counted one more
    assert Alert.objects.count() == 100 and AlertLog.objects.filter(op="ANOMALY").count() == 100
    assert set(Alert.objects.filter(status="ABNORMAL").values_list("severity", "event_count")) == {(1, 2)}
