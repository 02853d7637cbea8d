"""Forecast behaviour ``./dev mutants`` found unchecked: a deal edited after the as-of day
is forecast with the owner and value it had then, and the exact --as-of error line."""

from __future__ import annotations

from datetime import date

from salescli.forecast import outlook
from salescli.pipeline import prospects
from tests.forecast.conftest import AS_OF
from tests.support.cli import fails


def run(conn, **kw):
    return outlook.forecast(conn, as_of=AS_OF, horizon="30d", today=date(2026, 1, 1), **kw)


def test_an_edit_after_the_as_of_day_does_not_rewrite_the_past(small):
    conn, ids = small
    before = run(conn, by="owner")
    prospects.update(conn, "bo", ids["d@x.example"], {"owner": "bo", "value": 9000})
    after = run(conn, by="owner")
    assert after["rows"] == before["rows"]
    [d] = [p for p in after["prospects"] if p["email"] == "d@x.example"]
    assert (d["owner"], d["value"]) == ("ana", 2000)


def test_an_as_of_that_is_no_date_is_one_exact_error(small, invoke):
    assert fails(invoke("forecast", "--as-of", "31/03/2025")) == \
        "Error: --as-of '31/03/2025' is not a date (use YYYY-MM-DD)"
