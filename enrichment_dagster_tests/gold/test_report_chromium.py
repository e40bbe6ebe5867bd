"""The report as a person sees it: Debian's chromium renders every chart, logs no error.

The screenshot is kept as a test artifact (the pytest tmp dir and ``build/artifacts/``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from enrichment_dagster.cli import main
from enrichment_dagster_tests.gold.conftest import DAY, GoldRun

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.slow
def test_report_renders_every_chart_in_chromium(gold_run: GoldRun, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    first = (DAY - dt.timedelta(days=1)).isoformat()
    assert main(["report", "--from", first, "--to", DAY.isoformat(), "--out", str(out),
                 "--storage", str(gold_run.root)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1320, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri())
            charts = page.locator("figure svg")
            count = charts.count()
            assert count >= 6
            for i in range(count):
                chart = charts.nth(i)
                box = chart.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, i
                assert chart.locator("rect, circle, polyline").count() > 1, i
                title = chart.locator("text").first.text_content() or ""
                assert title.strip(), i
            titles = [charts.nth(i).locator("text").first.text_content() for i in range(count)]
            assert any("Skills demand" in t for t in titles)
            assert any("salary" in t.lower() for t in titles)
            assert any("Work model" in t for t in titles)
            assert any("Visa" in t for t in titles)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
    assert shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "gold-report.png")
