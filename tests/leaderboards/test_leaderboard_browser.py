"""Drive the built leaderboard page in headless Chromium (Debian's `chromium` + `chromedriver`,
through selenium; no browser is downloaded): sorting works, heatmaps load from disk, a model
name made of HTML is shown as text, not executed, and at 1280 and 1920 px wide the model names
of the 16-column value-expression table stay readable (issue 14 item 7), the page does not
overflow sideways, and the contrast picker switches heatmap and effects table.

Skipped only when chromium/chromedriver are not installed (`make browser`, or `apt-get install
chromium chromium-driver`); CI installs them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from valueshift.leaderboards.build import build_leaderboard

from .test_leaderboard import EVIL, board_records, make_record, write_store
from .test_leaderboard_effects import seeded_records

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian chromium/chromedriver not installed: run `make browser` "
    "(apt-get install -y chromium chromium-driver)",
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


@pytest.fixture(scope="module")
def wide_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds, a control, a collapsed prompt arm, and all 16 value-expression columns."""
    from valueshift.harness.taxonomy import load_taxonomy

    names = [f"expr_{n.replace('-', '_')}" for n in load_taxonomy().names]
    records = []
    for r in seeded_records(collapsed_prompt_arm=True):
        if r["task"]["name"] == "vs_value_expression":
            m = r["model"]
            metrics = {n: 0.1 + 0.05 * (i % 7) for i, n in enumerate(names)}
            records.append(
                make_record(
                    m["id"] + " with a longer descriptive name",
                    "vs_value_expression",
                    metrics,
                    arm=m["arm"],
                    induced_value=m["induced_value"],
                )
            )
        records.append(r)
    root = tmp_path_factory.mktemp("wide")
    store = write_store(root / "results.jsonl", records)
    return build_leaderboard([store], root / "board", progress=False).out / "index.html"


@pytest.mark.parametrize("width", [1280, 1920])
def test_page_is_readable_at_common_widths(browser, wide_page: Path, width: int):
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 1000)
    browser.get(wide_page.as_uri())
    inner = browser.execute_script("return window.innerWidth")
    # wide tables scroll inside their own box; the page itself never overflows sideways
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
    # model names are not squeezed to a few characters a line (at most two lines, >= 12 rem wide)
    rem = browser.execute_script("return parseFloat(getComputedStyle(document.documentElement).fontSize)")
    cells = browser.find_elements(By.CSS_SELECTOR, "#table-value_expression td.model")
    assert len(cells) >= 8
    for cell in cells:
        box = browser.execute_script(
            """const r = document.createRange(); r.selectNodeContents(arguments[0].querySelector('a, span'));
            return {lines: new Set(Array.from(r.getClientRects()).map((x) => Math.round(x.top))).size,
                    width: arguments[0].getBoundingClientRect().width};""",
            cell,
        )
        assert box["width"] >= 12 * rem and box["lines"] <= 2, (cell.text, box)
    # the collapse flag is visible, and the default contrast is value - control
    flags = [f for f in browser.find_elements(By.CSS_SELECTOR, ".flag.collapsed") if f.is_displayed()]
    assert flags
    visible = [v for v in browser.find_elements(By.CSS_SELECTOR, "div.view") if v.is_displayed()]
    assert [v.get_attribute("data-view") for v in visible] == ["value-control"]
    img = visible[0].find_element(By.CSS_SELECTOR, "img.heatmap")
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    assert img.size["width"] <= inner
    # switching the contrast shows that contrast's heatmap and table, and only it
    browser.find_element(By.CSS_SELECTOR, 'input[type=radio][value="vs-base"]').click()
    visible = [v for v in browser.find_elements(By.CSS_SELECTOR, "div.view") if v.is_displayed()]
    assert [v.get_attribute("data-view") for v in visible] == ["vs-base"]
    assert "every arm − its base model" in visible[0].text
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, json.dumps(errors, indent=1)
