"""Search and ordering backends that document only what a view supports and refuse unknown orderings.

DRF's OrderingFilter drops an ordering field it does not know, so `?ordering=begin_tme` returned the
default order as if it had been honoured; here it is a 400 naming the valid fields.
"""
from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class SearchFilter(filters.SearchFilter):
    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        # A view without search fields would ignore `search`: it is not one of its parameters.
        return super().get_schema_operation_parameters(view) if getattr(view, "search_fields", None) else []


class OrderingFilter(filters.OrderingFilter):
    def valid_orderings(self, view: Any, request: Request | None = None) -> list[str]:
        queryset = view.get_queryset()
        return [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]

    def remove_invalid_fields(self, queryset: QuerySet, fields: list[str], view: Any, request: Request) -> list[str]:
        terms = [term for term in fields if term]  # "id," is a trailing comma, not a field
        valid = self.valid_orderings(view, request)
        unknown = [term for term in terms if term.removeprefix("-") not in valid]
        if unknown:
            shown = ", ".join(repr(term[:100]) for term in unknown[:20])
            raise ValidationError({self.ordering_param: [
                f"unknown ordering field(s) {shown}; valid fields (prefix - for descending): {', '.join(valid)}"]})
        return terms

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        if not getattr(view, "ordering_fields", None):
            return []
        parameters = super().get_schema_operation_parameters(view)
        names = self.valid_orderings(view)
        # What the server accepts, so a client (or a schema-driven test) can tell a valid ordering from
        # a 400: comma-separated terms, each blank or a field with an optional leading "-".
        term = rf"\s*(-?({'|'.join(re.escape(name) for name in names)}))?\s*"
        for parameter in parameters:
            parameter["description"] = f"comma-separated; prefix - for descending; one of: {', '.join(names)}"
            parameter["schema"]["pattern"] = f"^{term}(,{term})*$"
        return parameters
