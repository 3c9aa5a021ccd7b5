"""Fast inserts of many plain rows, for the alert builder's per-batch writes.

Why not bulk_create: Django prepares every value of every row through the
field API, which measured 70% of the alert builder's time. Here a plan per
model converts only the fields that need it (JSON, dates), and the rows go to
the database the cheapest way it offers:

- PostgreSQL: COPY FROM STDIN. A multi-row INSERT is no good there: psycopg
  re-parses a long query's thousands of placeholders on every execute (it only
  caches short queries), which measured half of the builder's time. New ids,
  when wanted, are drawn from the table's sequence first and copied in.
- SQLite and others: one multi-row INSERT per chunk, RETURNING the new ids in
  row order when wanted (as Django's bulk_create relies on).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
from django.db import connection, models
from django.utils import timezone

#: fields whose Python values the database drivers take as they are (no per-value conversion)
_PLAIN_FIELDS = (models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.CharField,
                 models.TextField, models.FloatField, models.ForeignKey)

Plan = list[tuple[str, Any, Callable[[Any], Any] | None]]  # (attname, default, converter)


def insert_rows(model: type[models.Model], rows: Sequence[Mapping[str, Any]], returning_ids: bool = False
                ) -> list[int]:
    """Insert rows (field attname -> value; a missing field takes its default, auto_now(_add) fields
    the current time). With `returning_ids`, the new primary keys in the order of `rows`."""
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    plan = _plan(fields)
    if connection.vendor == "postgresql":
        return _copy(model, fields, plan, rows, returning_ids)
    return _insert_values(model, fields, plan, rows, returning_ids)


def _plan(fields: list[models.Field]) -> Plan:
    now = timezone.now()
    plan: Plan = []
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            plan.append((f.attname, f.get_db_prep_save(now, connection), None))  # one value for the batch
        else:
            plan.append((f.attname, f.get_default() if f.has_default() or f.null else None, _converter(f)))
    return plan


def _values(plan: Plan, row: Mapping[str, Any]) -> Iterable[Any]:
    for name, default, convert in plan:
        value = row.get(name, default)
        yield value if convert is None else convert(value)


def _copy(model: type[models.Model], fields: list[models.Field], plan: Plan, rows: Sequence[Mapping[str, Any]],
          returning_ids: bool) -> list[int]:
    quote = connection.ops.quote_name
    table = model._meta.db_table
    columns = [quote(f.column) for f in fields]
    ids: list[int] = []
    with connection.cursor() as cursor:
        if returning_ids:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [table, model._meta.pk.column, len(rows)])
            ids = [pk for (pk,) in cursor.fetchall()]
            columns.insert(0, quote(model._meta.pk.column))
        # the driver's cursor, so its errors are turned into Django's (IntegrityError is retried)
        with connection.wrap_database_errors, \
                cursor.cursor.copy(f"COPY {quote(table)} ({', '.join(columns)}) FROM STDIN") as copy:
            if returning_ids:
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row((pk, *_values(plan, row)))
            else:
                for row in rows:
                    copy.write_row(tuple(_values(plan, row)))
    return ids


def _insert_values(model: type[models.Model], fields: list[models.Field], plan: Plan,
                   rows: Sequence[Mapping[str, Any]], returning_ids: bool) -> list[int]:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, min(1000, _max_params() // len(fields)))
    returning = f" RETURNING {quote(model._meta.pk.column)}" if returning_ids else ""
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            part = rows[start:start + size]
            params = [value for row in part for value in _values(plan, row)]
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
            return lambda v: None if v is None else _json_text(v)
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return lambda v: None if v is None else Jsonb(v, dumps=_json_text)
    return lambda v: field.get_db_prep_save(v, connection)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _max_params() -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or 2000
