"""The API boundary: ids in the path are range-checked, unknown API URLs answer JSON, and the schema
declares the error statuses each operation answers."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.api.filtersets import INT64_MAX

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_superuser("boundary", "b@example.com", "pw"))
    return client


@pytest.mark.parametrize("path", ["/api/v1/alerts/{}/", "/api/v1/events/{}/", "/api/v1/strategies/{}/",
                                  "/api/v1/metadata/clusters/{}/", "/api/v1/metadata/kafka-storages/{}/status/"])
@pytest.mark.parametrize("key", ["99999999999999999999999", str(INT64_MAX + 1), "-" + "9" * 30, "1" * 400])
def test_an_id_beyond_its_column_is_a_json_404_naming_the_range_not_a_server_error(root, path, key):
    response = root.get(path.format(key))
    assert response.status_code == 404, response.content[:300]
    assert "ids are whole numbers from" in response.json()["detail"]


def test_an_action_on_an_id_beyond_its_column_is_a_404_too(root):
    response = root.post("/api/v1/alerts/99999999999999999999999/ack/", {}, format="json")
    assert response.status_code == 404


def test_an_api_url_that_matches_no_route_answers_json_not_an_html_page(root):
    response = root.get("/api/v1/alerts/1.5/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert root.get("/no-such-page/")["Content-Type"].startswith("text/html")


def _operations() -> dict[tuple[str, str], dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path): op for path, ops in schema["paths"].items() for method, op in ops.items()}


def test_the_schema_declares_the_error_statuses_each_kind_of_operation_answers():
    operations = _operations()
    assert {"200", "400", "401", "403", "404"} <= set(operations[("GET", "/api/v1/alerts/")]["responses"])
    assert {"200", "400", "401", "403", "404", "409", "413", "415"} <= set(
        operations[("POST", "/api/v1/alerts/{id}/close/")]["responses"])
    assert {"201", "400", "401", "403", "409", "413", "415"} <= set(
        operations[("POST", "/api/v1/strategies/")]["responses"])
    assert "404" not in operations[("POST", "/api/v1/strategies/")]["responses"]
    delete = operations[("DELETE", "/api/v1/metadata/result-tables/{id}/")]["responses"]
    assert delete["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/TableInUse")
    assert {"502", "503"} <= set(operations[("GET", "/api/v1/metadata/kafka-storages/{id}/tail/")]["responses"])


def test_the_schema_documents_the_id_range_and_refuses_unknown_body_keys():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    path_id = schema["paths"]["/api/v1/alerts/{id}/"]["get"]["parameters"][0]
    assert path_id["schema"]["maximum"] == INT64_MAX and "404" in path_id["description"]
    assert schema["components"]["schemas"]["AckRequest"]["additionalProperties"] is False
