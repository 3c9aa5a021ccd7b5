"""Serializers for the parts of a strategy config; each rejects unknown keys and names the bad field."""
from __future__ import annotations

import math
import re
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from alarm_backends.service.detect.registry import AlgorithmConfigError, validate_algorithm
from bkmonitor.choices import (
    NUMERIC_CONDITION_METHODS,
    REGEX_CONDITION_METHODS,
    AggMethod,
    ConditionMethod,
    Connector,
    DataSourceLabel,
    DataTypeLabel,
    Level,
    NoticeSignal,
    StatusSetter,
)
from metadata.models import KafkaStorage, ResultTable

HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_WINDOW = 10_000
MAX_AGG_INTERVAL = 86_400


class StrictSerializer(serializers.Serializer):
    """A misspelt key ("agg_intreval") must not silently fall back to a default."""

    rejects_unknown_fields = True  # the schema says so (config/api/schema.py)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                known = ", ".join(name for name, f in self.fields.items() if not f.read_only)
                raise serializers.ValidationError(
                    {key[:100]: [f"unknown field; known fields: {known}"] for key in unknown[:20]})
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class ScalarField(serializers.Field):
    """A condition value: a string or a finite number."""

    def to_internal_value(self, data: Any) -> str | int | float:
        if isinstance(data, str) or (isinstance(data, (int, float)) and not isinstance(data, bool)):
            if isinstance(data, float) and not math.isfinite(data):
                raise serializers.ValidationError("must be a finite number")
            if isinstance(data, str) and len(data) > 1024:
                raise serializers.ValidationError("must be at most 1024 characters")
            return data
        raise serializers.ValidationError(f"must be a string or a number, got {type(data).__name__}")

    def to_representation(self, value: Any) -> Any:
        return value


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return True


class AggConditionSerializer(StrictSerializer):
    key = serializers.CharField(max_length=128)
    method = serializers.ChoiceField(choices=ConditionMethod.choices)
    value = serializers.ListField(child=ScalarField(), min_length=1, max_length=1000)
    condition = serializers.ChoiceField(choices=Connector.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        method, values = attrs["method"], attrs["value"]
        errors: dict[int, list[str]] = {}
        for index, value in enumerate(values):
            if method in NUMERIC_CONDITION_METHODS and not _is_number(value):
                errors[index] = [f"{method} compares numbers; {value!r} is not a number"]
            elif method in REGEX_CONDITION_METHODS:
                try:
                    re.compile(str(value))
                except (re.error, RecursionError, OverflowError) as exc:
                    errors[index] = [f"not a valid regular expression: {exc}"]
        if errors:
            raise serializers.ValidationError({"value": errors})
        return attrs


EVENT_ONLY = "only event query configs (data_type_label 'event') have this field"


class QueryConfigSerializer(StrictSerializer):
    """A time_series config names a metric_field; an event config (data_source_label 'custom') counts
    the events named custom_event_name, stored as its metric_field so that access matches events
    like metrics."""

    data_type_label = serializers.CharField(max_length=32, default=DataTypeLabel.TIME_SERIES)
    data_source_label = serializers.ChoiceField(choices=DataSourceLabel.choices, required=False,
                                                help_text="event query configs only; default 'custom'")
    result_table_id = serializers.CharField(max_length=128)
    metric_field = serializers.CharField(max_length=128, required=False,
                                         help_text="time_series query configs: the metric (required)")
    custom_event_name = serializers.CharField(max_length=128, required=False,
                                              help_text="event query configs: the event counted (required)")
    agg_method = serializers.ChoiceField(choices=AggMethod.choices)
    agg_interval = serializers.IntegerField(min_value=1, max_value=MAX_AGG_INTERVAL, help_text="seconds")
    agg_dimension = serializers.ListField(child=serializers.CharField(max_length=128), default=list, max_length=32)
    agg_condition = AggConditionSerializer(many=True, default=list, max_length=64)
    unit = serializers.CharField(max_length=32, default="", allow_blank=True)

    def validate_data_type_label(self, value: str) -> str:
        if value not in DataTypeLabel.values:
            raise serializers.ValidationError(
                f"data_type_label {value!r} is not supported yet; supported: "
                f"{', '.join(repr(v) for v in DataTypeLabel.values)}")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["data_type_label"] == DataTypeLabel.EVENT:
            return self._event(attrs)
        errors = {name: [EVENT_ONLY] for name in ("data_source_label", "custom_event_name") if name in attrs}
        if "metric_field" not in attrs:
            errors["metric_field"] = [self.fields["metric_field"].error_messages["required"]]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _event(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if "custom_event_name" not in attrs:
            errors["custom_event_name"] = [self.fields["custom_event_name"].error_messages["required"]]
        if "metric_field" in attrs:
            errors["metric_field"] = ["event query configs name their event in custom_event_name"]
        if attrs["agg_method"] != AggMethod.COUNT:
            errors["agg_method"] = [f"event query configs count events: must be COUNT, got {attrs['agg_method']!r}"]
        if attrs.get("unit"):
            errors["unit"] = ["event counts have no unit"]
        if errors:
            raise serializers.ValidationError(errors)
        attrs.pop("data_source_label", None)  # 'custom' is the only source of events for now
        attrs["metric_field"] = attrs.pop("custom_event_name")
        return attrs

    def validate_result_table_id(self, value: str) -> str:
        if not ResultTable.objects.filter(table_id=value).exists():
            raise serializers.ValidationError(f"result table {value!r} does not exist")
        if not KafkaStorage.objects.filter(table_id=value).exists():
            raise serializers.ValidationError(
                f"result table {value!r} has no kafka storage, so there is no topic to read its data from")
        return value

    def validate_agg_interval(self, value: int) -> int:
        base = settings.BKM_BASE_INTERVAL_SECONDS
        if value % base:
            raise serializers.ValidationError(f"must be a positive multiple of the base interval {base}s, got {value}")
        return value

    def validate_agg_dimension(self, value: list[str]) -> list[str]:
        duplicates = sorted({d for d in value if value.count(d) > 1})
        if duplicates:
            raise serializers.ValidationError(f"duplicate dimension(s): {', '.join(duplicates)}")
        return value

    def validate_agg_condition(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        missing = {i: {"condition": ["required on every condition after the first: 'and' or 'or'"]}
                   for i, c in enumerate(value) if i > 0 and "condition" not in c}
        if missing:
            raise serializers.ValidationError(missing)
        # The first condition joins nothing; stored without, so consumers see one canonical form.
        return [{k: v for k, v in c.items() if not (i == 0 and k == "condition")} for i, c in enumerate(value)]


class AlgorithmSerializer(StrictSerializer):
    level = serializers.ChoiceField(choices=Level.choices)
    type = serializers.CharField(max_length=64)
    config = serializers.JSONField()
    unit_prefix = serializers.CharField(max_length=32, default="", allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Units are checked again by the item, which knows the metric's unit.
        algorithm_errors(attrs, metric_unit="", raise_them=True)
        return attrs


def algorithm_errors(algorithm: dict[str, Any], metric_unit: str, raise_them: bool = False) -> dict[str, list[str]]:
    """The detect package's verdict on one algorithm, keyed by the field it names."""
    try:
        validate_algorithm(dict(algorithm), metric_unit)
        return {}
    except AlgorithmConfigError as exc:
        field = exc.field if exc.field and exc.field != "algorithm" else api_settings.NON_FIELD_ERRORS_KEY
        errors = {field: [exc.message]}
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        # Defensive: a bug in a parser must be a 400 on this algorithm, never a 500.
        errors = {"config": [f"not a valid {algorithm.get('type')} config: {exc}"]}
    if raise_them:
        raise serializers.ValidationError(errors)
    return errors


class NoDataConfigSerializer(StrictSerializer):
    is_enabled = serializers.BooleanField(default=False)
    continuous = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW, default=5,
                                          help_text="windows without data before a no-data alert")
    level = serializers.ChoiceField(choices=Level.choices, default=Level.WARNING)


class TimeRangeSerializer(StrictSerializer):
    start = serializers.RegexField(HHMM_RE, error_messages={"invalid": "must be HH:MM (00:00 to 23:59)"})
    end = serializers.RegexField(HHMM_RE, error_messages={"invalid": "must be HH:MM (00:00 to 23:59)"})

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError({"end": ["must differ from start; use 00:00-23:59 for the whole day"]})
        return attrs


class UptimeSerializer(StrictSerializer):
    time_ranges = TimeRangeSerializer(many=True, min_length=1, max_length=48,
                                      help_text="a range whose end is before its start runs over midnight")


class TriggerConfigSerializer(StrictSerializer):
    count = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW)
    check_window = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW)
    uptime = UptimeSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["check_window"] < attrs["count"]:
            raise serializers.ValidationError(
                {"check_window": [f"must be >= count ({attrs['count']}), got {attrs['check_window']}"]})
        return attrs


class RecoveryConfigSerializer(StrictSerializer):
    check_window = serializers.IntegerField(min_value=1, max_value=MAX_WINDOW)
    status_setter = serializers.ChoiceField(choices=StatusSetter.choices, default=StatusSetter.RECOVERY)


class DetectSerializer(StrictSerializer):
    level = serializers.ChoiceField(choices=Level.choices)
    connector = serializers.ChoiceField(choices=Connector.choices, default=Connector.AND)
    trigger_config = TriggerConfigSerializer()
    recovery_config = RecoveryConfigSerializer()


@extend_schema_field(OpenApiTypes.OBJECT)
class NoticeField(serializers.JSONField):
    """Kept as given (other keys included) after checking the keys the notice stage reads."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"must be an object, got {type(data).__name__}")
        errors: dict[str, Any] = {}
        groups = data.setdefault("user_groups", [])
        if not isinstance(groups, list):
            errors["user_groups"] = ["must be a list of user group ids"]
        else:
            bad = {i: ["must be a positive integer"] for i, g in enumerate(groups)
                   if not isinstance(g, int) or isinstance(g, bool) or not 0 < g <= 2_147_483_647}
            if bad:
                errors["user_groups"] = bad
        signals = data.setdefault("signal", [])
        if not isinstance(signals, list):
            errors["signal"] = ["must be a list of signal names"]
        else:
            bad = {i: [f"unknown signal {s!r}; known: {', '.join(NoticeSignal.values)}"]
                   for i, s in enumerate(signals) if s not in NoticeSignal.values}
            if bad:
                errors["signal"] = bad
        if errors:
            raise serializers.ValidationError(errors)
        return data
