"""Alerts say why they fired: the alert row, its log, the API, the admin and the terminal line carry the events'
reasons, and the log as people read it folds repeats into counts while every row stays stored."""
from __future__ import annotations

import html
import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from alarm_backends.service.alert.runner import AlertRunner
from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.logview import collapse
from bkmonitor.models import Alert, AlertLog
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db
T = 1_700_000_000  # 2023-11-14 22:13:20 UTC
FIRED = "avg(usage) = 95.0 >= 90, Threshold at level 1, 3 of 5 windows (needs 3)"


def event(time: int, kind: str = "anomaly", severity: int = 1, reason: str = FIRED, **kwargs: Any) -> dict[str, Any]:
    made = make_event(time, kind, severity, key="web", **kwargs)
    made["reason"] = reason
    return made


@pytest.fixture
def storm() -> Alert:
    """A fatal alert, then 6 warnings dropped as less severe, one more fatal anomaly, then its recovery."""
    apply_events([event(T), *[event(T + 60 * i, severity=2, reason=f"warning {i}") for i in range(1, 7)],
                  event(T + 420, reason="again"), event(T + 480, "recovered", reason="recovered after 5 windows")])
    return Alert.objects.get()


def test_the_alert_keeps_the_reason_that_opened_it_and_the_latest_one(storm):
    assert storm.reason == FIRED and storm.latest_reason == "recovered after 5 windows"
    create = storm.logs.get(op="CREATE").description
    assert create == f"created by anomaly, severity 1, value 95.0: {FIRED}"
    assert storm.logs.get(op="RECOVER").description == "recovered, value 95.0: recovered after 5 windows"


def test_a_closed_alert_keeps_the_close_events_reason_as_its_latest_and_close_reason():
    apply_events([event(T), event(T + 60, "closed", reason="no data for 30 windows (30 min)")])
    alert = Alert.objects.get()
    assert alert.latest_reason == alert.close_reason == "no data for 30 windows (30 min)"
    assert alert.reason == FIRED


def test_the_detail_api_folds_repeated_log_rows_into_one_entry_with_a_count_and_keeps_every_row(storm):
    client = APIClient()
    client.force_login(User.objects.create_user("reader", password="pw"))
    body = client.get(f"/api/v1/alerts/{storm.id}/").json()
    assert body["reason"] == FIRED and body["latest_reason"] == "recovered after 5 windows"
    assert [(log["op"], log["count"]) for log in body["logs"]] == [
        ("CREATE", 1), ("LOWER_SEVERITY_DROPPED", 6), ("ANOMALY", 1), ("RECOVER", 1)]
    dropped = body["logs"][1]
    assert (dropped["time"], dropped["last_time"]) == (T + 60, T + 360)
    assert dropped["description"].endswith(": warning 1") and dropped["last_description"].endswith(": warning 6")
    assert dropped["summary"] == "LOWER_SEVERITY_DROPPED x6, 2023-11-14 22:14:20 - 22:19:20 UTC"
    assert AlertLog.objects.filter(alert=storm, op="LOWER_SEVERITY_DROPPED").count() == 6
    listed = client.get("/api/v1/alerts/").json()
    assert [(a["reason"], a["latest_reason"]) for a in listed["results"]] == [(FIRED, "recovered after 5 windows")]


def test_manual_operations_by_different_people_are_not_folded_together():
    rows = [AlertLog(time=T, op="ACK", operator="alice"), AlertLog(time=T + 1, op="ACK", operator="bob"),
            AlertLog(time=T + 2, op="ACK", operator="bob")]
    assert [(run.first.operator, run.count) for run in collapse(rows)] == [("alice", 1), ("bob", 2)]


def test_the_admin_list_shows_the_target_dimensions_dates_and_why_and_the_page_folds_the_log(storm):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    listing = client.get("/admin/bkmonitor/alert/").content.decode()
    assert "10.0.0.1|0 (bk_target_cloud_id=0, bk_target_ip=10.0.0.1)" in listing
    assert "2023-11-14 22:13:20 UTC" in listing and "recovered after 5 windows" in listing
    page = client.get(f"/admin/bkmonitor/alert/{storm.id}/change/").content.decode()
    assert "LOWER_SEVERITY_DROPPED x6, 2023-11-14 22:14:20 - 22:19:20 UTC" in page
    assert html.escape(FIRED) in page


def test_the_terminal_line_of_an_alert_says_why(storm, caplog):
    with caplog.at_level(logging.INFO, logger="alarm_backends.service.alert.runner"):
        AlertRunner._announce([], [storm.id])
    [line] = [r.getMessage() for r in caplog.records if f"alert #{storm.id}" in r.getMessage()]
    assert line.endswith("at 2023-11-14 22:21: recovered after 5 windows")
