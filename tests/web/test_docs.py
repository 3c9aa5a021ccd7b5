"""`/api/docs/` takes its JavaScript and CSS from this server, so it renders offline; it and the schema
need a login like the API they describe."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("docs-reader", password="pw"))
    return client


def test_the_api_docs_page_loads_swagger_ui_from_this_server_and_nothing_from_elsewhere(logged_in: Client) -> None:
    page = logged_in.get("/api/docs/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in urls
    assert all(url.startswith("/") for url in urls), urls
    assert "cdn" not in page.lower() and "@latest" not in page


def test_a_browser_without_a_login_is_sent_from_the_docs_to_the_admin_login_and_back() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"


def test_the_schema_answers_an_anonymous_client_401_and_a_token_holder_the_schema() -> None:
    anonymous = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    token = Token.objects.create(user=User.objects.create_user("schema-reader", password="pw")).key
    served = Client().get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {token}")
    assert served.status_code == 200 and "/api/v1/alerts/{id}/" in served.json()["paths"]
