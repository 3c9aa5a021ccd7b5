"""`/api/v1/`: the list of every endpoint under it, behind the same login as the endpoints."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

EXPECTED = {
    "alerts": "/api/v1/alerts/",
    "events": "/api/v1/events/",
    "strategies": "/api/v1/strategies/",
    "metadata": "/api/v1/metadata/",
    "metadata/clusters": "/api/v1/metadata/clusters/",
    "metadata/data-sources": "/api/v1/metadata/data-sources/",
    "metadata/kafka-topic-infos": "/api/v1/metadata/kafka-topic-infos/",
    "metadata/result-tables": "/api/v1/metadata/result-tables/",
    "metadata/kafka-storages": "/api/v1/metadata/kafka-storages/",
    "metadata/get_result_table_storage": "/api/v1/metadata/get_result_table_storage/",
}


@pytest.fixture
def token_client() -> APIClient:
    token = Token.objects.create(user=User.objects.create_user("reader", password="pw"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_api_root_lists_every_endpoint_of_both_routers_with_its_full_url(token_client: APIClient) -> None:
    response = token_client.get("/api/v1/")
    assert response.status_code == 200
    listed = response.json()
    for key, path in EXPECTED.items():
        assert listed.get(key) == f"http://testserver{path}", (key, listed)


def test_every_url_the_api_root_lists_is_an_endpoint_under_api_v1(token_client: APIClient) -> None:
    listed = token_client.get("/api/v1/").json()
    assert listed
    for key, url in listed.items():
        path = url.removeprefix("http://testserver")
        assert path == f"/api/v1/{key}/"
        assert resolve(path).url_name != "api-root" or key == "metadata"
        assert token_client.get(path).status_code != 404, path


@pytest.mark.parametrize("credentials", [None, "Token 0000000000000000000000000000000000000000"])
def test_the_api_root_needs_a_login_or_a_valid_token(credentials: str | None) -> None:
    client = APIClient()
    if credentials:
        client.credentials(HTTP_AUTHORIZATION=credentials)
    response = client.get("/api/v1/")
    assert response.status_code == 401
    assert "alerts" not in response.content.decode()


def test_the_api_root_is_browsable_for_a_logged_in_user() -> None:
    client = APIClient()
    client.force_login(User.objects.create_user("browser", password="pw"))
    page = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert "API v1" in page and 'href="http://testserver/api/v1/alerts/"' in page
