"""The report in a real browser: Debian's chromium, headless, driven by Playwright.

Skipped when Playwright or chromium is missing, unless FUNNELKIT_REQUIRE_BROWSER=1 (set by
.ci/run, which installs both): then a missing browser fails the test.  Screenshots are kept in
FUNNELKIT_ARTEFACTS (default: the test's temporary folder).
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from funnelkit.cli import main, render_report

if TYPE_CHECKING:
    from funnelkit.analytics import FunnelLog

pytestmark = pytest.mark.browser
REQUIRED = os.environ.get("FUNNELKIT_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("FUNNELKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing(why: str) -> None:
    if REQUIRED:
        pytest.fail(f"{why}, and FUNNELKIT_REQUIRE_BROWSER=1 requires the browser test")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Any:
    try:
        sync_api = importlib.import_module("playwright.sync_api")
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("FUNNELKIT_ARTEFACTS") or tmp_path_factory.mktemp("artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_in_browser(browser: Any, html: Path, shot: Path) -> dict[str, Any]:
    """Open *html*; no console error, the funnel chart's bars visible and sized; a screenshot."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html.as_uri(), wait_until="load")
    bars = page.locator("svg.funnel-chart rect.bar")
    assert bars.count() >= 2
    boxes = [bars.nth(i).bounding_box() for i in range(bars.count())]
    assert all(box is not None and box["width"] > 0 and box["height"] > 0 for box in boxes)
    assert bars.first.is_visible()
    page.screenshot(path=str(shot), full_page=True)
    page.emulate_media(media="print")  # printable: the chart survives the print style sheet
    assert page.locator("svg.funnel-chart rect.bar").first.is_visible()
    assert page.locator("nav").is_hidden()
    page.close()
    assert errors == [], errors
    assert requests == [html.as_uri()], f"the report fetched more than itself: {requests}"
    return {"bars": len(boxes)}


def test_simulated_report_in_chromium(browser: Any, simulated_db: Path, tmp_path: Path, artefacts: Path) -> None:
    """The report of a simulated store loads cleanly, with the funnel's bars drawn."""
    out = tmp_path / "report.html"
    assert main(["-q", "report", "--db", str(simulated_db), "--funnel", "inbound", "-o", str(out)]) == 0
    shot = artefacts / "report-simulated.png"
    check_in_browser(browser, out, shot)
    assert shot.stat().st_size > 10_000


@pytest.mark.olist
def test_olist_report_in_chromium(browser: Any, olist_log: FunnelLog, tmp_path: Path, artefacts: Path) -> None:
    """The Olist report loads cleanly too."""
    out = tmp_path / "olist.html"
    out.write_text(render_report(olist_log, title="Olist"), encoding="utf-8")
    shot = artefacts / "report-olist.png"
    check_in_browser(browser, out, shot)
    assert shot.stat().st_size > 10_000
