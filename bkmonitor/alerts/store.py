"""Conversions between the lifecycle's plain data and the alert models, and the settings it reads."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from bkmonitor.alerts.lifecycle import AlertState, Limits, LogEntry
from bkmonitor.models import Alert, AlertLog

#: the columns an event can change on an existing alert (severity and identity never change)
MUTABLE_FIELDS = ("status", "is_recovering", "first_anomaly_time", "begin_time", "latest_time", "end_time",
                  "event_count", "is_blocked", "is_flapping", "close_reason", "recovery_value", "latest_reason")
STATE_FIELDS = ("dedupe_md5", "alert_name", "strategy_id", "item_id", "bk_biz_id", "severity", "open_time",
                "first_anomaly_time", "begin_time", "latest_time", "dimensions", "target_type", "target", "status",
                "end_time", "event_count", "is_recovering", "is_blocked", "is_flapping", "close_reason",
                "recovery_value", "reason", "latest_reason", "id")
#: keeps each `IN (...)` list well under every backend's parameter limit
CHUNK = 500


def limits_from_settings() -> Limits:
    return Limits(qos_per_minute=settings.BKM_ALERT_QOS_PER_MINUTE,
                  qos_settle=settings.BKM_ALERT_QOS_SETTLE_SECONDS,
                  flapping_changes=settings.BKM_ALERT_FLAPPING_CHANGES,
                  flapping_window=settings.BKM_ALERT_FLAPPING_WINDOW,
                  flapping_stable=settings.BKM_ALERT_FLAPPING_STABLE)


def to_state(alert: Alert) -> AlertState:
    return AlertState(**{name: getattr(alert, name) for name in STATE_FIELDS})


def to_row(state: AlertState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in STATE_FIELDS if name != "id"}


def to_model(state: AlertState) -> Alert:
    alert = Alert(**{name: getattr(state, name) for name in STATE_FIELDS})
    alert.update_time = timezone.now()
    return alert


def to_log_rows(entries: Iterable[LogEntry]) -> list[AlertLog]:
    return [AlertLog(alert_id=e.alert.id if e.alert is not None else None, dedupe_md5=e.dedupe_md5, time=e.time,
                     op=e.op, event_id=e.event_id, description=e.description) for e in entries]


def to_log_dicts(entries: Iterable[LogEntry]) -> list[dict[str, Any]]:
    return [{"alert_id": e.alert.id if e.alert is not None else None, "dedupe_md5": e.dedupe_md5, "time": e.time,
             "op": str(e.op), "event_id": e.event_id, "description": e.description} for e in entries]


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def update_alerts(states: list[AlertState]) -> None:
    """Write the mutable fields of existing alerts, one statement per CHUNK alerts.

    Django's bulk_update builds a CASE per field and row and spends seconds per thousand rows in Python; an
    UPDATE joined to a VALUES list does the same in one cheap statement on PostgreSQL and SQLite (>= 3.33).
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        models = [to_model(s) for s in states]
        Alert.objects.bulk_update(models, (*MUTABLE_FIELDS, "update_time"), batch_size=CHUNK)
        return
    quote = connection.ops.quote_name
    fields = [Alert._meta.get_field(name) for name in MUTABLE_FIELDS]
    table = quote(Alert._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    # Cast each column: a VALUES column of only NULLs would otherwise be text on PostgreSQL.
    assignments = ", ".join(f"{quote(f.column)} = CAST(v.{quote(f.column)} AS {f.cast_db_type(connection)})"
                            for f in fields)
    update_time = Alert._meta.get_field("update_time")
    now = update_time.get_db_prep_value(timezone.now(), connection)
    row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    with connection.cursor() as cursor:
        for part in chunks(states):
            sql = (f"WITH v(id, {columns}) AS (VALUES {', '.join([row] * len(part))}) "
                   f"UPDATE {table} SET {assignments}, {quote(update_time.column)} = %s "
                   f"FROM v WHERE {table}.{quote('id')} = CAST(v.id AS bigint)")
            params: list = []
            for state in part:
                params.append(state.id)
                params.extend(f.get_db_prep_value(getattr(state, f.name), connection) for f in fields)
            params.append(now)
            cursor.execute(sql, params)
