"""Manual operations on one alert: acknowledge and close. Idempotent; each change is logged."""
from __future__ import annotations

import time

from django.db import transaction

from bkmonitor.models import Alert, AlertLog, AlertStatus, LogOp


class AlertStateError(ValueError):
    """The alert is in a state that does not allow the operation."""


def ack_alert(alert_id: int, operator: str, message: str = "") -> Alert:
    """Acknowledge an ABNORMAL alert; acknowledging it again changes nothing."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.is_ack:
            return alert
        if alert.status != AlertStatus.ABNORMAL:
            raise AlertStateError(f"only an abnormal alert can be acknowledged; this one is {alert.status}")
        alert.is_ack, alert.ack_operator, alert.ack_message = True, operator, message
        alert.save(update_fields=["is_ack", "ack_operator", "ack_message", "update_time"])
        _log(alert, LogOp.ACK, operator, f"acknowledged by {operator}" + (f": {message}" if message else ""))
    return alert


def close_alert(alert_id: int, operator: str, reason: str) -> Alert:
    """Close an ABNORMAL alert by hand (end time: now); closing a CLOSED alert again changes nothing."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.status == AlertStatus.CLOSED:
            return alert
        if alert.status != AlertStatus.ABNORMAL:
            raise AlertStateError(f"only an abnormal alert can be closed; this one is {alert.status}")
        alert.status, alert.is_recovering = AlertStatus.CLOSED, False
        alert.end_time = max(int(time.time()), alert.begin_time)
        alert.close_reason = reason
        alert.save(update_fields=["status", "end_time", "is_recovering", "close_reason", "update_time"])
        _log(alert, LogOp.CLOSE, operator, f"closed by {operator}: {reason}")
    return alert


def _log(alert: Alert, op: str, operator: str, description: str) -> None:
    AlertLog.objects.create(alert=alert, dedupe_md5=alert.dedupe_md5, time=int(time.time()), op=op,
                            operator=operator, description=description)
