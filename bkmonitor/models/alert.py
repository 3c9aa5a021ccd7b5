"""Alerts (docs/ARCHITECTURE.md, Data contracts: alert), the events that built them, and a log of every transition.

Times are event times in epoch seconds; create_time / update_time are wall-clock bookkeeping.
The lifecycle rules live in bkmonitor.alerts.lifecycle; bkmonitor.alerts.builder is the only writer
of event-driven changes, bkmonitor.alerts.manage of manual ones.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from bkmonitor.choices import Level


class AlertStatus(models.TextChoices):
    ABNORMAL = "ABNORMAL", "abnormal"
    RECOVERED = "RECOVERED", "recovered"
    CLOSED = "CLOSED", "closed"


class EventType(models.TextChoices):
    ANOMALY = "anomaly", "anomaly"
    RECOVERING = "recovering", "recovering"
    RECOVERED = "recovered", "recovered"
    CLOSED = "closed", "closed"
    NO_DATA = "no_data", "no data"


class LogOp(models.TextChoices):
    CREATE = "CREATE", "created"
    ANOMALY = "ANOMALY", "anomaly"
    LOWER_SEVERITY_DROPPED = "LOWER_SEVERITY_DROPPED", "less severe event dropped"
    MOVED_BEGIN = "MOVED_BEGIN", "begin time moved back"
    RECOVERING = "RECOVERING", "recovering"
    RECOVER = "RECOVER", "recovered"
    CLOSE = "CLOSE", "closed"
    ACK = "ACK", "acknowledged"
    BLOCK = "BLOCK", "blocked by QoS"
    FLAPPING_START = "FLAPPING_START", "flapping started"
    FLAPPING_END = "FLAPPING_END", "flapping ended"
    LATE_EVENT = "LATE_EVENT", "late event after the alert ended"
    STALE_EVENT = "STALE_EVENT", "stale status event ignored"
    NO_OPEN_ALERT = "NO_OPEN_ALERT", "status event without an open alert"


class Alert(models.Model):
    alert_name = models.CharField(max_length=128)
    strategy_id = models.BigIntegerField()
    item_id = models.BigIntegerField()
    bk_biz_id = models.IntegerField(db_index=True)
    severity = models.PositiveSmallIntegerField(choices=Level.choices)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.ABNORMAL,
                              db_index=True)
    is_recovering = models.BooleanField(default=False, help_text="the latest window is clean; notices are held")
    dedupe_md5 = models.CharField(max_length=64, db_index=True)
    dimensions = models.JSONField(default=dict, blank=True)
    target_type = models.CharField(max_length=32, blank=True, default="")
    target = models.CharField(max_length=255, blank=True, default="")
    open_time = models.BigIntegerField(help_text="time of the event that opened it; unlike begin_time it never moves")
    first_anomaly_time = models.BigIntegerField()
    begin_time = models.BigIntegerField(db_index=True)
    latest_time = models.BigIntegerField()
    end_time = models.BigIntegerField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=1)
    is_ack = models.BooleanField(default=False)
    ack_operator = models.CharField(max_length=150, blank=True, default="")
    ack_message = models.TextField(blank=True, default="")
    is_shielded = models.BooleanField(default=False)
    is_blocked = models.BooleanField(default=False, help_text="over the QoS limit: no notices")
    is_flapping = models.BooleanField(default=False)
    close_reason = models.TextField(blank=True, default="")
    recovery_value = models.FloatField(null=True, blank=True)
    reason = models.TextField(blank=True, default="", help_text="why the event that opened it fired")
    latest_reason = models.TextField(blank=True, default="",
                                     help_text="why its latest applied event (anomaly, recovering, end) happened")
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "alert"
        indexes = [
            # QoS counts new alerts per (strategy, severity, minute); also serves strategy_id filters.
            models.Index(fields=["strategy_id", "severity", "open_time"], name="bkmonitor_alert_qos"),
        ]
        constraints = [
            # One ABNORMAL alert per dedupe_md5, enforced by the database so concurrent builders cannot race.
            models.UniqueConstraint(fields=["dedupe_md5"], condition=Q(status="ABNORMAL"),
                                    name="bkmonitor_alert_one_abnormal_per_dedupe"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.alert_name} ({self.status})"


class QosMinute(models.Model):
    """One row per (strategy, severity, event-time minute) in which an alert may open.

    Why it exists: two alert consumer processes opening alerts in the same minute must not both count
    the alerts stored before either committed. The builder locks these rows (in key order, before
    anything else) so the QoS verdicts of one minute are decided by one transaction at a time.
    """

    strategy_id = models.BigIntegerField()
    severity = models.PositiveSmallIntegerField(choices=Level.choices)
    minute = models.BigIntegerField(help_text="event-time minute: open_time // 60")

    class Meta:
        verbose_name = "QoS minute"
        constraints = [
            models.UniqueConstraint(fields=["strategy_id", "severity", "minute"], name="bkmonitor_qos_minute_key"),
        ]

    def __str__(self) -> str:
        return f"strategy {self.strategy_id} severity {self.severity} minute {self.minute}"


class Event(models.Model):
    event_id = models.CharField(max_length=128, unique=True)
    alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    strategy_id = models.BigIntegerField()
    item_id = models.BigIntegerField()
    alert_name = models.CharField(max_length=128)
    severity = models.PositiveSmallIntegerField(choices=Level.choices)
    bk_biz_id = models.IntegerField()
    dedupe_md5 = models.CharField(max_length=64, db_index=True)
    dedupe_keys = models.JSONField(default=list, blank=True)
    dimensions = models.JSONField(default=dict, blank=True)
    target_type = models.CharField(max_length=32, blank=True, default="")
    target = models.CharField(max_length=255, blank=True, default="")
    time = models.BigIntegerField(db_index=True)
    anomaly_time = models.BigIntegerField()
    value = models.FloatField(null=True, blank=True)
    origin_data = models.JSONField(default=dict, blank=True)
    anomaly_ids = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, default="")
    raw = models.JSONField(default=dict, blank=True)
    create_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time", "-id"]
        verbose_name = "event"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class AlertLog(models.Model):
    # Nullable: a status event that finds no open alert is still logged, under its dedupe_md5.
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="logs")
    dedupe_md5 = models.CharField(max_length=64)
    time = models.BigIntegerField(help_text="event time (epoch seconds), manual operations included (at the "
                                            "latest event time); when they happened is create_time")
    op = models.CharField(max_length=32, choices=LogOp.choices)
    event_id = models.CharField(max_length=128, blank=True, default="", help_text="the event that caused it")
    operator = models.CharField(max_length=150, blank=True, default="", help_text="who, for manual operations")
    description = models.TextField(blank=True, default="")
    create_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["time", "id"]
        verbose_name = "alert log"
        indexes = [models.Index(fields=["dedupe_md5", "time"], name="bkmonitor_alertlog_dedupe_time")]

    def __str__(self) -> str:
        return f"{self.op} at {self.time}"
