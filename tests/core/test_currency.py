"""salescli.core.currency: checking a code, the default, totals per currency, money text."""

from __future__ import annotations

import pytest

from salescli.core import currency
from salescli.core.errors import InvalidValue


@pytest.mark.parametrize("value, code", [("usd", "USD"), (" Eur ", "EUR"), ("JPY", "JPY")])
def test_parse_currency_accepts_three_letters(value, code):
    assert currency.parse_currency(value) == code


@pytest.mark.parametrize("value", [None, "", "US", "EURO", "U$D", "12A", "€"])
def test_parse_currency_names_the_field_and_the_value(value):
    with pytest.raises(InvalidValue) as err:
        currency.parse_currency(value)
    assert str(err.value) == (f"currency {value!r} is not a currency code (three letters, "
                              "e.g. USD, EUR)")
    with pytest.raises(InvalidValue, match="^--currency "):
        currency.parse_currency(value, "--currency")


def test_default_currency(monkeypatch):
    assert currency.default_currency() == "USD"
    monkeypatch.setenv("SALESCLI_CURRENCY", " chf ")
    assert currency.default_currency() == "CHF"
    monkeypatch.setenv("SALESCLI_CURRENCY", "")
    assert currency.default_currency() == "USD"
    monkeypatch.setenv("SALESCLI_CURRENCY", "swiss")
    with pytest.raises(InvalidValue, match="^SALESCLI_CURRENCY 'swiss' is not a currency code"):
        currency.default_currency()


def test_totals_per_currency(monkeypatch):
    monkeypatch.setenv("SALESCLI_CURRENCY", "GBP")
    pairs = [("USD", 1.004), (None, 2), ("EUR", None), ("USD", 2.001), ("EUR", 5)]
    assert currency.totals(pairs) == {"EUR": 5, "GBP": 2, "USD": 3.0}
    assert list(currency.totals(pairs)) == ["EUR", "GBP", "USD"]  # by code
    assert currency.totals(pairs, default="JPY") == {"EUR": 5, "JPY": 2, "USD": 3.0}
    assert currency.totals([("USD", 0.125), ("USD", 1.111)]) == {"USD": 1.24}
    assert currency.totals([]) == {}


def test_money():
    assert currency.money(1234.5, "EUR") == "1,234.50 EUR"
    assert currency.money(0, "") == "0.00"
    assert currency.money(None, "EUR") == "-"
