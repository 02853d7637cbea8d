"""A sequence file (TOML) read and checked, and its Jinja2 templates rendered.

Templates run in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined`` and autoescape
off (plain-text mail). They see ``prospect`` (its public fields and ``first_name``),
``owner`` (``username``, ``name``, ``email``) and ``company`` (``name``, ``domain``). Every
step is rendered against a sample of that scope when the file is loaded, so an undefined
variable is an error naming the step and the variable then, not when a mail is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salescli.core.enums import TaskKind
from salescli.core.errors import InvalidValue, SalescliError

_WAIT = re.compile(r"^\s*(\d+)\s*(m|h|d|bd|w)\s*$")
_WINDOW = re.compile(r"^\s*(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FILE_KEYS = {"name", "window", "days", "timezone", "steps"}
STEP_KEYS = {"wait", "subject", "body", "task", "text"}
PROSPECT_FIELDS = ("id", "email", "name", "first_name", "company", "owner", "stage",
                   "email_status", "value", "tags", "source", "notes", "created_at")


class TemplateError(SalescliError):
    """A step's template cannot be compiled or uses something undefined."""


@dataclass
class Step:
    """One step: a mail (``body``, maybe ``subject``) or a task for the owner (``task``)."""

    position: int
    wait: str
    subject: str | None = None
    body: str | None = None
    task: str | None = None
    text: str | None = None

    @property
    def is_email(self) -> bool:
        return self.task is None


@dataclass
class Plan:
    """A whole sequence as a file describes it."""

    name: str
    window: str = "09:00-17:00"
    days: str = "mon-fri"
    timezone: str | None = None
    steps: list[Step] = field(default_factory=list)


def parse_wait(value: Any, field_name: str = "wait") -> tuple[int, str]:
    """``30m``, ``4h``, ``3d``, ``2w`` or ``3bd`` (business days) → (number, unit)."""
    match = _WAIT.match(str(value))
    if not match:
        raise InvalidValue(field_name, value, "is not a wait like 4h, 3d, 2w or 3bd "
                           "(business days)")
    return int(match.group(1)), match.group(2)


def parse_window(value: Any, field_name: str = "window") -> tuple[int, int]:
    """``09:00-17:00`` → (start, end) in minutes after midnight; end may be 24:00."""
    match = _WINDOW.match(str(value))
    if not match:
        raise InvalidValue(field_name, value, "is not a window like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise InvalidValue(field_name, value, "is not a window like 09:00-17:00 "
                           "(start before end, within one day)")
    return start, end


def parse_days(value: Any, field_name: str = "days") -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``daily`` → weekday numbers (Monday is 0)."""
    text = str(value).strip().lower()
    if text in ("daily", "all", "mon-sun"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        ends = [p.strip()[:3] for p in part.split("-")]
        if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
            raise InvalidValue(field_name, value, "is not days like mon-fri or mon,wed,fri")
        a, b = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    if not days:
        raise InvalidValue(field_name, value, "names no day")
    return frozenset(days)


def check_timezone(value: str | None, field_name: str = "timezone") -> str | None:
    """A known IANA zone name, or None for ``SALESCLI_TZ``."""
    if value is None or not str(value).strip():
        return None
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(str(value).strip())
    except Exception:
        raise InvalidValue(field_name, value, "is not a known time zone (e.g. Europe/Berlin)") \
            from None
    return str(value).strip()


def read_file(path: str | Path) -> Plan:
    """Read and check a sequence file; InvalidValue/TemplateError name what is wrong."""
    import tomllib

    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue("FILE", where, f"cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue("FILE", where, f"is not valid TOML ({exc})") from None
    return from_dict(data)


def from_dict(data: dict[str, Any]) -> Plan:
    """Check a parsed sequence file and return its plan (templates checked too)."""
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise InvalidValue("key", sorted(unknown)[0], "is not a sequence setting ("
                           + ", ".join(sorted(FILE_KEYS)) + ")")
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise InvalidValue("name", data.get("name"), "must be a name of 1 to 100 characters")
    plan = Plan(name=name, window=str(data.get("window", "09:00-17:00")),
                days=str(data.get("days", "mon-fri")),
                timezone=check_timezone(data.get("timezone")))
    parse_window(plan.window)
    parse_days(plan.days)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidValue("steps", raw_steps, "must be at least one [[steps]] table")
    for i, raw in enumerate(raw_steps, 1):
        plan.steps.append(_step(i, raw))
    first_mail = next((s for s in plan.steps if s.is_email), None)
    if first_mail is not None and not first_mail.subject:
        raise InvalidValue(f"step {first_mail.position} subject", None,
                           "is required on the first mail of a sequence")
    check_templates(plan)
    return plan


def _step(i: int, raw: Any) -> Step:
    where = f"step {i}"
    if not isinstance(raw, dict):
        raise InvalidValue(where, raw, "must be a table")
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise InvalidValue(f"{where} key", sorted(unknown)[0],
                           "is not a step setting (" + ", ".join(sorted(STEP_KEYS)) + ")")
    wait = str(raw.get("wait", "0d"))
    parse_wait(wait, f"{where} wait")
    step = Step(position=i, wait=wait.strip(), subject=_text(raw.get("subject")),
                body=_text(raw.get("body")), task=_text(raw.get("task")),
                text=_text(raw.get("text")))
    if step.task is not None:
        if step.body or step.subject:
            raise InvalidValue(f"{where} task", step.task, "cannot be combined with "
                               "subject or body (a step is a mail or a task)")
        try:
            step.task = TaskKind(step.task.lower()).value
        except ValueError:
            raise InvalidValue(f"{where} task", step.task,
                               "must be one of " + ", ".join(TaskKind)) from None
    elif not step.body:
        raise InvalidValue(f"{where} body", step.body, "is required (or set task = \"call\")")
    return step


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


# ---------------------------------------------------------------- templates


class Scope(dict):
    """A dict that knows its name, so an undefined attribute is reported as
    ``prospect.nmae`` rather than ``'dict object' has no attribute``."""

    def __init__(self, label: str, values: dict[str, Any]):
        super().__init__(values)
        self.label = label


_ENV: Any = None
_COMPILED: dict[str, Any] = {}  # source → compiled template: a run renders the same few


def environment() -> Any:
    """The one sandboxed Jinja2 environment (built on first use: Jinja2 is a heavy import)."""
    global _ENV
    if _ENV is None:
        from jinja2 import StrictUndefined
        from jinja2.exceptions import UndefinedError
        from jinja2.sandbox import SandboxedEnvironment

        class NamedUndefined(StrictUndefined):
            def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
                obj, name = self._undefined_obj, self._undefined_name
                label = getattr(obj, "label", None)
                full = f"{label}.{name}" if label and name else (name or "?")
                raise UndefinedError(f"undefined variable {full!r}")

            __str__ = __iter__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = \
                __contains__ = _fail_with_undefined_error  # type: ignore[assignment]

        _ENV = SandboxedEnvironment(undefined=NamedUndefined, autoescape=False,
                                    keep_trailing_newline=False,
                                    finalize=lambda v: "" if v is None else v)
    return _ENV


def context(prospect: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """The template scope for one prospect and its owner."""
    p = {k: prospect.get(k) for k in PROSPECT_FIELDS if k != "first_name"}
    name = (prospect.get("name") or "").strip()
    p["first_name"] = name.split()[0] if name else None
    domain = str(prospect.get("email") or "").rpartition("@")[2] or None
    return {"prospect": Scope("prospect", p),
            "owner": Scope("owner", {"username": owner.get("username"),
                                     "name": owner.get("name") or owner.get("username"),
                                     "email": owner.get("email")}),
            "company": Scope("company", {"name": prospect.get("company"), "domain": domain})}


SAMPLE = context({k: f"<{k}>" for k in PROSPECT_FIELDS} | {"name": "Sample Person",
                                                           "email": "sample@example.com"},
                 {"username": "owner", "email": "owner@example.com"})


def render(source: str, scope: dict[str, Any], where: str) -> str:
    """Render one template; TemplateError names ``where`` (e.g. ``step 2 body``)."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

    try:
        template = _COMPILED.get(source)  # pragma: no mutate: a cache; a miss compiles the same
        if template is None:
            template = _COMPILED[source] = environment().from_string(source)
        return template.render(scope)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error on line {exc.lineno}: "
                            f"{exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: not allowed in a template: {exc}") from None
    except JinjaError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    except Exception as exc:  # a filter on a missing value, a division by zero …
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def check_templates(plan: Plan) -> None:
    """Render every template of the plan against the sample scope."""
    for step in plan.steps:
        for part in ("subject", "body", "text"):
            source = getattr(step, part)
            if source:
                render(source, SAMPLE, f"sequence {plan.name!r} step {step.position} {part}")


def render_step(plan_name: str, step: Step, scope: dict[str, Any],
                previous_subject: str | None) -> tuple[str, str]:
    """(subject, body) of a mail step; no subject of its own → ``Re: `` + the thread's."""
    where = f"sequence {plan_name!r} step {step.position}"
    if step.subject:
        subject = " ".join(render(step.subject, scope, f"{where} subject").split())
    else:
        base = previous_subject or ""
        subject = base if base.lower().startswith("re:") else f"Re: {base}"
    body = render(step.body or "", scope, f"{where} body")
    return subject, body
