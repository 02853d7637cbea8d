"""Another CRM's export in the import: which profile reads it, the first pass that
decides its plan, the owners ``--create-owners`` makes, and what follows the prospects in
the import's transaction (their other addresses, the notes of a deals export's other deals).

``importer`` calls these; the plan itself is ``import_plan``, the rows ``import_rows``.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.pipeline import crm_profiles, import_plan
from salescli.pipeline.crm_profiles import Profile
from salescli.pipeline.import_map import HeaderMap
from salescli.pipeline.import_plan import Plan
from salescli.pipeline.import_read import Batch, Source, open_text, read_csv
from salescli.pipeline.import_rows import Rows


@dataclass
class CrmOptions:
    """How to take another CRM's export: a forced profile (``--from``), a mapping file, and
    single changes to the plan (``--map``, ``--stage-map``, ``--owner-map``)."""

    tool: str | None = None
    mapping: str | None = None
    maps: list[str] = field(default_factory=list)
    stage_maps: list[str] = field(default_factory=list)
    owner_maps: list[str] = field(default_factory=list)
    create_owners: bool = False
    write_mapping: str | None = None

    @property
    def planned(self) -> bool:
        """Whether a generic file must go through a plan too (a flag only a plan has)."""
        return bool(self.maps or self.stage_maps or self.owner_maps or self.create_owners
                    or self.write_mapping)



def choose_profile(crm: CrmOptions, header_row: list[str], headers: HeaderMap) -> Profile | None:
    """The profile to read the file by: the mapping file, the one --from names, the one
    the header row is recognised as, or (for a flag only a plan has) the generic
    reader's mapping of the header row; None for the generic reader."""
    if crm.mapping:
        return crm_profiles.load(crm.mapping)
    if crm.tool:
        return crm_profiles.by_name(crm.tool)
    found = crm_profiles.recognise(header_row)
    if found is not None or not crm.planned:
        return found
    probe = HeaderMap(headers.name, headers.ignore_unknown)
    probe.lookup = headers.lookup
    probe.extend(header_row)  # today's errors for unknown columns (with --map's help)
    columns = {str(header_row[i]): f for f, i in probe.cols.items()}
    for header in header_row:
        columns.setdefault(str(header), "")
    return Profile(name="generic", title="generic CSV", columns=columns)


def read_as_given(source: Source, profile: Profile, header_row: list[str]) -> list[str]:
    """The header row, read again with the encoding and delimiter the profile's [format]
    names when it was read otherwise (``auto``: the file decides; an encoding the caller
    gave the source wins, and so does a byte-order mark). The passes read with them too."""
    encoding, delimiter = profile.format["encoding"], profile.format["delimiter"]
    new_encoding = encoding != "auto" and not source.forced and encoding != source.encoding
    new_delimiter = delimiter != "auto" and delimiter != source.delimiter
    # (speed only: a workbook has neither, and read again it gives the same rows)
    if source.kind == "xlsx":  # pragma: no mutate
        return header_row
    if not (new_encoding or new_delimiter):
        return header_row
    if new_encoding:
        source.encoding = encoding
    if new_delimiter:
        source.delimiter = delimiter
    reopen(source)
    _, _, pieces = open_text(source, "csv")  # pragma: no mutate (as in first_pass below)
    return read_csv(source, pieces)[0]


def first_pass(conn: sqlite3.Connection, source: Source, fmt: str | None, profile: Profile,
          header_row: list[str], crm: CrmOptions, date_format: str | None
          ) -> tuple[Plan, Any]:
    """The first pass: the plan decided, written with --write-mapping, complete or an
    error; the batches of the second pass."""
    from salescli.pipeline.import_values import DateColumn, NumberColumn

    if date_format:  # a copy: the shipped profiles are loaded once per process
        profile = replace(profile, format={**profile.format, "dates": date_format})
    plan = import_plan.build(conn, profile, header_row, Path(source.name).name,
                             maps=crm.maps, stage_maps=crm.stage_maps,
                             owner_maps=crm.owner_maps)
    label = "generic CSV" if profile.name == "generic" else f"{profile.title} export" \
        + (f" (mapping {Path(crm.mapping).name})" if crm.mapping else "")
    plan.label = label
    plan.encoding = getattr(source, "encoding", None) or "utf-8"
    plan.delimiter = getattr(source, "delimiter", None)
    reopen(source)
    needed = import_plan.needed(plan)
    # (speed only: without it, the full reader below surveys the same rows)
    light = light_batches(source, header_row, needed)  # pragma: no mutate
    at = {c: j for j, c in enumerate(needed)}
    try:
        if light is not None:
            try:
                import_plan.survey(plan, light, NumberColumn, DateColumn, at)
            except _Undecided:  # a byte past the ASCII start the reader decides on
                plan = import_plan.build(conn, profile, header_row, plan.file,
                                         maps=crm.maps, stage_maps=crm.stage_maps,
                                         owner_maps=crm.owner_maps)
                plan.label, plan.delimiter = label, getattr(source, "delimiter", None)
                light = None
        if light is None:  # a workbook, or a file the plain csv module reads otherwise
            reopen(source)
            # (the format is known since the first read: only the text is used here)
            _, _, pieces = open_text(source, fmt)  # pragma: no mutate
            _, light = read_csv(source, pieces)
            import_plan.survey(plan, light, NumberColumn, DateColumn, {})
            plan.encoding = getattr(source, "encoding", None) or plan.encoding
    finally:
        csv.field_size_limit(_OLD_LIMIT)
    import_plan.match_owners(conn, plan)
    if crm.create_owners:
        plan.created_owners = planned_owners(conn, plan)
    if crm.write_mapping:
        import_plan.write_mapping(plan, crm.write_mapping, source.name)
    plan.complete(create_owners=crm.create_owners)
    reopen(source)
    _, _, pieces = open_text(source, fmt)  # pragma: no mutate (as above)
    again, batches = read_csv(source, pieces)
    if list(again) != list(header_row):
        raise InvalidValue("file", source.name, "changed while it was read")
    return plan, batches


_OLD_LIMIT = csv.field_size_limit()


class _Undecided(Exception):
    """The light first pass met a non-ASCII byte the reader had not decided on yet (its
    first megabyte was ASCII): the first pass starts again with the reader's decoding."""
_LIGHT_BATCH = 10000


def light_batches(source: Source, header_row: list[str], needed: list[int]
                  ) -> Iterator[Batch] | None:
    """The rows of a text source by the csv module alone (the first pass needs a few
    columns, and import_read's reader, with its checks per line, costs twice as much);
    None when that reading would differ from import_read's (not text, another header).
    Row numbers are import_read's: the header's line, then one per record. Each row holds
    the ``needed`` columns only, in that order (the header's delimiter, the plan's too)."""
    if Path(source.name).suffix.lower() in (".xlsx", ".xls") or source.stream.seekable() \
            is False:
        return None
    decided = getattr(source, "encoding", None)
    encoding = decided or "utf-8-sig"  # undecided: ASCII so far (a later byte: _Undecided)
    errors = "strict"
    if encoding in ("cp1252", "latin-1"):  # as import_decode.decoder reads them
        encoding, errors = "cp1252", "salescli-latin1"
    try:
        text = io.TextIOWrapper(source.stream, encoding=encoding, errors=errors, newline="")
    except LookupError:
        return None
    try:
        first = ""
        while not first.strip():
            line = text.readline(1 << 16)
            if not line:
                raise ValueError("no header")
            first = line
        delimiter = getattr(source, "delimiter", None) or max(
            ",;\t", key=lambda d: (first.count(d), d == ","))
        text.seek(0)
        csv.field_size_limit(16 * source.limit)
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        head = next((r for r in reader if any(c.strip() for c in r)), None)
        if head is None or [h.strip() for h in head] != [str(h).strip() for h in header_row]:
            raise ValueError("another header")
    except (OSError, ValueError, csv.Error):  # UnicodeDecodeError is a ValueError
        text.detach()  # the source's stream stays open for the next reading
        return None
    width, start = len(head), reader.line_num
    pick = itemgetter(*needed) if len(needed) > 1 else lambda r: (r[needed[0]],)

    def batches() -> Iterator[Batch]:
        number = start
        try:
            while True:
                before = number
                numbers: list[int] = []
                rows = []
                for row in islice(reader, _LIGHT_BATCH):  # a row is dropped at once
                    number += 1
                    if len(row) >= width:  # blank, short rows: import_read rejects them
                        numbers.append(number)
                        rows.append(pick(row))
                if number == before:
                    break
                yield numbers, rows, []
        except UnicodeDecodeError as exc:
            if decided is None:
                raise _Undecided from None
            raise InvalidValue("file", source.name, f"is not valid CSV on line "
                                                    f"{reader.line_num}: {exc}") from None
        except csv.Error as exc:
            raise InvalidValue("file", source.name, f"is not valid CSV on line "
                                                    f"{reader.line_num}: {exc}") from None
        finally:
            text.detach()

    return batches()


def reopen(source: Source) -> None:
    """Read the source again from the start (the second pass)."""
    reopen = getattr(source, "reopen", None)
    if reopen is not None:
        reopen()
        return
    try:
        source.stream.seek(0)
    except (OSError, ValueError):
        raise InvalidValue("file", source.name, "cannot be read twice (an export is read "
                           "in two passes); save it to a file first") from None
    source.read = 0


def create_owners(conn: sqlite3.Connection, actor: str, plan: Plan, crm: CrmOptions,
            dry_run: bool, ts: str, result: Any) -> None:
    """--create-owners: an operator for each unknown owner (in the import's transaction;
    a dry run only names them)."""
    from salescli.pipeline import owners

    if not (crm.create_owners and plan.created_owners):
        return
    if not dry_run:
        plan.created_owners = owners.create(conn, actor, list(plan.created_owners), at=ts)
    result.owners_created = sorted(plan.created_owners.values())


def planned_owners(conn: sqlite3.Connection, plan: Plan) -> dict[str, str]:
    """The username --create-owners will give each owner that is no user."""
    from salescli.pipeline import owners

    taken = {r[0] for r in conn.execute("SELECT username FROM users")}
    out: dict[str, str] = {}
    for owner, _ in plan.unknown_owners():
        out[owner] = owners.username_for(owner, taken)
        taken.add(out[owner])
    return out


def write_after(conn: sqlite3.Connection, actor: str, rows_plan: Rows, result: Any,
           ts: str) -> None:
    """What follows the prospects in the import's transaction: their other addresses and
    the notes of the deals not kept as their stage."""
    wanted = set(rows_plan.other_emails) | {n[0] for n in rows_plan.notes}
    if not wanted:
        return
    written = set(result.inserted_ids) if not isinstance(result.inserted_ids, range) else None
    ids: dict[str, int] = {}
    wanted_list = sorted(wanted)
    for start in range(0, len(wanted_list), 500):
        chunk = wanted_list[start:start + 500]
        for email, pid in conn.execute("SELECT email, id FROM prospects WHERE email IN ("
                                       + ",".join("?" * len(chunk)) + ")", chunk):
            if pid in (written if written is not None else result.inserted_ids) \
                    or pid in result.updated_ids:
                ids[email] = pid
    if rows_plan.other_emails:
        from salescli.pipeline import addresses

        for email, others in rows_plan.other_emails.items():
            if email in ids:
                result.other_addresses += len(addresses.add(conn, actor, ids[email], others,
                                                             at=ts))
    notes = [{"prospect_id": ids[email], "kind": "note", "occurred_at": at,
              "subject": subject, "body": body, "detail": {"import": result.file}}
             for email, at, subject, body in rows_plan.notes if email in ids]
    if notes:
        from salescli.pipeline import interactions

        interactions.record_many(conn, actor, notes)
