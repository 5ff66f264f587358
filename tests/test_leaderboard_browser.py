"""Drive the built leaderboard page in headless Chromium (Debian's `chromium` + `chromedriver`,
through selenium; no browser is downloaded): sorting works, heatmaps load from disk, and a model
name made of HTML is shown as text, not executed.

Skipped only when chromium/chromedriver are not installed (`apt-get install chromium
chromium-driver`); CI installs them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from valueshift.leaderboards.build import build_leaderboard

from .test_leaderboard import EVIL, board_records, write_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian chromium/chromedriver not installed (apt-get install -y chromium chromium-driver)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver  # the `dev` extra; a missing install must fail, not skip
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lb")
    store = write_store(root / "results.jsonl", board_records())
    return build_leaderboard([store], root / "board", progress=False).out / "index.html"


def _column(driver, table_id: str, key: str) -> list[str]:
    """The data-sort values of one column, in displayed row order."""
    return driver.execute_script(
        """
        const table = document.getElementById(arguments[0]);
        const ths = Array.from(table.tHead.rows[0].cells);
        const idx = ths.findIndex((th) => th.dataset.key === arguments[1]);
        return Array.from(table.tBodies[0].rows).map((r) => r.cells[idx].dataset.sort);
        """,
        table_id,
        key,
    )


def test_page_sorts_loads_heatmaps_and_escapes_names(browser, page: Path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    assert "Value crosstalk leaderboard" in browser.title

    # sorting: first click on a higher-is-better metric puts the best on top, second reverses
    header = browser.find_element(By.CSS_SELECTOR, '#table-safety th[data-key="refusal_rate"] button')
    before = [float(v) for v in _column(browser, "table-safety", "refusal_rate")]
    assert before != sorted(before, reverse=True)  # the test would prove nothing otherwise
    header.click()
    after = [float(v) for v in _column(browser, "table-safety", "refusal_rate")]
    assert after == sorted(before, reverse=True)
    th = browser.find_element(By.CSS_SELECTOR, '#table-safety th[data-key="refusal_rate"]')
    assert th.get_attribute("aria-sort") == "descending"
    header.click()
    assert [float(v) for v in _column(browser, "table-safety", "refusal_rate")] == sorted(before)
    # rows move as a whole: the model column follows the sorted metric
    models = _column(browser, "table-safety", "model")
    assert models[-1] == EVIL  # highest refusal (0.70) last in ascending order
    # a lower-is-better metric sorts ascending on the first click
    browser.find_element(By.CSS_SELECTOR, '#table-side_effects th[data-key="sycophancy_rate"] button').click()
    syc = [float(v) for v in _column(browser, "table-side_effects", "sycophancy_rate")]
    assert syc == sorted(syc) and syc[0] == 0.20

    # heatmaps: every <img> decoded from disk
    images = browser.find_elements(By.CSS_SELECTOR, "img.heatmap")
    assert images
    for img in images:
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0

    # the HTML-looking model name is text: no injected element, no alert, the text is visible
    assert browser.find_elements(By.CSS_SELECTOR, 'img[src="x"]') == []
    cells = browser.find_elements(By.CSS_SELECTOR, "#table-safety td.model")
    assert EVIL in [c.text for c in cells]
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    # no CSP violation or load error reported by the page (our own script and styles are allowed)
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, json.dumps(errors, indent=1)
