"""Validation errors as one flat object keyed by field path: {"items[0].query_configs[0].agg_interval": [...]}."""
from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

from metadata.api.exceptions import exception_handler as metadata_exception_handler


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if key == api_settings.NON_FIELD_ERRORS_KEY and path:
        return path  # an object-level error belongs to the object's own path
    if not path:
        return key
    return f"{path}{key}" if key.startswith("[") else f"{path}.{key}"


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, _join(path, key))
        elif isinstance(node, list) and any(isinstance(x, (dict, list)) for x in node):
            for index, value in enumerate(node):
                walk(value, _join(path, index))
        elif isinstance(node, list):
            if node:
                flat.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).extend(str(x) for x in node)
        else:
            flat.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).append(str(node))

    walk(detail, "")
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.ValidationError):
        exc = exceptions.ValidationError(flatten_errors(exc.detail))
    return metadata_exception_handler(exc, context)
