"""Headless Chromium for the browser tests, shared so that every one runs the same, offline browser.

Import `require_chromium()` first (it skips, or fails on CI, when Chromium is missing), then the
`browser` fixture. The browser resolves no host but the loopback one: a page that needs anything from
the internet (a CDN script, a web font) fails to render in the test as it would on an offline machine.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"


def require_chromium() -> None:
    """Skip the calling test module without Chromium; on CI its absence is a failure, not a skip."""
    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but chromium/chromedriver are not installed (apt-get install chromium chromium-driver)",
                    pytrace=False)
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bkm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000", OFFLINE):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
