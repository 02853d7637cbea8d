"""Currencies (issue 16): SALESCLI_CURRENCY, a prospect's own currency, and totals per
currency wherever a sum of values is shown — never one figure for two currencies."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.support.cli import fails, ok, query


@pytest.fixture
def two(invoke, sales):
    """USD (the default): ada 5000 lead, bob 1000 won. EUR: cy 300 lead, dee 200 won.
    eve: no value."""
    ok(invoke("prospects", "add", "ada@example.com", "--value", "5000", "--owner", "ana"))
    ok(invoke("prospects", "add", "bob@example.com", "--value", "1000", "--owner", "ana"))
    ok(invoke("prospects", "add", "cy@example.com", "--value", "300", "--currency", "eur",
              "--owner", "ana"))
    ok(invoke("prospects", "add", "dee@example.com", "--value", "200", "--currency", "EUR"))
    ok(invoke("prospects", "add", "eve@example.com"))
    ok(invoke("prospects", "move", "bob@example.com", "won", "--reason", "signed"))
    ok(invoke("prospects", "move", "dee@example.com", "won", "--reason", "signed"))
    return sales


def test_currency_is_kept_shown_and_exported(invoke, two):
    assert [r["currency"] for r in query(two, "SELECT currency FROM prospects ORDER BY id")] \
        == [None, None, "EUR", "EUR", None]
    shown = json.loads(ok(invoke("prospects", "show", "cy@example.com", "--format", "json")))
    assert (shown["value"], shown["currency"]) == (300, "EUR")
    table = ok(invoke("prospects", "list"))
    assert "currency" in table.splitlines()[0]
    cy = next(line for line in table.splitlines() if "cy@example.com" in line)
    assert "300.0" in cy.split() and "EUR" in cy.split()
    rows = list(csv.DictReader(io.StringIO(ok(invoke("prospects", "export")))))
    assert [r["currency"] for r in rows] == ["USD", "USD", "EUR", "EUR", "USD"]
    # the default follows SALESCLI_CURRENCY; a prospect's own one does not
    data = json.loads(ok(invoke("prospects", "list", "--format", "json",
                                env={"SALESCLI_CURRENCY": "gbp"})))
    assert [r["currency"] for r in data] == ["GBP", "GBP", "EUR", "EUR", "GBP"]


def test_update_currency_is_audited_and_blank_means_default(invoke, two):
    ok(invoke("prospects", "update", "ada@example.com", "--currency", "chf"))
    assert query(two, "SELECT currency FROM prospects WHERE id = 1")[0]["currency"] == "CHF"
    act = json.loads(query(two, "SELECT after FROM activities ORDER BY id DESC LIMIT 1"
                           )[0]["after"])
    assert act == {"currency": "CHF"}
    ok(invoke("prospects", "update", "ada@example.com", "--currency", ""))
    assert query(two, "SELECT currency FROM prospects WHERE id = 1")[0]["currency"] is None


@pytest.mark.parametrize("args", [
    ("prospects", "add", "x@example.com", "--currency", "euro"),
    ("prospects", "add", "x@example.com", "--currency", "E1R"),
    ("prospects", "update", "1", "--currency", "US"),
])
def test_bad_currency_is_one_line_naming_the_field(invoke, two, args):
    before = query(two, "SELECT * FROM prospects")
    out = fails(invoke(*args), "currency", "is not a currency code")
    assert len(out.strip().splitlines()) == 1
    assert query(two, "SELECT * FROM prospects") == before


@pytest.mark.parametrize("bad", ["euro", "US", "12A", "€"])
def test_bad_salescli_currency_is_one_line_naming_the_variable(invoke, two, bad):
    out = fails(invoke("prospects", "list", env={"SALESCLI_CURRENCY": bad}),
                f"SALESCLI_CURRENCY {bad!r} is not a currency code")
    assert out.strip().count("\n") == 0 and "Traceback" not in out
    fails(invoke("metrics", env={"SALESCLI_CURRENCY": bad}), "SALESCLI_CURRENCY")


def test_stages_list_totals_per_currency(invoke, two):
    rows = {r["name"]: r for r in json.loads(ok(invoke("stages", "list", "--format",
                                                       "json")))}
    assert rows["lead"]["values"] == {"EUR": 300, "USD": 5000}
    assert rows["lead"]["value"] is None  # never 5300
    assert rows["won"]["values"] == {"EUR": 200, "USD": 1000}
    assert rows["contacted"]["values"] == {} and rows["contacted"]["value"] == 0
    table = ok(invoke("stages", "list")).splitlines()
    i = next(n for n, line in enumerate(table) if line.split()[1:2] == ["lead"])
    assert table[i].split()[-2:] == ["300.00", "EUR"]
    assert table[i + 1].split() == ["5,000.00", "USD"]
    assert not any("5,300" in line for line in table)


def test_stages_list_with_one_currency_looks_as_before_plus_the_code(invoke, sales):
    ok(invoke("prospects", "add", "a@example.com", "--value", "1250.5"))
    ok(invoke("prospects", "add", "b@example.com", "--value", "10"))
    rows = {r["name"]: r for r in json.loads(ok(invoke("stages", "list", "--format",
                                                       "json")))}
    assert (rows["lead"]["value"], rows["lead"]["values"]) == (1260.5, {"USD": 1260.5})
    table = ok(invoke("stages", "list", env={"SALESCLI_CURRENCY": "EUR"})).splitlines()
    lead = next(line for line in table if line.split()[1:2] == ["lead"])
    assert lead.split()[-2:] == ["1,260.50", "EUR"]
    assert len(table) == 2 + 7  # header, rule, one line per stage


def test_metrics_totals_per_currency(invoke, two):
    data = json.loads(ok(invoke("metrics", "--format", "json")))
    k = data["kpis"]
    assert k["won_values"] == {"EUR": 200, "USD": 1000} and k["won_value"] is None
    assert k["open_values"] == {"EUR": 300, "USD": 5000} and k["open_value"] is None
    lead = next(r for r in data["funnel"] if r["stage"] == "lead")
    assert lead["values"] == {"EUR": 300, "USD": 5000} and lead["value"] is None
    out = ok(invoke("metrics")).splitlines()
    assert [line.split()[-2:] for line in out if line.startswith("won value")] == \
        [["200.00", "EUR"], ["1,000.00", "USD"]]
    assert [line.split()[-2:] for line in out if line.startswith("open pipeline value")] == \
        [["300.00", "EUR"], ["5,000.00", "USD"]]
    assert not any(s in line for line in out for s in ("1,200", "5,300"))
    # one owner: ana has USD 5000 + EUR 300 open, USD 1000 won
    k = json.loads(ok(invoke("metrics", "--owner", "ana", "--format", "json")))["kpis"]
    assert k["open_values"] == {"EUR": 300, "USD": 5000} and k["won_values"] == {"USD": 1000}
    assert k["won_value"] == 1000


def test_metrics_with_one_currency_keeps_single_figures(invoke, sales):
    ok(invoke("prospects", "add", "a@example.com", "--value", "700", "--currency", "JPY"))
    k = json.loads(ok(invoke("metrics", "--format", "json")))["kpis"]
    assert (k["open_value"], k["open_values"]) == (700, {"JPY": 700})
    out = ok(invoke("metrics")).splitlines()
    assert [line.split()[-2:] for line in out if line.startswith("open pipeline value")] == \
        [["700.00", "JPY"]]
