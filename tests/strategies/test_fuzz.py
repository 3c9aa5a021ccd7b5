"""Random damage to a valid document, anywhere in it: always a 201 or a 400 naming a field, never a 5xx."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies.conftest import BASE, CONFIG

pytestmark = pytest.mark.django_db

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
    | st.sampled_from(["", "(", "AVG", "Threshold", "gte", "12:00", "and", "time_series", "system.cpu_summary"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


ALL_PATHS = [p for p in paths(CONFIG) if p]


def damaged(path: tuple, value: Any, drop: bool) -> dict[str, Any]:
    document = copy.deepcopy(CONFIG)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(ALL_PATHS), value=JSON, drop=st.booleans())
def test_a_damaged_document_is_accepted_or_refused_with_named_fields(writer, result_table, path, value, drop):
    response = writer.post(BASE, damaged(path, value, drop), format="json")
    assert response.status_code in (201, 400), (path, value, response.content[:500])
    if response.status_code == 400:
        errors = response.json()
        assert errors and all(isinstance(k, str) and isinstance(v, list) and v for k, v in errors.items())
    else:
        assert writer.delete(f"{BASE}{response.json()['id']}/").status_code == 204
