"""What kind of mail is this: outbound, a genuine reply, an auto-reply, a bounce, list or
automated mail, internal mail. Bounces are read from the whole message (flufl.bounce,
plus our own reading of RFC 3464 status codes and diagnostics).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from enum import StrEnum

from salescli.mail.parse import Envelope, decode_words, fix_text, normalise_address


class Kind(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"          # a genuine message from a person: counts as a reply
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    AUTOMATED = "automated"      # no-reply senders, notifications, our own auto-replies
    INTERNAL = "internal"        # only our own addresses


_NOREPLY = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|noreply-.*|.*-noreply|mailer-daemon|postmaster|"
    r"mail-?daemon|bounces?(\+.*|-.*)?|notifications?|notify|alerts?|newsletters?|"
    r"news|info-?noreply|automated|auto-?mailer|system|daemon|root)$")
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-?daemon|mdaemon)$")
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ _-]?(reply|response|answer|antwort)|autoreply|auto:|"
    r"out of (the )?office|ooo[: ]|on vacation|vacation( reply)?:|away from (the )?office|"
    r"abwesenheit|automatische antwort|r[ée]ponse automatique|absence|"
    r"respuesta autom[áa]tica|fuera de la oficina|risposta automatica|"
    r"automatisch antwoord|afwezig|autosvar|automaattinen vastaus)", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|delivery (status notification \((failure|delay)\)|failure|"
    r"has failed|incomplete|notification)|mail delivery (failed|failure|system|subsystem)|"
    r"returned mail|failure notice|non[- ]?deliver|message not delivered|"
    r"warning: (message|could not send)|could not send message|delivery delayed|"
    r"nicht zustellbar|unzustellbar|non remis|mail system error)", re.I)
_SMTP_LINE = re.compile(r"\b(?:[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}\b.*|[45]\.\d\.\d{1,3} .*|"
                        r"\b55[0-4] .*|\b45[0-2] .*)")
_MAILBOX_FULL = ("5.2.2", "4.2.2")  # x.2.2: the mailbox exists, it is full: soft
_DSN_TYPE = re.compile(r"report-type\s*=\s*\"?delivery-status")


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a bounce reports: its address, hard or soft, and the server's words."""

    address: str
    hard: bool
    diagnostic: str | None


def is_own(addr: str | None, own: frozenset[str]) -> bool:
    """One of our addresses: listed, or at a domain listed as ``@domain``."""
    if not addr:
        return False
    # (the last "@": a quoted local part may hold one)
    return addr in own or addr[addr.rfind("@"):] in own


def _localpart(addr: str) -> str:
    """The local part of a normalised address, unquoted."""
    return addr.rpartition("@")[0].replace('"', "")


def _field(h: dict[str, str], name: str) -> str:
    """A header's value, trimmed and in lower case; "" when it is absent."""
    return (h.get(name) or "").strip().lower()


def is_noreply(addr: str | None) -> bool:
    """A sender nobody answers: no-reply, mailer-daemon, notifications and the like."""
    return bool(addr) and bool(_NOREPLY.match(_localpart(addr)))


def is_bounce_candidate(env: Envelope) -> bool:
    """Looks like a delivery report, so the whole message is read and the bounce readers
    decide, before any list, automated or From check: a DSN or multipart/report, a
    null, missing, mailer-daemon or postmaster sender, X-Failed-Recipients, or a known
    bounce subject."""
    h = env.headers
    ctype = _field(h, "content-type")
    if _DSN_TYPE.search(ctype) or "multipart/report" in ctype or h.get("x-failed-recipients"):
        return True
    if _field(h, "return-path") == "<>" or (
            env.from_error and _field(h, "from").endswith("<>")):
        return True  # the null reverse path: only delivery reports are sent from it
    if env.from_addr and _DAEMONS.match(_localpart(env.from_addr)):
        return True
    return bool(env.subject) and bool(_BOUNCE_SUBJECT.search(env.subject))


def is_auto_reply(env: Envelope) -> bool:
    """Out-of-office and other auto-responders (RFC 3834 and the common non-standard marks)."""
    h = env.headers
    if _field(h, "auto-submitted").startswith("auto-replied"):
        return True
    if "x-autoreply" in h or "x-autorespond" in h:
        return True
    if _field(h, "precedence") == "auto_reply":
        return True
    return bool(env.subject) and bool(_AUTO_SUBJECT.search(env.subject))


def is_list(env: Envelope) -> bool:
    """Mailing lists and bulk mail: List-Id, List-Unsubscribe, Precedence bulk/list/junk."""
    h = env.headers
    if "list-id" in h or "list-unsubscribe" in h:
        return True
    return _field(h, "precedence") in ("bulk", "list", "junk")


def is_automated(env: Envelope) -> bool:
    """Machine-sent mail that is not an auto-reply: Auto-Submitted or a no-reply sender."""
    auto = _field(env.headers, "auto-submitted")
    return (bool(auto) and auto != "no") or is_noreply(env.from_addr)


def mark(env: Envelope) -> Envelope:
    """Note the header tests classification needs (``flags``), then drop the headers so a
    large scan keeps little in memory."""
    flags = set()
    if is_auto_reply(env):
        flags.add("auto_reply")
    if is_list(env):
        flags.add("list")
    if is_automated(env):
        flags.add("automated")
    env.flags = frozenset(flags)
    env.headers = {}
    return env


def classify(env: Envelope, own: frozenset[str]) -> Kind:
    """The kind of a ``mark``-ed envelope given our own addresses (bounces need
    ``failures`` filled from the whole message)."""
    if env.failures:
        return Kind.BOUNCE
    from_own = is_own(env.from_addr, own)
    if from_own or env.sent_folder:
        others = [a for a in env.recipients if not is_own(a, own)]
        if from_own and not others:
            return Kind.INTERNAL
        if "automated" in env.flags or "auto_reply" in env.flags:
            return Kind.AUTOMATED
        return Kind.OUTBOUND
    if "list" in env.flags:
        return Kind.LIST
    if "auto_reply" in env.flags:
        return Kind.AUTO_REPLY
    if "automated" in env.flags:
        return Kind.AUTOMATED
    return Kind.INBOUND


def bounce_failures(raw: bytes) -> list[Failure]:
    """Failed recipients reported by a bounce (DSN or the common non-standard formats).

    A plain RFC 3464 report is read directly from its delivery-status part; anything
    else is parsed whole and handed to flufl.bounce."""
    fast = _fast_dsn(raw)
    if fast:
        return fast
    import email

    from flufl.bounce import all_failures

    msg = email.message_from_bytes(raw)
    temporary, permanent = all_failures(msg)
    dsn = _dsn_blocks(msg)
    found: dict[str, Failure] = {}
    for addr, hard in [(a, False) for a in temporary] + [(a, True) for a in permanent]:
        if isinstance(addr, bytes):  # (flufl.bounce gives bytes)
            addr = addr.decode("ascii", "replace")  # pragma: no mutate: codec names ignore case
        norm = normalise_address(str(addr))
        if not norm:
            continue
        action, status, diag = dsn.get(norm, _NO_BLOCK)
        if action or status:
            hard = is_hard(action, status, hard)
        if not diag:
            diag = _diagnostic_from_text(msg)
        if norm not in found or hard:
            found[norm] = Failure(norm, hard, diag)
    # Exim's list, for whom the readers above did not name (flufl.bounce stops at its first
    # reader that finds someone)
    for part in _str(msg.get("x-failed-recipients")).split(","):
        norm = normalise_address(part)
        if norm and norm not in found:
            found[norm] = Failure(norm, True, _diagnostic_from_text(msg))
    if not found and not dsn and msg.get_content_type() == "multipart/report" and \
            "delivery-status" in _str(msg.get_param("report-type")).lower():
        raise UnreadableBounce("delivery report (RFC 3464) without a readable recipient")
    return list(found.values())


_DSN_PART = re.compile(rb"^content-type:[ \t]*message/delivery-status", re.I | re.M)
_BLANK = re.compile(rb"\r?\n[ \t]*\r?\n")
_CTE = re.compile(rb"^content-transfer-encoding:[ \t]*([\w-]+)", re.I | re.M)


def _fast_dsn(raw: bytes) -> list[Failure] | None:
    """Failures from a message/delivery-status part, read without a MIME parse (decoded
    when the part is quoted-printable or base64, as some MTAs send every part: Python's
    parser reads such a part's fields undecoded); None when the message is not such a
    report (the full path handles it)."""
    m = _DSN_PART.search(raw)
    if not m:
        return None
    sep = _BLANK.search(raw, m.start())
    if not sep:
        return None
    start = raw[:m.start()].rfind(b"\n--")  # the part's boundary line, then its headers
    head = raw[max(start, 0):sep.start()]  # (in any order)
    cte = _CTE.search(head)
    # (an encoding this reader does not name sends the report to the full parse, which
    # reads an unencoded one to the same failures: the plain names are speed only)
    encoding = cte.group(1).lower() if cte else b"7bit"  # pragma: no mutate
    body = raw[sep.end():]
    end = re.search(rb"^--", body, re.M)
    body = body[:end.start()] if end else body
    if encoding == b"quoted-printable":
        body = quopri.decodestring(body)
    elif encoding == b"base64":
        try:
            body = base64.b64decode(body)
        except binascii.Error:
            return None
    elif encoding not in (b"7bit", b"8bit", b"binary"):  # pragma: no mutate (as above)
        return None
    text = body.decode(errors="replace")  # (UTF-8)
    failures: dict[str, Failure] = {}
    for block in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        action = fields.get("action")
        if not action or not action.lower().startswith(("delayed", "fail", "error")):
            continue
        rcpt = fields.get("original-recipient") or fields.get("final-recipient")
        addr = normalise_address(rcpt.split(";", 1)[-1]) if rcpt else None
        if not addr:
            continue
        status = (fields.get("status") or "").split(" ")[0]
        hard = is_hard(action, status, True)  # pragma: no mutate (the action decides)
        diag = fields.get("diagnostic-code")
        diag = " ".join(diag.split(";", 1)[-1].split())[:300] if diag else \
            (f"status {status}" if status else None)
        if addr not in failures or hard:
            failures[addr] = Failure(addr, hard, diag)
    return list(failures.values()) or None


def is_hard(action: str, status: str, default: bool) -> bool:
    """Whether an RFC 3464 recipient block is a permanent failure: a full mailbox
    (x.2.2) never is, ``delayed`` never is, ``failed`` always is (a 4.x.x status with
    ``failed`` is a temporary problem the MTA gave up on: final), else a 5.x.x status."""
    action = action.lower()
    if status in _MAILBOX_FULL or action.startswith("delayed"):
        return False
    if action.startswith(("fail", "error")):
        return True
    if status[:1] in ("4", "5"):
        return status.startswith("5")
    return default


_NO_BLOCK = ("", "", None)  # (Action, Status, Diagnostic-Code) of a recipient the report
#                             does not name


class UnreadableBounce(Exception):
    """A delivery report we cannot read: quarantined for a person to look at."""


def _str(value: object) -> str:
    """A header value as text, whatever the compat32 parser made of it."""
    if value is None:
        return ""
    return fix_text(str(value)) or ""


def _dsn_blocks(msg) -> dict[str, tuple[str, str, str | None]]:
    """Per recipient of an RFC 3464 report: (Action, Status, Diagnostic-Code), "" for an
    absent Action or Status."""
    out: dict[str, tuple[str, str, str | None]] = {}
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():  # the parser makes each block a Message
            rcpt = _str(block.get("original-recipient") or block.get("final-recipient"))
            addr = normalise_address(rcpt.split(";", 1)[-1])
            if not addr:
                continue
            status = _str(block.get("status")).strip().split(" ")[0]
            diag = _str(block.get("diagnostic-code"))
            if diag:
                diag = decode_words(" ".join(diag.split(";", 1)[-1].split()))[:300]
            if not diag and status:
                diag = f"status {status}"
            out[addr] = (_str(block.get("action")).strip(), status, diag)
    return out


def _diagnostic_from_text(msg) -> str | None:
    """The first SMTP-looking error line in the text parts, else the subject."""
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        # (the stdlib decodes a text part as far as it can, never raising)
        payload = part.get_payload(decode=True)[:65536]
        charset = part.get_content_charset()
        text = payload.decode(charset, "replace") if _known_charset(charset) else \
            payload.decode(errors="replace")
        match = _SMTP_LINE.search(text)
        if match:
            return " ".join(match.group(0).split())[:300]
    subject = decode_words(_str(msg.get("subject")))
    return subject[:300] if subject else None


def _known_charset(name: str | None) -> bool:
    import codecs

    if not name:
        return False  # pragma: no mutate (no charset: the caller reads utf-8 either way)
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True
