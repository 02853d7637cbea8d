"""Numbers and dates in the styles other tools export, decided from the whole column:
``salescli.pipeline.import_values``. A number or date is never read wrong silently: a
column either reads every cell as it was written or is an error naming a row."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline.import_values import (
    DateColumn,
    DateFormat,
    NumberColumn,
    NumberFormat,
    split_money,
)


def cfg(examples: int = 200) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def numbers(cells: list[str], style: str = "auto") -> NumberFormat:
    column = NumberColumn("value", style)
    for row, cell in enumerate(cells, 2):
        column.see(row, cell)
    return column.decide()


def dates(cells: list[str], style: str = "auto") -> DateFormat:
    column = DateColumn("created_at", style)
    for row, cell in enumerate(cells, 2):
        column.see(row, cell)
    return column.decide()


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("cells, style, expected", [
    # the German Excel re-save of the issue: 980,50 was 98050 and 12.500,00 was 12.5
    (["12.500,00", "980,50"], "eu", [12500.0, 980.5]),
    (["980,50", "12.500,00"], "eu", [980.5, 12500.0]),
    (["1,250.00", "980.50"], "us", [1250.0, 980.5]),
    (["1250.5", "12", ""], "plain", [1250.5, 12.0, None]),
    (["1,250", "2,500,000"], "us", [1250.0, 2500000.0]),
    (["1.250", "2.500.000"], "eu", [1250.0, 2500000.0]),
    (["1,250", "0.5"], "us", [1250.0, 0.5]),
    (["1.250", "0,5"], "eu", [1250.0, 0.5]),
    (["1.250", "1250.5"], "us", [1.25, 1250.5]),  # 1250.5 cannot be European
    (["1,250", ",5"], "eu", [1.25, 0.5]),
    (["1 250,50", "3\u00a0000", "4\u202f000,1"], "eu", [1250.5, 3000.0, 4000.1]),
    (["1'250.50", "7"], "plain", [1250.5, 7.0]),
    (["0,500"], "eu", [0.5]),  # a leading zero is no thousands group
    (["0.500"], "plain", [0.5]),
    (["1234", "1 234"], "plain", [1234.0, 1234.0]),
    (["abc", "980,50"], "eu", [None, 980.5]),  # a bad cell says nothing; parse rejects it
])
def test_the_style_is_decided_from_the_whole_column(cells, style, expected):
    fmt = numbers(cells)
    assert fmt.style == style
    got = []
    for cell in cells:
        try:
            got.append(fmt.parse(cell)[0])
        except ValueError:
            got.append(None)
    assert got == expected


@pytest.mark.parametrize("cell, number, currency", [
    ("USD 1,250.00", 1250.0, "USD"), ("1,250.00 USD", 1250.0, "USD"),
    ("$1,250.00", 1250.0, "USD"), ("1,250.00$", 1250.0, "USD"), ("US$ 5", 5.0, "USD"),
    ("£980.50", 980.5, "GBP"), ("¥1,000", 1000.0, "JPY"), ("CHF 1'250.50", 1250.5, "CHF"),
    ("A$ 3", 3.0, "AUD"), ("C$3", 3.0, "CAD"), ("₹ 12", 12.0, "INR"),
    ("-$5.25", -5.25, "USD"), ("$-5.25", -5.25, "USD"), ("(1,250.05)", -1250.05, None),
    ("\u22125", -5.0, None), ("  7  ", 7.0, None),
])
def test_us_amounts_with_currencies(cell, number, currency):
    assert NumberFormat("us").parse(cell) == (number, currency)


@pytest.mark.parametrize("cell, number, currency", [
    ("1.250,00 €", 1250.0, "EUR"), ("€980,50", 980.5, "EUR"), ("€ 980,50", 980.5, "EUR"),
    ("R$ 1.234,56", 1234.56, "BRL"), ("1.234,56 R$", 1234.56, "BRL"),
    ("EUR 12.500", 12500.0, "EUR"), ("12\u00a0500,00\u00a0€", 12500.0, "EUR"),
    ("1 234,5 zł", 1234.5, "PLN"), ("-1.250,00 €", -1250.0, "EUR"),
])
def test_european_amounts_with_currencies(cell, number, currency):
    assert NumberFormat("eu").parse(cell) == (number, currency)


@pytest.mark.parametrize("style, cell, why", [
    ("us", "12,50", "bad thousands groups"), ("us", "1250,000", "bad thousands groups"),
    ("us", "01,250", "bad thousands groups"), ("us", "1,250 000", "mixed separators"),
    ("us", "1 250'000", "mixed separators"), ("eu", "1.250,5x", "not an amount"),
    ("us", "1.2,5", "bad decimals"), ("plain", "1,250", "mixed separators"),
])
def test_why_an_amount_is_refused(style, cell, why):
    with pytest.raises(ValueError, match=why):
        NumberFormat(style).parse(cell)


def test_only_ascii_digits_are_digits():
    from salescli.pipeline.import_values import read_digits

    for body in ("1.\u0663", "\u0661,250", "1.\u00b2"):
        with pytest.raises(ValueError):
            read_digits(body, ".", ",")
    assert read_digits("1,250.5", ".", ",") == 1250.5


@pytest.mark.parametrize("style, cell", [
    ("us", "12,50"), ("us", "1,2345"), ("us", "1.2.3"), ("us", "abc"), ("us", "€"),
    ("us", "USD 5 EUR"), ("us", "$5$"), ("us", "--5"), ("us", "-(5)"), ("us", "0,500"),
    ("us", "1,250 000"), ("us", "1,250.5.0"), ("us", "12,3456.00"), ("us", "1,25,000"),
    ("us", "1.5e3"), ("us", "five"), ("us", "1,250.x"), ("us", "usd 5"), ("us", "5 -"),
    ("eu", "1,250.00"), ("eu", "1.25"), ("eu", "12.50,0"), ("eu", "1,2,3"),
    ("plain", "1,250"), ("plain", "1.250,00"), ("plain", "1.2.3"),
])
def test_what_is_no_amount_in_the_style_is_an_error(style, cell):
    with pytest.raises(ValueError):
        NumberFormat(style).parse(cell)


def test_blank_cells_are_empty():
    for style in ("us", "eu", "plain"):
        assert NumberFormat(style).parse("") == (None, None)
        assert NumberFormat(style).parse("  ") == (None, None)


@pytest.mark.parametrize("cells, row, value", [
    (["1,250", "2,500"], 2, "1,250"),
    (["1.250"], 2, "1.250"),
    (["", "7", "1,250", "1.250"], 4, "1,250"),
    (["€1.250", "1250"], 2, "€1.250"),
])
def test_a_column_that_reads_two_ways_is_an_error_naming_a_row(cells, row, value):
    with pytest.raises(InvalidValue) as err:
        numbers(cells)
    assert err.value.field == "value" and err.value.value == value
    assert f"in row {row} is ambiguous" in str(err.value)
    assert str(err.value).endswith('European; set numbers = "us" or "eu"')


def test_the_ambiguity_says_both_readings():
    with pytest.raises(InvalidValue) as err:
        numbers(["1,250"])
    assert "1250 in US style, 1.25 in European" in str(err.value)


@pytest.mark.parametrize("cells, row, other", [
    (["1,250.00", "1.250,00"], 3, 2),
    (["7", "980,50", "1,250.00"], 4, 3),
    (["1,250.00", "1.250", "980,50", "5.25"], 4, 2),
])
def test_a_column_mixing_styles_is_an_error_naming_both_rows(cells, row, other):
    with pytest.raises(InvalidValue) as err:
        numbers(cells)
    assert (err.value.field, err.value.value) == ("value", cells[row - 2])
    assert f"in row {row} is not in the style of row {other} ({cells[other - 2]!r})" \
        in str(err.value)
    assert str(err.value).endswith('one column mixes US (1,250.00) and European (1.250,00) '
                                   'numbers; set numbers = "us" or "eu"')


def test_numbers_from_a_workbook_are_numbers_and_say_nothing_of_the_style():
    assert NumberFormat("eu").parse(1250.5) == (1250.5, None)
    assert NumberFormat("us").parse(12) == (12.0, None)
    with pytest.raises(InvalidValue, match="ambiguous"):
        numbers([1250.5, "1,250"])
    assert numbers([1250.5, 3]).style == "plain"
    for cell in (True, None, [5]):
        with pytest.raises(ValueError, match="not an amount"):
            NumberFormat("us").parse(cell)  # a boolean is no number


def test_the_default_style_is_decided():
    column = NumberColumn("value")
    column.see(2, "980,50")
    assert column.decide().style == "eu"
    dates_ = DateColumn("created_at")
    dates_.see(2, "16/10/2025")
    assert dates_.decide().style == "eu D/M/YYYY"


def test_a_given_style_is_not_second_guessed():
    assert numbers(["1,250", "1.250,00"], "eu").parse("1.250")[0] == 1250.0
    assert numbers(["1,250", "1.250,00"], "us").parse("1.250")[0] == 1.25
    assert numbers(["1,250"], "us").style == "us"
    assert numbers(["1,250"], "plain").style == "plain"
    with pytest.raises(InvalidValue) as err:
        NumberColumn("value", "german")
    assert (err.value.field, err.value.value) == ("numbers", "german")
    assert str(err.value) == "numbers 'german' is not a number style (\"us\", \"eu\", \"plain\")"


def test_split_money_names_what_it_found():
    assert split_money(" -€1.250,00 ") == (True, "1.250,00", "EUR")
    assert split_money("1,250.00 USD") == (False, "1,250.00", "USD")
    assert split_money("12") == (False, "12", None)
    with pytest.raises(ValueError):
        split_money("(-5)")


AMOUNT = st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False)
GROUP = st.sampled_from(["", ",", " ", "\u00a0", "'"])  # "," means the style's own
CURRENCY = st.sampled_from(["", "$", "€", "£", "USD", "EUR", "R$", "CHF"])
SPACING = st.sampled_from(["", " ", "\u00a0"])


def written(amount, style: str, group: str, places: int) -> str:
    """``amount`` as a person would see it in ``style`` (us or eu)."""
    text = f"{amount:,.{places}f}"  # 1,250.00
    sep = ("," if style == "us" else ".") if group == "," else group
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", sep)
    return whole + ("." if style == "us" else ",") + fraction if places else whole


@cfg()
@given(amount=AMOUNT, style=st.sampled_from(["us", "eu"]), group=GROUP, cur=CURRENCY,
       spacing=SPACING, before=st.booleans(), negative=st.booleans())
def test_any_amount_written_with_separators_and_currency_reads_back(
        amount, style, group, cur, spacing, before, negative):
    text = written(amount, style, group, 2)
    if cur:
        text = cur + spacing + text if before else text + spacing + cur
    if negative:
        text = "-" + text
    fmt = numbers([text])
    assert fmt.style in (style, "plain")  # two decimals decide: 980,50 is European
    number, currency = fmt.parse(text)
    assert number == (-1 if negative else 1) * float(f"{amount:.2f}")
    assert currency == ({"$": "USD", "€": "EUR", "£": "GBP", "R$": "BRL"}.get(cur, cur) or None)


@cfg(300)
@given(amounts=st.lists(st.tuples(AMOUNT, st.sampled_from([0, 1, 2, 3])), min_size=1,
                        max_size=6),
       style=st.sampled_from(["us", "eu"]), group=GROUP)
def test_a_column_is_read_as_written_or_refused_never_misread(amounts, style, group):
    """Whatever the amounts, decimals and grouping of a column written in one style,
    deciding either refuses it (ambiguous) or reads every cell as it was meant."""
    cells = [written(a, style, group, places) for a, places in amounts]
    try:
        fmt = numbers(cells)
    except InvalidValue as exc:
        assert "ambiguous" in str(exc)
        return
    assert [fmt.parse(c)[0] for c in cells] == [float(f"{a:.{p}f}") for a, p in amounts]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("cell, expected", [
    ("2025-10-16", "2025-10-16T00:00:00Z"),
    ("2025-10-16T08:30:00Z", "2025-10-16T08:30:00Z"),
    ("2025-10-16T08:30:00.123Z", "2025-10-16T08:30:00Z"),
    ("2025-10-16T08:30:00.1234567+02:00", "2025-10-16T06:30:00Z"),
    ("2025-10-16T08:30:00-05:30", "2025-10-16T14:00:00Z"),
    ("2025-10-16T08:30:00+0100", "2025-10-16T07:30:00Z"),
    ("2025-10-16T23:30:00-01", "2025-10-17T00:30:00Z"),
    ("2025-10-16 08:30", "2025-10-16T08:30:00Z"),
    ("2025-10-16 08:30:59,5", "2025-10-16T08:30:59Z"),
    ("2025-10-16 08:30:00 +00:00", "2025-10-16T08:30:00Z"),
])
def test_iso_dates_in_every_style(cell, expected):
    assert dates([cell]).style == "iso"
    for style in ("auto", "iso", "us", "eu"):
        assert dates([cell], style).parse(cell) == expected


@pytest.mark.parametrize("cells, style, expected", [
    (["10/16/2025", "4/5/2025"], "us M/D/YYYY", ["2025-10-16T00:00:00Z", "2025-04-05T00:00:00Z"]),
    (["10/16/2025 1:05 PM", "4/5/2025 12:00 AM", "4/5/2025 12:30 pm"], "us M/D/YYYY h:mm AM",
     ["2025-10-16T13:05:00Z", "2025-04-05T00:00:00Z", "2025-04-05T12:30:00Z"]),
    (["10/16/2025 11:05:09 a.m."], "us M/D/YYYY h:mm AM", ["2025-10-16T11:05:09Z"]),
    (["10/16/2025 13:05"], "us M/D/YYYY HH:MM", ["2025-10-16T13:05:00Z"]),
    (["16/10/2025", "4/5/2025"], "eu D/M/YYYY", ["2025-10-16T00:00:00Z", "2025-05-04T00:00:00Z"]),
    (["4/5/2025 08:00", "31/12/2024 23:59"], "eu D/M/YYYY HH:MM",
     ["2025-05-04T08:00:00Z", "2024-12-31T23:59:00Z"]),
    (["05.04.2025 14:05", "5.4.2025"], "eu DD.MM.YYYY HH:MM",
     ["2025-04-05T14:05:00Z", "2025-04-05T00:00:00Z"]),
    (["5/5/2025", "2025-01-02"], "us M/D/YYYY",
     ["2025-05-05T00:00:00Z", "2025-01-02T00:00:00Z"]),  # both readings agree
    (["", "2025-01-02"], "iso", [None, "2025-01-02T00:00:00Z"]),
    (["16-10-2025", "1-2-2025"], "eu D/M/YYYY", ["2025-10-16T00:00:00Z", "2025-02-01T00:00:00Z"]),
    (["1/13/2025", "2/3/2025"], "us M/D/YYYY", ["2025-01-13T00:00:00Z", "2025-02-03T00:00:00Z"]),
    (["13/1/2025", "2/3/2025"], "eu D/M/YYYY", ["2025-01-13T00:00:00Z", "2025-03-02T00:00:00Z"]),
    # a cell that is no date in either order says nothing; parse rejects it
    (["13/13/2025", "1/1/2025"], "us M/D/YYYY", [None, "2025-01-01T00:00:00Z"]),
    (["13/14/2025", "1/1/2025"], "us M/D/YYYY", [None, "2025-01-01T00:00:00Z"]),
])
def test_the_date_style_is_decided_from_the_whole_column(cells, style, expected):
    fmt = dates(cells)
    assert fmt.style == style
    assert [safe(fmt, c) for c in cells] == expected


def safe(fmt: DateFormat, cell: str) -> str | None:
    try:
        return fmt.parse(cell)
    except ValueError:
        return None


@pytest.mark.parametrize("cells, row, value", [
    (["4/5/2025", "5/6/2025"], 2, "4/5/2025"),
    (["2025-01-01", "5/5/2025", "1/2/2025 10:00 AM"], 4, "1/2/2025 10:00 AM"),
    (["12/5/2025"], 2, "12/5/2025"),
    (["5/12/2025"], 2, "5/12/2025"),
])
def test_an_ambiguous_date_column_asks_for_date_format_naming_a_row(cells, row, value):
    with pytest.raises(InvalidValue) as err:
        dates(cells)
    assert err.value.field == "created_at" and err.value.value == value
    assert f"in row {row} is ambiguous (month/day or day/month?)" in str(err.value)
    assert str(err.value).endswith("use --date-format, e.g. %m/%d/%Y or %d/%m/%Y")


@pytest.mark.parametrize("cells, row, other", [
    (["10/16/2025", "16/10/2025"], 3, 2),
    (["16.10.2025", "1/2/2025", "10/16/2025"], 4, 2),
])
def test_a_column_with_both_orders_is_an_error_naming_both_rows(cells, row, other):
    with pytest.raises(InvalidValue) as err:
        dates(cells)
    assert (err.value.field, err.value.value) == ("created_at", cells[row - 2])
    assert f"in row {row} does not read the way row {other}" in str(err.value)
    assert str(err.value).endswith("(day and month swapped); use --date-format, e.g. %d/%m/%Y")


def test_a_given_date_style_wins():
    assert dates(["4/5/2025"], "us").parse("4/5/2025") == "2025-04-05T00:00:00Z"
    assert dates(["4/5/2025"], "eu").parse("4/5/2025") == "2025-05-04T00:00:00Z"
    fmt = dates(["16/10/2025"], "%m.%d.%Y %H:%M")
    assert fmt.style == "%m.%d.%Y %H:%M"
    assert fmt.parse("10.16.2025 14:05") == "2025-10-16T14:05:00Z"
    assert dates([], "%Y-%m-%d %H:%M %z").parse("2025-10-16 14:05 +0200") == \
        "2025-10-16T12:05:00Z"
    with pytest.raises(ValueError):
        fmt.parse("2025-10-16")  # strftime means exactly that format
    with pytest.raises(InvalidValue) as err:
        DateColumn("created_at", "german")
    assert (err.value.field, err.value.value) == ("dates", "german")
    assert str(err.value).endswith('is not a date style ("iso", "us", "eu" or strftime codes '
                                   'like %d.%m.%Y)')


def test_dates_from_a_workbook_are_those_moments():
    fmt = dates([datetime(2025, 1, 2), "16/10/2025"])
    assert fmt.style == "eu D/M/YYYY"
    assert fmt.parse(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"
    assert fmt.parse(datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == \
        "2025-01-02T01:04:05Z"
    assert DateFormat("%d.%m.%Y").parse(date(2025, 1, 2)) == "2025-01-02T00:00:00Z"


@pytest.mark.parametrize("style, cell", [
    ("us", "13/13/2025"), ("us", "16/10/2025"), ("us", "2/30/2025"), ("us", "10/16/25"),
    ("us", "10/16/2025 13:00 PM"), ("us", "10/16/2025 0:30 AM"), ("us", "10/16/2025 24:00"),
    ("us", "10/16/2025 10:60"), ("us", "16.10.2025"), ("us", "10.11.2025"), ("us", "yesterday"),
    ("iso", "10/11/2025"), ("eu", "10/11/2025 13:00 am"),
    ("eu", "10/16/2025"), ("eu", "16.13.2025"), ("eu", "16/10/2025 9"),
    ("iso", "10/16/2025"), ("iso", "2025-02-30"), ("iso", "2025-10-16T08:30:00+24:00"),
    ("iso", "2025-10-16T08:30:00+01:60"), ("iso", "2025-10-16T25:00"), ("iso", "2025-1-16"),
    ("iso", "9999-12-31T23:00:00-05:00"),
])
def test_what_is_no_date_in_the_style_is_an_error(style, cell):
    with pytest.raises(ValueError):
        DateFormat(style).parse(cell)


@pytest.mark.parametrize("style, cell, why", [
    ("iso", "2025-10-16T08:30:00+01:60", "bad offset"),
    ("iso", "9999-12-31T23:00:00-05:00", "out of range"), ("us", "yesterday", "not a date"),
    ("us", "10.11.2025", "a dotted date is day first"), ("us", "1/2/2025 0:30 AM", "bad hour"),
    ("iso", "10/11/2025", "not an ISO 8601 date"),
])
def test_why_a_date_is_refused(style, cell, why):
    with pytest.raises(ValueError, match=why):
        DateFormat(style).parse(cell)


def test_two_currencies_in_one_cell_are_no_amount():
    with pytest.raises(ValueError, match="not an amount: 'USD 5 EUR'"):
        split_money("USD 5 EUR")


MOMENT = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31))


@cfg()
@given(moment=MOMENT, offset=st.integers(-14 * 60, 14 * 60),
       fraction=st.integers(0, 999999), zulu=st.booleans())
def test_iso_times_with_offsets_read_back_as_utc(moment, offset, fraction, zulu):
    moment = moment.replace(microsecond=fraction)
    zone = UTC if zulu else timezone(timedelta(minutes=offset))
    text = moment.replace(tzinfo=zone).isoformat()
    if zulu:
        text = text.replace("+00:00", "Z")
    assert dates([text]).parse(text) == iso(moment.replace(tzinfo=zone))


def us(moment: datetime, seconds: bool) -> str:
    half = "AM" if moment.hour < 12 else "PM"
    clock = f"{(moment.hour - 1) % 12 + 1}:{moment.minute:02d}"
    return f"{moment.month}/{moment.day}/{moment.year} {clock}" + \
        (f":{moment.second:02d}" if seconds else "") + f" {half}"


def eu(moment: datetime, seconds: bool) -> str:
    return moment.strftime("%d.%m.") + f"{moment.year} {moment.hour:02d}:{moment.minute:02d}" \
        + (f":{moment.second:02d}" if seconds else "")


@cfg(300)
@given(moments=st.lists(MOMENT, min_size=1, max_size=6), style=st.sampled_from(["us", "eu"]),
       seconds=st.booleans(), slash=st.booleans())
def test_a_date_column_is_read_as_written_or_refused_never_swapped(moments, style, seconds,
                                                                   slash):
    moments = [m.replace(microsecond=0, second=m.second if seconds else 0) for m in moments]
    cells = [us(m, seconds) if style == "us" else eu(m, seconds) for m in moments]
    if style == "eu" and slash:
        cells = [c.replace(".", "/", 2) for c in cells]
    try:
        fmt = dates(cells)
    except InvalidValue as exc:
        assert "ambiguous" in str(exc)
        assert all(m.day <= 12 for m in moments)
        assert any(m.day != m.month for m in moments)
        return
    if style == "eu" and slash and all(m.day == m.month for m in moments):
        style = "us"  # 5/5/2025: both readings agree
    assert fmt.style.startswith(style)
    assert [fmt.parse(c) for c in cells] == [iso(m) for m in moments]
