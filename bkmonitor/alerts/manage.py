"""Manual operations on one alert: acknowledge and close. Idempotent; each change is logged.

Clocks. An alert lives in event time, the time its data points carry, which is far behind the wall
clock when a backlog or an old series is replayed:
- begin_time, first_anomaly_time, open_time, latest_time, end_time, and AlertLog.time: event time
  (epoch seconds), for the pipeline's changes and for these manual ones alike;
- create_time, update_time (Alert, AlertLog, Event): wall clock, when the row was written. The
  moment an operator acknowledged or closed an alert is the create_time of its ACK / CLOSE log.

A manual close therefore ends the alert at its latest event (never before it began), as the alert
manager's closes do, and logs at that time. With the wall clock instead, a replay's next anomaly on
the same series (event time earlier than "now") was taken for a late event of the closed alert and
dropped, so the series could never alert again during the replay.
"""
from __future__ import annotations

from django.db import transaction

from bkmonitor.models import Alert, AlertLog, AlertStatus, LogOp


class AlertStateError(ValueError):
    """The alert is in a state that does not allow the operation."""


def ack_alert(alert_id: int, operator: str, message: str = "") -> Alert:
    """Acknowledge an ABNORMAL alert; acknowledging it again changes nothing. Logged at its latest event time."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.is_ack:
            return alert
        if alert.status != AlertStatus.ABNORMAL:
            raise AlertStateError(f"only an abnormal alert can be acknowledged; this one is {alert.status}")
        alert.is_ack, alert.ack_operator, alert.ack_message = True, operator, message
        alert.save(update_fields=["is_ack", "ack_operator", "ack_message", "update_time"])
        _log(alert, str(LogOp.ACK), operator, f"acknowledged by {operator}" + (f": {message}" if message else ""),
             manual_event_time(alert))
    return alert


def close_alert(alert_id: int, operator: str, reason: str) -> Alert:
    """Close an ABNORMAL alert by hand, ending it at its latest event time; closing a CLOSED alert again
    changes nothing."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.status == AlertStatus.CLOSED:
            return alert
        if alert.status != AlertStatus.ABNORMAL:
            raise AlertStateError(f"only an abnormal alert can be closed; this one is {alert.status}")
        alert.status, alert.is_recovering = AlertStatus.CLOSED, False
        alert.end_time = manual_event_time(alert)
        alert.close_reason = reason
        alert.save(update_fields=["status", "end_time", "is_recovering", "close_reason", "update_time"])
        _log(alert, str(LogOp.CLOSE), operator, f"closed by {operator}: {reason}", alert.end_time)
    return alert


def manual_event_time(alert: Alert) -> int:
    """The event time of a manual operation: the alert's latest event (not before its begin)."""
    return max(alert.latest_time, alert.begin_time)


def _log(alert: Alert, op: str, operator: str, description: str, time: int) -> None:
    AlertLog.objects.create(alert=alert, dedupe_md5=alert.dedupe_md5, time=time, op=op, operator=operator,
                            description=description)
