"""Another CRM's export in the import: which profile reads it, the first pass that
decides its plan, the owners ``--create-owners`` makes, and what follows the prospects in
the import's transaction (their other addresses, the notes of a deals export's other deals).

``importer`` calls these; the plan itself is ``import_plan``, the rows ``import_rows``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue
from salescli.pipeline import crm_profiles, import_plan
from salescli.pipeline.crm_profiles import Profile
from salescli.pipeline.import_map import HeaderMap
from salescli.pipeline.import_plan import Plan
from salescli.pipeline.import_read import Source, open_text, read_csv
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


def first_pass(conn: sqlite3.Connection, source: Source, fmt: str | None, profile: Profile,
          header_row: list[str], batches: Any, crm: CrmOptions, date_format: str | None
          ) -> tuple[Plan, Any]:
    """The first pass: the plan decided, written with --write-mapping, complete or an
    error; the batches of the second pass."""
    from salescli.pipeline.import_values import DateColumn, NumberColumn

    if date_format:
        profile.format = {**profile.format, "dates": date_format}
    plan = import_plan.build(conn, profile, header_row, Path(source.name).name,
                             maps=crm.maps, stage_maps=crm.stage_maps,
                             owner_maps=crm.owner_maps)
    plan.label = "generic CSV" if profile.name == "generic" else f"{profile.title} export" \
        + (f" (mapping {Path(crm.mapping).name})" if crm.mapping else "")
    plan.encoding = getattr(source, "encoding", None) or "utf-8"
    plan.delimiter = getattr(source, "delimiter", None)
    import_plan.survey(plan, batches, NumberColumn, DateColumn)
    import_plan.match_owners(conn, plan)
    if crm.write_mapping:
        import_plan.write_mapping(plan, crm.write_mapping)
    plan.complete(create_owners=crm.create_owners)
    reopen(source)
    _, _, pieces = open_text(source, fmt)
    again, batches = read_csv(source, pieces)
    if list(again) != list(header_row):
        raise InvalidValue("file", source.name, "changed while it was read")
    return plan, batches


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

    missing = [o for o, _ in plan.unknown_owners()]
    if not (crm.create_owners and missing):
        return
    if dry_run:
        taken = {r[0] for r in conn.execute("SELECT username FROM users")}
        for owner in missing:
            plan.created_owners[owner] = owners.username_for(owner, taken)
            taken.add(plan.created_owners[owner])
    else:
        plan.created_owners = owners.create(conn, actor, missing, at=ts)
    result.owners_created = sorted(plan.created_owners.values())


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
