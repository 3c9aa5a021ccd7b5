"""The strategy viewset: declarations; validation is in the serializer, writes in bkmonitor.strategies."""
from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from bkmonitor import filtersets
from bkmonitor.api.exceptions import exception_handler
from bkmonitor.api.permissions import StrategyPermissions
from bkmonitor.api.serializers import StrategySerializer
from bkmonitor.models import Strategy
from bkmonitor.strategies.shape import strategy_to_dict, with_relations
from bkmonitor.strategies.write import set_enabled
from config.api.lookups import RangeCheckedLookupMixin
from config.api.params import StrictQueryParamsMixin
from metadata.api.parsers import BoundedJSONParser


class StrategyViewSet(StrictQueryParamsMixin, RangeCheckedLookupMixin, viewsets.ModelViewSet):
    queryset = with_relations(Strategy.objects.all())
    serializer_class = StrategySerializer
    permission_classes = [IsAuthenticated, StrategyPermissions]
    parser_classes = [BoundedJSONParser]
    filterset_class = filtersets.StrategyFilterSet
    search_fields = ["name"]
    ordering_fields = ["id", "name", "bk_biz_id", "is_enabled", "create_time", "update_time"]

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replaces the top-level keys given; the result is validated as a whole document."""
        instance = self.get_object()
        data = {**strategy_to_dict(instance), **request.data} if isinstance(request.data, dict) else request.data
        serializer = self.get_serializer(instance, data=data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data)

    def perform_destroy(self, instance: Strategy) -> None:
        with transaction.atomic():
            instance.delete()

    @extend_schema(request=None, responses={200: StrategySerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        return self._set_enabled(True)

    @extend_schema(request=None, responses={200: StrategySerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str | None = None) -> Response:
        return self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> Response:
        strategy = self.get_object()
        set_enabled(strategy, enabled, user=self.request.user.get_username())
        return Response(strategy_to_dict(self.get_object()))
