"""Swagger UI and ReDoc, opened in a real browser that cannot reach the internet, work in full."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from app import __version__
from tests.browser.chromium import (
    failed_loads,
    forget_history,
    requested_urls,
    sent_outside,
    wait_clickable,
    wait_for,
)
from tests.deploy.live_server import serving
from training.image_examples import DIGIT_PNG_BASE64

pytestmark = pytest.mark.browser

API_KEY = "docs-key-42"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("docs") / "server.log", API_KEY=API_KEY) as live:
        yield live


@pytest.fixture
def swagger(server, browser):
    """/docs freshly loaded, with every operation rendered."""
    browser.get(f"{server.url}/docs")
    wait_for(browser, ".opblock-summary")
    return browser


def operation(driver, method: str, path: str):
    """The expanded operation block for METHOD path."""
    for block in driver.find_elements(By.CSS_SELECTOR, ".opblock"):
        summary = block.find_element(By.CSS_SELECTOR, ".opblock-summary-path")
        if summary.get_attribute("data-path") == path and method.lower() in block.get_attribute("class"):
            if "is-open" not in block.get_attribute("class"):
                block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
            return block
    raise AssertionError(f"{method} {path} is not in Swagger UI")


def execute(driver, block) -> tuple[str, str]:
    """Click Execute and wait for the live response: (status code, body text)."""
    for previous in block.find_elements(By.CSS_SELECTOR, ".btn-clear"):
        previous.click()  # so the wait below cannot see the last answer
    wait_clickable(driver, ".btn.execute", within=block).click()
    status = WebDriverWait(driver, 60).until(
        lambda _: block.find_elements(By.CSS_SELECTOR, ".live-responses-table .response .response-col_status")
    )[0]
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table .response-col_description pre").text
    return status.text.split()[0], body


def authorize(driver, key: str, scheme: str = "APIKey") -> None:
    """Fill one scheme of Swagger UI's Authorize dialog (it lists APIKey and AdminKey, each with its own button)."""
    wait_clickable(driver, ".auth-wrapper .btn.authorize").click()
    wait_for(driver, ".modal-ux .auth-container h4")
    containers = driver.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container")
    (chosen,) = [c for c in containers if c.find_element(By.TAG_NAME, "h4").text.startswith(f"{scheme} ")]
    chosen.find_element(By.TAG_NAME, "input").send_keys(key)
    chosen.find_element(By.CSS_SELECTOR, ".btn.authorize").click()
    wait_clickable(driver, ".modal-ux .btn-done").click()


def test_docs_lists_every_operation_and_loads_nothing_from_outside(server, browser):
    forget_history(browser)
    browser.get(f"{server.url}/docs")
    wait_for(browser, ".opblock-summary")
    shown = {
        (b.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.lower(),
         b.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"))
        for b in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }  # fmt: skip
    documented = {(m, p) for p, ops in httpx.get(f"{server.url}/openapi.json").json()["paths"].items() for m in ops}
    assert shown == documented
    assert len(documented) == 31  # 13 of our own, 4 for any model by name, 14 of the Open Inference Protocol
    sent = requested_urls(browser)
    assert f"{server.url}/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in sent
    assert sent_outside(sent, server.url) == []
    assert failed_loads(browser) == []
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel='shortcut icon']").get_attribute("href")
    assert icon == f"{server.url}/static/favicon.svg"


def test_try_it_out_generates_a_poem_after_authorizing_with_the_api_key(swagger):
    block = operation(swagger, "post", "/generate/poem")
    wait_clickable(swagger, ".try-out__btn", within=block).click()
    status, body = execute(swagger, block)
    assert status == "401"  # before the key is given: the guard is real
    assert json.loads(body)["code"] == "unauthorized"

    authorize(swagger, API_KEY)
    status, body = execute(swagger, block)
    assert status == "200"
    answer = json.loads(body)
    assert len(answer["lines"]) in (4, 8)
    assert answer["poem"].replace("\n", "") == "".join(answer["lines"])


def test_try_it_out_uploads_an_image_file_chosen_in_the_browser(swagger, tmp_path):
    picture = tmp_path / "seven.png"
    picture.write_bytes(base64.b64decode(DIGIT_PNG_BASE64))
    authorize(swagger, API_KEY)
    block = operation(swagger, "post", "/predict/digit")
    wait_clickable(swagger, ".try-out__btn", within=block).click()
    Select(wait_clickable(swagger, ".body-param-content-type select", within=block)).select_by_value(
        "multipart/form-data"
    )
    wait_for(swagger, "input[type=file]").send_keys(str(picture))
    status, body = execute(swagger, block)
    assert status == "200", body
    assert json.loads(body)["label"] == 7


def test_redoc_renders_every_operation_offline(server, browser):
    forget_history(browser)
    browser.get(f"{server.url}/redoc")
    title = wait_for(browser, ".api-info h1")
    assert title.text == f"dlserve ({__version__})"
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")) == 31
    )
    sent = requested_urls(browser)
    assert f"{server.url}/static/vendor/redoc/redoc.standalone.js" in sent
    assert sent_outside(sent, server.url) == []
    assert failed_loads(browser) == []
