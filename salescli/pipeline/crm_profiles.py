"""Profiles of other CRMs' exports: which header means which field, which stage and status
values mean which stage, how dates and numbers are written — data files, not code per tool.

The shipped ones live in ``salescli/pipeline/profiles/*.toml``; ``--mapping FILE`` reads a
team's own in the same format (docs/moving-from-another-crm.md). An export is recognised
from its header row alone (``recognise``); a header matching none goes to the generic reader.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from salescli.core.errors import InvalidValue, SalescliError
from salescli.pipeline.import_map import key

# Fields a column may map to, besides `<stage>_at` for a stage of the database ("" ignores).
FIELDS = ("email", "other_emails", "name", "first_name", "last_name", "company", "owner",
          "stage", "status", "value", "currency", "tags", "source", "notes", "created_at",
          "closed_at", "lost_reason", "deal", "")
ROWS = ("people", "deals")
_TOOL = {"name", "title", "export", "required", "signature", "min_signature", "rows"}
_FORMAT = {"encoding": str, "delimiter": str, "dates": str, "numbers": str,
           "tags_separator": str, "tags_drop": list}
_SECTIONS = {"tool", "columns", "stages", "owners", "format"}
DEFAULT_FORMAT: dict[str, Any] = {"encoding": "auto", "delimiter": "auto", "dates": "auto",
                                  "numbers": "auto", "tags_separator": ",", "tags_drop": []}


class ProfileError(SalescliError):
    """A profile file breaks the format: one line naming the file and the key."""

    def __init__(self, file: str, where: str, problem: str):
        super().__init__(f"profile {file}: {where} {problem}")


def fold(text: object) -> str:
    """A value as compared: trimmed, case-folded, accents dropped (NFKD)."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass
class Profile:
    """One export kind: what ``[tool]``, ``[columns]``, ``[stages]``, ``[owners]`` and
    ``[format]`` of its file say."""

    name: str
    title: str
    file: str = ""
    export: str = ""
    required: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)
    min_signature: int = 0
    rows: str = "people"
    columns: dict[str, str] = field(default_factory=dict)  # header as exported → field
    stages: dict[str, str] = field(default_factory=dict)  # tool's value → stage ("": none)
    owners: dict[str, str] = field(default_factory=dict)  # owner in the file → username
    format: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_FORMAT))

    def field_of(self, header: str) -> str | None:
        """The field a header maps to ("" ignored), None when the profile does not know it."""
        return self._keys.get(key(header))

    @property
    def _keys(self) -> dict[str, str]:
        keys = self.__dict__.get("_key_cache")
        if keys is None:
            keys = self.__dict__["_key_cache"] = {key(h): f for h, f in self.columns.items()}
        return keys

    def score(self, header_keys: set[str]) -> int:
        """Headers of the file this profile knows, 0 when it does not match the file."""
        if not all(key(h) in header_keys for h in self.required):
            return 0
        if sum(key(h) in header_keys for h in self.signature) < self.min_signature:
            return 0
        known = {key(h) for h in (*self.columns, *self.required, *self.signature)}
        return len(known & header_keys)

    def stage_for(self, value: str) -> str | None:
        """The stage a tool's value maps to ("" for a known value without one), None when
        the value has no entry."""
        folded = self.__dict__.get("_stage_cache")
        if folded is None:
            folded = self.__dict__["_stage_cache"] = {fold(k): v for k, v in self.stages.items()}
        return folded.get(fold(value))


def parse(data: dict[str, Any], file: str) -> Profile:
    """A profile from parsed TOML; ProfileError naming ``file`` and the key otherwise."""
    for section in data:
        if section not in _SECTIONS:
            raise ProfileError(file, f"[{section}]", "is not a section (sections: "
                               + ", ".join(sorted(_SECTIONS)) + ")")
    tool = _table(data, "tool", file)
    for name in tool:
        if name not in _TOOL:
            raise ProfileError(file, f"tool.{name}", "is not a key of [tool] (keys: "
                               + ", ".join(sorted(_TOOL)) + ")")
    for name in ("name", "title"):
        if not isinstance(tool.get(name), str) or not tool[name].strip():
            raise ProfileError(file, f"tool.{name}", "must be given as text")
    rows = tool.get("rows", "people")
    if rows not in ROWS:
        raise ProfileError(file, "tool.rows", f"{rows!r} must be one of " + ", ".join(ROWS))
    lists = {}
    for name in ("required", "signature"):
        value = tool.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProfileError(file, f"tool.{name}", "must be a list of header names")
        lists[name] = value
    minimum = tool.get("min_signature", 0)
    if not isinstance(minimum, int) or minimum < 0 or minimum > len(lists["signature"]):
        raise ProfileError(file, "tool.min_signature", f"{minimum!r} must be a whole number "
                           f"from 0 to {len(lists['signature'])} (the signature's length)")
    columns = _strings(data, "columns", file)
    for header, target in columns.items():
        if target not in FIELDS and not target.endswith("_at"):
            raise ProfileError(file, f"columns.{header!r}", f"{target!r} is not a field "
                               "(fields: " + ", ".join(f for f in FIELDS if f)
                               + ', <stage>_at, or "" to ignore)')
    fmt = dict(DEFAULT_FORMAT)
    for name, value in _table(data, "format", file).items():
        if name not in _FORMAT:
            raise ProfileError(file, f"format.{name}", "is not a key of [format] (keys: "
                               + ", ".join(_FORMAT) + ")")
        if not isinstance(value, _FORMAT[name]) or name == "tags_drop" and not all(
                isinstance(v, str) for v in value):
            raise ProfileError(file, f"format.{name}", f"{value!r} must be "
                               + ("a list of labels" if name == "tags_drop" else "text"))
        fmt[name] = value
    if fmt["delimiter"] not in ("auto", ",", ";", "\t", "|"):
        raise ProfileError(file, "format.delimiter", f"{fmt['delimiter']!r} must be "
                           '"auto", ",", ";", "\\t" or "|"')
    return Profile(name=tool["name"].strip(), title=tool["title"].strip(), file=file,
                   export=str(tool.get("export", "")), required=lists["required"],
                   signature=lists["signature"], min_signature=minimum, rows=rows,
                   columns=columns, stages=_strings(data, "stages", file),
                   owners=_strings(data, "owners", file), format=fmt)


def _table(data: dict[str, Any], name: str, file: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ProfileError(file, f"[{name}]", "must be a table")
    return value


def _strings(data: dict[str, Any], name: str, file: str) -> dict[str, str]:
    table = _table(data, name, file)
    for k, v in table.items():
        if not isinstance(v, str):
            raise ProfileError(file, f"{name}.{k!r}", f"{v!r} must be text (a quoted string)")
    return dict(table)


def load(path: str | Path) -> Profile:
    """Read and check a profile file (``--mapping FILE``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(str(path), "the file", "does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), "the file", f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "the file", f"is not valid TOML: {exc}") from None
    return parse(data, str(path))


@lru_cache(maxsize=1)
def shipped() -> tuple[Profile, ...]:
    """The profiles shipped in the package, by name."""
    folder = resources.files("salescli.pipeline").joinpath("profiles")
    out = []
    if folder.is_dir():
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                file = f"salescli/pipeline/profiles/{entry.name}"
                try:
                    data = tomllib.loads(entry.read_text(encoding="utf-8"))
                except tomllib.TOMLDecodeError as exc:
                    raise ProfileError(file, "the file", f"is not valid TOML: {exc}") from None
                out.append(parse(data, file))
    return tuple(out)


def by_name(name: str, profiles: Iterable[Profile] | None = None) -> Profile:
    """The profile ``--from NAME`` names; an error listing the names otherwise."""
    profiles = list(shipped() if profiles is None else profiles)
    for profile in profiles:
        if fold(profile.name) == fold(name):
            return profile
    raise InvalidValue("--from", name, "is not a known export (known: " + (", ".join(
        p.name for p in profiles) or "none shipped") + ")")


def recognise(headers: Iterable[object], profiles: Iterable[Profile] | None = None
              ) -> Profile | None:
    """The profile whose export this header row is, or None. The one knowing the most
    headers wins; ties go to the more specific (more required and signature headers)."""
    header_keys = {key(h) for h in headers}
    best, best_rank = None, (0, 0, "")  # pragma: no mutate (never compared: best is None)
    for profile in shipped() if profiles is None else profiles:
        score = profile.score(header_keys)
        rank = (score, len(profile.required) + len(profile.signature), profile.name)
        if score and (best is None or rank[:2] > best_rank[:2]):
            best, best_rank = profile, rank
    return best


def check_stages(profile: Profile, stage_names: Iterable[str]) -> None:
    """Every stage the profile names exists in the database; ProfileError naming the key."""
    names = {n.casefold() for n in stage_names}
    listing = ", ".join(stage_names) if not isinstance(stage_names, set) else ""
    for value, stage in profile.stages.items():
        if stage and stage.casefold() not in names:
            raise ProfileError(profile.file or profile.name, f"stages.{value!r}",
                               f"{stage!r} is not a stage of the database (stages: "
                               f"{listing or ', '.join(sorted(names))})")
    for header, target in profile.columns.items():
        if target.endswith("_at") and target not in ("created_at", "closed_at") \
                and target[:-3].casefold() not in names:
            raise ProfileError(profile.file or profile.name, f"columns.{header!r}",
                               f"{target!r} is not a field: {target[:-3]!r} is not a stage "
                               f"(stages: {listing or ', '.join(sorted(names))})")
