"""Map the columns of an import file (CSV headers, JSON keys) to prospect fields.

A step of its own between reading records and checking them, so that a mapping for another
tool's export (its column names) can be given as ``extra`` without touching the reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from salescli.core.errors import InvalidValue

# Every field a file may set, in the order of a staged row after its row number.
FIELDS = ("email", "name", "company", "owner", "stage", "value", "tags", "source", "notes")
# History: when the prospect was created and why it was lost; `<stage>_at` columns are per
# stage of the database (see HeaderMap).
HISTORY = ("created_at", "lost_reason")
# Header spellings, compared after case-folding and dropping all but letters and digits.
ALIASES = {
    "email": ("email", "emailaddress", "mail", "emailaddr"),
    "name": ("name", "fullname", "contact", "contactname", "person"),
    "company": ("company", "companyname", "organisation", "organization", "org", "account",
                "accountname", "employer"),
    "owner": ("owner", "assignedto", "salesrep", "rep", "accountowner"),
    "stage": ("stage", "pipelinestage", "dealstage"),
    "value": ("value", "dealvalue", "amount", "dealamount", "dealsize"),
    "tags": ("tags", "tag", "labels", "label"),
    "source": ("source", "leadsource"),
    "notes": ("notes", "note", "comments", "comment", "description"),
    "first_name": ("firstname", "givenname", "forename"),  # joined into name when no name
    "last_name": ("lastname", "surname", "familyname"),
    "created_at": ("createdat", "created", "createdon", "createdate", "datecreated"),
    "lost_reason": ("lostreason", "reasonlost", "lossreason"),
}
# Columns of `salescli prospects export` that salescli sets itself: ignored with a note.
MANAGED = {"id", "emailstatus", "bouncereason", "stageenteredat", "lastcontactedat",
           "lastreplyat", "lastinteractionat", "updatedat", "archivedat",
           # exported since issue 16; ignored until the importer maps them to fields
           "currency", "otheremails"}
STAGE_AT = "_at"  # a field named "<stage>_at" is the time the prospect entered <stage>


def key(header: object) -> str:
    """A header as compared: case-folded, letters and digits only."""
    return re.sub(r"[\W_]+", "", str(header).casefold())


class HeaderMap:
    """Field → position of the columns seen so far. CSV gives its header row once; JSON
    objects may bring new keys on any row, so ``extend`` may be called again."""

    def __init__(self, name: str, ignore_unknown: bool, stages: Iterable[str] = (),
                 extra: dict[str, str] | None = None):
        self.name, self.ignore_unknown = name, ignore_unknown
        self.lookup = {alias: f for f, aliases in ALIASES.items() for alias in aliases}
        for stage in stages:
            self.lookup.setdefault(key(stage) + "at", stage.casefold() + STAGE_AT)
        for header, target in (extra or {}).items():  # another tool's column names
            self.lookup[key(header)] = target
        self.headers: list[str] = []
        self.known: set[object] = set()  # the headers, for a quick look-up
        self.cols: dict[str, int] = {}
        self.unknown: list[str] = []
        self.managed: list[str] = []

    def extend(self, headers: Iterable[object]) -> dict[str, int]:
        """Add columns (in order); the mapping so far. Two columns for one field, or an
        unknown column without ``ignore_unknown``, is an error naming the column."""
        for header in headers:
            i = len(self.headers)
            self.headers.append(header)
            self.known.add(header)
            k = key(header)
            target = self.lookup.get(k)
            if target is None:
                if k:
                    (self.managed if k in MANAGED else self.unknown).append(str(header))
                    if k not in MANAGED and not self.ignore_unknown:
                        raise InvalidValue(
                            "column", header, f"in {self.name} is not a prospect field "
                            "(fields: " + ", ".join(FIELDS + HISTORY) + ", <stage>_at; aliases"
                            " in the manual); rename it, or use --ignore-unknown to skip it")
            elif target in self.cols:
                raise InvalidValue("column", header, f"in {self.name} maps to {target}, like "
                                   f"column {self.headers[self.cols[target]]!r}")
            else:
                self.cols[target] = i
        return self.cols

    def require_email(self) -> None:
        """An error naming the file when no column holds the email."""
        if "email" not in self.cols:
            raise InvalidValue("file", self.name, "has no email column (columns: "
                               + ", ".join(repr(h) for h in self.headers) + ")")

    def history(self) -> dict[str, int]:
        """The history columns present: created_at, lost_reason, <stage>_at → position."""
        return {f: i for f, i in self.cols.items() if f in HISTORY or f.endswith(STAGE_AT)}

    def notes(self) -> list[str]:
        """What was ignored, for the person importing."""
        return [f"ignored {what}: " + ", ".join(cols[:20])
                + (f" and {len(cols) - 20} more" if len(cols) > 20 else "")
                for what, cols in (("columns set by salescli", self.managed),
                                   ("unknown columns", self.unknown)) if cols]


def map_columns(headers: list[str], name: str, ignore_unknown: bool,
                stages: Iterable[str] = ()) -> tuple[dict[str, int], list[str]]:
    """Field → column position for a header row, and notes about ignored columns."""
    mapping = HeaderMap(name, ignore_unknown, stages)
    cols = dict(mapping.extend(headers))
    mapping.require_email()
    return cols, mapping.notes()
