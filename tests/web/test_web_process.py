"""The web process of `make run` (gunicorn, DEBUG off) serves every page's static files itself."""
from __future__ import annotations

import requests

from alarm_backends.core.embedded.base import port_accepts
from tests.web.assets import page_assets
from tests.web.conftest import WebServer, create_admin


def logged_in(server: WebServer) -> requests.Session:
    create_admin("web-ops", "pw-web-123")
    session = requests.Session()
    login = f"{server.url}/admin/login/"
    session.get(login, timeout=10)
    response = session.post(login, data={"username": "web-ops", "password": "pw-web-123", "next": "/admin/",
                                         "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                            headers={"Referer": login}, timeout=10)
    assert response.url == f"{server.url}/admin/", response.text[:500]
    return session


def test_every_stylesheet_and_script_of_the_admin_api_docs_and_landing_page_is_served_with_debug_off(
        web_server: WebServer) -> None:
    session = logged_in(web_server)
    assets: dict[str, str] = {}
    for page in ("/", "/admin/", "/admin/bkmonitor/alert/", "/api/v1/", "/api/v1/alerts/", "/api/docs/"):
        response = session.get(f"{web_server.url}{page}", headers={"Accept": "text/html"}, timeout=10)
        assert response.status_code == 200, (page, response.status_code)
        assert response.headers["Server"].startswith("gunicorn")
        found = page_assets(response.url, response.text)
        assert found, f"{page} asks for no stylesheet or script"
        assets.update({url: page for url in found})
    assert any("/static/admin/css/" in url for url in assets)
    assert any("/static/rest_framework/" in url for url in assets)
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in assets)
    assert any(url.endswith("/static/web/site.css") for url in assets)
    for url, page in assets.items():
        assert url.startswith(web_server.url), f"{page} loads {url} from another server"
        response = session.get(url, allow_redirects=False, timeout=10)  # the admin's jsi18n script needs the login
        assert response.status_code == 200, f"{url} (on {page}): {response.status_code}"
        kind = response.headers["Content-Type"]
        assert ("css" in kind) if url.split("?")[0].endswith(".css") else ("javascript" in kind), (url, kind)


def test_static_files_are_sent_compressed_to_a_browser_that_accepts_gzip(web_server: WebServer) -> None:
    url = f"{web_server.url}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    gzipped = requests.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    assert plain.status_code == gzipped.status_code == 200
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert int(gzipped.headers["Content-Length"]) < len(plain.content) / 2


def test_sigterm_stops_the_web_process_cleanly_and_frees_its_port(web_server: WebServer) -> None:
    port = int(web_server.url.rsplit(":", 1)[1])
    assert requests.get(f"{web_server.url}/", timeout=10).status_code == 200
    assert web_server.stop(timeout=15) == 0, web_server.output()
    assert not port_accepts("127.0.0.1", port)
    output = web_server.output()
    assert "Handling signal: term" in output and '"GET / HTTP/1.1" 200' in output, output
