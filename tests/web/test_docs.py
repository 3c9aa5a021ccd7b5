"""`/api/docs/` takes its JavaScript and CSS from this server, so it renders offline."""
from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_api_docs_page_loads_swagger_ui_from_this_server_and_nothing_from_elsewhere() -> None:
    page = Client().get("/api/docs/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in urls
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in urls
    assert all(url.startswith("/") for url in urls), urls
    assert "cdn" not in page.lower() and "@latest" not in page
