"""Every REST view accepts exactly the query parameters it documents; anything else is a 400.

A misspelt or unsupported parameter (`?start_time=` where the filter is `begin_time__gte`) used to
be ignored, so the client got every row and took it for the filtered answer. A view's parameters
are those of its list (filterset, search, ordering, pagination), `format`, and per action those of
the serializer in `query_serializers`: the same set the OpenAPI schema shows.
"""
from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer
from rest_framework.settings import api_settings

MAX_REPORTED = 20


def _action(view: Any, request: Request) -> str:
    return getattr(view, "action", None) or request.method.lower()


def filter_params(view: Any) -> set[str]:
    """The list's filter, search and ordering parameters, as its filter backends document them."""
    names: set[str] = set()
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset = backend.get_filterset_class(view, view.get_queryset())
            names.update(filterset.base_filters if filterset is not None else ())
        else:
            names.update(p["name"] for p in backend.get_schema_operation_parameters(view))
    return names


def pagination_params(view: Any) -> set[str]:
    paginator = getattr(view, "paginator", None)
    return {p["name"] for p in paginator.get_schema_operation_parameters(view)} if paginator is not None else set()


def accepted_query_params(view: Any, request: Request) -> set[str]:
    action = _action(view, request)
    names = {api_settings.URL_FORMAT_OVERRIDE} - {None}
    if action == "list":
        names |= filter_params(view) | pagination_params(view)
    serializer_class: type[BaseSerializer] | None = getattr(view, "query_serializers", {}).get(action)
    if serializer_class is not None:
        names |= set(serializer_class().fields)
    return names


def reject_nul(request: Request) -> None:
    # The database refuses NUL characters with an error, not a non-match: refuse them here as a 400.
    bad = sorted({key for key, values in request.query_params.lists()
                  if "\x00" in key or any("\x00" in v for v in values)})
    if bad:
        raise ValidationError({key.replace("\x00", "\\0")[:100]: ["contains a NUL character"]
                               for key in bad[:MAX_REPORTED]})


def reject_unknown(request: Request, accepted: set[str]) -> None:
    unknown = sorted(key for key in request.query_params if key not in accepted)
    if unknown:
        valid = ", ".join(sorted(accepted)) or "none"
        raise ValidationError({(key[:100] or "(empty name)"): [f"unknown query parameter; valid parameters: {valid}"]
                               for key in unknown[:MAX_REPORTED]})


class StrictQueryParamsMixin:
    """For every API view: refuses query parameters it does not accept, after authentication."""

    #: action (lower-case HTTP method on a plain APIView) -> serializer whose fields are its query parameters
    query_serializers: dict[str, type[BaseSerializer]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        reject_nul(request)
        reject_unknown(request, accepted_query_params(self, request))
