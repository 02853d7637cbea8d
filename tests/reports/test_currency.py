"""Reports with two currencies (issue 16): every sum of values is shown per currency, a
deal's value with its currency code; two currencies never make one figure."""

from __future__ import annotations

import re

import pytest

from tests.reports.helpers import PERIOD, assert_inert_html
from tests.support.cli import ok


@pytest.fixture
def mixed(invoke, pipeline_db):
    """Grace's 30,000 (lead, alice) is in EUR; a new USD 100 lead joins her stage."""
    ok(invoke("prospects", "update", "grace@navy.example", "--currency", "EUR"))
    ok(invoke("prospects", "add", "new@usd.example", "--value", "100", "--owner", "alice"))
    return pipeline_db


def test_text_report_totals_per_currency(invoke, mixed):
    out = ok(invoke("report", "weekly", "--format", "text", *PERIOD))
    lines = out.splitlines()
    open_line = next(x for x in lines if x.strip().startswith("Open pipeline"))
    assert open_line.endswith("value 30k EUR · 5,100 USD")
    won_line = next(x for x in lines if x.strip().startswith("Won "))
    assert won_line.endswith("value 12k USD")
    # the funnel: lead has a line per currency
    i = next(n for n, x in enumerate(lines) if x.strip().startswith("lead "))
    assert lines[i].split()[1:4] == ["2", "30k", "EUR"]
    assert lines[i + 1].split() == ["100", "USD"]
    # the owners table: alice's open value per currency
    j = next(n for n, x in enumerate(lines) if x.strip().startswith("alice "))
    assert lines[j].split()[2:4] == ["30k", "EUR"] and lines[j + 1].split() == ["5,100", "USD"]
    # a deal shows its own currency
    assert any(re.match(r"\s+30k EUR\s+Grace Hopper", x) for x in lines)
    assert "35,100" not in out and "35.1k" not in out


def test_html_and_markdown_reports_never_add_currencies(invoke, mixed):
    page = ok(invoke("report", "weekly", "--format", "html", *PERIOD))
    doc = assert_inert_html(page)
    assert "30k EUR · 5,100 USD in value" in doc.text
    assert "<title>lead: 2 (30k EUR · 100 USD)</title>" in page
    md = ok(invoke("report", "weekly", "--format", "md", *PERIOD))
    assert "| Open pipeline | 4 (30k EUR · 5,100 USD) |" in md
    assert "35.1k" not in page + md


def test_owner_report_per_currency(invoke, mixed):
    out = ok(invoke("report", "owner", "--owner", "alice", "--format", "text", *PERIOD))
    assert "value 30k EUR · 5,100 USD" in out
