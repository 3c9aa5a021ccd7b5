"""Filter parameters as the schema shows them: exactly the values the filter accepts.

drf-spectacular documents an integer filter without its range and a strict boolean filter as a
boolean with string choices, so a client following the schema sent values the server refused (or
could not tell what it would accept). Each documented filter here carries the range and the choices
its form field enforces (config/api/filtersets.py).
"""
from __future__ import annotations

from typing import Any

from django_filters import Filter
from django_filters.rest_framework import DjangoFilterBackend

from config.api.filtersets import IntegerFilter


def filter_fields(view: Any) -> dict[str, Filter]:
    """The view's filters by parameter name (none when it has no filterset)."""
    for backend_class in getattr(view, "filter_backends", ()):
        if issubclass(backend_class, DjangoFilterBackend):
            filterset = backend_class().get_filterset_class(view, view.get_queryset())
            if filterset is not None:
                return dict(filterset.base_filters)
    return {}


def _integer_schema(schema: dict[str, Any], bounds: Filter) -> None:
    target = schema["items"] if schema.get("type") == "array" else schema
    target["type"] = "integer"
    target.pop("format", None)
    if bounds.extra.get("min_value") is not None:
        target["minimum"] = bounds.extra["min_value"]
    if bounds.extra.get("max_value") is not None:
        target["maximum"] = bounds.extra["max_value"]


def document_filter(parameter: dict[str, Any], query_filter: Filter | None) -> None:
    schema = parameter.get("schema", {})
    if isinstance(query_filter, IntegerFilter):
        _integer_schema(schema, query_filter)
    elif schema.get("type") == "boolean" and all(isinstance(v, str) for v in schema.get("enum", ())):
        schema["type"] = "string"  # "true", "1", "False", ...: the accepted spellings, as strings


NO_NUL = "^[^\\x00]*$"
EMPTY = {"type": "string", "maxLength": 0, "description": "empty: as if not given"}


def _refuse_nul(schema: dict[str, Any]) -> None:
    target = schema["items"] if schema.get("type") == "array" else schema
    if target.get("type") == "string" and "enum" not in target:
        pattern = target.get("pattern")
        # A NUL character anywhere in a query is a 400 (config/api/params.py:reject_nul).
        target["pattern"] = NO_NUL if pattern is None else f"(?=^[^\\x00]*$){pattern}"


def document_query_value(parameter: dict[str, Any]) -> None:
    """The rules every query parameter shares: no NUL, and an empty optional one means not given (as a
    browser's filter form sends an unfilled field), also where the value is a number, a date or a choice."""
    schema = parameter.get("schema")
    if not schema:
        return
    _refuse_nul(schema)
    if not parameter.get("required") and (schema.get("type") not in ("string", "array") or "enum" in schema):
        parameter["schema"] = {"anyOf": [schema, EMPTY]}
