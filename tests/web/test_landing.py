"""`/`: what a user sees first, without logging in."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_landing_page_is_public_and_links_to_the_admin_the_docs_the_api_the_alerts_and_the_metrics() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    hrefs = set(re.findall(r'<a href="([^"]+)"', response.content.decode()))
    assert {"/admin/", "/api/docs/", "/api/v1/", "/api/v1/alerts/", "/metrics"} <= hrefs


def test_the_landing_page_says_how_to_get_an_api_token() -> None:
    page = Client().get("/").content.decode()
    assert "python manage.py drf_create_token &lt;user&gt;" in page
    assert "Authorization: Token &lt;key&gt;" in page
    assert "demo: API token" in page


def test_the_landing_page_names_every_process_of_the_pipeline() -> None:
    page = Client().get("/").content.decode()
    for command in ("gunicorn config.wsgi", "run_access --type data", "run_access --type event", "run_alert",
                    "celery -A config worker", "celery -A config beat", "run_demo"):
        assert command in page, command


def test_the_landing_page_uses_only_its_own_stylesheet() -> None:
    page = Client().get("/").content.decode()
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', page) == ["/static/web/site.css"]
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_the_admins_view_site_link_leads_to_the_landing_page() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("viewer", "viewer@example.com", "pw"))
    page = client.get("/admin/").content.decode()
    assert re.search(r'<a href="/">View site</a>', page), page[:2000]
