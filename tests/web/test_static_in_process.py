"""Static file URLs work in the test suite too (from the apps, without collectstatic), so any test client
can follow a page to its stylesheets and scripts."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.web.assets import page_assets

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["/", "/admin/", "/api/v1/alerts/", "/api/docs/"])
def test_every_stylesheet_and_script_a_page_names_is_served(page: str) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("static", "static@example.com", "pw"))
    response = client.get(page, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assets = page_assets(f"http://testserver{page}", response.content.decode())
    assert assets
    for url in assets:
        served = client.get(url.removeprefix("http://testserver"))
        assert served.status_code == 200, url
