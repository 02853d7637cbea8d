"""Numbers and dates as other tools export them, read in the style of the whole column.

A column is seen whole first (``NumberColumn.see``/``DateColumn.see``, constant memory),
then its style is decided (``decide``) and every cell is read by that one style
(``NumberFormat.parse``/``DateFormat.parse``). ``980,50`` and ``12.500,00`` in one column
are European; ``1,250.00`` is US; a column of only ``1,250`` (1250 or 1.25?) stays
ambiguous and is an error naming a row, never a guess. Dates likewise: ``4/16/2025`` is
month first, ``16/4/2025`` day first, a column of only ``4/5/2025`` is an error.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso

# --------------------------------------------------------------------------- numbers

# Symbols → ISO 4217 codes. ``$`` alone is read as USD (the plan prints the currency, and
# a currency column, where the export has one, wins).
SYMBOLS = {
    "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "R$": "BRL",
    "C$": "CAD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD", "HK$": "HKD",
    "S$": "SGD", "MX$": "MXN", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY",
    "₪": "ILS", "₱": "PHP", "฿": "THB", "₫": "VND", "zł": "PLN", "Kč": "CZK",
    "Fr.": "CHF",
}
_SYMBOL = "|".join(re.escape(s) for s in sorted(SYMBOLS, key=len, reverse=True))
_SPACE = "[ \u00a0\u202f]*"


def _currency(n: int) -> str:
    return rf"(?:(?P<code{n}>[A-Z]{{3}})|(?P<sym{n}>{_SYMBOL}))"


_MONEY = re.compile(
    rf"^(?P<neg1>[-\u2212])?{_SPACE}(?:{_currency(1)}{_SPACE})?(?P<neg2>[-\u2212])?{_SPACE}"
    rf"(?P<body>[0-9][0-9.,' \u00a0\u202f]*[0-9]|[0-9]|[.,][0-9]+)"
    rf"(?:{_SPACE}{_currency(2)})?$")
GROUPS = " \u00a0\u202f'"  # thousands separators every style accepts
_DIGITS = re.compile("[0-9]+")
STYLES = {"us": (".", ","), "eu": (",", "."), "plain": (".", "")}  # decimal, thousands


def split_money(text: str) -> tuple[bool, str, str | None]:
    """``-€1.250,00`` → (negative, ``1.250,00``, ``EUR``); ValueError if it is no amount."""
    raw = text.strip()
    accounting = raw[:1] == "(" and raw[-1:] == ")"  # pragma: no mutate ("(5" fails either way)
    match = _MONEY.match(raw[1:-1].strip() if accounting else raw)
    if not match:
        raise ValueError(f"not an amount: {text!r}")
    g = match.groupdict()
    if (g["code1"] or g["sym1"]) and (g["code2"] or g["sym2"]) or g["neg1"] and g["neg2"] \
            or accounting and (g["neg1"] or g["neg2"]):
        raise ValueError(f"not an amount: {text!r}")
    code = g["code1"] or g["code2"]
    symbol = g["sym1"] or g["sym2"]
    currency = code or (SYMBOLS[symbol] if symbol else None)
    return bool(accounting or g["neg1"] or g["neg2"]), g["body"], currency


def read_digits(body: str, decimal: str, thousands: str) -> float:
    """Digits with one ``decimal`` mark and groups of three split by ``thousands`` (or a
    space, NBSP or ``'``) → float; anything else is a ValueError."""
    whole, mark, fraction = body.partition(decimal)
    if mark and not _DIGITS.fullmatch(fraction):
        raise ValueError(f"bad decimals in {body!r}")
    used = {c for c in whole if c not in "0123456789"}  # pragma: no mutate (body is [0-9.,' ])
    if used:
        sep = used.pop()
        if used or sep not in GROUPS and sep != thousands:
            raise ValueError(f"mixed separators in {body!r}")
        first, *rest = whole.split(sep)
        if not 1 <= len(first) <= 3 or first[0] == "0" or any(len(g) != 3 for g in rest):
            raise ValueError(f"bad thousands groups in {body!r}")
        whole = first + "".join(rest)
    return float(f"{whole or '0'}.{fraction or '0'}")


def _reading(body: str, style: str) -> float | None:
    try:
        return read_digits(body, *STYLES[style])
    except ValueError:
        return None


class NumberFormat:
    """One style for a whole column: ``us`` (1,250.00), ``eu`` (1.250,00) or ``plain``
    (1250.00); spaces, NBSP and ``'`` group thousands in all three."""

    def __init__(self, style: str):
        if style not in STYLES:
            raise InvalidValue("numbers", style, 'is not a number style ("us", "eu", "plain")')
        self.style = style

    def parse(self, text: str | float) -> tuple[float | None, str | None]:
        """A cell → (number, ISO currency or None); blank → (None, None); ValueError when
        the cell is no amount in this style. A number (a workbook's cell) is that number."""
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise ValueError(f"not an amount: {text!r}")
        if not isinstance(text, str):
            return float(text), None
        if not text.strip():
            return None, None
        negative, body, currency = split_money(text)
        number = read_digits(body, *STYLES[self.style])
        return (-number if negative else number), currency


class NumberColumn:
    """Decides a value column's number style from all of its cells."""

    def __init__(self, field: str, style: str = "auto"):
        if style != "auto":
            NumberFormat(style)  # checked now, not after a pass over the file
        self.field, self.style = field, style
        self.us: tuple[int, str] | None = None  # pragma: no mutate (first cell only US reads)
        self.eu: tuple[int, str] | None = None  # pragma: no mutate (only European reads)
        self.ambiguous: tuple[int, str] | None = None  # first cell both read, differently
        self.comma = False  # pragma: no mutate (a cell read as US has a comma)

    def see(self, row: int, text: str | float) -> None:
        """Note what one cell says about the style (cells that are no amount are left to
        ``parse``, which rejects their row; numbers say nothing)."""
        if self.style != "auto" or not isinstance(text, str):
            return
        try:
            body = split_money(text)[1]
        except ValueError:
            return
        us, eu = _reading(body, "us"), _reading(body, "eu")
        if us is not None and eu is not None:
            if us != eu and self.ambiguous is None:
                self.ambiguous = (row, text)
        elif us is not None:
            self.us = self.us or (row, text)
            self.comma = self.comma or "," in body
        elif eu is not None:
            self.eu = self.eu or (row, text)

    def decide(self) -> NumberFormat:
        """The style of the column; InvalidValue naming a row when the cells disagree or
        could be read two ways."""
        if self.style != "auto":
            return NumberFormat(self.style)
        if self.us and self.eu:
            (row, text), (other, was) = max(self.us, self.eu), min(self.us, self.eu)
            raise InvalidValue(self.field, text, f"in row {row} is not in the style of row "
                               f"{other} ({was!r}): one column mixes US (1,250.00) and "
                               'European (1.250,00) numbers; set numbers = "us" or "eu"')
        if self.eu:
            return NumberFormat("eu")
        if self.us:
            return NumberFormat("us" if self.comma or self.ambiguous else "plain")
        if self.ambiguous:
            row, text = self.ambiguous
            body = split_money(text)[1]
            raise InvalidValue(self.field, text, f"in row {row} is ambiguous: "
                               f"{read_digits(body, *STYLES['us']):g} in US style, "
                               f"{read_digits(body, *STYLES['eu']):g} in European; "
                               'set numbers = "us" or "eu"')
        return NumberFormat("plain")


# --------------------------------------------------------------------------- dates

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                  r" ?(?:Z|(?P<sign>[+-])(?P<hh>\d{2})(?::?(?P<mm>\d{2}))?)?)?$")
_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4})"
                  r"(?:,? +(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
                  r"(?: *(?P<half>[AaPp])\.?[Mm]\.?)?)?$")
DATE_STYLES = ("iso", "us", "eu")


def _iso(text: str) -> str | None:
    """An ISO 8601 date or time (fractional seconds, ``Z`` or offset) → ISO UTC, None if
    the text is not in that shape; ValueError if it is but names no real moment."""
    m = _ISO.match(text)
    if not m:
        return None
    minutes = int(m["hh"] or 0) * 60 + int(m["mm"] or 0)
    if int(m["mm"] or 0) > 59:  # pragma: no mutate (no minutes: 0 or 1, both fine)
        raise ValueError(f"bad offset in {text!r}")
    tz = timezone(timedelta(minutes=-minutes if m["sign"] == "-" else minutes))
    dt = datetime(*(int(g or 0) for g in m.groups()[:6]), tzinfo=tz)  # type: ignore[misc]
    try:
        return iso(dt)
    except OverflowError:  # an offset that moves the time out of years 1-9999
        raise ValueError(f"out of range: {text!r}") from None


def _local(text: str, month_first: bool) -> str:
    """``M/D/YYYY [h:mm[:ss] [AM]]`` (or day first; ``DD.MM.YYYY HH:MM``) → ISO UTC."""
    m = _DMY.match(text)
    if not m:
        raise ValueError(f"not a date: {text!r}")
    if m["sep"] == "." and month_first:
        raise ValueError(f"a dotted date is day first: {text!r}")
    month, day = (m["a"], m["b"]) if month_first else (m["b"], m["a"])
    hour = int(m["hour"] or 0)
    if m["half"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"bad hour in {text!r}")
        hour = hour % 12 + (12 if m["half"].lower() == "p" else 0)
    return iso(datetime(int(m["year"]), int(month), int(day), hour, int(m["minute"] or 0),
                        int(m["second"] or 0)))


class DateFormat:
    """One style for a whole date column: ``iso``, ``us`` (month first), ``eu`` (day
    first) or a strftime format; ISO 8601 cells are read in every style but strftime."""

    def __init__(self, style: str, shape: str = ""):
        if style not in DATE_STYLES and "%" not in style:
            raise InvalidValue("dates", style, 'is not a date style ("iso", "us", "eu" or '
                                               "strftime codes like %d.%m.%Y)")
        self.code = style
        self.style = f"{style} {shape}".strip()  # what the plan prints

    def parse(self, text: str | date) -> str | None:
        """A cell → ``YYYY-MM-DDTHH:MM:SSZ`` (naive times are UTC); blank → None;
        ValueError when it is no date in this style. A date or datetime is that moment."""
        if isinstance(text, datetime):
            return iso(text)
        if isinstance(text, date):
            return f"{text.isoformat()}T00:00:00Z"
        text = text.strip()
        if not text:
            return None
        if "%" in self.code:
            return iso(datetime.strptime(text, self.code))  # naive: iso() reads it as UTC
        found = _iso(text)
        if found is not None:
            return found
        if self.code == "iso":
            raise ValueError(f"not an ISO 8601 date: {text!r}")
        return _local(text, self.code == "us")


class DateColumn:
    """Decides a date column's style from all of its cells: a first part over 12 means
    day first, a second part over 12 month first, dots (``16.10.2025``) day first."""

    def __init__(self, field: str, style: str = "auto"):
        if style != "auto":
            DateFormat(style)
        self.field, self.style = field, style
        self.us: tuple[int, str] | None = None  # pragma: no mutate (None, "": not seen)
        self.eu: tuple[int, str] | None = None  # pragma: no mutate (None, "": not seen)
        self.ambiguous: tuple[int, str] | None = None
        self.local = False  # pragma: no mutate (None alike) a cell is not ISO 8601
        self.dotted = self.timed = self.half = False  # pragma: no mutate (None alike)

    def see(self, row: int, text: str | date) -> None:
        """Note what one cell says about the style (bad cells are left to ``parse``; ISO
        dates and a workbook's dates say nothing)."""
        if self.style != "auto" or not isinstance(text, str):
            return
        m = _DMY.match(text.strip())
        if not m:
            return
        self.local = True
        a, sep, b = int(m["a"]), m["sep"], int(m["b"])
        self.dotted = self.dotted or sep == "."
        self.timed = self.timed or m["hour"] is not None
        self.half = self.half or m["half"] is not None
        if sep == "." or a > 12 >= b:
            self.eu = self.eu or (row, text)
        elif b > 12 >= a:
            self.us = self.us or (row, text)
        elif a <= 12 and a != b and self.ambiguous is None:  # here b <= 12 too
            self.ambiguous = (row, text)

    def decide(self) -> DateFormat:
        """The style of the column; InvalidValue naming a row when its cells disagree or
        could be read two ways."""
        if self.style != "auto":
            return DateFormat(self.style)
        if self.us and self.eu:
            (row, text), (other, was) = max(self.us, self.eu), min(self.us, self.eu)
            raise InvalidValue(self.field, text, f"in row {row} does not read the way row "
                               f"{other} ({was!r}) does (day and month swapped); use "
                               "--date-format, e.g. %d/%m/%Y")
        if self.eu:
            day = "DD.MM.YYYY" if self.dotted else "D/M/YYYY"
            return DateFormat("eu", day + (" HH:MM" if self.timed else ""))
        if self.us:
            clock = " h:mm AM" if self.half else " HH:MM" if self.timed else ""
            return DateFormat("us", "M/D/YYYY" + clock)
        if self.ambiguous:
            row, text = self.ambiguous
            raise InvalidValue(self.field, text, f"in row {row} is ambiguous (month/day or "
                               "day/month?); use --date-format, e.g. %m/%d/%Y or %d/%m/%Y")
        if self.local:  # only days like 5/5/2025: both readings agree
            return DateFormat("us", "M/D/YYYY")
        return DateFormat("iso")
