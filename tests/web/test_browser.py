"""End to end in a real browser: Playwright drives Debian's chromium against ``salescli
serve``: sign in, open the dashboard, charts render, hostile prospect names stay text."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.support.browser import chromium_page
from tests.web.conftest import PASSWORD, XSS_NAMES


@pytest.fixture
def browser_page():
    with chromium_page(1400, 1000) as page:
        yield page


def test_sign_in_dashboard_and_hostile_names(live_server, browser_page, tmp_path):
    url, _ = live_server
    page = browser_page
    page.goto(url + "sales/prospects")
    assert "/-/login" in page.url  # anonymous: sent to sign in
    page.fill("#username", "maria")
    page.fill("#password", "wrong password")
    page.click("input[type=submit]")
    assert page.locator(".message-error").inner_text().startswith("Sign-in failed")
    page.fill("#username", "maria")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(url + "sales/prospects")  # back where the browser wanted to go

    # The table page shows the names as text.
    cells = page.locator("td.col-name").all_inner_texts()
    assert set(XSS_NAMES) <= set(cells)

    page.goto(url + "-/dashboards/pipeline")
    # Charts render: vega draws a canvas (or svg) in each vega-lite card ...
    for chart in ["funnel", "per_stage", "weekly", "time_in_stage"]:
        page.wait_for_selector(f"#chart-{chart} canvas, #chart-{chart} svg", timeout=20000)
    # ... metric cards show numbers, and table cards show rows.
    page.wait_for_selector("#chart-open_prospects p", timeout=20000)
    assert page.locator("#chart-open_prospects p").inner_text().strip() == "3"
    page.wait_for_selector("#chart-stale td", timeout=20000)
    page.wait_for_selector("#chart-activity td", timeout=20000)
    stale_cells = page.locator("#chart-stale td").all_inner_texts()
    assert XSS_NAMES[1] in stale_cells
    activity_cells = page.locator("#chart-activity td").all_inner_texts()
    assert XSS_NAMES[0] in activity_cells
    assert page.locator("#chart-owners td").first.is_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # The hostile markup never became elements, and nothing fired.
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") > 0
    assert "alert(" not in page.evaluate(
        "[...document.querySelectorAll('script')].map(s => s.textContent).join(' ')")

    page.goto(url + "sales/pipeline_funnel")
    page.goto(url + "sales/prospects/1")
    assert XSS_NAMES[0] in page.content().replace("&lt;", "<").replace("&gt;", ">")
    assert page.locator("img[src=x]").count() == 0
    assert page.dialogs == []


def test_operator_cannot_open_the_dashboard(live_server, browser_page):
    url, _ = live_server
    page = browser_page
    page.goto(url + "-/login")
    page.fill("#username", "otto")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(url + "sales")
    response = page.goto(url + "-/dashboards/pipeline")
    assert response.status == 403
    response = page.goto(url + "sales/prospects.csv")
    assert response.status == 403


@pytest.mark.parametrize("next_param", ["/%09/evil.example", "/%0A/evil.example",
                                        "%09%2F%2Fevil.example", "/%09%5Cevil.example"])
def test_sign_in_never_sends_the_browser_to_another_site(live_server, browser_page,
                                                          next_param):
    """The open redirect as Chromium itself reads the Location header: it stays here."""
    url, _ = live_server
    page = browser_page
    page.goto(url + "-/login?next=" + next_param)
    page.fill("#username", "anna")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda u: "/-/login" not in u, timeout=15000)
    assert page.url == url + "-/dashboards/pipeline"
    assert {urllib.parse.urlsplit(r).hostname for r in page.requests} == {"127.0.0.1"}


def test_sign_in_follows_a_local_next(live_server, browser_page):
    url, _ = live_server
    page = browser_page
    page.goto(url + "-/login?next=/sales/prospects%3F_sort%3Dname")
    page.fill("#username", "anna")
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(url + "sales/prospects?_sort=name")
