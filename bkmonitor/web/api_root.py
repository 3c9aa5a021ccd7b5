"""`/api/v1/`: the list of every endpoint under it, so the API can be explored from its root.

The list is read from the URL configuration on each request rather than written down, so an
endpoint added to any router under /api/v1/ shows up without anyone remembering to add it here.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.formatting import markup_description

from config.api.params import StrictQueryParamsMixin

API_PREFIX = "/api/v1/"


def _named_patterns(patterns: Iterable[Any], namespace: str = "") -> Iterator[str]:
    """Full names (with namespaces) of the URL patterns that take no arguments."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name and not entry.pattern.regex.groups:
            yield f"{namespace}{entry.name}"


def api_endpoints() -> dict[str, str]:
    """Endpoint key (its path under /api/v1/) -> URL name, for every argument-free endpoint below the root."""
    found: dict[str, str] = {}
    for name in _named_patterns(get_resolver().url_patterns):
        try:
            path = reverse(name)
        except NoReverseMatch:
            continue
        if path.startswith(API_PREFIX) and path != API_PREFIX:
            found.setdefault(path[len(API_PREFIX):].strip("/"), name)
    return dict(sorted(found.items()))


class ApiRootView(StrictQueryParamsMixin, routers.APIRootView):
    """DRF's router root (links rendered by the browsable API), fed with the endpoints of every router."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.api_root_dict = api_endpoints()
        return super().get(request, *args, **kwargs)

    def get_view_name(self) -> str:
        return "API v1"

    def get_view_description(self, html: bool = False) -> str:
        text = "Every endpoint of this API. Each needs a login or the header Authorization: Token <key>."
        return markup_description(text) if html else text
