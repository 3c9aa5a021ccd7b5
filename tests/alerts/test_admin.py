"""The alert admin: read-mostly lists and pages, ack and close actions for users who may change alerts."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert, AlertLog
from tests.alerts.conftest import make_event

pytestmark = pytest.mark.django_db
ADMIN = "/admin/bkmonitor/"


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def viewer() -> Client:
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_alert", "view_alertlog", "view_event"]))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alert() -> Alert:
    apply_events([make_event(1_700_000_000, key="web"), make_event(1_700_000_060, key="web"),
                  make_event(1_700_000_000, key="db"), make_event(1_700_000_120, "recovered", key="db")])
    return Alert.objects.get(dedupe_md5="web")


def test_the_alert_list_shows_times_filters_and_actions(root, alert):
    body = root.get(f"{ADMIN}alert/").content.decode()
    assert "CPU usage high" in body and "2023-11-14 22:13:20 UTC" in body
    assert "Acknowledge selected abnormal alerts" in body and "Close selected abnormal alerts" in body
    assert f"{alert.pk}" in root.get(f"{ADMIN}alert/?status__exact=ABNORMAL").content.decode()
    assert root.get(f"{ADMIN}alert/?q=web").status_code == 200


def test_the_alert_page_is_read_only_with_its_recent_log_and_a_link_to_all_of_it(root, alert):
    page = root.get(f"{ADMIN}alert/{alert.pk}/change/").content.decode()
    assert "CREATE" in page and "ANOMALY" in page and f"alertlog/?alert__id__exact={alert.pk}" in page
    assert 'name="_save"' not in page
    assert root.get(f"{ADMIN}alert/add/").status_code == 403
    assert root.post(f"{ADMIN}alert/{alert.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_the_log_list_filters_by_alert_and_op(root, alert):
    body = root.get(f"{ADMIN}alertlog/?alert__id__exact={alert.pk}").content.decode()
    assert "anomaly, value 95.0" in body and "recovered, value" not in body
    assert root.get(f"{ADMIN}alertlog/?op__exact=RECOVER").status_code == 200
    assert root.get(f"{ADMIN}event/").status_code == 200


def test_the_ack_action_acknowledges_abnormal_alerts_and_reports_the_others(root, alert):
    recovered = Alert.objects.get(dedupe_md5="db")
    response = root.post(f"{ADMIN}alert/", {"action": "ack_alerts", "_selected_action": [alert.pk, recovered.pk]},
                         follow=True)
    body = response.content.decode()
    assert "1 alert(s) acknowledged" in body and "this one is RECOVERED" in body
    alert.refresh_from_db()
    assert alert.is_ack and alert.ack_operator == "root"


def test_the_close_action_closes_with_the_user_in_the_reason(root, alert):
    root.post(f"{ADMIN}alert/", {"action": "close_alerts", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.status == "CLOSED" and alert.close_reason == "closed in the admin by root"
    assert AlertLog.objects.get(alert=alert, op="CLOSE").operator == "root"


def test_a_viewer_sees_alerts_but_has_no_actions(viewer, alert):
    body = viewer.get(f"{ADMIN}alert/").content.decode()
    assert "CPU usage high" in body and "Acknowledge selected" not in body
    viewer.post(f"{ADMIN}alert/", {"action": "ack_alerts", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert not alert.is_ack
    assert viewer.get(f"{ADMIN}alert/{alert.pk}/change/").status_code == 200
    assert viewer.get(f"{ADMIN}alertlog/").status_code == 200
