"""`make screenshots`: the README's pictures of the playground, taken in headless Chromium from the real server.

Each panel is used once the way a person would (a real MNIST digit drawn as strokes, a real
Fashion-MNIST image uploaded, the house form submitted, a poem streamed) and photographed on its own
into docs/playground-<panel>.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.chromium import start_offline_chromium, wait_for
from tests.browser.test_playground import answers, draw, settled, tid
from tests.deploy.live_server import ROOT, serving
from training.data.images import read_image_csv

OUT = ROOT / "docs"
WIDTH = 900


def shoot(driver, panel: str) -> Path:
    path = OUT / f"playground-{panel}.png"
    driver.find_element(By.ID, f"panel-{panel}").screenshot(str(path))
    with Image.open(path) as image:  # small enough to commit: a palette PNG at most WIDTH wide
        image = image.convert("RGB")
        if image.width > WIDTH:
            image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
        image.quantize(colors=128).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KiB")
    return path


def use_every_panel(driver, url: str, scratch: Path) -> None:
    digits, _ = read_image_csv(ROOT / "data" / "digit-recognizer" / "test.csv", require_label=True)
    clothes, _ = read_image_csv(ROOT / "data" / "fashion-mnist" / "fashion-mnist_test.csv", require_label=True)
    driver.set_window_size(1000, 1400)
    driver.get(f"{url}/")
    wait_for(driver, f'{tid("house-panel")}[data-busy="false"]')

    draw(driver, digits[0])
    settled(driver, "digit")
    driver.find_element(By.CSS_SELECTOR, tid("digit-saliency")).click()
    shoot(driver, "digit")

    driver.find_element(By.ID, "tab-fashion").click()
    photo = scratch / "boot.png"
    Image.fromarray(255 - clothes[0]).resize((168, 168), Image.Resampling.LANCZOS).save(photo)
    before = answers(driver, "fashion")
    driver.find_element(By.CSS_SELECTOR, tid("fashion-file")).send_keys(str(photo))
    settled(driver, "fashion", before)
    driver.find_element(By.CSS_SELECTOR, tid("fashion-saliency")).click()
    shoot(driver, "fashion")

    driver.find_element(By.ID, "tab-house").click()
    before = answers(driver, "house")
    driver.find_element(By.CSS_SELECTOR, tid("house-submit")).click()
    settled(driver, "house", before)
    shoot(driver, "house")

    driver.find_element(By.ID, "tab-poem").click()
    driver.find_element(By.CSS_SELECTOR, tid("poem-start")).send_keys("春")
    Select(driver.find_element(By.CSS_SELECTOR, tid("poem-form-kind"))).select_by_value("8x7")
    driver.find_element(By.CSS_SELECTOR, tid("poem-seed")).send_keys("3")
    before = answers(driver, "poem")
    driver.find_element(By.CSS_SELECTOR, tid("poem-submit")).click()
    settled(driver, "poem", before)
    shoot(driver, "poem")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, serving(Path(scratch) / "server.log") as server:
        driver = start_offline_chromium()
        try:
            use_every_panel(driver, server.url, Path(scratch))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
