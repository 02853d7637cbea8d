"""Exit rules, checked at send time against what the scanner recorded (never the mailbox).

In order: the prospect is gone, archived, won or lost; the address is suppressed; it
hard-bounced; the person replied (in any thread) since enrolment, or someone else we know
replied in our thread. Then the interactions
recorded since the last check: a hard bounce ends, a soft bounce retries the step once the
next day, an out-of-office auto-reply pushes the next step by its wait, or to the return
date the auto-reply states when one parses (subject or recorded body).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from salescli.core.enums import EmailStatus, EnrollmentState, InteractionKind, StageKind
from salescli.pipeline import suppressions
from salescli.sequences.schedule import Window, add_wait, utc

MAX_RETURN_DAYS = 60
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# German, French, Spanish and Dutch months whose first three letters differ from English.
_MONTHS.update({"mär": 3, "mai": 5, "okt": 10, "dez": 12, "jui": 7, "fév": 2, "fev": 2,
                "avr": 4, "aoû": 8, "aou": 8, "déc": 12, "ene": 1, "abr": 4, "ago": 8,
                "dic": 12, "mrt": 3, "mei": 5})
# What precedes a return date, in English, German, French, Spanish and Dutch.
_CUE = (r"(?:until|till|back on|back|returning(?: on)?|return(?:ing)? on|from|"
        r"zur[üu]ck(?: am| ab)?|wieder(?: am| ab)?|bis(?: zum| einschlie(?:ß|ss)lich)?|"
        r"ab dem|ab|de retour(?: le)?|jusqu'au|retour le|hasta el|de vuelta el|regreso el|"
        r"tot en met|terug op)")
_WEEKDAY = r"(?:\w+(?:day|tag|di|es|dag),?\s+)?"
_ISO = re.compile(_CUE + r"\s+(\d{4})-(\d\d)-(\d\d)", re.I)
_DMY = re.compile(_CUE + r"\s+" + _WEEKDAY + r"(\d{1,2})([./])(\d{1,2})(?:[./](\d{2,4}))?",
                  re.I)
_D_MONTH = re.compile(_CUE + r"\s+" + _WEEKDAY + r"(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\.?\s+"
                      r"(?:of\s+)?([a-zäé]{3})[a-zäéû]*\.?(?:,?\s+(\d{4}))?", re.I)
_MONTH_D = re.compile(_CUE + r"\s+" + _WEEKDAY + r"([a-z]{3})[a-z]*\.?\s+"
                      r"(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", re.I)


@dataclass
class Verdict:
    """What to do with a due enrollment: ``go`` (send the step), ``end``, ``delay`` (to
    ``until``) or ``retry`` (step back one, send it again at ``until``)."""

    action: str
    state: EnrollmentState | None = None
    reason: str | None = None
    until: datetime | None = None
    seen: int = 0


def return_date(text: str | None, received: datetime) -> date | None:
    """The return date an out-of-office states ("back on 14 December", "until 2026-12-14",
    "bis 14.12."), the next such day after ``received``; None if none parses."""
    if not text:
        return None
    year = received.year
    candidates: list[tuple[int, int, int | None]] = []
    for m in _ISO.finditer(text):
        candidates.append((int(m.group(3)), int(m.group(2)), int(m.group(1))))
    for m in _DMY.finditer(text):
        y = m.group(4)
        year_ = (int(y) + 2000 if len(y) == 2 else int(y)) if y else None
        first, second = int(m.group(1)), int(m.group(3))
        candidates.append((first, second, year_))
        if m.group(2) == "/":  # 12/14: month first, as in the US
            candidates.append((second, first, year_))
    for m in _D_MONTH.finditer(text):
        if m.group(2).lower() in _MONTHS:
            candidates.append((int(m.group(1)), _MONTHS[m.group(2).lower()],
                               int(m.group(3)) if m.group(3) else None))
    for m in _MONTH_D.finditer(text):
        if m.group(1).lower() in _MONTHS:
            candidates.append((int(m.group(2)), _MONTHS[m.group(1).lower()],
                               int(m.group(3)) if m.group(3) else None))
    for day, month, y in candidates:
        for guess in ([y] if y else [year, year + 1]):
            try:
                when = date(guess, month, day)
            except ValueError:
                continue
            if received.date() < when <= received.date() + timedelta(days=MAX_RETURN_DAYS):
                return when
    return None


PROSPECT = ("SELECT p.*, s.name AS stage, s.kind FROM prospects p"
            " JOIN stages s ON s.id = p.stage_id WHERE p.id = ?")


def verdict(conn: sqlite3.Connection, e: dict[str, Any], *, next_wait: str | None,
            window: Window, moment: datetime, prospect: Any) -> Verdict:
    """Decide, from recorded facts only, whether the due step of ``e`` may go out.
    ``prospect`` is the enrollment's row of ``PROSPECT`` (None: the prospect is gone)."""
    if prospect is None:
        return Verdict("end", EnrollmentState.STOPPED, "prospect deleted")
    p = dict(prospect)  # plain dicts here and below: a misspelt key fails, whatever its case
    if p["archived_at"]:
        return Verdict("end", EnrollmentState.STOPPED, "archived")
    if p["kind"] in (StageKind.WON, StageKind.LOST):
        return Verdict("end", EnrollmentState.STOPPED, f"moved to {p['stage']} ({p['kind']})")
    hit = suppressions.blocking(conn, p["id"], p["email"])

    if hit:
        return Verdict("end", EnrollmentState.UNSUBSCRIBED,
                       f"suppressed: {hit['address']} ({hit['source']})")
    if p["email_status"] == EmailStatus.BOUNCED_HARD:
        return Verdict("end", EnrollmentState.BOUNCED, "hard bounce")
    rows = [dict(r) for r in conn.execute(
        "SELECT id, kind, occurred_at, subject, body, detail FROM interactions"
        " WHERE prospect_id = ? AND ((kind = ? AND occurred_at >= ?)"
        " OR (id > ? AND kind IN (?, ?))) ORDER BY id",
        (e["prospect_id"], InteractionKind.EMAIL_IN.value, e["enrolled_at"],
         e["seen_interaction_id"], InteractionKind.BOUNCE.value,
         InteractionKind.AUTO_REPLY.value))]
    replies = sorted(r["occurred_at"] for r in rows if r["kind"] == InteractionKind.EMAIL_IN)
    if replies:
        return Verdict("end", EnrollmentState.REPLIED, f"replied {replies[0]}")
    ours = (e.get("refs") or "").split()
    if ours:  # someone else (a colleague we know) answered in our thread
        other = conn.execute(
            "SELECT i.occurred_at, p.email FROM interactions i JOIN prospects p"
            f" ON p.id = i.prospect_id WHERE i.thread_key IN ({','.join('?' * len(ours))})"
            " AND i.kind = ? ORDER BY i.occurred_at LIMIT 1",
            (*ours, InteractionKind.EMAIL_IN.value)).fetchone()
        if other:
            return Verdict("end", EnrollmentState.REPLIED,
                           f"{other['email']} replied in the thread {other['occurred_at']}")
    news = [r for r in rows if r["kind"] != InteractionKind.EMAIL_IN]
    seen = max([e["seen_interaction_id"], *(r["id"] for r in news)])
    until: datetime | None = None
    why = None
    for r in news:
        if r["occurred_at"] < e["enrolled_at"]:
            continue
        at = utc(r["occurred_at"])
        if r["kind"] == InteractionKind.BOUNCE:
            detail = json.loads(r["detail"]) if r["detail"] else {}
            if detail.get("other_address"):
                continue  # not the address we send to (salescli.mail.record)
            if detail.get("bounce") == "hard":

                return Verdict("end", EnrollmentState.BOUNCED,
                               "hard bounce" + (f": {detail['diagnostic']}"
                                                if detail.get("diagnostic") else ""), seen=seen)
            last = conn.execute("SELECT attempt FROM sends WHERE enrollment_id = ? AND"
                                " state = 'sent' ORDER BY id DESC LIMIT 1",
                                (e["id"],)).fetchone()
            if e["attempt"] > 1 or e["step"] == 0 or (last and last["attempt"] > 1):
                return Verdict("end", EnrollmentState.BOUNCED, "soft bounce, again", seen=seen)
            return Verdict("retry", until=window.next_open(at + timedelta(days=1)),
                           reason="soft bounce: step retried once", seen=seen)
        back = return_date(" ".join(filter(None, (r["subject"], r["body"]))), at)
        if back is not None:
            when = window.next_open(datetime(back.year, back.month, back.day,
                                             tzinfo=window.tz))
            why = f"out of office until {back.isoformat()}"
        else:
            when = window.next_open(add_wait(at, next_wait or "0d", window.tz))
            why = "out of office"
        if until is None or when > until:
            until = when
    if until is not None and until > moment:
        return Verdict("delay", until=until, reason=why, seen=seen)
    return Verdict("go", seen=seen)
