"""Viewsets: declarations; the work is in metadata.reconcile and metadata.inspect."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import routers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.lookups import RangeCheckedLookupMixin
from config.api.params import StrictQueryParamsMixin
from metadata import filtersets, inspect
from metadata.api import serializers
from metadata.api.exceptions import exception_handler
from metadata.api.parsers import BoundedJSONParser
from metadata.api.permissions import ModelPermissions
from metadata.api.usage import TableInUse, delete_guarded
from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable


class MetadataViewSet(StrictQueryParamsMixin, RangeCheckedLookupMixin, viewsets.ModelViewSet):
    permission_classes = [IsAuthenticated, ModelPermissions]
    parser_classes = [BoundedJSONParser]
    action_permissions: dict[str, str] = {}

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler


class ClusterInfoViewSet(MetadataViewSet):
    queryset = ClusterInfo.objects.all()
    serializer_class = serializers.ClusterInfoSerializer
    filterset_class = filtersets.ClusterInfoFilterSet
    search_fields = ["cluster_name", "domain_name", "description"]
    ordering_fields = ["cluster_id", "cluster_name", "cluster_type", "create_time"]
    action_permissions = {"status": "view"}
    kafka_actions = ("status",)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """Reachable or not (with the error), brokers and topic count; bounded by the client timeout."""
        return Response(self.get_object().check_status())


class TopicActionsMixin:
    """sync / status / tail / consumer-groups for a model that manages one topic."""

    action_permissions = {"sync": "change", "status": "view", "tail": "view", "consumer_groups": "view"}
    query_serializers = {"tail": serializers.TailQuerySerializer}
    #: actions that talk to the cluster (a 502 or 503 when it fails); a create or update may sync the topic
    kafka_actions = ("sync", "status", "tail", "consumer_groups", "create", "update", "partial_update")

    @extend_schema(request=serializers.SyncRequestSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def sync(self, request: Request, pk: str | None = None) -> Response:
        """Create the topic or fix its drift (dry_run: only report)."""
        params = serializers.SyncRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return Response(self.get_object().ensure_topic(apply=not params.validated_data["dry_run"]).as_dict())

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """The live topic and its drift from the model (checks now, changes nothing)."""
        return Response(self.get_object().ensure_topic(apply=False).as_dict())

    @extend_schema(parameters=[serializers.TailQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def tail(self, request: Request, pk: str | None = None) -> Response:
        """The last `count` messages of each partition; values as JSON, text, or base64."""
        params = serializers.TailQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        target = self.get_object()
        return Response(inspect.tail(target.topic, params.validated_data["count"], target.kafka_cluster_config(),
                                     timeout=settings.KAFKA_CLIENT_TIMEOUT_SECONDS))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="consumer-groups")
    def consumer_groups(self, request: Request, pk: str | None = None) -> Response:
        """Groups with committed offsets on the topic: committed offset, high watermark and lag per partition."""
        target = self.get_object()
        return Response(inspect.consumer_groups(target.topic, target.kafka_cluster_config(),
                                                timeout=settings.KAFKA_CLIENT_TIMEOUT_SECONDS))


class DataSourceViewSet(MetadataViewSet):
    queryset = DataSource.objects.select_related("mq_cluster", "kafka_topic")
    serializer_class = serializers.DataSourceSerializer
    filterset_class = filtersets.DataSourceFilterSet
    search_fields = ["data_name", "data_description", "etl_config"]
    ordering_fields = ["bk_data_id", "data_name", "create_time"]


class KafkaTopicInfoViewSet(TopicActionsMixin, MetadataViewSet):
    queryset = KafkaTopicInfo.objects.select_related("data_source__mq_cluster")
    serializer_class = serializers.KafkaTopicInfoSerializer
    filterset_class = filtersets.KafkaTopicInfoFilterSet
    search_fields = ["topic", "data_source__data_name"]
    ordering_fields = ["id", "topic", "partition", "last_checked_at"]


class GuardedDeleteMixin:
    """A delete that would leave enabled strategies without their table is a 409 naming them, unless forced."""

    query_serializers = {"destroy": serializers.ForceDeleteQuerySerializer}

    @extend_schema(parameters=[serializers.ForceDeleteQuerySerializer], responses={
        204: None, 409: OpenApiResponse(serializers.TableInUseSerializer,
                                         description="enabled strategies read the table: `strategies` lists them")})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = serializers.ForceDeleteQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        target = self.get_object()
        try:
            delete_guarded([target], user=request.user.get_username(), force=params.validated_data["force"])
        except TableInUse as exc:
            return Response({"detail": str(exc), "strategies": [s.as_dict() for s in exc.strategies]},
                            status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResultTableViewSet(GuardedDeleteMixin, MetadataViewSet):
    queryset = ResultTable.objects.prefetch_related("data_sources")
    serializer_class = serializers.ResultTableSerializer
    filterset_class = filtersets.ResultTableFilterSet
    search_fields = ["table_id", "table_name_zh"]
    ordering_fields = ["id", "table_id", "bk_biz_id", "create_time"]


class KafkaStorageViewSet(GuardedDeleteMixin, TopicActionsMixin, MetadataViewSet):
    queryset = KafkaStorage.objects.select_related("storage_cluster")
    query_serializers = {**GuardedDeleteMixin.query_serializers, **TopicActionsMixin.query_serializers}
    serializer_class = serializers.KafkaStorageSerializer
    filterset_class = filtersets.KafkaStorageFilterSet
    search_fields = ["table_id", "topic"]
    ordering_fields = ["id", "table_id", "topic", "partition", "retention", "last_checked_at"]


class ResultTableStorageView(StrictQueryParamsMixin, APIView):
    """The reference's `get_result_table_storage`: storages of the given tables, with their clusters."""

    permission_classes = [IsAuthenticated, ModelPermissions]
    query_serializers = {"get": serializers.ResultTableStorageQuerySerializer}
    queryset = KafkaStorage.objects.select_related("storage_cluster")

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler

    @extend_schema(parameters=[serializers.ResultTableStorageQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        params = serializers.ResultTableStorageQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        storages = self.queryset.filter(table_id__in=params.validated_data["result_table_list"],
                                        bk_tenant_id=params.validated_data["bk_tenant_id"])
        return Response({s.table_id: s.consume_config() for s in storages})


class MetadataRootView(StrictQueryParamsMixin, routers.APIRootView):
    """The router's index of the metadata endpoints; it takes no parameters."""
