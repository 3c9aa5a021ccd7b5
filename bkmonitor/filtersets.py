"""django-filter filtersets for the strategy API."""
from __future__ import annotations

import json

import django_filters as filters
from django.db import connection
from django.db.models import QuerySet

from bkmonitor.models import Strategy
from config.api.filtersets import StrictFilterSet, boolean_filter


class StrategyFilterSet(StrictFilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    result_table_id = filters.CharFilter(field_name="items__query_configs__result_table_id", distinct=True)
    metric_field = filters.CharFilter(field_name="items__query_configs__metric_field", distinct=True)
    is_enabled = boolean_filter()
    label = filters.CharFilter(method="filter_label", help_text="strategies that carry this label")

    class Meta:
        model = Strategy
        fields = {"bk_biz_id": ["exact", "in"]}

    def filter_label(self, queryset: QuerySet[Strategy], name: str, value: str) -> QuerySet[Strategy]:
        if connection.features.supports_json_field_contains:
            return queryset.filter(labels__contains=[value])
        # SQLite has no JSON containment: match the quoted element in the stored JSON text.
        return queryset.filter(labels__icontains=json.dumps(value))
