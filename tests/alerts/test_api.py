"""The alert and event API through HTTP with a real database: filters, detail, ack/close, permissions, errors."""
from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.lifecycle import Limits
from bkmonitor.models import Alert
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"
EVENTS = "/api/v1/events/"


def client_for(name: str, *codenames: str) -> APIClient:
    user = User.objects.create_user(name, password="pw")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="bkmonitor", codename__in=codenames))
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def reader() -> APIClient:
    return client_for("reader")


@pytest.fixture
def operator() -> APIClient:
    return client_for("operator", "change_alert")


@pytest.fixture
def alerts() -> dict[str, Alert]:
    """web: fatal, open, host 10.0.0.1; db: warning, recovered, host 10.0.0.2, biz 3; cache: remind, blocked."""
    apply_events([
        make_event(1_700_000_000, severity=1, key="web", strategy_id=1),
        make_event(1_700_000_060, severity=1, key="web", strategy_id=1),
        make_event(1_700_000_100, severity=2, key="db", strategy_id=2, bk_biz_id=3,
                   dimensions={"bk_target_ip": "10.0.0.2", "bk_target_cloud_id": 0, "device": "sda"}),
        make_event(1_700_000_400, "recovered", 2, key="db", strategy_id=2, value=1.5),
        make_event(1_700_003_600, severity=3, key="other", strategy_id=3,
                   dimensions={"bk_target_ip": "10.0.0.3", "bk_target_cloud_id": 1}),
    ])
    apply_events([make_event(1_700_003_610, severity=3, key="cache", strategy_id=3,
                             dimensions={"bk_target_ip": "10.0.0.4", "bk_target_cloud_id": 1})],
                 limits=Limits(qos_per_minute=1))
    return {a.dedupe_md5: a for a in Alert.objects.all()}


def keys(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return sorted(a["dedupe_md5"] for a in response.json()["results"])


# --- list and filters ---------------------------------------------------------------------------------------------

def test_the_list_pages_alerts_newest_first_with_the_design_fields(reader, alerts):
    body = reader.get(ALERTS).json()
    assert body["count"] == 4 and [a["dedupe_md5"] for a in body["results"]] == ["cache", "web", "other", "db"]
    web = body["results"][1]
    assert {"id", "alert_name", "strategy_id", "item_id", "bk_biz_id", "severity", "status", "is_recovering",
            "dedupe_md5", "dimensions", "first_anomaly_time", "begin_time", "latest_time", "end_time",
            "event_count", "is_ack", "ack_operator", "is_shielded", "is_blocked", "is_flapping", "close_reason",
            "recovery_value"} <= set(web)
    assert (web["severity"], web["status"], web["event_count"], web["end_time"]) == (1, "ABNORMAL", 2, None)
    assert web["dimensions"] == {"bk_target_ip": "10.0.0.1", "bk_target_cloud_id": 0}


@pytest.mark.parametrize(("query", "expected"), [
    ("status=ABNORMAL", ["cache", "other", "web"]),
    ("status=RECOVERED&status=CLOSED", ["db"]),
    ("severity=1", ["web"]),
    ("severity=2&severity=3", ["cache", "db", "other"]),
    ("strategy=3", ["cache", "other"]),
    ("strategy_id=2", ["db"]),
    ("bk_biz_id=3", ["db"]),
    ("is_blocked=true", ["cache"]),
    ("is_ack=false", ["cache", "db", "other", "web"]),
    ("is_shielded=true", []),
    ("dedupe_md5=web", ["web"]),
    ("search=cach", ["cache"]),
    ("dimension=bk_target_ip:10.0.0.2", ["db"]),
    ("dimension=bk_target_cloud_id:1", ["cache", "other"]),
    ("dimension=bk_target_cloud_id:1&dimension=bk_target_ip:10.0.0.4", ["cache"]),
    ("dimension=device:sda", ["db"]),
    ("dimension=device:", []),
    ("dimension=missing:x", []),
    ("begin_time__gte=1700000100", ["cache", "db", "other"]),
    ("begin_time__lte=1700000100", ["db", "web"]),
    ("begin_time__gte=1700000050&begin_time__lte=1700003600", ["db", "other"]),
    ("begin_time__gte=2023-11-14T22:15:00Z", ["cache", "db", "other"]),
    ("begin_time__lte=2023-11-14T23:15:00%2B01:00", ["db", "web"]),
    ("begin_time__lte=2023-11-14", []),
    ("begin_time__lte=2023-11-15", ["cache", "db", "other", "web"]),
    ("end_time__lte=1700000400", ["db"]),
])
def test_filters(reader, alerts, query, expected):
    assert keys(reader.get(f"{ALERTS}?{query}")) == expected


def test_ordering(reader, alerts):
    body = reader.get(f"{ALERTS}?ordering=severity,-begin_time").json()
    assert [a["dedupe_md5"] for a in body["results"]] == ["web", "db", "cache", "other"]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("status=OPEN", "status", "Select a valid choice"),
    ("severity=9", "severity", "Select a valid choice"),
    ("is_ack=yes", "is_ack", "Select a valid choice"),
    ("strategy=abc", "strategy", "Enter a whole number"),
    ("strategy=99999999999999999999", "strategy", "less than or equal to"),
    ("bk_biz_id=4294967296", "bk_biz_id", "less than or equal to"),
    ("dimension=nocolon", "dimension", "expected key:value"),
    ("dimension=:value", "dimension", "expected key:value"),
    ("begin_time__gte=yesterday", "begin_time__gte", "expected epoch seconds, or an ISO 8601"),
    ("begin_time__gte=2023-13-40", "begin_time__gte", "expected epoch seconds, or an ISO 8601"),
    ("begin_time__lte=99999999999999", "begin_time__lte", "must be between"),
    ("search=%00", "search", "contains a NUL character"),
    ("dimension=a:%00", "dimension", "contains a NUL character"),
])
def test_a_bad_filter_is_a_400_naming_the_parameter(reader, alerts, query, field, message):
    response = reader.get(f"{ALERTS}?{query}")
    assert response.status_code == 400, response.content
    assert any(message in m for m in response.json()[field]), response.json()


# --- detail ----------------------------------------------------------------------------------------------------------

def test_retrieve_includes_the_log_and_the_events(reader, alerts):
    body = reader.get(f"{ALERTS}{alerts['db'].id}/").json()
    assert body["status"] == "RECOVERED" and body["recovery_value"] == 1.5 and body["end_time"] == 1_700_000_400
    assert [log["op"] for log in body["logs"]] == ["CREATE", "RECOVER"]
    assert body["logs"][0]["event_id"] == make_event(1_700_000_100, severity=2, key="db")["event_id"]
    assert [e["event_type"] for e in body["events"]] == ["recovered", "anomaly"]


def test_a_blocked_alert_shows_why_in_its_log(reader, alerts):
    body = reader.get(f"{ALERTS}{alerts['cache'].id}/").json()
    assert body["is_blocked"] and body["logs"][-1]["op"] == "BLOCK"
    assert body["logs"][-1]["description"] == "QoS: more than 1 new alerts per minute for strategy 3 severity 3"


@pytest.mark.parametrize("pk", ["999999", "abc", "99999999999999999999", "-1"])
def test_an_unknown_alert_is_a_404(reader, alerts, pk):
    assert reader.get(f"{ALERTS}{pk}/").status_code == 404


# --- ack and close -----------------------------------------------------------------------------------------------

def test_ack_defaults_the_operator_to_the_user_and_is_idempotent(operator, alerts):
    url = f"{ALERTS}{alerts['web'].id}/ack/"
    first = operator.post(url, {"message": "on it"}, format="json")
    assert first.status_code == 200, first.json()
    assert (first.json()["is_ack"], first.json()["ack_operator"], first.json()["ack_message"]) == (
        True, "operator", "on it")
    again = operator.post(url, {"operator": "someone else"}, format="json")
    assert again.status_code == 200 and again.json()["ack_operator"] == "operator"
    assert alerts["web"].logs.filter(op="ACK").count() == 1


def test_ack_takes_an_explicit_operator(operator, alerts):
    body = operator.post(f"{ALERTS}{alerts['web'].id}/ack/", {"operator": "oncall-bot"}, format="json").json()
    assert body["ack_operator"] == "oncall-bot"


def test_close_needs_a_reason_and_ends_the_alert(operator, alerts):
    url = f"{ALERTS}{alerts['web'].id}/close/"
    missing = operator.post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    response = operator.post(url, {"reason": "maintenance"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "CLOSED" and body["close_reason"] == "maintenance" and body["end_time"] is not None
    assert operator.post(url, {"reason": "again"}, format="json").json()["close_reason"] == "maintenance"
    log = alerts["web"].logs.get(op="CLOSE")
    assert log.operator == "operator" and log.description == "closed by operator: maintenance"


def test_acking_or_closing_a_recovered_alert_is_a_409(operator, alerts):
    url = f"{ALERTS}{alerts['db'].id}/"
    ack = operator.post(f"{url}ack/", {}, format="json")
    assert ack.status_code == 409 and "this one is RECOVERED" in ack.json()["detail"]
    assert operator.post(f"{url}close/", {"reason": "x"}, format="json").status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"mesage": "typo"}, "mesage"),
    ({"message": "x" * 1025}, "message"),
    ({"operator": ""}, "operator"),
    ({"message": "a\x00b"}, "message"),
    ({"message": ["not", "text"]}, "message"),
])
def test_a_bad_ack_body_is_a_400_naming_the_field(operator, alerts, body, field):
    response = operator.post(f"{ALERTS}{alerts['web'].id}/ack/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()


def test_a_body_that_is_not_an_object_or_not_json_is_a_400(operator, alerts):
    url = f"{ALERTS}{alerts['web'].id}/ack/"
    assert operator.post(url, ["x"], format="json").status_code == 400
    assert operator.post(url, "{not json", content_type="application/json").status_code == 400


def test_ack_and_close_of_an_unknown_alert_are_404(operator):
    assert operator.post(f"{ALERTS}424242/ack/", {}, format="json").status_code == 404
    assert operator.post(f"{ALERTS}424242/close/", {"reason": "x"}, format="json").status_code == 404


# --- permissions ------------------------------------------------------------------------------------------------------

def test_anonymous_requests_are_refused(alerts):
    anonymous = APIClient()
    assert anonymous.get(ALERTS).status_code in (401, 403)
    assert anonymous.get(EVENTS).status_code in (401, 403)
    assert anonymous.post(f"{ALERTS}{alerts['web'].id}/ack/", {}, format="json").status_code in (401, 403)


def test_reading_needs_a_login_only_but_ack_and_close_need_change_permission(reader, alerts):
    assert reader.get(ALERTS).status_code == 200
    assert reader.post(f"{ALERTS}{alerts['web'].id}/ack/", {}, format="json").status_code == 403
    assert reader.post(f"{ALERTS}{alerts['web'].id}/close/", {"reason": "x"}, format="json").status_code == 403
    assert not Alert.objects.get(pk=alerts["web"].id).is_ack


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_alerts_cannot_be_edited_or_deleted_through_the_api(operator, alerts, method):
    response = getattr(operator, method)(f"{ALERTS}{alerts['web'].id}/", {}, format="json")
    assert response.status_code == 405
    assert operator.post(ALERTS, {}, format="json").status_code == 405


# --- events ----------------------------------------------------------------------------------------------------

def test_events_are_listed_read_only_with_filters(operator, alerts):
    body = operator.get(f"{EVENTS}?alert={alerts['db'].id}").json()
    assert [e["event_type"] for e in body["results"]] == ["recovered", "anomaly"]
    assert operator.get(f"{EVENTS}?event_type=recovered").json()["count"] == 1
    assert operator.get(f"{EVENTS}?time__gte=1700003600").json()["count"] == 2
    assert operator.get(f"{EVENTS}?severity=1&dedupe_md5=web").json()["count"] == 2
    assert operator.post(EVENTS, {}, format="json").status_code == 405
    assert operator.get(f"{EVENTS}?event_type=bogus").status_code == 400


def test_an_event_detail_includes_the_raw_event(reader, alerts):
    event = make_event(1_700_000_000, severity=1, key="web", strategy_id=1)
    listed = reader.get(f"{EVENTS}?dedupe_md5=web&ordering=time").json()["results"][0]
    assert "raw" not in listed
    detail = reader.get(f"{EVENTS}{listed['id']}/").json()
    assert detail["raw"] == event and detail["alert"] == alerts["web"].id
