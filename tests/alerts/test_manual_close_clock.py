"""A manual close and ack live in event time, like every other alert time: never the wall clock.

The pipeline may replay a series from years ago (the demo replays 2013); an alert closed by hand then
must end at its latest event, not "now", or the series' next anomaly would be taken for a late event.
"""
from __future__ import annotations

import pytest
from django.utils import timezone

from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.manage import ack_alert, close_alert
from bkmonitor.models import Alert, AlertStatus
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db

T = 1_387_000_000  # December 2013, as in the demo's replay


@pytest.fixture
def alert() -> Alert:
    apply_events([make_event(T), make_event(T + 60), make_event(T + 120)])
    return Alert.objects.get()


def test_a_manual_close_ends_the_alert_at_its_latest_event_not_the_wall_clock(alert):
    closed = close_alert(alert.id, "alice", "maintenance")
    assert (closed.begin_time, closed.latest_time, closed.end_time) == (T, T + 120, T + 120)
    log = closed.logs.get(op="CLOSE")
    assert log.time == T + 120
    assert abs((timezone.now() - log.create_time).total_seconds()) < 60  # the moment of the close: wall clock


def test_after_a_manual_close_the_series_next_anomaly_opens_a_new_alert(alert):
    close_alert(alert.id, "alice", "maintenance")
    apply_events([make_event(T + 180)])
    alerts = list(Alert.objects.order_by("id"))
    assert [a.status for a in alerts] == [AlertStatus.CLOSED, AlertStatus.ABNORMAL]
    assert alerts[1].begin_time == T + 180
    assert not alerts[0].logs.filter(op="LATE_EVENT").exists()


def test_an_event_before_the_manual_close_end_is_still_a_late_event(alert):
    close_alert(alert.id, "alice", "maintenance")
    apply_events([make_event(T + 90, tag="late")])
    assert Alert.objects.count() == 1 and alert.logs.filter(op="LATE_EVENT").count() == 1


def test_a_closed_alert_never_ends_before_it_began_or_before_its_latest_event(alert):
    apply_events([make_event(T - 600, tag="older")])  # out of order: moves the begin back only
    closed = close_alert(alert.id, "alice", "maintenance")
    assert closed.begin_time == T - 600 and closed.end_time == closed.latest_time == T + 120
    assert closed.begin_time <= closed.end_time


def test_an_ack_is_logged_at_the_alerts_latest_event_time_so_the_log_reads_in_order(alert):
    ack_alert(alert.id, "alice", "looking")
    apply_events([make_event(T + 180)])
    ordered = list(alert.logs.order_by("time", "id").values_list("op", "time"))
    assert ordered[-2:] == [("ACK", T + 120), ("ANOMALY", T + 180)]
