"""APM applications in the admin: provisioning on add; delete keeps topics unless asked explicitly."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alarm_backends.core.kafka.errors import KafkaStorageError
from apm import provision
from apm.models import ApmApplication, ApmDataSource
from metadata.choices import ClusterType, SyncStatus
from metadata.crypto import SecretDecryptionError
from metadata.models import ClusterInfo


class ApmApplicationForm(forms.ModelForm):
    cluster = forms.ModelChoiceField(queryset=ClusterInfo.objects.filter(cluster_type=ClusterType.KAFKA),
                                     required=False,
                                     help_text="Kafka cluster for the topics (default: the default one)")
    partitions = forms.IntegerField(min_value=1, max_value=1000, initial=1, required=False,
                                    help_text="partitions per topic = consumer tasks")
    sync_now = forms.BooleanField(required=False, initial=True, label="Create topics now")

    class Meta:
        model = ApmApplication
        fields = ("app_name", "bk_biz_id", "description", "is_enabled")


class ApmDataSourceInline(admin.TabularInline):
    model = ApmDataSource
    extra = 0
    can_delete = False
    fields = ("kind", "data_source", "result_table_id", "topic", "consumer_group", "topic_status")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="topic status")
    def topic_status(self, obj: ApmDataSource) -> str:
        return SyncStatus(obj.data_source.kafka_topic.sync_status).label


@admin.register(ApmApplication)
class ApmApplicationAdmin(admin.ModelAdmin):
    form = ApmApplicationForm
    list_display = ("app_name", "bk_biz_id", "is_enabled", "create_time")
    list_filter = ("is_enabled", "bk_biz_id")
    search_fields = ("app_name", "description")
    inlines = (ApmDataSourceInline,)
    actions = ("disable", "enable", "delete_with_topics")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        base = ("app_name", "bk_biz_id", "description", "is_enabled")
        return base + (("cluster", "partitions", "sync_now") if obj is None else ())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("app_name", "bk_biz_id") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: ApmApplication, form: Any, change: bool) -> None:
        if change:
            if "is_enabled" in form.changed_data:
                provision.set_enabled(obj, obj.is_enabled)
            super().save_model(request, obj, form, change)
            return
        obj.creator = request.user.get_username()
        results = provision.provision_application(obj, cluster=form.cleaned_data.get("cluster"),
                                                  partitions=form.cleaned_data.get("partitions") or 1,
                                                  sync=form.cleaned_data.get("sync_now", False))
        for result in results:
            ok = result.status == SyncStatus.IN_SYNC
            self.message_user(request, f"Topic {result.summary()}", messages.SUCCESS if ok else messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: ApmApplication) -> None:
        report = provision.delete_application(obj, delete_topics=False)
        self.message_user(request, f"Kept topics {', '.join(report.kept_topics)} (data sources disabled); "
                                   "use 'Delete with topics' to remove them", messages.WARNING)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApmApplication]) -> None:
        for app in queryset:
            self.delete_model(request, app)

    @admin.action(description="Disable (keep topics and data)")
    def disable(self, request: HttpRequest, queryset: QuerySet[ApmApplication]) -> None:
        for app in queryset:
            provision.set_enabled(app, False)

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet[ApmApplication]) -> None:
        for app in queryset:
            provision.set_enabled(app, True)

    @admin.action(description="Delete with topics (removes the data on Kafka)", permissions=["delete"])
    def delete_with_topics(self, request: HttpRequest, queryset: QuerySet[ApmApplication]) -> None:
        for app in queryset:
            name = str(app)
            try:
                report = provision.delete_application(app, delete_topics=True)
            except (KafkaStorageError, SecretDecryptionError, ValueError) as exc:  # per app; others proceed
                self.message_user(request, f"{name}: not deleted - {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{name}: deleted with topics {', '.join(report.deleted_topics)}",
                              messages.SUCCESS)
