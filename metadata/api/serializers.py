"""Serializers: model validation (full_clean) runs on every write, so the API and
the admin enforce the same rules with the same messages."""
from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from alarm_backends.core.kafka.tail import MAX_TAIL
from metadata.api.exceptions import django_errors
from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable

SYNC_FIELDS = ("sync_status", "sync_drift", "sync_error", "last_checked_at")
CHANGE_FIELDS = ("creator", "create_time", "last_modify_user", "last_modify_time")


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs Model.full_clean() on a copy of the instance with the incoming values."""

    rejects_unknown_fields = True  # see to_internal_value; the schema says so (config/api/schema.py)
    #: attrs that are not model fields (write-only options, secrets): kept out of the instance copy
    extra_attrs: tuple[str, ...] = ()

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[Any, dict[str, Any]]:
        # Uniqueness is checked by full_clean(), with the model's own messages.
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        kwargs["validators"] = [v for v in kwargs.get("validators", []) if not isinstance(v, UniqueValidator)]
        return field_class, kwargs

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # A misspelt field ("partitions") must not silently fall back to a default.
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {key[:100]: [f"unknown field; known fields: {', '.join(sorted(self.fields))}"]
                     for key in unknown[:20]})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        extras = {k: attrs.pop(k) for k in self.extra_attrs if k in attrs}
        m2m = {f.name for f in self.Meta.model._meta.many_to_many}
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        for name, value in attrs.items():
            if name not in m2m:
                setattr(instance, name, value)
        self.prepare_instance(instance, extras)
        try:
            instance.full_clean(exclude=self.clean_exclude(instance), validate_unique=True)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_errors(exc)) from None
        attrs.update(extras)
        return attrs

    def prepare_instance(self, instance: Any, extras: dict[str, Any]) -> None:
        """Hook: apply non-field inputs (secrets) to the copy before validation."""

    def clean_exclude(self, instance: Any) -> list[str]:
        return []

    def user_name(self) -> str:
        request = self.context.get("request")
        return getattr(getattr(request, "user", None), "username", "") or ""

    def create(self, validated_data: dict[str, Any]) -> Any:
        validated_data.setdefault("creator", self.user_name())
        validated_data.setdefault("last_modify_user", self.user_name())
        return super().create(validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        validated_data["last_modify_user"] = self.user_name()
        return super().update(instance, validated_data)


class ClusterInfoSerializer(ValidatedModelSerializer):
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=512,
                                     style={"input_type": "password"},
                                     help_text="SASL password; write-only, stored encrypted; '' clears it")
    ssl_key_password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=512,
                                             style={"input_type": "password"})
    has_password = serializers.BooleanField(read_only=True)
    has_ssl_key_password = serializers.BooleanField(read_only=True)
    extra_hosts = serializers.ListField(child=serializers.CharField(max_length=261), required=False,
                                        max_length=64)
    extra_attrs = ("password", "ssl_key_password")

    class Meta:
        model = ClusterInfo
        exclude = ("password_encrypted", "ssl_key_password_encrypted")
        read_only_fields = ("broker_count", "last_status_at", "last_status_error", *CHANGE_FIELDS)
        validators: list = []

    def prepare_instance(self, instance: ClusterInfo, extras: dict[str, Any]) -> None:
        if "password" in extras:
            instance.set_password(extras["password"])
        if "ssl_key_password" in extras:
            instance.set_ssl_key_password(extras["ssl_key_password"])

    def _save_secrets(self, cluster: ClusterInfo, secrets: dict[str, Any]) -> ClusterInfo:
        self.prepare_instance(cluster, secrets)
        if secrets:
            cluster.save(update_fields=["password_encrypted", "ssl_key_password_encrypted"])
        return cluster

    def create(self, validated_data: dict[str, Any]) -> ClusterInfo:
        secrets = {k: validated_data.pop(k) for k in self.extra_attrs if k in validated_data}
        with transaction.atomic():
            return self._save_secrets(super().create(validated_data), secrets)

    def update(self, instance: ClusterInfo, validated_data: dict[str, Any]) -> ClusterInfo:
        secrets = {k: validated_data.pop(k) for k in self.extra_attrs if k in validated_data}
        with transaction.atomic():
            return self._save_secrets(super().update(instance, validated_data), secrets)


class SyncResultMixin(serializers.Serializer):
    """`is_sync_db`: create/alter the topic right away instead of waiting for the periodic run."""

    is_sync_db = serializers.BooleanField(write_only=True, required=False, default=False,
                                          help_text="reconcile the topic with Kafka right after saving")

    def save(self, **kwargs: Any) -> Any:
        sync = self.validated_data.pop("is_sync_db", False)
        instance = super().save(**kwargs)
        self.sync_result = instance.ensure_topic(apply=True).as_dict() if sync else None
        return instance

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if getattr(self, "sync_result", None) is not None:
            data["sync_result"] = self.sync_result
        return data


class DataSourceSerializer(ValidatedModelSerializer):
    bk_data_id = serializers.IntegerField(required=False, min_value=1, max_value=2_147_483_647,
                                          help_text="allocated from 1500001 when omitted")
    topic = serializers.CharField(source="kafka_topic.topic", read_only=True)

    class Meta:
        model = DataSource
        fields = "__all__"
        read_only_fields = CHANGE_FIELDS
        validators: list = []

    def clean_exclude(self, instance: DataSource) -> list[str]:
        return ["bk_data_id"] if instance.bk_data_id is None else []

    def create(self, validated_data: dict[str, Any]) -> DataSource:
        # A data source always has its topic (as in the reference); it is checked like any other.
        with transaction.atomic():
            source = super().create(validated_data)
            info = KafkaTopicInfo(data_source=source)
            try:
                info.full_clean()
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"topic": exc.messages}) from None
            info.save()
        return source


class KafkaTopicInfoSerializer(SyncResultMixin, ValidatedModelSerializer):
    bk_data_id = serializers.IntegerField(source="data_source.bk_data_id", read_only=True)
    extra_attrs = ("is_sync_db",)

    class Meta:
        model = KafkaTopicInfo
        fields = "__all__"
        read_only_fields = SYNC_FIELDS
        validators: list = []


class ResultTableSerializer(ValidatedModelSerializer):
    data_sources = serializers.SlugRelatedField(slug_field="bk_data_id", many=True, required=False,
                                                queryset=DataSource.objects.all())
    labels = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=64)

    class Meta:
        model = ResultTable
        fields = "__all__"
        read_only_fields = CHANGE_FIELDS
        validators: list = []


class KafkaStorageSerializer(SyncResultMixin, ValidatedModelSerializer):
    storage_cluster_name = serializers.CharField(source="storage_cluster.cluster_name", read_only=True)
    retention_display = serializers.CharField(read_only=True)
    extra_attrs = ("is_sync_db",)

    class Meta:
        model = KafkaStorage
        fields = "__all__"
        read_only_fields = (*SYNC_FIELDS, *CHANGE_FIELDS)
        validators: list = []


class SyncRequestSerializer(serializers.Serializer):
    """A misspelt "dry_rn" must not be ignored: the sync would then change the topic for real."""

    rejects_unknown_fields = True

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(str(k)[:100] for k in data if k not in self.fields)[:20]
            if unknown:
                raise serializers.ValidationError({key: ["unknown field; known fields: dry_run"] for key in unknown})
        return super().to_internal_value(data)

    dry_run = serializers.BooleanField(default=False, help_text="only report what would change")


class StrategyRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    bk_biz_id = serializers.IntegerField()
    result_table_ids = serializers.ListField(child=serializers.CharField())


class TableInUseSerializer(serializers.Serializer):
    """The 409 of a guarded delete: why, and the enabled strategies that read the table."""
    detail = serializers.CharField()
    strategies = StrategyRefSerializer(many=True)


class ForceDeleteQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text=(
        "also when enabled strategies read the table: they are disabled first (logged); without it such a "
        "delete is a 409 naming them"))


class TailQuerySerializer(serializers.Serializer):
    count = serializers.IntegerField(default=10, min_value=1, max_value=MAX_TAIL, help_text="messages per partition")

    def validate_count(self, value: int) -> int:
        maximum = min(MAX_TAIL, settings.METADATA_TAIL_MAX_COUNT)
        if value > maximum:
            raise serializers.ValidationError(f"count must be between 1 and {maximum}")
        return value


class ResultTableStorageQuerySerializer(serializers.Serializer):
    result_table_list = serializers.CharField(max_length=8192, help_text="comma-separated table ids")
    storage_type = serializers.ChoiceField(choices=["kafka"], default="kafka")
    bk_tenant_id = serializers.CharField(max_length=64, default="system")

    def validate_result_table_list(self, value: str) -> list[str]:
        tables = [t.strip() for t in value.split(",") if t.strip()]
        if not tables or len(tables) > 500:
            raise serializers.ValidationError("give 1 to 500 comma-separated table ids")
        return tables
