"""The plan of a recognised export (or of ``--mapping FILE``): which column feeds which
field, which stage and status value becomes which stage, which owner which user, and the
number and date styles — decided by a first pass over the file, printed by ``--dry-run``,
saved by ``--write-mapping`` in the profile format, applied by the import's second pass
(``import_rows``).

The first pass reads only the columns the plan needs; unmapped stage values and unknown
owners are one error each listing every value with its count and the flag that fixes it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from salescli.core.enums import StageKind
from salescli.core.errors import InvalidValue, SalescliError
from salescli.pipeline import owners as owner_users
from salescli.pipeline.crm_profiles import FIELDS, Profile, check_stages, fold
from salescli.pipeline.import_map import key
from salescli.pipeline.import_read import Rejection

DATES = ("created_at", "closed_at")  # and every `<stage>_at`
_LISTED = 20  # rows listed one by one in the plan
_BLOOM_BITS = 1 << 26  # 8 MiB: ~0.1% false "maybe" at a million addresses (set aside, then alone)
_ODD = re.compile(r"[\s;,<(\[\"']")  # an address cell that is more than an address
_NAMED = re.compile(r"^\s*\"?([^\"<(]*?)\"?\s*[<(]")  # the name in "Name <addr>"
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


def name_in(cell: str) -> str:
    """The person's name in an address cell written "Name (addr)" or "Name <addr>"."""
    m = _NAMED.match(cell)
    return m.group(1).strip() if m and "@" not in m.group(1) else ""


def addresses_in(cell: str) -> list[str]:
    """The addresses of an email cell, lower-cased: one, several joined by ; or , or in a
    JSON list, or written "Name (addr)" / "Name <addr>" as some tools export a contact."""
    text = cell.strip()
    if not text:
        return []
    if not _ODD.search(text):
        return [text.lower().removeprefix("mailto:")]
    found = [a.lower().removeprefix("mailto:") for a in _ADDRESS.findall(text)]
    if not found and not text.strip("[]\"' "):
        return []  # an empty JSON list
    return list(dict.fromkeys(found)) or [text.lower()]


class EmailFilter:
    """A bit filter over addresses: "no" is certain, "maybe" may be wrong, so whoever asks
    checks a maybe another way (a set of a million addresses would take ~150 MB). Two bits
    an address. Used by both passes of an import."""

    def __init__(self, bits: int = _BLOOM_BITS):
        self.bits = bytearray(bits // 8)
        self.mask = bits - 1
        self.shift = bits.bit_length() - 1

    def add(self, emails: list[str]) -> list[int]:
        """Remember ``emails``; the positions of those that may have been seen before."""
        bits, mask, shift = self.bits, self.mask, self.shift
        maybe = []
        for i, h in enumerate(map(hash, emails)):
            a, b = h & mask, (h >> shift) & mask
            # (which bits stand for an address is speed only: a clash is a false "maybe")
            ba, ma, bb, mb = a >> 3, 1 << (a & 7), b >> 3, 1 << (b & 7)  # pragma: no mutate
            x, y = bits[ba], bits[bb]
            if x & ma and y & mb:
                maybe.append(i)
            else:
                bits[ba] = x | ma
                bits[bb] = y | mb
        return maybe


@dataclass
class Column:
    """One column of the file: its header, the field it feeds ("" none) and why not."""

    index: int
    header: str
    field: str
    why: str = ""


class PlanIncomplete(SalescliError):
    """Stage values without a stage or owners without a user: nothing was written."""

    def __init__(self, plan: Plan, message: str):
        self.plan = plan
        super().__init__(message)


@dataclass
class Plan:
    """What a recognised export's import will do, decided before anything is written."""

    profile: Profile
    file: str
    headers: list[str]
    columns: list[Column] = field(default_factory=list)
    stage_names: dict[str, str] = field(default_factory=dict)  # folded name → name
    closed: dict[str, str] = field(default_factory=dict)  # closed stage name → its kind
    stage_map: dict[str, str] = field(default_factory=dict)  # value as in the file → stage
    stage_counts: Counter = field(default_factory=Counter)
    owner_map: dict[str, str | None] = field(default_factory=dict)
    owner_counts: Counter = field(default_factory=Counter)
    explicit_owners: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)  # header → NumberFormat
    dates: dict[str, Any] = field(default_factory=dict)  # header → DateFormat
    encoding: str = "utf-8"
    delimiter: str | None = None
    rows: int = 0
    no_address: list[int] = field(default_factory=list)
    no_address_count: int = 0
    repeated: set[str] = field(default_factory=set)  # addresses that may be on several rows
    created_owners: dict[str, str] = field(default_factory=dict)
    label: str = ""  # what the file was taken for, for the first line of the output

    # ----------------------------------------------------------------- the columns

    def by_field(self, name: str) -> list[int]:
        """Positions of the columns feeding ``name``, in header order."""
        return [c.index for c in self.columns if c.field == name]

    @property
    def email_columns(self) -> list[int]:
        """Email columns: those mapped to email first, then the other addresses."""
        return self.by_field("email") + self.by_field("other_emails")

    def stage_columns(self) -> list[int]:
        return self.by_field("stage") + self.by_field("status")

    # ----------------------------------------------------------------- stages and owners

    def stage_of(self, value: str) -> str | None:
        """The stage a stage or status value maps to ("" none), None when unmapped."""
        text = value.strip()
        if not text:
            return ""
        if fold(text) in self.stage_map:
            return self.stage_map[fold(text)]
        stage = self.profile.stage_for(text)
        if stage is None:  # a stage's own name needs no entry
            stage = self.stage_names.get(fold(text))
        return stage

    def unmapped_stages(self) -> list[tuple[str, int]]:
        return [(v, n) for v, n in self.stage_counts.most_common() if self.stage_of(v) is None]

    def unknown_owners(self) -> list[tuple[str, int]]:
        return [(o, n) for o, n in self.owner_counts.most_common()
                if self.owner_map.get(o) is None and o not in self.created_owners]

    def owner_of(self, value: str) -> str:
        """The username an owner value maps to ("" for none), case and accents ignored."""
        if self.created_owners.get(value) or self.owner_map.get(value):
            return self.created_owners.get(value) or self.owner_map[value]
        folded = self.__dict__.get("_owner_folds")
        if folded is None or len(folded) != len(self.owner_map) + len(self.created_owners):
            folded = self.__dict__["_owner_folds"] = {
                fold(k): v for k, v in (*self.owner_map.items(), *self.created_owners.items())}
        return folded.get(fold(value)) or ""

    def complete(self, create_owners: bool) -> None:
        """PlanIncomplete (one line) listing unmapped stage values and unknown owners."""
        parts = []
        stages_left = self.unmapped_stages()
        if stages_left:
            many = len(stages_left) != 1
            parts.append(f"{len(stages_left)} stage value{'s'[:many]} in {self.file} "
                         f"{'have' if many else 'has'} no stage: " + ", ".join(
                             f"{v!r} ({_rows(n)}: --stage-map {_arg(v, 'STAGE')})"
                             for v, n in stages_left)
                         + " (stages: " + ", ".join(self.stage_names.values()) + ")")
        owners_left = [] if create_owners else self.unknown_owners()
        if owners_left:
            many = len(owners_left) != 1
            parts.append(f"{len(owners_left)} owner{'s'[:many]} in {self.file} "
                         f"{'are' if many else 'is'} no user: " + ", ".join(
                             f"{o!r} ({_rows(n)}: --owner-map {_arg(o, 'USER')})"
                             for o, n in owners_left) + "; or --create-owners to create them")
        if parts:
            raise PlanIncomplete(self, "; ".join(parts))

    # ----------------------------------------------------------------- output

    def render(self, rejected: list[Rejection] | None = None, rejected_rows: int = 0) -> str:
        """The plan for people (``--dry-run``)."""
        out = [f"file: {self.file} ({_rows(self.rows)}; encoding {self.encoding}"
               + (f", delimiter {self.delimiter!r}" if self.delimiter else "")
               + f"; one row per {'deal' if self.profile.rows == 'deals' else 'person'})",
               "columns:"]
        for c in self.columns:
            out.append(f"  {c.header} → {c.field}" if c.field else
                       f"  {c.header} → ignored ({c.why})")
        if self.stage_counts:
            heads = ", ".join(self.headers[i] for i in self.stage_columns())
            out.append(f"stages ({heads}):")
            for value, n in sorted(self.stage_counts.items(), key=lambda vn: -vn[1]):
                stage = self.stage_of(value)
                target = (f"no stage: map it with --stage-map {_arg(value, 'STAGE')}"
                          if stage is None else stage or "no stage (the other column decides)")
                out.append(f"  {value} → {target} ({_rows(n)})")
        if self.owner_counts:
            heads = ", ".join(self.headers[i] for i in self.by_field("owner"))
            out.append(f"owners ({heads}):")
            for owner, n in sorted(self.owner_counts.items(), key=lambda vn: -vn[1]):
                user = self.owner_of(owner)
                target = (f"{user} (created)" if owner in self.created_owners else user) or \
                    f"no user: --owner-map {_arg(owner, 'USER')} or --create-owners"
                out.append(f"  {owner} → {target} ({_rows(n)})")
        for what, formats in (("numbers", self.numbers), ("dates", self.dates)):
            if formats:
                out.append(f"{what}: " + "; ".join(f"{h} {f.style}" for h, f in formats.items()))
        if self.no_address_count or rejected_rows:
            total = max(rejected_rows, self.no_address_count)
            out.append(f"rows to reject: {total}")
            shown = rejected if rejected else [
                Rejection(r, "email", "", "is required (no address in any email column)")
                for r in self.no_address]
            out += [f"  {r}" for r in shown[:_LISTED]]
            if total > _LISTED:
                out.append(f"  … and {total - _LISTED} more")
        return "\n".join(out)

    def to_toml(self) -> str:
        """The plan in the profile format, for ``--mapping`` (written by hand: a small
        fixed shape of strings, lists and one number)."""
        p = self.profile
        lines = [f"# Written by salescli prospects import --write-mapping from {self.file}.",
                 "# Edit it and pass it with --mapping FILE.", "[tool]",
                 f"name = {_q(p.name)}", f"title = {_q(p.title)}"]
        if p.export:
            lines.append(f"export = {_q(p.export)}")
        lines += [f"required = {_list(p.required)}", f"signature = {_list(p.signature)}",
                  f"min_signature = {p.min_signature}", f"rows = {_q(p.rows)}", "",
                  "[columns]"]
        for c in self.columns:
            lines.append(f"{_q(c.header)} = {_q(c.field)}" + (f"  # {c.why}" if c.why else ""))
        lines += ["", "[stages]"]
        written = set()
        for value, n in sorted(self.stage_counts.items(), key=lambda vn: -vn[1]):
            stage = self.stage_of(value)
            written.add(fold(value))
            lines.append(f"# {_q(value)} = \"\"  # {_rows(n)}: no stage yet; name one"
                         if stage is None else f"{_q(value)} = {_q(stage)}  # {_rows(n)}")
        for value, stage in {**p.stages, **self.stage_map}.items():
            if fold(value) not in written:
                written.add(fold(value))
                lines.append(f"{_q(value)} = {_q(stage)}")
        lines += ["", "[owners]"]
        for owner, n in sorted(self.owner_counts.items(), key=lambda vn: -vn[1]):
            user = self.owner_of(owner)
            lines.append(f"{_q(owner)} = {_q(user)}  # {_rows(n)}" if user else
                         f"# {_q(owner)} = \"\"  # {_rows(n)}: no user yet; name one")
        fmt = dict(p.format)
        fmt["encoding"] = self.encoding or fmt["encoding"]
        if self.delimiter:
            fmt["delimiter"] = self.delimiter
        for name, formats in (("numbers", self.numbers), ("dates", self.dates)):
            codes = {getattr(f, "code", f.style) for f in formats.values()}
            if len(codes) == 1:
                fmt[name] = codes.pop()
        lines += ["", "[format]"]
        for name, value in fmt.items():
            lines.append(f"{name} = {_list(value) if isinstance(value, list) else _q(value)}")
        return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(text), ensure_ascii=False)


def _list(values: list[str]) -> str:
    return "[" + ", ".join(map(_q, values)) + "]"


def _rows(n: int) -> str:
    return f"{n} row{'s'[:n != 1]}"


def _arg(value: str, what: str) -> str:
    text = f"{value}={what}"
    return f"'{text}'" if "'" not in text else json.dumps(text)


def _pair(text: str, flag: str) -> tuple[str, str]:
    """``LEFT=RIGHT`` of a --map/--stage-map/--owner-map (split at the last =)."""
    left, sep, right = text.rpartition("=")
    if not sep or not left.strip():
        raise InvalidValue(flag, text, "must be NAME=VALUE, e.g. 'Deal Stage=stage'")
    return left.strip(), right.strip()


# --------------------------------------------------------------------------- building


def build(conn: Any, profile: Profile, headers: list[str], file: str, *,
          maps: Iterable[str] = (), stage_maps: Iterable[str] = (),
          owner_maps: Iterable[str] = ()) -> Plan:
    """The plan's columns and mappings for a header row, before the first pass; errors
    name the flag or profile key at fault."""
    stage_rows = conn.execute("SELECT name, kind FROM stages WHERE removed_at IS NULL"
                              " ORDER BY position, id").fetchall()
    names = [r[0] for r in stage_rows]
    check_stages(profile, names)
    plan = Plan(profile=profile, file=file, headers=[str(h) for h in headers])
    plan.stage_names = {fold(n): n for n in names}
    plan.closed = {r[0]: r[1] for r in stage_rows if r[1] != StageKind.OPEN}
    overrides: dict[str, str] = {}
    for text in maps:
        column, target = _pair(text, "--map")
        if target not in FIELDS and not (target.endswith("_at") and fold(target[:-3]) in
                                         plan.stage_names):
            raise InvalidValue("--map", text, f"{target!r} is not a field (fields: "
                               + ", ".join(f for f in FIELDS if f) + ', <stage>_at, "")')
        if key(column) not in {key(h) for h in headers}:
            raise InvalidValue("--map", text, f"{column!r} is not a column of {file}")
        overrides[key(column)] = target
    for i, header in enumerate(plan.headers):
        k = key(header)
        if k in overrides:
            # (a target set, why is never read)
            target, why = overrides[k], "--map" if not overrides[k] else ""  # pragma: no mutate
        else:
            target = profile.field_of(header)
            why = "" if target else ("known to the profile, no field" if target == ""
                                     else "no field for it")
            target = target or ""
        if target.endswith("_at") and target not in DATES:
            target = plan.stage_names[fold(target[:-3])].casefold() + "_at"
        if target == "" and not k:
            why = "empty header"
        plan.columns.append(Column(i, header, target, why if not target else ""))
    if not plan.email_columns:
        raise InvalidValue("file", file, f"has no email column for {profile.title} (columns: "
                           + ", ".join(repr(h) for h in plan.headers) + "); map one with "
                           "--map 'COLUMN=email'")
    for text in stage_maps:
        value, stage = _pair(text, "--stage-map")
        if stage and fold(stage) not in plan.stage_names:
            raise InvalidValue("--stage-map", text, f"{stage!r} is not a stage (stages: "
                               + ", ".join(names) + ")")
        plan.stage_map[fold(value)] = plan.stage_names.get(fold(stage), "")
    plan.explicit_owners = dict(profile.owners)
    for text in owner_maps:
        owner, user = _pair(text, "--owner-map")
        plan.explicit_owners[owner] = user
    return plan


# Cells starting "YYYY-": ISO 8601 or nothing a date style reads, so nothing a column's
# style is decided by (DateColumn.see passes them over); a batch of only these is skipped.
_YEAR_FIRST = re.compile(r"(?:\d{4}-[^\n]*|)(?:\n(?:\d{4}-[^\n]*|))*")
_EXACT = 120_000  # addresses kept in a set to find repeats (~12 MB); beyond, a bit filter


class _Repeats:
    """Addresses seen more than once: exact (a set) for the first _EXACT addresses, then
    also through a bit filter (its rare false "maybe" only costs pass two a look)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.filter: EmailFilter | None = None
        self.repeated: set[str] = set()

    def add(self, emails: list[str]) -> None:
        batch = set(emails)
        # (speed only: a batch without a repeat of its own gives the scan below nothing)
        if len(batch) < len(emails):  # pragma: no mutate
            once: set[str] = set()
            self.repeated.update(e for e in emails if e in once or once.add(e))
        if self.filter is None:
            self.repeated |= self.seen & batch
            self.seen |= batch
            if len(self.seen) > _EXACT:
                self.filter = EmailFilter()
                self.filter.add(list(self.seen))
                self.seen = set()
        else:
            fresh = list(batch)
            self.repeated.update(fresh[i] for i in self.filter.add(fresh))


def needed(plan: Plan) -> list[int]:
    """The columns the first pass looks at, in order."""
    return sorted({c.index for c in plan.columns if c.field in _SURVEYED
                   or c.field.endswith("_at")})


_SURVEYED = {"email", "other_emails", "stage", "status", "owner", "value", *DATES}


def survey(plan: Plan, batches: Iterator[tuple[list[int], list[Any], list]],
           number_column: Any, date_column: Any, at: dict[int, int] | None = None) -> None:
    """The first pass: count stage and owner values, rows without an address, addresses
    that may repeat; let each value and date column decide its style. Only the columns
    the plan needs are looked at; ``at``: column → its place in a row when the rows hold
    only those (``needed``)."""
    at = at or {}
    fmt = plan.profile.format
    emails = [at.get(c, c) for c in plan.email_columns]
    stage_cols = [at.get(c, c) for c in plan.stage_columns()]
    owner_cols = [at.get(c, c) for c in plan.by_field("owner")]
    value_cols = [(c.header, at.get(c.index, c.index), number_column(c.header, fmt["numbers"]))
                  for c in plan.columns if c.field == "value"]
    date_cols = [(c.header, at.get(c.index, c.index), date_column(c.header, fmt["dates"]))
                 for c in plan.columns if c.field in DATES or c.field.endswith("_at")]
    dates = {id(column) for _, _, column in date_cols}
    seen = _Repeats()
    rows = 0
    for numbers, cells, _ in batches:
        rows += len(numbers)
        for col in stage_cols:
            plan.stage_counts.update(map(itemgetter(col), cells))
        for col in owner_cols:
            plan.owner_counts.update(map(itemgetter(col), cells))
        for _, col, column in (*value_cols, *date_cols):
            texts = list(map(itemgetter(col), cells))
            if id(column) in dates and _YEAR_FIRST.fullmatch("\n".join(texts)):
                continue  # the common case
            known: set[str] = set()
            for number, text in zip(numbers, texts, strict=True):
                if text not in known:
                    known.add(text)
                    column.see(number, text)
        if len(emails) == 1:
            firsts = [c.strip().lower() for c in map(itemgetter(emails[0]), cells)]
            if "" in firsts or _ODD.search("\0".join(firsts)):  # "Name <addr>", several
                firsts = [(addresses_in(c) or [""])[0] for c in firsts]
        else:
            firsts = [next((a[0] for c in emails if (a := addresses_in(row[c]))), "")
                      for row in cells]
        if "" in firsts:
            # (one length by construction: strict only asserts it)
            for number, first in zip(numbers, firsts, strict=True):  # pragma: no mutate
                if not first:
                    plan.no_address_count += 1
                    if len(plan.no_address) < _LISTED:
                        plan.no_address.append(number)
        seen.add(firsts)
    plan.rows = rows
    plan.repeated = seen.repeated
    plan.repeated.discard("")
    for counts in (plan.stage_counts, plan.owner_counts):
        for value in [v for v in counts if v != v.strip()]:
            counts[value.strip()] += counts.pop(value)
        counts.pop("", None)
    folded: dict[str, str] = {}  # one owner however its case and accents are written
    for owner, n in list(plan.owner_counts.items()):
        first = folded.setdefault(fold(owner), owner)
        if first != owner:
            plan.owner_counts[first] += n
            del plan.owner_counts[owner]
    plan.numbers = {h: column.decide() for h, _, column in value_cols}
    plan.dates = {h: column.decide() for h, _, column in date_cols}


def match_owners(conn: Any, plan: Plan) -> None:
    """Owner values → usernames: the profile's [owners], --owner-map, then the users'
    usernames, emails and full names (case and accents ignored)."""
    plan.owner_map = owner_users.match(conn, plan.owner_counts, plan.explicit_owners)


def write_mapping(plan: Plan, path: str | Path, source: str | None = None) -> None:
    """Save the plan as a profile file (``--write-mapping``); never over ``source``, the
    file being imported (the user's data would be lost)."""
    try:
        same = source is not None and Path(path).samefile(source)
    except OSError:  # either does not exist (yet), or is no file: not the same file
        same = False
    if same:
        raise InvalidValue("--write-mapping", str(path), "is the file being imported")
    try:
        Path(path).write_text(plan.to_toml(), encoding="utf-8")
    except OSError as exc:
        raise InvalidValue("--write-mapping", str(path), f"cannot be written: "
                                                         f"{exc.strerror}") from None
