"""A bad SALESCLI_CURRENCY is one Error: line naming the variable, and nothing is written."""

from __future__ import annotations

from tests.support.cli import fails, ok, scalar


def test_a_bad_default_currency_names_the_variable_and_writes_nothing(invoke, sales):
    fails(invoke("prospects", "add", "new@example.com", "--value", "5",
                 env={"SALESCLI_CURRENCY": "euro"}),
          "SALESCLI_CURRENCY 'euro'", "currency code")
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0
    ok(invoke("prospects", "add", "new@example.com", "--value", "5",
              env={"SALESCLI_CURRENCY": "eur"}))
    assert scalar(sales, "SELECT count(*) FROM prospects") == 1
