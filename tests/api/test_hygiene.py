"""Query-parameter hygiene on every API endpoint, found by walking the URL configuration.

An endpoint added to any router under /api/v1/ is covered without being listed here: a parameter it
does not document is a 400 naming it, its ordering refuses unknown fields, its pages are read strictly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.api.filtersets import IntegerFilter
from config.api.pagination import MAX_PAGE_SIZE
from metadata.models import ClusterInfo

pytestmark = pytest.mark.django_db

API = "/api/v1/"
GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    path: str  # concrete, with 1 for every path parameter
    view: Any  # the view class
    actions: dict[str, str]  # HTTP method -> viewset action; empty for a plain APIView

    @property
    def is_list(self) -> bool:
        return self.actions.get("get") == "list"

    def __str__(self) -> str:
        return self.path


def _concrete(regex: str) -> str:
    return GROUP.sub("1", regex).removeprefix("^").removesuffix("\\Z").removesuffix("$").replace("\\", "")


def _walk(patterns: list[Any], prefix: str = "/") -> list[Route]:
    routes = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            routes += _walk(entry.url_patterns, prefix + _concrete(entry.pattern.regex.pattern))
            continue
        assert isinstance(entry, URLPattern)
        regex = entry.pattern.regex
        if "format" in regex.groupindex:
            continue  # the router's `.json` suffix twin of a route already listed
        view = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
        path = prefix + _concrete(regex.pattern)
        if view is not None and path.startswith(API):
            routes.append(Route(path, view, dict(getattr(entry.callback, "actions", None) or {})))
    return routes


ROUTES = _walk(get_resolver().url_patterns)
GET_ROUTES = [r for r in ROUTES if "get" in r.actions or (not r.actions and hasattr(r.view, "get"))]
LIST_ROUTES = [r for r in ROUTES if r.is_list]


def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _schema_path(route: Route) -> str:
    return re.sub(r"/1/", "/{id}/", route.path)


@pytest.fixture
def root() -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_url_walk_finds_every_resource_of_both_apis():
    listed = {r.path for r in LIST_ROUTES}
    assert {f"{API}alerts/", f"{API}events/", f"{API}strategies/", f"{API}metadata/clusters/",
            f"{API}metadata/data-sources/", f"{API}metadata/kafka-topic-infos/", f"{API}metadata/result-tables/",
            f"{API}metadata/kafka-storages/"} <= listed
    assert f"{API}metadata/get_result_table_storage/" in {r.path for r in GET_ROUTES}


@pytest.mark.parametrize("route", GET_ROUTES, ids=str)
def test_an_unknown_query_parameter_is_a_400_naming_it_and_the_valid_ones(root, route):
    response = root.get(route.path, {"start_time": "1"})
    assert response.status_code == 400, (response.status_code, response.content[:300])
    message = response.json()["start_time"][0]
    assert message.startswith("unknown query parameter; valid parameters:"), message
    assert "format" in message


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_a_list_accepts_exactly_the_query_parameters_its_schema_documents(root, route):
    operation = _schema()["paths"][route.path]["get"]
    documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    assert {"page", "page_size"} <= documented
    message = root.get(route.path, {"no_such_parameter": "x"}).json()["no_such_parameter"][0]
    valid = set(message.split("valid parameters: ", 1)[1].split(", "))
    assert valid == documented | {"format"}


@pytest.mark.parametrize("route", [r for r in LIST_ROUTES if getattr(r.view, "ordering_fields", None)], ids=str)
def test_every_documented_ordering_works_and_an_unknown_one_is_a_400_listing_them(root, route):
    for name in route.view.ordering_fields:
        for term in (name, f"-{name}"):
            assert root.get(route.path, {"ordering": term}).status_code == 200, term
    response = root.get(route.path, {"ordering": "id,-no_such_field"})
    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert "'-no_such_field'" in message and all(name in message for name in route.view.ordering_fields)


def _integer_filters(route: Route) -> list[tuple[str, int]]:
    filterset = route.view.filterset_class
    return [(name, f.extra["max_value"]) for name, f in filterset.base_filters.items() if isinstance(f, IntegerFilter)]


@pytest.mark.parametrize("route", [r for r in LIST_ROUTES if getattr(r.view, "filterset_class", None)], ids=str)
def test_an_integer_filter_beyond_its_column_is_a_400_naming_it_not_a_server_error(root, route):
    for name, maximum in _integer_filters(route):
        value = f"1,{maximum + 1}" if name.endswith("__in") else str(maximum + 1)
        response = root.get(route.path, {name: value})
        assert response.status_code == 400, (name, response.status_code)
        assert "less than or equal to" in response.json()[name][0]
        fraction = root.get(route.path, {name: "1.5"})
        assert fraction.status_code == 400 and "whole number" in fraction.json()[name][0], name


def test_the_bk_biz_id_list_from_the_issue_is_a_400_on_every_database(root):
    response = root.get(f"{API}strategies/", {"bk_biz_id__in": "1,240987890076761154650112"})
    assert response.status_code == 400
    assert response.json() == {"bk_biz_id__in": ["Ensure this value is less than or equal to 2147483647."]}


@pytest.mark.parametrize("path", [f"{API}metadata/result-tables/", f"{API}metadata/kafka-storages/",
                                  f"{API}metadata/data-sources/", f"{API}metadata/clusters/"])
def test_a_boolean_filter_that_is_neither_true_nor_false_is_a_400_not_ignored(root, path):
    field = "is_default_cluster" if path.endswith("clusters/") else "is_enabled"
    response = root.get(path, {field: "maybe"})
    assert response.status_code == 400 and "Select a valid choice" in response.json()[field][0]
    assert root.get(path, {field: "false"}).status_code == 200


def test_a_nul_character_in_a_metadata_query_is_a_400(root):
    response = root.get(f"{API}metadata/kafka-storages/", {"topic": "a\x00b"})
    assert response.status_code == 400 and response.json() == {"topic": ["contains a NUL character"]}


# --- pagination ---------------------------------------------------------------------------------------------------

@pytest.fixture
def clusters() -> list[ClusterInfo]:
    return [ClusterInfo.objects.create(cluster_name=f"c{i}", domain_name="127.0.0.1", port=9000 + i)
            for i in range(5)]


CLUSTERS = f"{API}metadata/clusters/"


def test_page_size_sets_the_page_length_and_the_next_link_keeps_it(root, clusters):
    body = root.get(CLUSTERS, {"page_size": 2, "ordering": "cluster_name"}).json()
    assert body["count"] == 5 and [c["cluster_name"] for c in body["results"]] == ["c0", "c1"]
    assert "page_size=2" in body["next"] and "page=2" in body["next"]
    last = root.get(CLUSTERS, {"page_size": 2, "page": "last", "ordering": "cluster_name"}).json()
    assert [c["cluster_name"] for c in last["results"]] == ["c4"]


def test_the_default_page_is_50_and_the_maximum_page_size_is_accepted(root, clusters):
    assert root.get(CLUSTERS).status_code == 200
    assert len(root.get(CLUSTERS, {"page_size": MAX_PAGE_SIZE}).json()["results"]) == 5


@pytest.mark.parametrize(("param", "value", "message"), [
    ("page", "abc", "must be a whole number of at least 1"),
    ("page", "0", "must be a whole number of at least 1"),
    ("page", "-1", "must be a whole number of at least 1"),
    ("page", "1.5", "must be a whole number of at least 1"),
    ("page_size", "0", "must be a whole number of at least 1"),
    ("page_size", "ten", "must be a whole number of at least 1"),
    ("page_size", str(MAX_PAGE_SIZE + 1), f"at most {MAX_PAGE_SIZE}"),
    ("page_size", "9" * 40, "must be a whole number of at least 1"),
])
def test_a_bad_page_or_page_size_is_a_400_naming_it(root, clusters, param, value, message):
    response = root.get(CLUSTERS, {param: value})
    assert response.status_code == 400, response.content
    assert message in response.json()[param][0]


def test_a_page_or_page_size_given_twice_is_a_400(root, clusters):
    response = root.get(f"{CLUSTERS}?page=1&page=2")
    assert response.status_code == 400 and response.json() == {"page": ["given more than once"]}


def test_a_page_past_the_last_one_is_a_404(root, clusters):
    response = root.get(CLUSTERS, {"page": 2})
    assert response.status_code == 404 and response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
def test_the_openapi_schema_documents_page_size_with_its_maximum(route):
    parameters = {p["name"]: p for p in _schema()["paths"][route.path]["get"]["parameters"]}
    # each is a number or empty (an empty value counts as not given)
    page_size, empty = parameters["page_size"]["schema"]["anyOf"]
    assert page_size == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50}
    assert empty["maxLength"] == 0
    assert parameters["page"]["schema"]["anyOf"][0]["minimum"] == 1
