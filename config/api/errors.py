"""A URL under /api/ that matches no route answers like the API: JSON, not Django's HTML page.

`/api/v1/alerts/1.5/` or `/api/v1/alerts/x/y/` match no route, so Django answered with its HTML 404
page, which an API client cannot read and the schema does not declare (404 is `{"detail": ...}`).
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
