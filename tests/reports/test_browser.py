"""The HTML report in a real browser (Playwright drives Debian's chromium): the charts
draw, and no hostile name runs as script, in the file or in the mailed variant."""

from __future__ import annotations

import pytest
from salescli.reports import render

from salescli.core import db
from tests.reports.helpers import IMG, SCRIPT
from tests.support.browser import chromium_page


@pytest.fixture
def page():
    with chromium_page(1100, 900) as page:
        yield page


def test_report_draws_charts_and_runs_no_script(pipeline_db, db_file, tmp_path, page):
    conn = db.open_read(db_file)
    report = render.write_report(conn, "weekly", "html", tmp_path / "weekly.html",
                                    until="2024-05-12")
    mail = tmp_path / "mail.html"
    mail.write_text(render.render(conn, "weekly", "html", email=True, until="2024-05-12"))
    conn.close()

    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    bars = page.locator("svg rect")
    assert bars.count() >= 4 * 8 + 4  # four trend panels of eight weeks, funnel bars
    box = page.locator("svg").first.bounding_box()
    assert box and box["width"] > 500 and box["height"] > 150
    assert page.locator("script, img").count() == 0
    body = page.inner_text("body")
    assert SCRIPT in body and IMG in body
    page.screenshot(path=str(tmp_path / "weekly.png"), full_page=True)

    page.goto(mail.as_uri())
    page.wait_for_load_state("load")
    assert page.locator("svg").count() == 0
    assert page.locator("td[bgcolor]").count() >= 4  # CSS bars
    assert SCRIPT in page.inner_text("body")
    assert page.dialogs == []
    assert [u for u in page.requests if not u.startswith("file://")] == []  # self-contained
