"""Alert and event representations (DESIGN.md 4.4), and the bodies of ack and close."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

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
                  "is_shielded", "is_blocked", "is_flapping", "close_reason", "recovery_value", "create_time",
                  "update_time")
        read_only_fields = fields


class AlertLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertLog
        fields = ("id", "time", "op", "event_id", "operator", "description", "create_time")
        read_only_fields = fields


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
    logs = serializers.SerializerMethodField(help_text=f"the latest {DETAIL_LOG_LIMIT}, oldest first")
    events = serializers.SerializerMethodField(help_text=f"the latest {DETAIL_EVENT_LIMIT}, newest first")

    class Meta(AlertSerializer.Meta):
        fields = (*AlertSerializer.Meta.fields, "logs", "events")
        read_only_fields = fields

    def get_logs(self, alert: Alert) -> list[dict[str, Any]]:
        latest = list(alert.logs.order_by("-time", "-id")[:DETAIL_LOG_LIMIT])
        return AlertLogSerializer(reversed(latest), many=True).data

    def get_events(self, alert: Alert) -> list[dict[str, Any]]:
        return EventSerializer(alert.events.order_by("-time", "-id")[:DETAIL_EVENT_LIMIT], many=True).data


class StrictSerializer(serializers.Serializer):
    """A misspelt key ("mesage") is an error, not silently ignored."""

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
