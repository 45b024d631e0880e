"""The browser tests' Chromium (one per module), and a screenshot of the page when a test fails
(runs/browser-failures/<test>.png)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.chromium import start_offline_chromium

SCREENSHOTS = Path(__file__).resolve().parents[2] / "runs" / "browser-failures"


@pytest.fixture(scope="module")
def browser():
    driver = start_offline_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.call_failed = report.failed


@pytest.fixture(autouse=True)
def screenshot_on_failure(request):
    yield
    if not getattr(request.node, "call_failed", False) or "browser" not in request.fixturenames:
        return
    driver = request.getfixturevalue("browser")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{request.node.name.replace('/', '_')}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot of the failed page: {path}")
