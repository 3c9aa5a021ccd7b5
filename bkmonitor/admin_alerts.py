"""Alert admin: read-mostly pages for alerts, their logs and events; ack and close as actions."""
from __future__ import annotations

from datetime import datetime, UTC

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from bkmonitor.alerts import manage
from bkmonitor.alerts.logview import collapse
from bkmonitor.models import Alert, AlertLog, Event

RECENT_LOGS = 500  # rows read for the alert page; repeats are folded, so the table stays short
LIST_TEXT = 120  # characters of a reason or of dimensions in the list, the full text is on the alert's page


def epoch(value: int | None) -> str:
    """Event times are epoch seconds; shown in UTC, whatever TIME_ZONE says, so they match the API and logs."""
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clipped(text: str, limit: int = LIST_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


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
    list_display = ("id", "alert_name", "severity", "status", "target_or_dimensions", "begin", "latest", "end",
                    "why", "event_count", "is_ack", "is_recovering", "is_blocked", "is_flapping", "strategy_id",
                    "bk_biz_id")
    list_filter = ("status", "severity", "is_ack", "is_recovering", "is_blocked", "is_flapping", "is_shielded")
    search_fields = ("alert_name", "=dedupe_md5", "target")
    readonly_fields = ("begin", "latest", "end", "first_anomaly", "opened", "recent_logs")
    fieldsets = (
        (None, {"fields": ("alert_name", "severity", "status", "reason", "latest_reason", "close_reason",
                           "recovery_value", "dedupe_md5",
                           "strategy_id", "item_id", "bk_biz_id", "target_type", "target", "dimensions")}),
        ("Times (event time, UTC)", {"fields": ("begin", "latest", "end", "first_anomaly", "opened",
                                                "event_count")}),
        ("Times (epoch seconds)", {"classes": ("collapse",), "fields": (
            "begin_time", "latest_time", "end_time", "first_anomaly_time", "open_time")}),
        ("Flags", {"fields": ("is_recovering", "is_ack", "ack_operator", "ack_message", "is_shielded", "is_blocked",
                              "is_flapping")}),
        ("Log", {"fields": ("recent_logs",)}),
    )
    actions = ("ack_alerts", "close_alerts")

    @admin.display(description="target / dimensions")
    def target_or_dimensions(self, obj: Alert) -> str:
        dimensions = ", ".join(f"{k}={v}" for k, v in sorted((obj.dimensions or {}).items()))
        return clipped(f"{obj.target} ({dimensions})" if obj.target and dimensions else obj.target or dimensions
                       or "-")

    @admin.display(description="why (latest event)")
    def why(self, obj: Alert) -> str:
        return clipped(obj.latest_reason or obj.reason or obj.close_reason or "-")

    @admin.display(description="first anomaly", ordering="first_anomaly_time")
    def first_anomaly(self, obj: Alert) -> str:
        return epoch(obj.first_anomaly_time)

    @admin.display(description="opened", ordering="open_time")
    def opened(self, obj: Alert) -> str:
        return epoch(obj.open_time)

    @admin.display(description="begin", ordering="begin_time")
    def begin(self, obj: Alert) -> str:
        return epoch(obj.begin_time)

    @admin.display(description="latest", ordering="latest_time")
    def latest(self, obj: Alert) -> str:
        return epoch(obj.latest_time)

    @admin.display(description="end", ordering="end_time")
    def end(self, obj: Alert) -> str:
        return epoch(obj.end_time)

    @admin.display(description=f"log (latest {RECENT_LOGS} entries, repeats folded)")
    def recent_logs(self, obj: Alert) -> str:
        runs = collapse(reversed(list(obj.logs.order_by("-time", "-id")[:RECENT_LOGS])))
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((run.summary if run.count > 1 else epoch(run.first.time), run.first.op, run.count,
              run.first.operator or run.first.event_id,
              run.first.description if run.count == 1 else
              f"first: {run.first.description} | last: {run.last.description}") for run in runs))
        url = reverse("admin:bkmonitor_alertlog_changelist") + f"?alert__id__exact={obj.pk}"
        return format_html('<table><tr><th>time</th><th>op</th><th>count</th><th>by</th><th>description</th></tr>'
                           '{}</table><p><a href="{}">every log entry</a></p>', rows, url)

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
    list_display = ("id", "when", "event_type", "severity", "alert_name", "alert", "dedupe_md5", "value", "why")
    list_filter = ("event_type", "severity")
    search_fields = ("=event_id", "=dedupe_md5", "alert_name")
    list_select_related = ("alert",)

    @admin.display(description="time", ordering="time")
    def when(self, obj: Event) -> str:
        return epoch(obj.time)

    @admin.display(description="why")
    def why(self, obj: Event) -> str:
        return clipped(obj.reason or "-")
