"""The web process's /metrics, /-/healthy and /-/ready.

Authentication: /metrics follows the API's rule (a token or a session; Prometheus
sends `Authorization: Token ...` through its `authorization` option) unless
BKM_METRICS_PUBLIC=true, for deployments that scrape on a private network. The
health endpoints never require it, because load balancers and orchestrators
probe without credentials; an unauthenticated answer names the failing service
and the kind of error, and only an authenticated one carries the error message
(which may hold host names).
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from alarm_backends.core.observability.alerts import OpenAlertsCollector
from alarm_backends.core.observability.health import DEPENDENCIES, dependencies_report


class _Union(Collector):
    """The process's default registry (request, Kafka and process metrics) plus the database gauges."""

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Any:
        for collector in self._collectors:
            yield from collector.collect()


WEB_REGISTRY = CollectorRegistry(auto_describe=False)
WEB_REGISTRY.register(_Union(REGISTRY, OpenAlertsCollector()))


class _Plain(APIView):
    schema = None  # operational endpoints, not part of the API's OpenAPI document

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Scrapers and probes send all kinds of Accept headers; the answer's format is fixed.
        return JSONRenderer(), "application/json"


class MetricsView(_Plain):
    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if settings.METRICS_PUBLIC else [IsAuthenticated()]

    def get(self, request: Request) -> HttpResponse:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return HttpResponse(encoder(WEB_REGISTRY), content_type=content_type)


class HealthyView(_Plain):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> JsonResponse:
        return JsonResponse({"status": "alive"})


class ReadyView(_Plain):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> JsonResponse:
        report = dependencies_report(DEPENDENCIES)
        return JsonResponse(report.as_dict(details=bool(request.user and request.user.is_authenticated)),
                            status=200 if report.ok else 503)
