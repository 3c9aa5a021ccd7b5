"""Conversions between the lifecycle's plain data and the alert models, and the settings it reads."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from bkmonitor.alerts.lifecycle import AlertState, Limits, LogEntry
from bkmonitor.models import Alert, AlertLog

#: the columns an event can change on an existing alert (severity and identity never change)
MUTABLE_FIELDS = ("status", "is_recovering", "first_anomaly_time", "begin_time", "latest_time", "end_time",
                  "event_count", "is_blocked", "is_flapping", "close_reason", "recovery_value")
STATE_FIELDS = ("dedupe_md5", "alert_name", "strategy_id", "item_id", "bk_biz_id", "severity", "open_time",
                "first_anomaly_time", "begin_time", "latest_time", "dimensions", "target_type", "target", "status",
                "end_time", "event_count", "is_recovering", "is_blocked", "is_flapping", "close_reason",
                "recovery_value", "id")
#: keeps each `IN (...)` list well under every backend's parameter limit
CHUNK = 500


def limits_from_settings() -> Limits:
    return Limits(qos_per_minute=settings.BKM_ALERT_QOS_PER_MINUTE,
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


#: fields whose Python values the database drivers take as they are (no per-value conversion)
_PLAIN_FIELDS = (models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.CharField,
                 models.TextField, models.FloatField, models.ForeignKey)


def insert_rows(model: type[models.Model], rows: list[Mapping[str, Any]], returning_ids: bool = False
                ) -> list[int]:
    """INSERT plain rows (field attname -> value; missing fields take their default, auto_now_add
    fields the current time) with one multi-row statement per chunk; with `returning_ids`, the new
    primary keys in the order of `rows` (RETURNING, as Django's bulk_create relies on too).

    Why not bulk_create: Django prepares every value of every row through the field API, which
    measured 70% of the alert builder's time; here only fields that need it (JSON, dates) convert.
    """
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    plan: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            plan.append((f.attname, f.get_db_prep_save(now, connection), None))  # same value for the batch
            continue
        plan.append((f.attname, f.get_default() if f.has_default() or f.null else None, _converter(f)))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, min(1000, _max_params() // len(fields)))
    returning = f" RETURNING {quote(model._meta.pk.column)}" if returning_ids else ""
    ids: list[int] = []
    with connection.cursor() as cursor:
        for part in chunks(rows, size):
            params: list[Any] = []
            for row in part:
                for name, default, convert in plan:
                    value = row.get(name, default)
                    params.append(value if convert is None else convert(value))
            cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "
                           f"{', '.join([row_sql] * len(part))}{returning}", params)
            if returning_ids:
                ids.extend(pk for (pk,) in cursor.fetchall())
    return ids


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, _PLAIN_FIELDS):
        return None
    if isinstance(field, models.JSONField) and field.encoder is None:
        if connection.vendor == "sqlite":
            return lambda v: None if v is None else _orjson_text(v)
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return lambda v: None if v is None else Jsonb(v, dumps=_orjson_text)
    return lambda v: field.get_db_prep_save(v, connection)


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _max_params() -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if connection.vendor == "postgresql":
        return 65535
    return connection.features.max_query_params or 2000


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
