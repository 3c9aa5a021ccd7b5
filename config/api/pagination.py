"""Page-number pagination with a client page size and a strict reading of both parameters.

DRF reads `page=abc` as a page that does not exist (a 404) and an unreadable `page_size` as the
default, so a typo looked like an empty or a short result. Here both are a 400 naming the parameter.
`page_size` above MAX_PAGE_SIZE is a 400 too (not clamped): a client that asked for 5,000 rows and
got 1,000 would believe it had them all. A page past the last one stays DRF's 404 "Invalid page.".
"""
from __future__ import annotations

import re
from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

MAX_PAGE_SIZE = 1000
_POSITIVE = re.compile(r"^[1-9]\d{0,17}$")


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: ["given more than once"]})
    value = values[0].strip() if values else ""
    return value or None  # empty, as an unfilled form field sends it, means "not given", as for filters


def _positive(raw: str, name: str) -> int:
    if not _POSITIVE.match(raw):
        raise ValidationError({name: [f"must be a whole number of at least 1, got {raw[:40]!r}"]})
    return int(raw)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    page_size_query_description = f"results per page, 1 to {MAX_PAGE_SIZE}"
    page_query_description = "a page number from 1 (or 'last'); a page past the last one is a 404"

    def get_page_size(self, request: Request) -> int | None:
        raw = _single(request, self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _positive(raw, self.page_size_query_param)
        if size > self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"at most {self.max_page_size}, got {size}; read further pages with page=2, 3, ..."]})
        return size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = _single(request, self.page_query_param)
        if raw is None:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        return _positive(raw, self.page_query_param)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(maximum=self.max_page_size, default=self.page_size)
        return parameters
