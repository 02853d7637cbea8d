"""Check mapped import rows with the rules of ``prospects.add``, and turn history columns
(``created_at``, ``<stage>_at``, ``lost_reason``) into the stage changes they describe.

The step after the header mapping (``import_map``) and before writing (``importer``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from types import NoneType
from typing import Any

from salescli.core.enums import StageKind
from salescli.core.errors import InvalidValue
from salescli.core.timeutil import iso
from salescli.pipeline import stages
from salescli.pipeline.import_map import FIELDS, STAGE_AT
from salescli.pipeline.import_read import LongNumber, Rejection
from salescli.pipeline.prospects import normalise_email, parse_tags, parse_value

# A staged row: number, the FIELDS (stage as its id), then created_at, stage_entered_at, the
# history as JSON [[to_id, at], …] (see Validator.chain; None without history columns), the
# currency (None: the default) and the furthest position the history reached (-1: none).
STAGED = ("row", *FIELDS, "created", "entered", "history", "currency", "reached")
# The furthest position of a history that entered only lost stages: below the first
# position (0; stages.add and reorder number from there), like import_write's SQL.
NO_POSITION = -1  # pragma: no mutate (any number below 0 says the same)
_MEMO = ("stage", "value", "tags", "created_at")  # columns whose repeated cells are parsed once
_MEMO_MAX = 50_000  # cells remembered per column: memory stays bounded whatever the file


class Validator:
    """Checks rows a column at a time (a cell seen before in a stage, value, tags or date
    column is not parsed again), then the history of each row that has some."""

    def __init__(self, conn: sqlite3.Connection, cols: dict[str, int], text_only: bool,
                 idle: Callable[[], None] | None = None, *, date_format: str | None = None,
                 ts: str = "9999", parsers: dict[str, Callable[[str], str | None]] | None = None):
        self.conn, self.text_only, self.ts = conn, text_only, ts  # text_only: cells are str
        self.idle = idle  # called before the connection is used (it may be busy elsewhere)
        convert: dict[str, Callable] = {"email": normalise_email, "stage": self.stage,
                                        "value": _value, "tags": _tags}
        self.stages: dict[str, sqlite3.Row] = {}
        history = [f for f in cols if f == "created_at" or f.endswith(STAGE_AT)]
        if history or "lost_reason" in cols:
            self.stages = {s["name"].casefold(): s for s in conn.execute(
                "SELECT id, name, position, kind FROM stages WHERE removed_at IS NULL")}
            self.lost_ids = {s["id"] for s in self.stages.values()
                             if s["kind"] == StageKind.LOST}
            self.first = stages.first_stage(conn)["id"]
            # every stage's position, lost ones left out (NO_POSITION), for chain
            self.positions = {r[0]: NO_POSITION if r[2] == StageKind.LOST else r[1]
                              for r in conn.execute("SELECT id, position, kind FROM stages")}
        for f in history:  # a recognised export's date columns bring their own parser
            convert[f] = _date_parser(f, date_format, ts, (parsers or {}).get(f))
        # (field, column, converter or None for text, memo or None)
        self.plan = [(f, cols[f], convert.get(f), {None: None} if f in _MEMO or f in history
                      else None) for f in (*FIELDS, *history, "lost_reason", "currency")
                     if f in cols]
        self.dated = [f for f in history if f != "created_at"]
        self.history = bool(history) or "lost_reason" in cols
        self.parts = [] if "name" in cols else \
            [cols[f] for f in ("first_name", "last_name") if f in cols]

    def stage(self, value: Any) -> int | None:
        text = str(value).strip()
        if not text:
            return None
        if self.idle:
            self.idle()
        return stages.get_stage(self.conn, text)["id"]

    def check(self, numbers: list[int], rows: list[list], given: dict[str, list] | None = None
              ) -> tuple[list[tuple], list]:
        """Staged rows (see STAGED; None: not given) of the valid rows, and the rejections
        of the others. ``given``: field → cells computed by the caller (import_rows)."""
        if not rows:
            return [], []
        bad: dict[int, list[Rejection]] = {}  # index in rows → its rejections

        def attempt(i: int, field: str, convert: Callable | None, value: Any) -> Any:
            try:
                if convert is None:
                    return _text(field, value)
                return convert(value) if value is not None or field == "email" else None
            except InvalidValue as exc:
                missing = field == "email" and (value is None or not str(value).strip())
                bad.setdefault(i, []).append(Rejection(
                    numbers[i], exc.field, "" if missing else exc.value,
                    "is required" if missing else exc.reason))

        columns: dict[str, Any] = {}
        for field, col, convert, memo in self.plan:
            values = given[field] if given and field in given else list(map(itemgetter(col), rows))
            types = {str} if self.text_only else set(map(type, values))
            if convert is None and types == {str}:
                columns[field] = [v.strip() or None for v in values]
            elif field == "email" and types == {str}:
                try:  # the common case: no bad address, no per-cell try
                    columns[field] = [convert(v) for v in values]
                except InvalidValue:
                    columns[field] = [attempt(i, field, convert, v)
                                      for i, v in enumerate(values)]
            elif memo is not None and types <= {str, NoneType}:
                if len(memo) > _MEMO_MAX:  # a column of ever new cells (dates): start over
                    memo.clear()
                    memo[None] = None
                distinct = set(values)
                for v in distinct.difference(memo):
                    try:
                        memo[v] = convert(v)
                    except InvalidValue as exc:
                        memo[v] = exc
                out = list(map(memo.__getitem__, values))
                if any(memo[v].__class__ is InvalidValue for v in distinct):
                    out = [attempt(i, field, convert, v) if x.__class__ is InvalidValue else x
                           for i, (v, x) in enumerate(zip(values, out, strict=True))]
                columns[field] = out
            else:
                columns[field] = [attempt(i, field, convert, v) for i, v in enumerate(values)]
        if self.parts:
            parts = [[attempt(i, "name", None, v) for i, v in
                      enumerate(map(itemgetter(c), rows))] for c in self.parts]
            columns["name"] = [" ".join(p for p in names if p) or None
                               for names in zip(*parts, strict=True)]
        created = entered = history = reached = repeat(None)
        # (without history columns every row's history is empty: speed only)
        if self.history:  # pragma: no mutate
            created, entered, history, reached = self.histories(numbers, columns, bad)
        out = [numbers, *(columns.get(f, repeat(None)) for f in FIELDS), created, entered,
               history, columns.get("currency", repeat(None)), reached]
        staged = list(zip(*out, strict=False))
        if bad:
            staged = [row for i, row in enumerate(staged) if i not in bad]
        return staged, [r for i in sorted(bad) for r in bad[i]]

    def histories(self, numbers: list[int], columns: dict[str, Any],
                  bad: dict[int, list[Rejection]]) -> list[list]:
        """created_at, stage_entered_at, history JSON and furthest position reached of each
        row; rows whose dates contradict each other are rejected. Sets the stage column to
        where history ends."""
        n = len(numbers)
        created = columns.get("created_at") or [None] * n
        reasons = columns.get("lost_reason") or [None] * n
        stage_ids = columns.get("stage")
        if not isinstance(stage_ids, list):
            stage_ids = [None] * n
        # the stage columns in pipeline order: (values, stage id, closed?, field)
        dated = sorted(((columns[f], self.stages[f[:-len(STAGE_AT)]], f) for f in self.dated),
                       key=lambda d: (d[1]["position"], d[1]["id"]))
        dated = [(col, s["id"], s["kind"] != StageKind.OPEN, f) for col, s, f in dated]
        out_created, entered, history, reached = [None] * n, [None] * n, [None] * n, [None] * n
        chain = self.chain
        # each lost reason as JSON once a batch (json.dumps: ~1 µs a call), for chain
        self.texts = {r: json.dumps(r) for r in set(reasons) if r is not None}
        for i in range(n):
            if i in bad:
                continue
            when = [(at, sid, closed, f) for col, sid, closed, f in dated if (at := col[i])]
            if not when and created[i] is None and reasons[i] is None:
                continue
            try:
                history[i], out_created[i], entered[i], stage_ids[i], reached[i] = chain(
                    created[i], when, stage_ids[i], reasons[i])
            except InvalidValue as exc:
                bad.setdefault(i, []).append(Rejection(numbers[i], exc.field, exc.value,
                                                       exc.reason))
        columns["stage"] = stage_ids
        return [out_created, entered, history, reached]

    def chain(self, created: str | None, when: list[tuple], stage_id: int | None,
              reason: str | None) -> tuple[str, str, str, int, int]:
        """The stage changes a row's dates describe, as JSON [[to, at], …] (each change is
        from the stage the one before went to; the first is the creation; a lost reason
        is a third item of the change into the lost stage); when the prospect was created,
        entered its stage, that stage, and the highest position of a stage they entered,
        lost ones left out (NO_POSITION: none), which the funnel keeps when it is past that stage
        (core/funnel_schema.py): found here, off the import's connection.

        ``when``: (at, stage id, closed?, field) of the dated stages in pipeline order,
        which must also be the order of their dates."""
        if when:
            start = created or when[0][0]
            last = when[0][1] if when[0][0] == start else self.first
        else:
            start = created or self.ts
            last = stage_id or self.first
        # JSON written by hand: ids are ints, times ISO text (json.dumps was a third of the
        # cost of a history import)
        lost_ids, positions = self.lost_ids, self.positions
        lost = 0 if last in lost_ids else -1
        steps = [f'[{last},"{start}"]']
        reached = positions[last]
        at, closed, before = start, None, None
        for item in when:
            at, sid, is_closed, field = item
            if before is not None and at < before[0]:
                raise InvalidValue(field, at, f"is before {before[3]} {before[0]!r}"
                                              " (a later stage cannot be entered earlier)")
            if is_closed:
                if closed is not None:
                    raise InvalidValue(field, at, f"and {closed}: a prospect is closed once")
                closed = field
            before = item
            if sid != last:
                steps.append(f'[{sid},"{at}"]')
                if sid in lost_ids:
                    lost = len(steps) - 1
                reached = max(reached, positions[sid])
                last = sid
        if created is not None and when and when[0][0] < created:
            raise InvalidValue(when[0][3], when[0][0], f"is before created_at {created!r}")
        if stage_id is not None and stage_id != last:
            at = max(self.ts, at)
            steps.append(f'[{stage_id},"{at}"]')
            if stage_id in lost_ids:
                lost = len(steps) - 1
            reached = max(reached, positions[stage_id])
            last = stage_id
        if reason is not None:
            if lost < 0:
                raise InvalidValue("lost_reason", reason, "needs a lost stage (a lost_at date"
                                                          " or a lost stage)")
            steps[lost] = steps[lost][:-1] + "," + self.texts[reason] + "]"
        return "[" + ",".join(steps) + "]", start, at, last, reached


def _date_parser(field: str, fmt: str | None, ts: str,
                 style: Callable[[str], str | None] | None = None
                 ) -> Callable[[Any], str | None]:
    """Text → ISO-8601 UTC (naive times are UTC), by ``fmt`` (strftime codes) or ISO 8601,
    or by ``style`` (a recognised export's column style: text → ISO text, InvalidValue)."""
    expected = f"in the format {fmt!r}" if fmt else "(use YYYY-MM-DD or ISO 8601, or " \
                                                    "--date-format)"

    def parse(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidValue(field, value, "must be a date written as text")
        text = value.strip()
        if not text:
            return None
        if style is not None and not fmt:
            out = style(text)
            if out is not None and out > ts:
                raise InvalidValue(field, value, "is in the future")
            if out is not None and out < "1900":
                raise InvalidValue(field, value, "is before 1900")
            return out
        try:
            dt = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            if dt.year < 1900:
                raise InvalidValue(field, value, "is before 1900")
            out = iso(dt)
        except (ValueError, OverflowError):
            raise InvalidValue(field, value, f"is not a date {expected}") from None
        if out > ts:
            raise InvalidValue(field, value, "is in the future")
        return out

    return parse


def _value(value: Any) -> float | None:
    if isinstance(value, LongNumber):
        raise InvalidValue("value", value, "has too many digits")
    if isinstance(value, bool):
        raise InvalidValue("value", value, "is not a number")
    return parse_value(value)


def _tags(value: Any) -> str | None:
    """Tags as the JSON text stored, None when there are none."""
    if not isinstance(value, str | list):
        raise InvalidValue("tags", value, "must be a list of tags or a comma list")
    if isinstance(value, list) and not all(isinstance(t, str | int | float) and
                                           not isinstance(t, bool) for t in value):
        raise InvalidValue("tags", value, "must be a list of tags (text)")
    tags = parse_tags(value)
    return json.dumps(tags) if tags else None


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidValue(name, value, "must be text")
    return str(value).strip() or None
