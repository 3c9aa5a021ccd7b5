"""A detail route's primary key is range-checked before it reaches the database.

`/api/v1/alerts/99999999999999999999999/` went to the database as it came: SQLite raised an
OverflowError (a 500) and PostgreSQL a DataError. A key its column cannot hold names no object, so
it is a 404 like any other key that matches nothing; the schema documents the range.
"""
from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework.exceptions import NotFound

from config.api.filtersets import column_range

INTEGER_KEYS = (models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField)


class RangeCheckedLookupMixin:
    """For viewsets looked up by an integer primary key: a key outside the column's range is a 404."""

    def lookup_bounds(self) -> tuple[int, int] | None:
        """The range of the looked-up column, or None when it is not an integer column."""
        queryset = self.get_queryset()  # type: ignore[attr-defined]
        field = queryset.model._meta.get_field(self.lookup_field) if self.lookup_field != "pk" \
            else queryset.model._meta.pk  # type: ignore[attr-defined]
        return column_range(field) if isinstance(field, INTEGER_KEYS) else None

    def get_object(self) -> Any:
        kwarg = self.lookup_url_kwarg or self.lookup_field  # type: ignore[attr-defined]
        raw = self.kwargs.get(kwarg)  # type: ignore[attr-defined]
        bounds = self.lookup_bounds()
        if raw is not None and bounds is not None:
            self._check_key(str(raw), bounds)
        return super().get_object()  # type: ignore[misc]

    @staticmethod
    def _check_key(raw: str, bounds: tuple[int, int]) -> None:
        text = raw.strip()
        # int() would accept "1_000" and thousands of digits; a key is a plain decimal of bounded length.
        digits = text.removeprefix("-")
        if not digits.isascii() or not digits.isdigit() or len(digits) > 20 or not bounds[0] <= int(text) <= bounds[1]:
            raise NotFound(f"no object with id {raw[:40]!r}: ids are whole numbers from {bounds[0]} to {bounds[1]}")
