"""Headless Debian Chromium, driven by Selenium, that can reach nothing but the loopback interface.

Every host name except 127.0.0.1 resolves to "not found", so a page that needs the internet
(a CDN script, a web font) fails here exactly as it would on an offline server. The driver also
records every request the page sends, so a test can assert that none left the machine.
"""

from __future__ import annotations

import json
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

# Debian's packages (`chromium`, `chromium-driver`); tools/ensure_chromium.sh installs them for `make test`.
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start_offline_chromium() -> webdriver.Chrome:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found: run tools/ensure_chromium.sh (part of `make test`)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1600",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--no-proxy-server",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # Naming the driver's path keeps Selenium Manager from trying to download one.
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the page asked the network for since the last call (from the DevTools performance log).

    A request the page's Content-Security-Policy blocked never leaves the browser, so it is left out.
    """
    urls: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [url for request_id, url in urls.items() if request_id not in blocked]


def sent_outside(urls: list[str], origin: str) -> list[str]:
    """The network requests among `urls` not addressed to `origin` (data: and blob: URLs never leave the page)."""
    return [url for url in urls if not url.startswith((origin + "/", "data:", "blob:"))]


def failed_loads(driver: webdriver.Chrome) -> list[str]:
    """Console errors of resources that failed to load (a blocked request, a 404, a script error)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and e["source"] != "security"]


def forget_history(driver: webdriver.Chrome) -> None:
    """Drain both logs, so the next checks see only what the next page does."""
    driver.get_log("performance")
    driver.get_log("browser")


def wait_for(driver: webdriver.Chrome, css: str, timeout: float = 30) -> WebElement:
    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_clickable(driver: webdriver.Chrome, css: str, timeout: float = 30, within: WebElement | None = None):
    def find(_):
        found = (within or driver).find_elements(By.CSS_SELECTOR, css)
        return found[0] if found and found[0].is_displayed() and found[0].is_enabled() else False

    return WebDriverWait(driver, timeout).until(find)
