"""Pass two of a recognised export: each batch's columns turned into what the checker
(``import_check``) reads — the first address of the email columns, the stage its stage and
status values map to, the owner's username, the amount in the column's style, the tags
without the tool's system labels, a close date as the date of the closed stage — and the
rows that share an address grouped into one prospect (a deals export's deals; two rows
differing only in the address's case).

Work is done a column at a time and a distinct cell once (memo), so that recognition costs
little over the generic reader (benchmarks/bench_import.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from salescli.core.enums import StageKind
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline.crm_profiles import fold
from salescli.pipeline.import_plan import DATES, Plan, addresses_in, name_in
from salescli.pipeline.import_read import Rejection

DERIVED = -1  # the Validator's column index of a field this module computes
_MEMO_MAX = 50_000
_CODE = re.compile(r"^[A-Z]{3}$")
# staged row positions (import_check.STAGED)
_EMAIL, _STAGE, _VALUE, _CREATED, _ENTERED, _CURRENCY = 1, 5, 6, 10, 11, 13


def _first(cols: list[list[str]]) -> list[str]:
    """The first non-blank of several columns, row by row."""
    if len(cols) == 1:
        return cols[0]
    out = cols[0]
    for more in cols[1:]:
        out = [a if a.strip() else b for a, b in zip(out, more, strict=True)]
    return out


class Rows:
    """Turns batches of a recognised export into checked-ready columns; keeps what the
    import writes after the prospects (other addresses, deal notes)."""

    def __init__(self, plan: Plan, stage_info: dict[int, tuple[str, str, int]]):
        self.plan = plan
        self.info = stage_info  # stage id → (name, kind, position)
        fmt = plan.profile.format
        self.separator = fmt["tags_separator"] or ","
        self.drop = {fold(t) for t in fmt["tags_drop"]}
        self.cols: dict[str, int] = {}  # field → column or DERIVED, for the Validator
        self.parsers: dict[str, Callable[[str], str | None]] = {}  # date field → parser
        self.derive: list[tuple[str, Callable[[list[int], list[list[str]], dict], list]]] = []
        self.others: dict[int, list[str]] = {}  # row → other addresses (this batch)
        self.other_emails: dict[str, list[str]] = {}  # email → other addresses
        self.side: list[tuple] = []  # checked rows whose address may repeat
        self.deal_names: dict[int, str] = {}  # row → deal name, for rows set aside
        self.notes: list[tuple[str, str, str, str]] = []  # (email, at, subject, body)
        self.merged = 0  # people rows folded into an earlier one with the address
        self.deals = 0  # deals of a deals export kept as notes
        self._memo: dict[str, dict] = {}
        self._setup()

    # ----------------------------------------------------------------- set-up

    def _setup(self) -> None:
        plan = self.plan
        emails = plan.email_columns
        if len(emails) == 1 and not plan.by_field("other_emails") and plan.profile.rows \
                == "people":
            self.cols["email"] = emails[0]
            self._simple_email = True
        else:
            self.cols["email"] = DERIVED
            self._simple_email = False
            self.derive.append(("email", self._emails))
        for f in ("name", "first_name", "last_name", "company", "source", "notes",
                  "lost_reason"):
            self._plain(f)
        # no name column: the name an address cell may carry ("Name (addr)")
        self.named = self.cols["email"] == DERIVED and not any(
            f in self.cols for f in ("name", "first_name", "last_name"))
        if self.named:
            self.cols["name"] = DERIVED
        if plan.stage_columns():
            self.cols["stage"] = DERIVED
            self.derive.append(("stage", self._stage))
        if plan.by_field("owner"):
            self.cols["owner"] = DERIVED
            self.derive.append(("owner", self._owner))
        if plan.by_field("value") or plan.by_field("currency"):
            self.cols["value"] = self.cols["currency"] = DERIVED
            self.derive.append(("value", self._values))
        if plan.by_field("tags"):
            self.cols["tags"] = DERIVED
            self.derive.append(("tags", self._tags))
        dated = sorted({c.field for c in plan.columns
                        if c.field.endswith("_at") and c.field != "closed_at"})
        for f in dated:
            cols = plan.by_field(f)
            self._plain(f)
            self.parsers[f] = self._date(cols[0])
        closed_cols = plan.by_field("closed_at")
        if closed_cols:
            self.closing = [s for s in plan.closed if f"{s.casefold()}_at" not in dated]
            parser = self._date(closed_cols[0])
            for s in self.closing:
                self.cols[f"{s.casefold()}_at"] = DERIVED
                self.parsers[f"{s.casefold()}_at"] = parser
            self.derive.append(("closed", self._closed))

    def _plain(self, f: str) -> None:
        cols = self.plan.by_field(f)
        if len(cols) == 1:
            self.cols[f] = cols[0]
        elif cols:
            self.cols[f] = DERIVED
            self.derive.append((f, lambda numbers, rows, given, cols=cols: _first(
                [list(map(itemgetter(c), rows)) for c in cols])))

    def _date(self, col: int) -> Callable[[str], str | None]:
        fmt = self.plan.dates[self.plan.headers[col]]
        fast = getattr(fmt, "code", None) == "iso"  # pragma: no mutate - speed only

        def parse(text: str) -> str | None:
            if fast:  # the common ISO shapes, by the C parser the generic reader uses
                try:
                    dt = datetime.fromisoformat(text)
                    return iso(dt if dt.tzinfo else dt.replace(tzinfo=UTC))
                except (ValueError, OverflowError):
                    pass  # other ISO shapes (a space before the offset, …): import_values
            try:
                return fmt.parse(text)
            except (ValueError, OverflowError):
                raise InvalidValue(self.plan.headers[col], text,
                                   f"is not a date in the column's style ({fmt.style}); "
                                   "use --date-format") from None
        return parse

    # ----------------------------------------------------------------- per batch

    def memo(self, name: str) -> dict:
        """The cells of a column read so far → what they gave; started over past _MEMO_MAX
        entries (a column of ever new cells must not hold the whole file)."""
        memo = self._memo.setdefault(name, {})
        if len(memo) > _MEMO_MAX:
            memo.clear()
        return memo

    def batch(self, numbers: list[int], rows: list[list[str]]
              ) -> tuple[list[int], list[list[str]], dict[str, list], list[Rejection]]:
        """The batch's derived columns (field → values); rows a cell of which cannot be
        read (an amount in another style, a currency that is no code) are rejected."""
        given: dict[str, list] = {}
        bad: dict[int, Rejection] = {}
        self.others = {}
        for name, derive in self.derive:
            given[name] = derive(numbers, rows, given, bad) if name in ("value", "email") \
                else derive(numbers, rows, given)
        if self.plan.repeated and self.plan.profile.rows == "deals":
            deal = self.plan.by_field("deal")
            emails = given["email"]  # a deals export's addresses are always derived
            for number, email, row in zip(numbers, emails, rows, strict=True):
                if email.lower() in self.plan.repeated and deal:
                    self.deal_names[number] = row[deal[0]].strip()
        closed = given.pop("closed", None)
        if closed is not None:
            for s in self.closing:
                given[f"{s.casefold()}_at"] = closed[s]
        if bad:
            keep = [i for i in range(len(numbers)) if i not in bad]
            numbers = [numbers[i] for i in keep]
            rows = [rows[i] for i in keep]
            given = {f: [vals[i] for i in keep] for f, vals in given.items()}
        return numbers, rows, given, [bad[i] for i in sorted(bad)]

    def _emails(self, numbers: list[int], rows: list[list[str]], given: dict,
                bad: dict) -> list[str]:
        cols = self.plan.email_columns
        out = []
        names: list[str] = []
        for number, row in zip(numbers, rows, strict=True):
            found: list[str] = []
            name = ""
            for c in cols:
                if row[c]:
                    more = addresses_in(row[c])
                    if self.named and more and not found:
                        name = name_in(row[c])
                    found += more
            if self.named:
                names.append(name)
            if len(found) > 1:
                rest = [a for a in dict.fromkeys(found[1:]) if a != found[0]]
                if rest:
                    self.others[number] = rest
            out.append(found[0] if found else "")
        if self.named:
            given["name"] = names
        return out

    def _stage(self, numbers: list[int], rows: list[list[str]], given: dict) -> list[str]:
        plan = self.plan
        stage_cols, status_cols = plan.by_field("stage"), plan.by_field("status")
        memo = self.memo("stage")
        stage_vals = _first([list(map(itemgetter(c), rows)) for c in stage_cols]) \
            if stage_cols else [""] * len(rows)
        status_vals = _first([list(map(itemgetter(c), rows)) for c in status_cols]) \
            if status_cols else [""] * len(rows)
        out = []
        for pair in zip(stage_vals, status_vals, strict=True):
            name = memo.get(pair)
            if name is None:
                stage, status = (plan.stage_of(v) or "" for v in pair)
                # a won or lost status beats the stage the deal sat in
                name = memo[pair] = status if status in plan.closed else stage or status
            out.append(name)
        return out

    def _owner(self, numbers: list[int], rows: list[list[str]], given: dict) -> list[str]:
        memo = self.memo("owner")
        cols = self.plan.by_field("owner")
        values = _first([list(map(itemgetter(c), rows)) for c in cols])
        out = []
        for v in values:
            user = memo.get(v)  # pragma: no mutate - a memo: None only reads again
            if user is None:
                user = memo[v] = self.plan.owner_of(v.strip())
            out.append(user)
        return out

    def _values(self, numbers: list[int], rows: list[list[str]], given: dict,
                bad: dict) -> list[str]:
        plan = self.plan
        memo = self.memo("value")
        value_cols = plan.by_field("value")
        texts = _first([list(map(itemgetter(c), rows)) for c in value_cols]) \
            if value_cols else [""] * len(rows)
        fmt = plan.numbers[plan.headers[value_cols[0]]] if value_cols else None
        currency_cols = plan.by_field("currency")
        codes = _first([list(map(itemgetter(c), rows)) for c in currency_cols]) \
            if currency_cols else [""] * len(rows)
        values, currencies = [], []
        for i, (number, text, code) in enumerate(zip(numbers, texts, codes, strict=True)):
            parsed = memo.get(text)
            if parsed is None:
                try:
                    amount, symbol = fmt.parse(text) if fmt and text.strip() else (None, None)
                    parsed = (repr(amount) if amount is not None else "", symbol or "")
                except ValueError:
                    parsed = ValueError(f"is not an amount in the column's style "
                                        f"({fmt.style}); set numbers in the mapping")
                memo[text] = parsed
            if isinstance(parsed, ValueError):
                bad[i] = Rejection(number, "value", text, str(parsed))
                values.append("")
                currencies.append("")
                continue
            code = code.strip().upper()
            if code and not _CODE.match(code):
                bad.setdefault(i, Rejection(number, "currency", code,
                                            "is not a 3-letter ISO 4217 code"))
            values.append(parsed[0])
            currencies.append(code or parsed[1])
        given["currency"] = currencies
        return values

    def _tags(self, numbers: list[int], rows: list[list[str]], given: dict) -> list[str]:
        memo = self.memo("tags")
        values = _first([list(map(itemgetter(c), rows)) for c in self.plan.by_field("tags")])
        out = []
        for v in values:
            tags = memo.get(v)
            if tags is None:
                parts = [t.strip() for t in v.split(self.separator)]
                tags = memo[v] = json.dumps([t for t in dict.fromkeys(parts)
                                             if t and fold(t) not in self.drop]) \
                    if any(parts) else ""
                if tags == "[]":  # pragma: no mutate - "[]" also reads as no tags
                    tags = memo[v] = ""
            out.append(tags)
        return out

    def _closed(self, numbers: list[int], rows: list[list[str]], given: dict
                ) -> dict[str, list[str]]:
        """A close date becomes the date of the closed stage the row ends in."""
        texts = _first([list(map(itemgetter(c), rows)) for c in self.plan.by_field("closed_at")])
        stage = given.get("stage") or [""] * len(rows)
        out = {s: [""] * len(rows) for s in self.closing}
        for i, (text, name) in enumerate(zip(texts, stage, strict=True)):
            if text and name in out:
                out[name][i] = text
        return out

    # ----------------------------------------------------------------- after checking

    def set_aside(self, staged: list[tuple]) -> list[tuple]:
        """Note the other addresses of checked rows; keep back the rows whose address
        may come again (grouped at the end), return the others."""
        if self.others:
            for row in staged:
                more = self.others.get(row[0])
                if more:
                    self.other_emails.setdefault(row[_EMAIL], []).extend(more)
        repeated = self.plan.repeated
        if not repeated:
            return staged
        out = []
        for row in staged:
            (self.side if row[_EMAIL] in repeated else out).append(row)
        return out

    def grouped(self, ts: str) -> list[tuple]:
        """The rows kept back, one per address: people rows folded (later non-empty
        fields win), a deals export's most advanced open deal (else the latest closed
        one) with the other deals as notes."""
        groups: dict[str, list[tuple]] = {}
        for row in sorted(self.side):  # by row number (unique: the rest is never compared)
            groups.setdefault(row[_EMAIL], []).append(row)
        self.side = []
        out = []
        for email, rows in groups.items():
            if len(rows) == 1:
                out.append(rows[0])
            elif self.plan.profile.rows == "deals":
                out.append(self._best_deal(email, rows, ts))
            else:
                self.merged += len(rows) - 1
                row = rows[0]
                for later in rows[1:]:
                    row = row[:2] + tuple(b if b is not None else a
                                          for a, b in zip(row[2:], later[2:], strict=True))
                out.append(row)
        out.sort(key=itemgetter(0))
        return out

    def _best_deal(self, email: str, rows: list[tuple], ts: str) -> tuple:
        def rank(row: tuple) -> tuple:
            name, kind, position = self.info.get(row[_STAGE], ("", StageKind.OPEN, -1))
            is_open = kind == StageKind.OPEN
            when = row[_ENTERED] or row[_CREATED] or ""
            return (is_open, position if is_open else 0, when, row[0])

        best = max(rows, key=rank)
        filled = list(best)
        for other in rows:  # name, company, source, tags, notes from any deal
            for i in (2, 3, 7, 8, 9):
                if filled[i] is None and other[i] is not None:
                    filled[i] = other[i]
        for other in rows:
            if other is best:
                continue
            self.deals += 1
            name = self.deal_names.get(other[0]) or f"row {other[0]}"
            stage = self.info.get(other[_STAGE], ("none",))[0]
            value = "" if other[_VALUE] is None else \
                f", value {other[_VALUE]:g}" + (f" {other[_CURRENCY]}" if other[_CURRENCY]
                                                else "")
            created = f", created {other[_CREATED][:10]}" if other[_CREATED] else ""
            self.notes.append((email, other[_ENTERED] or other[_CREATED] or ts,
                               f"Deal: {name}", f"Deal {name!r} (import, row {other[0]}): "
                               f"stage {stage}{value}{created}"))
        return tuple(filled)


def stage_info(conn: Any) -> dict[int, tuple[str, str, int]]:
    """Stage id → (name, kind, position) of the live stages."""
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "SELECT id, name, kind, position FROM stages WHERE removed_at IS NULL")}


__all__ = ["DATES", "DERIVED", "Rows", "stage_info"]
