"""Alert and event representations (docs/ARCHITECTURE.md, Data contracts: alert), and the bodies of ack and close."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bkmonitor.alerts.logview import LogRun, collapse
from bkmonitor.models import Alert, AlertLog, Event

#: the detail view shows the most recent ones; /api/v1/events/?alert=<id> pages through all events
DETAIL_LOG_LIMIT = 500
DETAIL_EVENT_LIMIT = 100


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ("id", "alert_name", "strategy_id", "item_id", "bk_biz_id", "severity", "status", "is_recovering",
                  "dedupe_md5", "dimensions", "target_type", "target", "open_time", "first_anomaly_time",
                  "begin_time", "latest_time", "end_time", "event_count", "is_ack", "ack_operator", "ack_message",
                  "is_shielded", "is_blocked", "is_flapping", "close_reason", "recovery_value", "reason",
                  "latest_reason", "create_time", "update_time")
        read_only_fields = fields


class AlertLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertLog
        fields = ("id", "time", "op", "event_id", "operator", "description", "create_time")
        read_only_fields = fields


class LogRunSerializer(serializers.Serializer):
    """A run of consecutive log rows with the same op: the first row's fields, how many, and the last one."""
    id = serializers.IntegerField(source="first.id")
    time = serializers.IntegerField(source="first.time")
    op = serializers.CharField(source="first.op")
    event_id = serializers.CharField(source="first.event_id")
    operator = serializers.CharField(source="first.operator")
    description = serializers.CharField(source="first.description")
    create_time = serializers.DateTimeField(source="first.create_time")
    count = serializers.IntegerField(help_text="consecutive rows with this op (1: a single row)")
    last_time = serializers.IntegerField(source="last.time")
    last_event_id = serializers.CharField(source="last.event_id")
    last_description = serializers.CharField(source="last.description")
    summary = serializers.CharField(help_text='e.g. "LOWER_SEVERITY_DROPPED x238, 2013-12-16 10:01:00 - 13:59:00 UTC"')


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ("id", "event_id", "alert", "event_type", "strategy_id", "item_id", "alert_name", "severity",
                  "bk_biz_id", "dedupe_md5", "dedupe_keys", "dimensions", "target_type", "target", "time",
                  "anomaly_time", "value", "origin_data", "anomaly_ids", "reason", "create_time")
        read_only_fields = fields


class EventDetailSerializer(EventSerializer):
    class Meta(EventSerializer.Meta):
        fields = (*EventSerializer.Meta.fields, "raw")
        read_only_fields = fields


class AlertDetailSerializer(AlertSerializer):
    logs = serializers.SerializerMethodField(
        help_text=f"the latest {DETAIL_LOG_LIMIT} log rows, oldest first, consecutive rows with the same op folded "
                  "into one entry with a count (every row is in the admin's log, every event in /api/v1/events/)")
    events = serializers.SerializerMethodField(help_text=f"the latest {DETAIL_EVENT_LIMIT}, newest first")

    class Meta(AlertSerializer.Meta):
        fields = (*AlertSerializer.Meta.fields, "logs", "events")
        read_only_fields = fields

    @extend_schema_field(LogRunSerializer(many=True))
    def get_logs(self, alert: Alert) -> list[dict[str, Any]]:
        latest = list(alert.logs.order_by("-time", "-id")[:DETAIL_LOG_LIMIT])
        runs: list[LogRun] = collapse(reversed(latest))
        return LogRunSerializer(runs, many=True).data

    def get_events(self, alert: Alert) -> list[dict[str, Any]]:
        return EventSerializer(alert.events.order_by("-time", "-id")[:DETAIL_EVENT_LIMIT], many=True).data


class StrictSerializer(serializers.Serializer):
    """A misspelt key ("mesage") is an error, not silently ignored."""

    rejects_unknown_fields = True  # the schema says so (config/api/schema.py)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k)[:100] for k in data if k not in self.fields)[:20]
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError({key: [f"unknown field; known fields: {known}"] for key in unknown})
        return super().to_internal_value(data)


class AckSerializer(StrictSerializer):
    operator = serializers.CharField(max_length=150, required=False, help_text="defaults to the requesting user")
    message = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")


class CloseSerializer(StrictSerializer):
    operator = serializers.CharField(max_length=150, required=False, help_text="defaults to the requesting user")
    reason = serializers.CharField(max_length=1024)
