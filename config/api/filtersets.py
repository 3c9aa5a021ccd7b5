"""A FilterSet base whose generated filters refuse what their column cannot hold.

django-filter turns integer columns into decimal filters capped at 1e50 and boolean columns into
filters that ignore a value they do not know, so `?bk_biz_id__in=1,2**80` reached the database (a
500 on SQLite) and `?is_enabled=maybe` silently listed everything. Here both are a 400 naming the
parameter, with the range or the accepted values.
"""
from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS

TRUE = ("true", "True", "1")
BOOLEAN_VALUES = (*TRUE, "false", "False", "0")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class IntegerFilter(filters.NumberFilter):
    """A whole number within the bounds given (`min_value`, `max_value`); 1.5 is an error, not a non-match."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(*args, **kwargs)

    def get_max_validator(self) -> None:
        return None  # the bounds come with min_value / max_value


def column_range(field: models.Field) -> tuple[int, int]:
    """The range of an integer column as Django declares it for every database (int32 for IntegerField...)."""
    return BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type(), (INT64_MIN, INT64_MAX))


def _integer_extra(field: models.Field) -> dict[str, Any]:
    low, high = column_range(field)
    return {"min_value": low, "max_value": high}


def boolean_filter(**kwargs: Any) -> filters.TypedChoiceFilter:
    return filters.TypedChoiceFilter(choices=[(v, v) for v in BOOLEAN_VALUES], coerce=lambda v: v in TRUE,
                                     help_text="true or false", **kwargs)


INTEGER_DEFAULTS = {"filter_class": IntegerFilter, "extra": _integer_extra}
def _related_extra(field: models.Field) -> dict[str, Any]:
    # A related object filters by its id: an id that names no row matches nothing (as `?id=` would),
    # rather than being a 400 "Select a valid choice" that the schema (an integer) could not announce.
    low, high = column_range(field.target_field)
    return {"field_name": f"{field.name}_id", "min_value": low, "max_value": high}


RELATED_DEFAULTS = {"filter_class": IntegerFilter, "extra": _related_extra}
BOOLEAN_DEFAULTS = {"filter_class": filters.TypedChoiceFilter,
                    "extra": lambda f: {"choices": [(v, v) for v in BOOLEAN_VALUES], "coerce": lambda v: v in TRUE,
                                        "help_text": "true or false"}}


class StrictFilterSet(filters.FilterSet):
    """Filters generated from `Meta.fields` validate like the column: integers in range, booleans spelt out."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        **{cls: INTEGER_DEFAULTS for cls in (models.AutoField, models.SmallIntegerField, models.IntegerField,
                                             models.PositiveIntegerField, models.PositiveSmallIntegerField,
                                             models.BigIntegerField)},
        models.BooleanField: BOOLEAN_DEFAULTS,
        models.ForeignKey: RELATED_DEFAULTS,
        models.OneToOneField: RELATED_DEFAULTS,
    }
