"""Alert and event viewsets: declarations; the lifecycle is in bkmonitor.alerts (read-only here but ack/close)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from bkmonitor.alerts import filtersets, manage
from bkmonitor.api import alert_serializers as s
from bkmonitor.api.exceptions import exception_handler
from bkmonitor.models import Alert, Event
from config.api.lookups import RangeCheckedLookupMixin
from config.api.params import StrictQueryParamsMixin
from metadata.api.exceptions import Conflict
from metadata.api.parsers import BoundedJSONParser


class AlertActionPermission(BasePermission):
    """Reads need a login; ack and close need the change permission on alerts."""

    message = "ack and close need the change_alert permission"

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "action", None) in ("ack", "close"):
            return bool(request.user and request.user.has_perm("bkmonitor.change_alert"))
        return True


class ReadOnlyViewSet(StrictQueryParamsMixin, RangeCheckedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, AlertActionPermission]
    parser_classes = [BoundedJSONParser]

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler


class AlertViewSet(ReadOnlyViewSet):
    queryset = Alert.objects.all()
    serializer_class = s.AlertSerializer
    filterset_class = filtersets.AlertFilterSet
    search_fields = ["alert_name", "dedupe_md5", "target"]
    conflict_actions = ("ack", "close")  # an alert in a state that does not allow it
    ordering_fields = ["id", "severity", "status", "begin_time", "latest_time", "end_time", "event_count",
                       "strategy_id", "bk_biz_id", "create_time", "update_time"]

    def get_serializer_class(self) -> type[BaseSerializer]:
        return s.AlertDetailSerializer if self.action == "retrieve" else s.AlertSerializer

    @extend_schema(request=s.AckSerializer, responses={200: s.AlertSerializer})
    @action(detail=True, methods=["post"])
    def ack(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge an abnormal alert (operator defaults to you); acknowledging again changes nothing."""
        params = self._params(s.AckSerializer)
        return self._run(manage.ack_alert, params["operator"], params["message"])

    @extend_schema(request=s.CloseSerializer, responses={200: s.AlertSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        """Close an abnormal alert by hand, with a reason; closing a closed alert again changes nothing."""
        params = self._params(s.CloseSerializer)
        return self._run(manage.close_alert, params["operator"], params["reason"])

    def _params(self, serializer_class: type[BaseSerializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return {"operator": self.request.user.get_username(), **serializer.validated_data}

    def _run(self, operation: Any, *args: str) -> Response:
        alert = self.get_object()
        try:
            alert = operation(alert.pk, *args)
        except manage.AlertStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(s.AlertSerializer(alert).data)


class EventViewSet(ReadOnlyViewSet):
    queryset = Event.objects.all()
    serializer_class = s.EventSerializer
    filterset_class = filtersets.EventFilterSet
    search_fields = ["event_id", "alert_name", "dedupe_md5", "target"]
    ordering_fields = ["id", "time", "severity", "strategy_id", "create_time"]

    def get_serializer_class(self) -> type[BaseSerializer]:
        return s.EventDetailSerializer if self.action == "retrieve" else s.EventSerializer
