"""Django admin for storage metadata: what an operator scans for, and check/sync actions."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from metadata import crypto
from metadata.api.usage import delete_guarded, strategies_blocking
from metadata.choices import ClusterType, SyncStatus
from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable
from metadata.models.storage import human_duration_ms
from metadata.reconcile import reconcile_all

STATUS_COLOURS = {
    SyncStatus.IN_SYNC: "#2e7d32", SyncStatus.DRIFTED: "#ef6c00", SyncStatus.MISSING: "#c62828",
    SyncStatus.CLUSTER_UNREACHABLE: "#c62828", SyncStatus.ERROR: "#c62828", SyncStatus.UNKNOWN: "#757575",
}


# clusters

class ClusterInfoForm(forms.ModelForm):
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput(render_value=False),
                               help_text="SASL password. Leave empty to keep the stored one; stored encrypted.")
    clear_password = forms.BooleanField(required=False, help_text="remove the stored SASL password")
    ssl_key_password = forms.CharField(required=False, strip=False,
                                       widget=forms.PasswordInput(render_value=False),
                                       help_text="Leave empty to keep the stored one; stored encrypted.")

    class Meta:
        model = ClusterInfo
        fields = "__all__"

    def _post_clean(self) -> None:
        # Apply the secrets before model validation, which checks that SASL has a password.
        if self.cleaned_data.get("clear_password"):
            self.instance.set_password(None)
        elif self.cleaned_data.get("password"):
            self.instance.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("ssl_key_password"):
            self.instance.set_ssl_key_password(self.cleaned_data["ssl_key_password"])
        super()._post_clean()


@admin.register(ClusterInfo)
class ClusterInfoAdmin(admin.ModelAdmin):
    form = ClusterInfoForm
    list_display = ("cluster_name", "cluster_type", "bootstrap", "security_protocol", "masked_password",
                    "is_default_cluster", "broker_count", "last_status_at")
    list_filter = ("cluster_type", "security_protocol", "is_default_cluster")
    search_fields = ("cluster_name", "domain_name", "description")
    readonly_fields = ("masked_password", "broker_count", "last_status_at", "last_status_error",
                       "create_time", "last_modify_time")
    fieldsets = (
        (None, {"fields": ("cluster_name", "cluster_type", "domain_name", "port", "extra_hosts", "version",
                           "is_default_cluster", "description")}),
        ("Security", {"fields": ("security_protocol", "sasl_mechanism", "username", "masked_password", "password",
                                 "clear_password", "ssl_cafile", "ssl_certfile", "ssl_keyfile",
                                 "ssl_key_password", "ssl_check_hostname")}),
        ("Last status check", {"fields": ("broker_count", "last_status_at", "last_status_error")}),
        ("Change log", {"fields": ("creator", "last_modify_user", "create_time", "last_modify_time")}),
    )
    actions = ("check_status",)

    @admin.display(description="bootstrap servers")
    def bootstrap(self, obj: ClusterInfo) -> str:
        return ", ".join(obj.hosts)

    @admin.display(description="password")
    def masked_password(self, obj: ClusterInfo) -> str:
        return crypto.MASK if obj.has_password else "-"

    def save_model(self, request: HttpRequest, obj: ClusterInfo, form: Any, change: bool) -> None:
        obj.last_modify_user = request.user.get_username()
        if not change:
            obj.creator = obj.last_modify_user
        super().save_model(request, obj, form, change)

    @admin.action(description="Check status (reachability, brokers)")
    def check_status(self, request: HttpRequest, queryset: QuerySet[ClusterInfo]) -> None:
        for cluster in queryset:
            if cluster.cluster_type != ClusterType.KAFKA:
                self.message_user(request, f"{cluster}: status checks exist only for kafka clusters",
                                  messages.WARNING)
                continue
            status = cluster.check_status()
            if status["reachable"]:
                self.message_user(request, f"{cluster}: reachable, {len(status['brokers'])} broker(s), "
                                           f"{status['topic_count']} topic(s)", messages.SUCCESS)
            else:
                self.message_user(request, f"{cluster}: unreachable - {status['error']}", messages.ERROR)


# deleting what enabled strategies read

class StrategyGuardAdmin(admin.ModelAdmin):
    """Deleting the last row of a table id that enabled strategies read is refused (listed as protected),
    as in the API; the force action disables those strategies first and says which."""

    actions = ("delete_disabling_strategies",)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        blocking = strategies_blocking(list(objs))
        protected = [*protected, *(f"enabled strategy {ref}, which reads {', '.join(ref.table_ids)}: disable it, "
                                   f"or use the action \"{self.force_label}\"" for ref in blocking)]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        delete_guarded([obj], user=request.user.get_username(), force=False)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        delete_guarded(list(queryset), user=request.user.get_username(), force=False)

    force_label = "Delete, first disabling the enabled strategies that read them"

    @admin.action(description=force_label, permissions=["delete"])
    def delete_disabling_strategies(self, request: HttpRequest, queryset: QuerySet) -> None:
        if not request.user.has_perm("bkmonitor.change_strategy"):
            self.message_user(request, "Disabling strategies needs the permission to change strategies; "
                                       "nothing was deleted", messages.ERROR)
            return
        rows = list(queryset)
        disabled = delete_guarded(rows, user=request.user.get_username(), force=True)
        self.message_user(request, f"Deleted {len(rows)} {self.model._meta.verbose_name_plural}", messages.SUCCESS)
        if disabled:
            self.message_user(request, "Disabled the strategies that read them: "
                                       + ", ".join(str(ref) for ref in disabled), messages.WARNING)


# managed topics (storages and data source topics)

class ManagedTopicAdmin(admin.ModelAdmin):
    actions = ("check_status", "sync_to_cluster")
    sync_readonly = ("sync_status_badge", "drift_display", "sync_error", "last_checked_at")

    @admin.display(description="sync status", ordering="sync_status")
    def sync_status_badge(self, obj: Any) -> str:
        label = SyncStatus(obj.sync_status).label
        return format_html('<span class="sync-status" data-status="{}" style="color:{};font-weight:bold">{}</span>',
                           obj.sync_status, STATUS_COLOURS.get(obj.sync_status, "#000"), label)

    @admin.display(description="drift")
    def drift_display(self, obj: Any) -> str:
        if not obj.sync_drift:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(obj.sync_drift, indent=2))

    @admin.display(description="retention", ordering="retention")
    def retention_human(self, obj: Any) -> str:
        return human_duration_ms(obj.retention)

    @staticmethod
    def label(target: Any) -> str:
        # Django capitalises the first letter of a message: start with words, not the table id.
        if isinstance(target, KafkaStorage):
            return f"Kafka storage {target.table_id}"
        return f"Data source {target.data_source.bk_data_id} topic"

    def _report(self, request: HttpRequest, targets: Iterable[Any], apply: bool) -> None:
        for run in reconcile_all(apply=apply, targets=list(targets)):
            for target, result in run.results:
                level = messages.SUCCESS if result.status == SyncStatus.IN_SYNC else (
                    messages.WARNING if result.status in (SyncStatus.DRIFTED, SyncStatus.MISSING) else messages.ERROR)
                self.message_user(request, f"{self.label(target)}: {result.summary()}", level)
            for target in run.skipped:
                self.message_user(request, f"{self.label(target)}: skipped, the time budget for cluster {run.cluster} "
                                           "was used up; the periodic run will pick it up", messages.WARNING)

    @admin.action(description="Check status against the cluster (no changes)")
    def check_status(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._report(request, queryset, apply=False)

    @admin.action(description="Sync to cluster (create topic / fix drift)")
    def sync_to_cluster(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._report(request, queryset, apply=True)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is ClusterInfo:
            kwargs["queryset"] = ClusterInfo.objects.filter(cluster_type=ClusterType.KAFKA)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if hasattr(obj, "last_modify_user"):
            obj.last_modify_user = request.user.get_username()
            if not change:
                obj.creator = obj.last_modify_user
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("is_sync_db"):
            self._report(request, [obj], apply=True)


class SyncOnSaveForm(forms.ModelForm):
    is_sync_db = forms.BooleanField(required=False, label="Sync to cluster on save",
                                    help_text="create or fix the topic right away instead of at the next periodic run")


class KafkaStorageForm(SyncOnSaveForm):
    class Meta:
        model = KafkaStorage
        fields = "__all__"


class KafkaTopicInfoForm(SyncOnSaveForm):
    class Meta:
        model = KafkaTopicInfo
        fields = "__all__"


@admin.register(KafkaStorage)
class KafkaStorageAdmin(StrategyGuardAdmin, ManagedTopicAdmin):
    form = KafkaStorageForm
    list_display = ("table_id", "topic", "partition", "retention_human", "replication_factor", "storage_cluster",
                    "sync_status_badge", "last_checked_at", "is_enabled")
    actions = (*ManagedTopicAdmin.actions, *StrategyGuardAdmin.actions)
    list_filter = ("sync_status", "storage_cluster", "is_enabled", "cleanup_policy", "bk_tenant_id")
    search_fields = ("table_id", "topic")
    list_select_related = ("storage_cluster",)
    readonly_fields = (*ManagedTopicAdmin.sync_readonly, "creator", "last_modify_user", "create_time",
                       "last_modify_time")
    fieldsets = (
        (None, {"fields": ("table_id", "bk_tenant_id", "storage_cluster", "topic", "partition", "retention",
                           "replication_factor", "is_enabled", "is_sync_db")}),
        ("Topic configs", {"fields": ("cleanup_policy", "compression_type", "segment_bytes", "min_insync_replicas")}),
        ("Sync status", {"fields": ManagedTopicAdmin.sync_readonly}),
        ("Change log", {"fields": ("creator", "last_modify_user", "create_time", "last_modify_time")}),
    )


@admin.register(KafkaTopicInfo)
class KafkaTopicInfoAdmin(ManagedTopicAdmin):
    form = KafkaTopicInfoForm
    list_display = ("topic", "data_source", "partition", "retention_human", "cluster", "sync_status_badge",
                    "last_checked_at")
    list_filter = ("sync_status", "data_source__mq_cluster")
    search_fields = ("topic", "data_source__data_name", "data_source__bk_data_id")
    list_select_related = ("data_source__mq_cluster",)
    readonly_fields = ManagedTopicAdmin.sync_readonly

    @admin.display(description="cluster")
    def cluster(self, obj: KafkaTopicInfo) -> ClusterInfo:
        return obj.data_source.mq_cluster


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ("bk_data_id", "data_name", "etl_config", "mq_cluster", "topic", "is_enabled")
    list_filter = ("is_enabled", "etl_config", "mq_cluster")
    search_fields = ("data_name", "bk_data_id")
    list_select_related = ("mq_cluster", "kafka_topic")
    readonly_fields = ("create_time", "last_modify_time")

    @admin.display(description="topic")
    def topic(self, obj: DataSource) -> str:
        return getattr(getattr(obj, "kafka_topic", None), "topic", "-")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "mq_cluster":
            kwargs["queryset"] = ClusterInfo.objects.filter(cluster_type=ClusterType.KAFKA)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ResultTable)
class ResultTableAdmin(StrategyGuardAdmin):
    list_display = ("table_id", "bk_biz_id", "schema_type", "default_storage", "is_enabled", "bk_tenant_id")
    list_filter = ("is_enabled", "schema_type", "default_storage", "bk_tenant_id")
    search_fields = ("table_id", "table_name_zh")
    filter_horizontal = ("data_sources",)
    readonly_fields = ("create_time", "last_modify_time")
