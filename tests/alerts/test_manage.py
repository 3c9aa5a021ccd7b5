"""Manual acknowledge and close: idempotent, logged, refused where the state does not allow them."""
from __future__ import annotations

import pytest

from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.manage import AlertStateError, ack_alert, close_alert
from bkmonitor.models import Alert
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert() -> Alert:
    apply_events([make_event(100)])
    return Alert.objects.get()


def test_ack_records_operator_and_message_once(alert):
    ack_alert(alert.id, "alice", "looking")
    again = ack_alert(alert.id, "bob", "me too")
    assert (again.is_ack, again.ack_operator, again.ack_message) == (True, "alice", "looking")
    log = alert.logs.get(op="ACK")
    assert log.operator == "alice" and log.description == "acknowledged by alice: looking" and log.event_id == ""


def test_an_ended_alert_cannot_be_acknowledged(alert):
    apply_events([make_event(200, "recovered")])
    with pytest.raises(AlertStateError, match="only an abnormal alert can be acknowledged; this one is RECOVERED"):
        ack_alert(alert.id, "alice", "")


def test_close_ends_the_alert_with_the_reason_once(alert):
    closed = close_alert(alert.id, "alice", "maintenance")
    again = close_alert(alert.id, "bob", "other")
    assert closed.status == again.status == "CLOSED" and again.close_reason == "maintenance"
    assert closed.end_time is not None and closed.end_time >= alert.begin_time
    assert list(alert.logs.filter(op="CLOSE").values_list("operator", flat=True)) == ["alice"]


def test_a_recovered_alert_cannot_be_closed(alert):
    apply_events([make_event(200, "recovered")])
    with pytest.raises(AlertStateError, match="this one is RECOVERED"):
        close_alert(alert.id, "alice", "x")


def test_after_a_manual_close_older_anomalies_are_late_and_a_newer_one_opens_a_new_alert(alert):
    closed = close_alert(alert.id, "alice", "x")
    assert closed.end_time is not None
    apply_events([make_event(closed.end_time - 10)])
    assert not Alert.objects.filter(status="ABNORMAL").exists()  # older than the close: a late event
    apply_events([make_event(closed.end_time + 60)])
    assert Alert.objects.filter(status="ABNORMAL").count() == 1
    assert not Alert.objects.filter(is_flapping=True).exists()


def test_a_missing_alert_raises_does_not_exist():
    with pytest.raises(Alert.DoesNotExist):
        ack_alert(999_999, "alice", "")
