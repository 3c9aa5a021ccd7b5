"""Headless Chromium, offline, against the web process exactly as `make run` starts it (gunicorn, DEBUG off):
every page a user opens is styled, and every stylesheet and script it asks for loads."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.browser import browser, require_chromium  # noqa: F401  (browser is a fixture)
from tests.web.conftest import WebServer, create_admin

require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

SHOTS = Path("/tmp/web-shots")
ADMIN_BLUE = "rgb(65, 118, 144)"  # the admin's header colour (#417690), used by the landing page too

ASSETS_JS = """return Array.from(document.querySelectorAll('link[rel~=stylesheet][href], script[src]'))
    .map(e => e.href || e.src);"""
STYLESHEETS_JS = """return Array.from(document.styleSheets).filter(s => s.href)
    .map(s => { try { return [s.href, s.cssRules.length]; } catch (e) { return [s.href, -1]; } });"""
RESOURCES_JS = """return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus || 0]);"""


def style(driver: Any, selector: str, prop: str) -> str:
    return driver.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1]);",
        selector, prop)


def open_page(driver: Any, server: WebServer, path: str, shot: str) -> None:
    """Open a page and check that all it asked for came from this server and loaded; screenshot it."""
    driver.get(f"{server.url}{path}")
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assets = driver.execute_script(ASSETS_JS)
    assert assets, f"{path} asks for no stylesheet or script"
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    for url in assets:
        assert url.startswith(server.url + "/"), f"{path} loads {url} from another server"
        response = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
        assert response.status_code == 200, f"{path}: {url} answered {response.status_code}"
    for href, rules in driver.execute_script(STYLESHEETS_JS):
        assert rules > 0, f"{path}: stylesheet {href} did not load ({rules} rules)"
    for name, status in driver.execute_script(RESOURCES_JS):
        assert name.startswith(server.url + "/"), f"{path} fetched {name}"
        assert status < 400, f"{path}: {name} answered {status}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{shot}.png"))


def log_in(driver: Any, server: WebServer) -> None:
    create_admin("browser-ops", "pw-browser-123")
    open_page(driver, server, "/admin/login/?next=/admin/", "admin-login")
    driver.find_element(By.NAME, "username").send_keys("browser-ops")
    driver.find_element(By.NAME, "password").send_keys("pw-browser-123")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "Site administration" in d.title)


def test_an_operator_finds_the_admin_the_browsable_api_the_docs_and_the_landing_page_styled_and_complete(
        browser: Any, web_server: WebServer) -> None:  # noqa: F811 (the imported fixture)
    log_in(browser, web_server)

    open_page(browser, web_server, "/admin/", "admin-index")
    assert style(browser, "#header", "background-color") == ADMIN_BLUE
    open_page(browser, web_server, "/admin/bkmonitor/alert/", "admin-alert-changelist")
    assert browser.find_element(By.ID, "changelist").is_displayed()
    assert style(browser, "#header", "background-color") == ADMIN_BLUE

    open_page(browser, web_server, "/api/v1/alerts/", "api-alerts")
    assert browser.find_element(By.CSS_SELECTOR, ".page-header h1").text == "Alert List"
    assert style(browser, ".navbar", "position") == "fixed"  # DRF's bootstrap theme is applied
    open_page(browser, web_server, "/api/v1/", "api-root")
    links = {a.text for a in browser.find_elements(By.CSS_SELECTOR, ".response-info a")}
    assert {f"{web_server.url}/api/v1/alerts/", f"{web_server.url}/api/v1/metadata/clusters/"} <= links

    open_page(browser, web_server, "/api/docs/", "api-docs")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    assert "bk-alarm pipeline API" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "api-docs.png"))  # again, now that the operations are drawn

    open_page(browser, web_server, "/admin/", "admin-index")
    browser.find_element(By.LINK_TEXT, "VIEW SITE").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url == f"{web_server.url}/")
    open_page(browser, web_server, "/", "landing")
    assert browser.find_element(By.TAG_NAME, "h1").text == "bk-alarm pipeline"
    assert style(browser, "header", "background-color") == ADMIN_BLUE
    hrefs = {a.get_attribute("pathname") for a in browser.find_elements(By.CSS_SELECTOR, "main a")}
    assert {"/admin/", "/api/docs/", "/api/v1/", "/api/v1/alerts/", "/metrics"} <= hrefs
