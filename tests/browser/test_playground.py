"""The playground at /, driven in headless Chromium (offline) the way a person uses it.

A digit is drawn as pointer strokes from a real MNIST test image; a real Fashion-MNIST test image is
uploaded as a PNG; the house form is submitted; a poem is streamed. Each answer on the page is
checked against the API's own answer for the same input. A failed test saves a screenshot
(tests/browser/conftest.py).
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from app.api.routes.playground import CONTENT_SECURITY_POLICY
from app.cli import main
from tests.browser.chromium import (
    failed_loads,
    forget_history,
    requested_urls,
    sent_outside,
    wait_for,
)
from tests.deploy.live_server import ROOT, serving
from tests.students import lenet_import_args, poem_import_args, train_lenet, train_poetry_rnn
from training.data.images import read_image_csv

pytestmark = pytest.mark.browser

API_KEY = "playground-key-7"
FASHION_NAMES = json.loads((ROOT / "models" / "fashion" / "meta.json").read_text(encoding="utf-8"))["output"]["classes"]
HOUSE_FIELDS = json.loads((ROOT / "app" / "static" / "playground" / "house_fields.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def playground_server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("playground") / "server.log", API_KEY=API_KEY) as live:
        yield live


def tid(name: str) -> str:
    """The CSS selector of the element with data-testid=name."""
    return f'[data-testid="{name}"]'


@pytest.fixture
def page(playground_server, browser):
    """/ freshly loaded, with the API key typed in, every panel ready."""
    browser.get("about:blank")  # from /#poem to / would otherwise keep the page and what its forms hold
    browser.get(f"{playground_server.url}/")
    wait_for(browser, f'{tid("house-panel")}[data-busy="false"]')
    browser.find_element(By.CSS_SELECTOR, tid("api-key")).send_keys(API_KEY)
    return browser


def open_tab(driver, name: str) -> None:
    driver.find_element(By.ID, f"tab-{name}").click()


def answers(driver, panel: str) -> int:
    """How many answers (or errors) the panel has shown: its data-answered hook."""
    return int(driver.find_element(By.CSS_SELECTOR, tid(f"{panel}-panel")).get_attribute("data-answered") or 0)


def settled(driver, panel: str, after: int = -1, timeout: float = 30) -> None:
    """Wait until the panel has no request on its way and has shown more than `after` answers."""
    element = driver.find_element(By.CSS_SELECTOR, tid(f"{panel}-panel"))
    WebDriverWait(driver, timeout).until(
        lambda _: element.get_attribute("data-busy") == "false" and answers(driver, panel) > after
    )


def text_of(driver, name: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, tid(name)).text


def api(server, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/{path}", headers={"X-API-Key": API_KEY}, timeout=30, **kwargs)


def strokes_from(image: np.ndarray, scale: int = 10) -> list[tuple[int, int, int]]:
    """A 28×28 digit as horizontal pen strokes, one per run of inked pixels: (row, first col, last col)."""
    runs = []
    for row in range(image.shape[0]):
        inked = np.flatnonzero(image[row] > 100)
        if inked.size == 0:
            continue
        start = previous = inked[0]
        for col in [*inked[1:], None]:
            if col is None or col != previous + 1:
                runs.append((row * scale + scale // 2, start * scale + scale // 2, previous * scale + scale // 2))
                start = col
            previous = col
    return runs


def draw(driver, image: np.ndarray) -> None:
    canvas = driver.find_element(By.CSS_SELECTOR, tid("digit-canvas"))
    width = canvas.size["width"]  # the canvas is 280 canvas pixels, shown at `width` CSS pixels
    to_css = width / 280
    actions = ActionChains(driver, duration=0)
    for y, x0, x1 in strokes_from(image):
        # Selenium's offsets are from the element's centre.
        actions.move_to_element_with_offset(canvas, x0 * to_css - width / 2, y * to_css - width / 2)
        actions.click_and_hold().move_by_offset(max(1, (x1 - x0) * to_css), 0).release()
    actions.perform()


@pytest.fixture(scope="module")
def digits():
    images, labels = read_image_csv(ROOT / "data" / "digit-recognizer" / "test.csv", require_label=True)
    return images, labels


def test_page_is_served_offline_with_its_policy(playground_server, browser):
    answer = httpx.get(f"{playground_server.url}/")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    forget_history(browser)
    browser.get(f"{playground_server.url}/")
    wait_for(browser, f'{tid("house-panel")}[data-busy="false"]')
    assert [tab.text for tab in browser.find_elements(By.CSS_SELECTOR, '[role="tab"]')] == [
        "Digits", "Clothing", "House prices", "Tang poems"
    ]  # fmt: skip
    assert browser.find_element(By.LINK_TEXT, "API docs (Swagger UI)").get_attribute("href").endswith("/docs")
    assert sent_outside(requested_urls(browser), playground_server.url) == []
    assert failed_loads(browser) == []


@pytest.mark.parametrize("index", [0, 1, 2])  # MNIST test images 0, 1, 2: a 7, a 2 and a 1
def test_a_drawn_digit_is_recognised(page, playground_server, digits, index):
    images, labels = digits
    expected = api(playground_server, "predict/digit", json={"pixels": images[index].reshape(-1).tolist()}).json()
    assert expected["label"] == labels[index]
    draw(page, images[index])
    settled(page, "digit")
    assert text_of(page, "digit-error") == ""
    assert text_of(page, "digit-label") == str(labels[index]) == str(expected["label"])
    bars = page.find_elements(By.CSS_SELECTOR, f"{tid('digit-probabilities')} li")
    assert [bar.text.split("\n")[0] for bar in bars] == [str(d) for d in range(10)]
    # The 28×28 image the model saw is painted, and the saliency overlay changes it.
    seen = page.find_element(By.CSS_SELECTOR, tid("digit-input"))
    plain = page.execute_script("return arguments[0].toDataURL()", seen)
    page.find_element(By.CSS_SELECTOR, tid("digit-saliency")).click()
    assert page.execute_script("return arguments[0].toDataURL()", seen) != plain


def test_the_keyboard_draws_and_predicts(page):
    canvas = page.find_element(By.CSS_SELECTOR, tid("digit-canvas"))
    canvas.click()  # focus (and a dot)
    actions = ActionChains(page)
    for key in [Keys.ARROW_UP] * 9 + [Keys.ARROW_DOWN] * 18:  # a vertical bar: a "1"
        actions.send_keys(key)
    actions.send_keys(Keys.ENTER).perform()
    settled(page, "digit")
    assert text_of(page, "digit-label") == "1"
    canvas.send_keys(Keys.ESCAPE)
    settled(page, "digit")
    assert text_of(page, "digit-label") == "–"


def predict_a_blank_canvas(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, tid("digit-clear")).click()
    before = answers(driver, "digit")
    driver.find_element(By.CSS_SELECTOR, tid("digit-predict")).click()
    settled(driver, "digit", before)


def test_a_blank_canvas_shows_the_services_message(page):
    predict_a_blank_canvas(page)
    assert text_of(page, "digit-error") == "422 — the image contains no visible digit"
    assert text_of(page, "digit-label") == "–"


def test_an_uploaded_photo_is_classified(page, playground_server, tmp_path):
    images, labels = read_image_csv(ROOT / "data" / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    path = tmp_path / "item.png"
    Image.fromarray(images[0]).save(path)
    expected = api(playground_server, "predict/fashion", files={"file": path.read_bytes()}).json()
    assert expected["label"] == labels[0]
    open_tab(page, "fashion")
    before = answers(page, "fashion")
    page.find_element(By.CSS_SELECTOR, tid("fashion-file")).send_keys(str(path))
    settled(page, "fashion", before)
    assert text_of(page, "fashion-error") == ""
    assert text_of(page, "fashion-label") == f"{expected['class_name']} {expected['class_name_zh']}"
    assert expected["class_name"] == FASHION_NAMES[labels[0]]
    top = page.find_elements(By.CSS_SELECTOR, f"{tid('fashion-top')} li")
    assert len(top) == 3 and top[0].text.startswith(expected["class_name"])
    choice = Select(page.find_element(By.CSS_SELECTOR, tid("fashion-model")))  # every image classifier, its own first
    assert [o.get_attribute("value") for o in choice.options] == ["digit", "fashion"]
    assert choice.first_selected_option.get_attribute("value") == "fashion"


@pytest.fixture(scope="module")
def repository_server(tmp_path_factory):
    """The committed models plus two imported with `dlserve import` from the course's files: `clothes`, a LeNet
    trained by the course's recipe, under classes named C0–C9, and `tang`, the course's PoetryRNN."""
    models = tmp_path_factory.mktemp("repository")
    for name in ("digit", "fashion", "house", "poem"):
        (models / name).symlink_to(ROOT / "models" / name)
    students = tmp_path_factory.mktemp("students")
    for argv in (lenet_import_args(train_lenet(students), models, "clothes", [f"C{i}" for i in range(10)]),
                 poem_import_args(train_poetry_rnn(students), models)):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    with serving(tmp_path_factory.mktemp("repository-server") / "server.log", MODEL_DIR=str(models)) as live:
        yield live


def test_the_clothing_panel_lists_every_image_classifier_and_uses_the_chosen_one(repository_server, browser, tmp_path):
    images, _ = read_image_csv(ROOT / "data" / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    path = tmp_path / "item.png"
    Image.fromarray(images[0]).save(path)
    browser.get("about:blank")
    browser.get(f"{repository_server.url}/#fashion")
    choice = wait_for(browser, f"{tid('fashion-model')} option[value='clothes']").find_element(By.XPATH, "..")
    assert {o.get_attribute("value") for o in choice.find_elements(By.TAG_NAME, "option")} == {
        "clothes",
        "digit",
        "fashion",
    }
    assert choice.is_displayed()
    Select(choice).select_by_value("clothes")
    before = answers(browser, "fashion")
    browser.find_element(By.CSS_SELECTOR, tid("fashion-file")).send_keys(str(path))
    settled(browser, "fashion", before)
    assert text_of(browser, "fashion-error") == ""
    upload = {"file": ("item.png", path.read_bytes(), "image/png")}
    expected = httpx.post(f"{repository_server.url}/predict/clothes", files=upload, timeout=30).json()
    assert expected["class_name"].startswith("C")  # the imported model's class names: it answered
    assert text_of(browser, "fashion-label") == expected["class_name"]


def test_the_poem_panel_writes_with_an_imported_model_as_free_verse(repository_server, browser):
    browser.get("about:blank")
    browser.get(f"{repository_server.url}/#poem")
    choice = wait_for(browser, f"{tid('poem-model')} option[value='tang']").find_element(By.XPATH, "..")
    Select(choice).select_by_value("tang")
    rhyme = Select(browser.find_element(By.CSS_SELECTOR, tid("poem-rhyme")))
    assert rhyme.first_selected_option.get_attribute("value") == "none"  # it has no rhyme tables
    assert not browser.find_element(By.CSS_SELECTOR, tid("poem-rhyme")).is_enabled()
    Select(browser.find_element(By.CSS_SELECTOR, tid("poem-form-kind"))).select_by_value("4x5")
    browser.find_element(By.CSS_SELECTOR, tid("poem-seed")).send_keys("5")
    submit_a_poem(browser)
    assert text_of(browser, "poem-error") == ""
    request = {"line_num": 4, "line_length": 5, "seed": 5, "rhyme": "none", "tones": "none"}
    expected = httpx.post(f"{repository_server.url}/generate/tang", json=request, timeout=60).json()
    assert text_of(browser, "poem-output") == expected["poem"].strip()
    Select(choice).select_by_value("poem")  # the committed model has its tables: rhymes are offered again
    assert browser.find_element(By.CSS_SELECTOR, tid("poem-rhyme")).is_enabled()


def upload_a_text_file_as_photo(driver, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a photo\n")
    open_tab(driver, "fashion")
    before = answers(driver, "fashion")
    driver.find_element(By.CSS_SELECTOR, tid("fashion-file")).send_keys(str(path))
    settled(driver, "fashion", before)


def test_a_text_file_as_photo_shows_the_services_message(page, tmp_path):
    upload_a_text_file_as_photo(page, tmp_path)
    assert text_of(page, "fashion-error").startswith("422 — not a recognised image format")


def form_values(driver) -> dict:
    """What the form holds, as the JSON the API takes (numbers as numbers), read field by field."""
    body = {}
    for field in HOUSE_FIELDS["main"] + HOUSE_FIELDS["other"]:
        value = driver.find_element(By.CSS_SELECTOR, tid(f"house-field-{field['name']}")).get_attribute("value")
        if value.strip():
            body[field["name"]] = value if field["kind"] == "text" else float(value) if "." in value else int(value)
    return body


def test_the_house_form_prices_what_it_shows(page, playground_server):
    open_tab(page, "house")
    area = page.find_element(By.CSS_SELECTOR, tid("house-field-GrLivArea"))
    area.clear()
    area.send_keys("2100")
    Select(page.find_element(By.CSS_SELECTOR, tid("house-field-Neighborhood"))).select_by_value("NoRidge")
    before = answers(page, "house")
    page.find_element(By.CSS_SELECTOR, tid("house-submit")).click()
    settled(page, "house", before)
    body = form_values(page)
    assert body["GrLivArea"] == 2100 and body["Neighborhood"] == "NoRidge"
    assert len(body) == len(HOUSE_FIELDS["main"])  # the leading fields are prefilled, the others empty
    expected = api(playground_server, "predict/house-price", json=body).json()["sale_price"]
    shown = page.find_element(By.CSS_SELECTOR, tid("house-price"))
    assert float(shown.get_attribute("data-value")) == expected
    assert shown.text == f"${expected:,.0f}"


def submit_a_negative_living_area(driver) -> None:
    open_tab(driver, "house")
    area = driver.find_element(By.CSS_SELECTOR, tid("house-field-GrLivArea"))
    area.clear()
    area.send_keys("-5")
    before = answers(driver, "house")
    driver.find_element(By.CSS_SELECTOR, tid("house-submit")).click()
    settled(driver, "house", before)


def test_a_bad_house_value_shows_the_services_message(page):
    submit_a_negative_living_area(page)
    assert "GrLivArea" in text_of(page, "house-error") and text_of(page, "house-error").startswith("422 — ")


def test_a_poem_streams_in(page):
    open_tab(page, "poem")
    page.find_element(By.CSS_SELECTOR, tid("poem-start")).send_keys("月")
    Select(page.find_element(By.CSS_SELECTOR, tid("poem-form-kind"))).select_by_value("8x7")
    page.find_element(By.CSS_SELECTOR, tid("poem-seed")).send_keys("7")
    # Record the text each time the page updates it: a stream shows partial poems before the whole one.
    page.execute_script(
        "window.poemLengths = [];"
        "const out = document.querySelector('[data-testid=\"poem-output\"]');"
        "new MutationObserver(() => window.poemLengths.push(out.textContent.length))"
        ".observe(out, {childList: true, characterData: true, subtree: true});"
    )
    before = answers(page, "poem")
    page.find_element(By.CSS_SELECTOR, tid("poem-submit")).click()
    settled(page, "poem", before)
    assert text_of(page, "poem-error") == ""
    lines = text_of(page, "poem-output").split("\n")
    assert len(lines) == 4 and all(len(line) == 16 for line in lines)  # 4 couplets of 7 + mark, 7 + mark
    assert lines[0].startswith("月")
    partial = [n for n in page.execute_script("return window.poemLengths") if 0 < n < 60]
    assert partial, "no partial poem was shown before the whole one"
    assert "seed 7" in text_of(page, "poem-meta")


def submit_a_poem(driver) -> None:
    before = answers(driver, "poem")
    driver.find_element(By.CSS_SELECTOR, tid("poem-submit")).click()
    settled(driver, "poem", before)


def ask_for_an_impossible_poem(driver) -> None:
    open_tab(driver, "poem")
    driver.find_element(By.CSS_SELECTOR, tid("poem-acrostic")).send_keys("春夏秋冬")
    Select(driver.find_element(By.CSS_SELECTOR, tid("poem-form-kind"))).select_by_value("4x5")
    Select(driver.find_element(By.CSS_SELECTOR, tid("poem-tones"))).select_by_value("strict")
    submit_a_poem(driver)


def test_an_impossible_poem_shows_why(page):
    ask_for_an_impossible_poem(page)
    assert text_of(page, "poem-error").startswith("422 — no standard strict tone pattern fits the given characters")


def test_a_missing_api_key_is_shown(playground_server, browser):
    browser.get("about:blank")
    browser.get(f"{playground_server.url}/#poem")
    wait_for(browser, f'{tid("house-panel")}[data-busy="false"]')
    submit_a_poem(browser)
    assert text_of(browser, "poem-error") == "401 — missing or wrong API key (send it in the X-API-Key header)"


def test_the_language_toggle_switches_every_label(page):
    page.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()
    try:
        assert page.find_element(By.ID, "tab-poem").text == "唐诗"
        open_tab(page, "house")
        caption = page.find_element(By.CSS_SELECTOR, 'label[data-field="GrLivArea"] .caption').text
        assert caption == "地上居住面积 (平方英尺)"
    finally:
        page.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()  # English again for the other tests
    assert page.find_element(By.ID, "tab-poem").text == "Tang poems"


def test_the_page_fits_a_phone(playground_server, browser):
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{playground_server.url}/")
        wait_for(browser, f'{tid("house-panel")}[data-busy="false"]')
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than a phone screen"
        canvas = browser.find_element(By.CSS_SELECTOR, tid("digit-canvas"))
        assert canvas.size["width"] <= 390
    finally:
        browser.set_window_size(1280, 1600)


@pytest.fixture
def page_zh(page):
    """The page in 中文 mode, its Chinese error texts loaded; English again afterwards for the other tests."""
    page.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()
    wait_for(page, 'html[lang="zh-CN"] body[data-error-texts="ready"]')
    yield page
    page.execute_script("localStorage.setItem('dlserve.language', 'en')")


def error_shown(driver, panel: str) -> tuple[str, str, str]:
    """The panel's error line: (its text, the service's English detail under it, the line's hover title)."""
    line = driver.find_element(By.CSS_SELECTOR, tid(f"{panel}-error"))
    originals = line.find_elements(By.CSS_SELECTOR, tid(f"{panel}-error-original"))
    message = line.find_element(By.CSS_SELECTOR, tid(f"{panel}-error-message")).text
    return message, originals[0].text if originals else "", line.get_attribute("title") or ""


def test_in_chinese_a_blank_canvas_says_so_in_chinese(page_zh):
    predict_a_blank_canvas(page_zh)
    message, original, title = error_shown(page_zh, "digit")
    assert message == "422 — 这张图片无法使用：它是空的、格式不受支持、已损坏，或者图中看不到数字或物品。"
    assert original == title == "the image contains no visible digit"


def test_in_chinese_a_text_file_as_photo_says_so_in_chinese(page_zh, tmp_path):
    upload_a_text_file_as_photo(page_zh, tmp_path)
    message, original, _ = error_shown(page_zh, "fashion")
    assert message.startswith("422 — 这张图片无法使用")
    assert original.startswith("not a recognised image format")


def test_in_chinese_a_bad_house_value_names_the_field_in_chinese(page_zh):
    submit_a_negative_living_area(page_zh)
    message, original, _ = error_shown(page_zh, "house")
    assert message == "422 — 请求的内容模型无法接受。地上居住面积（GrLivArea）：小于允许的最小值。"
    assert original.startswith("GrLivArea: ") and "greater than or equal to 0" in original


def test_in_chinese_an_impossible_poem_and_unknown_characters_are_explained(page_zh):
    ask_for_an_impossible_poem(page_zh)
    message, original, _ = error_shown(page_zh, "poem")
    assert message == "422 — 请求的内容模型无法接受。"
    assert original.startswith("no standard strict tone pattern fits the given characters")

    page_zh.find_element(By.CSS_SELECTOR, tid("poem-acrostic")).clear()
    page_zh.find_element(By.CSS_SELECTOR, tid("poem-start")).send_keys("月x")
    submit_a_poem(page_zh)
    message, original, _ = error_shown(page_zh, "poem")
    assert message == "422 — 请求的内容模型无法接受。模型不认识这些字：x。"
    assert original.startswith("characters not in the vocabulary: ['x']")


def test_in_chinese_a_missing_api_key_says_where_it_goes(playground_server, browser):
    browser.get("about:blank")
    browser.get(f"{playground_server.url}/#poem")
    browser.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()
    try:
        wait_for(browser, 'html[lang="zh-CN"] body[data-error-texts="ready"]')
        submit_a_poem(browser)
        message, original, _ = error_shown(browser, "poem")
        assert message == "401 — 缺少 API 密钥或密钥不正确：请在页面顶部的“API 密钥”里填写（请求头 X-API-Key）。"
        assert original == "missing or wrong API key (send it in the X-API-Key header)"
    finally:
        browser.execute_script("localStorage.setItem('dlserve.language', 'en')")


def test_an_error_shown_is_said_again_in_the_other_language(page):
    predict_a_blank_canvas(page)
    assert error_shown(page, "digit") == ("422 — the image contains no visible digit", "", "")
    page.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()
    try:
        wait_for(page, 'html[lang="zh-CN"]')
        assert error_shown(page, "digit")[0].startswith("422 — 这张图片无法使用")
    finally:
        page.find_element(By.CSS_SELECTOR, tid("language-toggle")).click()
    assert error_shown(page, "digit") == ("422 — the image contains no visible digit", "", "")


DESCRIBE = """
const done = arguments[arguments.length - 1];
import("./static/playground/errors.js").then((m) => done(m.describe(arguments[0])), (e) => done(String(e)));
"""


def test_in_chinese_an_unknown_code_shows_the_services_english_and_a_wait_is_counted(page_zh):
    error = {"status": 418, "detail": "a code from a newer server", "code": "brand_new", "errors": [],
             "unknownCharacters": [], "retryAfter": None}  # fmt: skip
    assert page_zh.execute_async_script(DESCRIBE, error) == {"text": f"418 — {error['detail']}", "original": None}
    busy = {**error, "status": 429, "detail": "this client already has 1 poems in progress",
            "code": "too_many_requests", "retryAfter": "2"}  # fmt: skip
    assert page_zh.execute_async_script(DESCRIBE, busy) == {
        "text": "429 — 你已有太多同类请求正在处理，请等其中一个完成后再试。（2 秒后可重试）",
        "original": "this client already has 1 poems in progress",
    }
