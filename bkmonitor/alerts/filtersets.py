"""django-filter filtersets for the alert and event API.

Times filter as epoch seconds or ISO 8601; `dimension=key:value` may repeat (all must match).
"""
from __future__ import annotations

import re
from datetime import datetime, time
from datetime import UTC
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field

from bkmonitor.choices import Level
from bkmonitor.models import Alert, AlertStatus, Event, EventType
from bkmonitor.models.strategy import INT32_MAX, INT32_MIN
from config.api.filtersets import INT64_MAX, INT64_MIN, IntegerFilter, StrictFilterSet, boolean_filter

MAX_EPOCH_SECONDS = 10**11
MAX_DIMENSIONS = 20
INTEGER_RE = re.compile(r"^-?\d{1,19}$")
EPOCH_HELP = "epoch seconds, or an ISO 8601 date/time (UTC unless it has an offset)"


class EpochField(forms.Field):
    default_error_messages = {"invalid": f"expected {EPOCH_HELP}, e.g. 1700000000 or 2023-11-14T22:13:20Z"}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        seconds = int(text) if INTEGER_RE.match(text) else self._parse_iso(text)
        if not 0 <= seconds <= MAX_EPOCH_SECONDS:
            raise forms.ValidationError(f"must be between 0 and {MAX_EPOCH_SECONDS} epoch seconds")
        return seconds

    def _parse_iso(self, text: str) -> int:
        try:
            moment = parse_datetime(text.replace("z", "Z"))
            if moment is None and (day := parse_date(text)) is not None:
                moment = datetime.combine(day, time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        try:
            return int(moment.timestamp())
        except (OverflowError, OSError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


# The schema states the accepted range: 0 to MAX_EPOCH_SECONDS (the years 1970 to 5138 as dates).
@extend_schema_field({"oneOf": [
    {"type": "integer", "minimum": 0, "maximum": MAX_EPOCH_SECONDS},
    {"type": "string", "format": "date-time", "pattern": "^(19[7-9][0-9]|[2-4][0-9]{3})-"},
]})
class EpochFilter(filters.Filter):
    field_class = EpochField


class BoundedIntegerFilter(IntegerFilter):
    """An integer within the column's range: out of range is a 400, not a database error."""

    def __init__(self, *args: Any, minimum: int = INT64_MIN, maximum: int = INT64_MAX, **kwargs: Any) -> None:
        super().__init__(*args, min_value=minimum, max_value=maximum, **kwargs)


class DimensionField(forms.Field):
    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "expected key:value, e.g. bk_target_ip:10.0.0.1"}

    def to_python(self, value: Any) -> list[tuple[str, str]]:
        if value in self.empty_values:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) > MAX_DIMENSIONS:
            raise forms.ValidationError(f"at most {MAX_DIMENSIONS} dimension filters")
        pairs = []
        for item in values:
            key, sep, wanted = str(item).partition(":")
            if not sep or not key.strip() or len(key) > 128 or len(wanted) > 1024:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            pairs.append((key.strip(), wanted))
        return pairs


@extend_schema_field({"type": "array", "items": {"type": "string", "pattern": "^[^:]+:.*$"}})
class DimensionFilter(filters.Filter):
    field_class = DimensionField

    def filter(self, qs: QuerySet, value: list[tuple[str, str]]) -> QuerySet:
        for index, (key, wanted) in enumerate(value):
            alias = f"_dimension_{index}"
            qs = qs.alias(**{alias: KeyTransform(key, "dimensions")})
            # Dimensions keep the JSON type they arrived with: "0" may be stored as the number 0.
            condition = Q(**{alias: wanted})
            if INTEGER_RE.match(wanted):
                condition |= Q(**{alias: int(wanted)})
            qs = qs.filter(condition)
        return qs


class AlertFilterSet(StrictFilterSet):
    status = filters.MultipleChoiceFilter(choices=AlertStatus.choices, help_text="repeatable")
    severity = filters.MultipleChoiceFilter(choices=Level.choices, help_text="1 fatal, 2 warning, 3 remind; repeatable")
    strategy = BoundedIntegerFilter(field_name="strategy_id", help_text="strategy id")
    strategy_id = BoundedIntegerFilter(field_name="strategy_id")
    item_id = BoundedIntegerFilter(field_name="item_id")
    bk_biz_id = BoundedIntegerFilter(field_name="bk_biz_id", minimum=INT32_MIN, maximum=INT32_MAX)
    dedupe_md5 = filters.CharFilter(max_length=64)
    alert_name = filters.CharFilter(lookup_expr="icontains", max_length=128)
    dimension = DimensionFilter(help_text="key:value; repeatable, all must match (e.g. bk_target_ip:10.0.0.1)")
    begin_time__gte = EpochFilter(field_name="begin_time", lookup_expr="gte", help_text=EPOCH_HELP)
    begin_time__lte = EpochFilter(field_name="begin_time", lookup_expr="lte", help_text=EPOCH_HELP)
    end_time__gte = EpochFilter(field_name="end_time", lookup_expr="gte", help_text=EPOCH_HELP)
    end_time__lte = EpochFilter(field_name="end_time", lookup_expr="lte", help_text=EPOCH_HELP)
    is_ack = boolean_filter()
    is_shielded = boolean_filter()
    is_blocked = boolean_filter()
    is_flapping = boolean_filter()
    is_recovering = boolean_filter()

    class Meta:
        model = Alert
        fields: list[str] = []


class EventFilterSet(StrictFilterSet):
    event_id = filters.CharFilter(max_length=128)
    alert = BoundedIntegerFilter(field_name="alert_id", help_text="alert id")
    event_type = filters.MultipleChoiceFilter(choices=EventType.choices, help_text="repeatable")
    strategy_id = BoundedIntegerFilter(field_name="strategy_id")
    bk_biz_id = BoundedIntegerFilter(field_name="bk_biz_id", minimum=INT32_MIN, maximum=INT32_MAX)
    severity = filters.MultipleChoiceFilter(choices=Level.choices, help_text="repeatable")
    dedupe_md5 = filters.CharFilter(max_length=64)
    time__gte = EpochFilter(field_name="time", lookup_expr="gte", help_text=EPOCH_HELP)
    time__lte = EpochFilter(field_name="time", lookup_expr="lte", help_text=EPOCH_HELP)

    class Meta:
        model = Event
        fields: list[str] = []
