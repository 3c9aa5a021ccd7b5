"""Alert admin: read-mostly pages for alerts, their logs and events; ack and close as actions."""
from __future__ import annotations

from datetime import datetime, timezone

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from bkmonitor.alerts import manage
from bkmonitor.models import Alert, AlertLog, Event

RECENT_LOGS = 50


def epoch(value: int | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False  # counting a large log table on every page is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("id", "alert_name", "severity", "status", "begin", "latest", "end", "event_count", "is_ack",
                    "is_recovering", "is_blocked", "is_flapping", "strategy_id", "bk_biz_id")
    list_filter = ("status", "severity", "is_ack", "is_recovering", "is_blocked", "is_flapping", "is_shielded")
    search_fields = ("alert_name", "=dedupe_md5", "target")
    readonly_fields = ("begin", "latest", "end", "recent_logs")
    fieldsets = (
        (None, {"fields": ("alert_name", "severity", "status", "close_reason", "recovery_value", "dedupe_md5",
                           "strategy_id", "item_id", "bk_biz_id", "target_type", "target", "dimensions")}),
        ("Times (event time)", {"fields": ("begin", "latest", "end", "first_anomaly_time", "begin_time",
                                           "latest_time", "end_time", "open_time", "event_count")}),
        ("Flags", {"fields": ("is_recovering", "is_ack", "ack_operator", "ack_message", "is_shielded", "is_blocked",
                              "is_flapping")}),
        ("Log", {"fields": ("recent_logs",)}),
    )
    actions = ("ack_alerts", "close_alerts")

    @admin.display(description="begin", ordering="begin_time")
    def begin(self, obj: Alert) -> str:
        return epoch(obj.begin_time)

    @admin.display(description="latest", ordering="latest_time")
    def latest(self, obj: Alert) -> str:
        return epoch(obj.latest_time)

    @admin.display(description="end", ordering="end_time")
    def end(self, obj: Alert) -> str:
        return epoch(obj.end_time)

    @admin.display(description=f"latest {RECENT_LOGS} log entries")
    def recent_logs(self, obj: Alert) -> str:
        logs = reversed(list(obj.logs.order_by("-time", "-id")[:RECENT_LOGS]))
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                ((epoch(log.time), log.op, log.operator or log.event_id, log.description)
                                 for log in logs))
        url = reverse("admin:bkmonitor_alertlog_changelist") + f"?alert__id__exact={obj.pk}"
        return format_html('<table><tr><th>time</th><th>op</th><th>by</th><th>description</th></tr>{}</table>'
                           '<p><a href="{}">all log entries</a></p>', rows, url)

    @admin.action(description="Acknowledge selected abnormal alerts", permissions=["ack"])
    def ack_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._run(request, queryset, lambda a: manage.ack_alert(a.pk, request.user.get_username(),
                                                                "acknowledged in the admin"), "acknowledged")

    @admin.action(description="Close selected abnormal alerts", permissions=["ack"])
    def close_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        user = request.user.get_username()
        self._run(request, queryset, lambda a: manage.close_alert(a.pk, user, f"closed in the admin by {user}"),
                  "closed")

    def has_ack_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("bkmonitor.change_alert")

    def _run(self, request: HttpRequest, queryset: QuerySet[Alert], operation: object, verb: str) -> None:
        done, refused = 0, []
        for alert in queryset:
            try:
                operation(alert)  # type: ignore[operator]
                done += 1
            except manage.AlertStateError as exc:
                refused.append(f"#{alert.pk}: {exc}")
        self.message_user(request, f"{done} alert(s) {verb}", messages.SUCCESS)
        if refused:
            self.message_user(request, "; ".join(refused[:10]), messages.WARNING)


@admin.register(AlertLog)
class AlertLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "when", "op", "alert_link", "event_id", "operator", "description")
    list_filter = ("op",)
    search_fields = ("=dedupe_md5", "=event_id", "description")
    list_select_related = ("alert",)

    @admin.display(description="time", ordering="time")
    def when(self, obj: AlertLog) -> str:
        return epoch(obj.time)

    @admin.display(description="alert")
    def alert_link(self, obj: AlertLog) -> str:
        if obj.alert_id is None:
            return f"(no alert) {obj.dedupe_md5}"
        return format_html('<a href="{}">{}</a>', reverse("admin:bkmonitor_alert_change", args=[obj.alert_id]),
                           obj.alert)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "when", "event_type", "severity", "alert_name", "alert", "dedupe_md5", "value")
    list_filter = ("event_type", "severity")
    search_fields = ("=event_id", "=dedupe_md5", "alert_name")
    list_select_related = ("alert",)

    @admin.display(description="time", ordering="time")
    def when(self, obj: Event) -> str:
        return epoch(obj.time)
