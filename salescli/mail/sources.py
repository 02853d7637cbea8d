"""Where mail comes from: the source interface, and IMAP accounts (local mail: ``local``).

Every source answers the same questions: which folders to scan, what is new since a
folder's checkpoint (``plan``), the header blocks of the new messages in handle order, a
chunk at a time (``headers``), and the whole message for the few that need it
(``bodies``: bounce candidates). An IMAP plan without ``--since`` is a UID range, not
a list: a first scan of half a million messages holds no list of them.
IMAP work retries connection errors with exponential backoff and jitter, and never
sets ``\\Seen`` (EXAMINE + ``BODY.PEEK``).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salescli.core.faults import failpoint
from salescli.mail.config import Account, MailError

log = logging.getLogger("salescli.mail")

HEADER_CHUNK = 500
BODY_CHUNK = 20
TEXT_CHUNK = 100  # partial bodies (8 KB each) per FETCH
MAX_BODY = 2_000_000
# UIDs per SEARCH of a --since first import: a reply line of at most ~160 KB, far below
# imaplib's 1 MB line limit, which one SEARCH over a 500k-message folder would break.
SEARCH_WINDOW = 20_000
SENT_NAMES = re.compile(r"^(inbox[./])?(\[gmail\]/)?(sent|sent items|sent messages|sent mail|"
                        r"gesendet|gesendete (objekte|elemente)|envoy[ée]s|[ée]l[ée]ments envoy"
                        r"[ée]s|enviados|elementos enviados|posta inviata|inviati|verzonden|"
                        r"verzonden items|skickat|skickade objekt|sendt|sendte elementer)$", re.I)
SKIP_LOCAL = re.compile(r"(^|[./])(trash|deleted( items| messages)?|junk|spam|drafts|"
                        r"templates|outbox)$", re.I)


@dataclass
class Checkpoint:
    """What is known of a folder: UIDVALIDITY, the last UID covered, HIGHESTMODSEQ."""

    uidvalidity: int | None
    last_uid: int
    highestmodseq: int | None = None


@dataclass
class FolderPlan:
    """The new messages of one folder and the checkpoint once all are processed."""

    folder: str
    sent: bool
    handles: list = field(default_factory=list)
    final: Checkpoint | None = None
    base_last: int = 0
    numeric: bool = True
    reset: bool = False


# (handle, header bytes, arrival time: IMAP's INTERNALDATE bytes are parsed when needed)
Fetched = tuple[Any, bytes, datetime | bytes | None]
# One chunk of ``headers``: how many of the plan's handles it covers (in order), and the
# messages found among them (an IMAP UID range may hold gaps).
Chunk = tuple[int, list[Fetched]]


def is_sent_name(name: str) -> bool:
    return bool(SENT_NAMES.match(name.strip()))


class Source:
    """The interface every source implements."""

    account: str = ""
    own: frozenset[str] = frozenset()
    rate_limit: float = 0.0

    def open(self) -> None: ...

    def prefetch(self, known: list[str]) -> None:
        """Learn what ``plan`` needs of the folders scanned before (``known``), before
        anything else is asked; a no-op where that costs nothing."""

    def folders(self) -> list[tuple[str, bool]]:
        raise NotImplementedError

    def plan(self, folder: str, sent: bool, cp: Checkpoint | None,
             since: str | None) -> FolderPlan:
        raise NotImplementedError

    def headers(self, plan: FolderPlan) -> Iterator[Chunk]:
        raise NotImplementedError

    def bodies(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes]]:
        raise NotImplementedError

    def texts(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes, bytes]]:
        """(handle, content headers, the first ``TEXT_BYTES`` of the body) per message:
        what ``mail.body`` reads. Local sources cut the whole message; IMAP fetches
        only that much."""
        from salescli.mail.body import TEXT_BYTES

        for handle, raw in self.bodies(plan, handles):
            head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
            wanted = [line for line in _unfold(head) if line.lower().startswith(
                (b"content-type:", b"content-transfer-encoding:"))]
            yield handle, b"\n".join(wanted), body[:TEXT_BYTES]

    def location(self, folder: str, handle: Any) -> str:
        return f"{self.account}/{folder}/{handle}"

    def close(self) -> None: ...


def _unfold(head: bytes) -> list[bytes]:
    """Header lines with their continuation lines joined."""
    out: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b" " + line.strip()
        else:
            out.append(line)
    return out


def _retryable(exc: BaseException) -> bool:
    """A dropped or refused connection (a refused certificate is a MailError already)."""
    import imaplib

    return isinstance(exc, OSError | imaplib.IMAP4.abort | EOFError)


class ImapSource(Source):
    """One IMAP account (imapclient), connected lazily, reconnecting on failures."""

    def __init__(self, account: Account, *, sleep: Callable[[float], None] = time.sleep):
        self.acc = account
        self.account = account.name
        self.own = account.my_addresses
        self.rate_limit = account.rate_limit
        self._sleep = sleep
        self.client = None
        self._selected: tuple[str, int] | None = None
        self.condstore = False
        self._status: dict[str, dict] = {}  # STATUS answers of ``prefetch``, used by ``plan``

    # -- connection --------------------------------------------------------------------
    def _connect(self) -> None:
        import ssl

        from imapclient import IMAPClient
        from imapclient.exceptions import LoginError

        a = self.acc
        ctx = None
        if a.ssl != "none":
            ctx = ssl.create_default_context(cafile=a.ca) if a.ca else \
                ssl.create_default_context()
        elif not a.loopback:
            log.warning("account %s: plaintext IMAP to %s (ssl = none): the password and mail "
                        "cross the network unencrypted", a.name, a.host)
        try:
            client = IMAPClient(a.host, a.port, ssl=a.ssl == "ssl", ssl_context=ctx,
                                timeout=a.timeout)
            if a.ssl == "starttls":
                client.starttls(ctx)
        except ssl.SSLCertVerificationError as exc:
            raise MailError(f"account {a.name!r}: TLS certificate of {a.host}:{a.port} "
                            f"rejected: {exc.verify_message or exc}"
                            + ("" if a.ca else " (private CA? set SALESCLI_IMAP_CA or ca)")) \
                from None
        except ssl.SSLError as exc:
            raise MailError(f"account {a.name!r}: TLS with {a.host}:{a.port} failed: "
                            f"{exc.reason or exc}") from None
        client.normalise_times = False
        try:
            if a.auth == "xoauth2":
                client.oauth2_login(a.user, a.secret())
            else:
                client.login(a.user, a.secret())
        except LoginError as exc:  # raised from the server's reply: that, not its repr
            _quiet_close(client)
            raise MailError(f"account {a.name!r}: login as {a.user!r} ({a.auth}) failed: "
                            f"{_text(exc.__context__ or exc)}") from None
        except BaseException:
            _quiet_close(client)
            raise
        self.client = client
        self.condstore = b"CONDSTORE" in client.capabilities()  # as the server spells it
        if self._selected:
            folder, uidvalidity = self._selected
            info = client.select_folder(folder, readonly=True)
            if info.get(b"UIDVALIDITY") != uidvalidity:
                self._selected = None
                raise MailError(f"account {a.name!r}: folder {folder!r} changed UIDVALIDITY "
                                "during the scan; the next run rescans it")

    def _drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _quiet_close(client)

    def call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(client)``, reconnecting with backoff on connection failures."""
        attempt = 0
        while True:
            try:
                if self.client is None:
                    self._connect()
                return fn(self.client)
            except MailError:
                raise
            except Exception as exc:
                if not _retryable(exc):
                    raise MailError(f"account {self.account!r}: {what} failed: "
                                    f"{_text(exc)}") from None
                self._drop()
                attempt += 1
                if attempt > self.acc.retries:
                    raise MailError(f"account {self.account!r}: {what} failed after "
                                    f"{attempt} attempts: {_text(exc)}") from None
                delay = min(30.0, self.acc.backoff * 2 ** (attempt - 1))
                delay *= 0.5 + random.random() / 2
                log.warning("account %s: %s: %s; retry %d/%d in %.1fs", self.account, what,
                            _text(exc), attempt, self.acc.retries, delay)
                self._sleep(delay)

    def open(self) -> None:
        self.call("connect", lambda c: None)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                _quiet_close(client)

    def location(self, folder: str, handle: Any) -> str:
        return f"imap://{self.acc.user}@{self.acc.host}/{folder};UID={handle}"

    # -- folders -----------------------------------------------------------------------
    def _status_items(self) -> list[str]:
        return ["UIDNEXT", "UIDVALIDITY"] + (["HIGHESTMODSEQ"] if self.condstore else [])

    def prefetch(self, known: list[str]) -> None:
        """STATUS of the folders scanned before, INBOX first, as the session's first
        commands. Dovecot answers STATUS INBOX at once as a session's first command, but
        after LIST or another folder's STATUS it takes time that grows with the folder
        (0.09 s at 60k messages, 0.4 s at 300k): a rescan with no new mail then cost
        that much. LIST still follows (new or renamed folders are found); a folder that
        is gone (its STATUS fails) is left to LIST, and ``plan`` asks again for any
        folder not answered here."""
        items = self._status_items()
        for folder in sorted(set(known), key=lambda f: (f.upper() != "INBOX", f)):
            st = self.call(f"STATUS {folder}", lambda c, f=folder: _status_or_none(c, f, items))
            if st is not None:
                self._status[folder] = st

    def folders(self) -> list[tuple[str, bool]]:
        listing = self.call("LIST", lambda c: c.list_folders())
        names = {name: flags for flags, _sep, name in listing}
        sent_flagged = [n for n, flags in names.items() if b"\\Sent" in flags]
        if self.acc.folders:
            out = []
            for name in self.acc.folders:
                real = next((n for n in names if n.lower() == name.lower()), None)
                if real is None:
                    raise MailError(f"account {self.account!r}: folder {name!r} does not exist "
                                    "(folders: " + ", ".join(sorted(names)) + ")")
                out.append((real, real in sent_flagged or is_sent_name(real)))
            return out
        out = [("INBOX", False)]
        sent = sent_flagged[:1] or [n for n in names if is_sent_name(n)][:1]
        out += [(n, True) for n in sent if n.upper() != "INBOX"]
        return out

    def plan(self, folder: str, sent: bool, cp: Checkpoint | None,
             since: str | None) -> FolderPlan:
        st = self._status.pop(folder, None)
        if st is None:
            items = self._status_items()
            st = self.call(f"STATUS {folder}", lambda c: c.folder_status(folder, items))
        uidvalidity = int(st[b"UIDVALIDITY"])
        top = int(st[b"UIDNEXT"]) - 1
        hms = int(st[b"HIGHESTMODSEQ"]) if st.get(b"HIGHESTMODSEQ") else None
        same = cp is not None and cp.uidvalidity == uidvalidity
        if same and top <= cp.last_uid:
            return FolderPlan(folder, sent, [], Checkpoint(uidvalidity, cp.last_uid, hms),
                              cp.last_uid)
        last = cp.last_uid if same else 0
        self._selected = None  # examined afresh: the folder's UIDVALIDITY now, not STATUS's
        self._select(folder)
        uidvalidity = self._selected[1]
        handles: range | list[int]
        if since:
            handles = self._search_since(folder, last + 1, top, since)
        else:
            # Every UID that may exist up to UIDNEXT - 1, fetched as ranges; the
            # server skips the gaps. (Here top > last: the same UIDVALIDITY with
            # nothing new returned above, and a new one starts from 0.)
            handles = range(last + 1, top + 1)
        final = Checkpoint(uidvalidity, top, hms)
        return FolderPlan(folder, sent, handles, final, last, True,
                          reset=cp is not None and not same)

    def _search_since(self, folder: str, first: int, top: int, since: str) -> list[int]:
        """The UIDs from ``first`` to ``top`` of mail received on or after ``since``'s day,
        searched SEARCH_WINDOW UIDs at a time so that no reply line grows with the folder."""
        day = datetime.fromisoformat(since).date()  # ISO UTC, "Z" read since Python 3.11
        found: list[int] = []
        for lo in range(first, top + 1, SEARCH_WINDOW):
            hi = min(lo + SEARCH_WINDOW - 1, top)
            criteria: list[Any] = ["UID", f"{lo}:{hi}", "SINCE", day]
            found += sorted(u for u in self.call(f"SEARCH {folder}",
                                                 lambda c, q=criteria: c.search(q))
                            if lo <= u <= hi)
        return found

    def _select(self, folder: str) -> None:
        if self._selected is None or self._selected[0] != folder:
            info = self.call(f"EXAMINE {folder}", lambda c: c.select_folder(folder, True))
            self._selected = (folder, int(info[b"UIDVALIDITY"]))

    def headers(self, plan: FolderPlan) -> Iterator[Chunk]:
        from salescli.mail.parse import IMAP_HEADER_ITEM

        self._select(plan.folder)
        size = max(1, self.acc.fetch_batch)
        if self.rate_limit:
            size = max(1, min(size, int(self.rate_limit)))
        for i in range(0, len(plan.handles), size):
            chunk = plan.handles[i:i + size]
            started = time.monotonic()
            resp = self.call(f"FETCH {plan.folder}",
                             lambda c, chunk=chunk: _fetch_headers(c, chunk, IMAP_HEADER_ITEM))
            out = [(uid, *resp[uid]) for uid in chunk if uid in resp]  # else: expunged
            failpoint("scan.fetch")
            yield len(chunk), out
            if self.rate_limit:
                wait = len(chunk) / self.rate_limit - (time.monotonic() - started)
                if wait > 0:
                    self._sleep(wait)

    def bodies(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes]]:
        self._select(plan.folder)
        item = f"BODY.PEEK[]<0.{MAX_BODY}>".encode()
        for i in range(0, len(handles), BODY_CHUNK):
            chunk = handles[i:i + BODY_CHUNK]
            resp = self.call(f"FETCH {plan.folder}",
                             lambda c, chunk=chunk: c.fetch(chunk, [item]))
            for uid in chunk:
                data = resp.get(uid) or {}
                raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), None)
                if raw:
                    yield uid, raw

    def texts(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes, bytes]]:
        """The partial fetch: content headers and ``BODY.PEEK[TEXT]<0.N>`` (no \\Seen)."""
        from salescli.mail.body import CONTENT_FIELDS, TEXT_ITEM

        self._select(plan.folder)
        items = [CONTENT_FIELDS.encode(), TEXT_ITEM.encode()]
        for i in range(0, len(handles), TEXT_CHUNK):
            chunk = handles[i:i + TEXT_CHUNK]
            resp = self.call(f"FETCH {plan.folder}",
                             lambda c, chunk=chunk: c.fetch(chunk, items))
            for uid in chunk:
                data = resp.get(uid) or {}
                head = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
                text = next((v for k, v in data.items() if k.startswith(b"BODY[TEXT]")), None)
                if text is not None:
                    yield uid, head or b"", text


_RAW_UID = re.compile(rb"[( ]UID (\d+)[ )]")
_RAW_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def _fetch_headers(client: Any, uids: list[int] | range, item: str) -> dict[int, tuple]:
    """UID → (header bytes, INTERNALDATE as bytes or datetime) for a chunk of UIDs (a
    list, or a range whose gaps the server skips).

    imapclient's response parser costs about four times the rest of a header fetch, so
    the FETCH goes through its imaplib connection and the literals are taken as they
    come; any response not in the expected shape falls back to ``client.fetch``."""
    imap = getattr(client, "_imap", None)
    if imap is not None:
        is_range = isinstance(uids, range)
        uid_set = f"{uids.start}:{uids.stop - 1}" if is_range else ",".join(map(str, uids))
        typ, data = imap.uid("FETCH", uid_set, f"(UID INTERNALDATE {item})")
        if typ != "OK":
            raise imap.error(f"FETCH failed: {data!r}"[:300])
        out: dict[int, tuple] = {}
        shaped = True
        for el in data:
            if not isinstance(el, tuple):
                continue  # the closing ")" or an unsolicited FETCH (flags)
            uid, date = _RAW_UID.search(el[0]), _RAW_DATE.search(el[0])
            if uid is None or date is None or b"BODY[HEADER" not in el[0]:
                shaped = False
                break
            # INTERNALDATE as the server's bytes: parsed only for mail without a usable Date
            out[int(uid.group(1))] = (el[1], date.group(1))
        if shaped and (is_range or len(out) == len(uids)):
            return out
    resp = client.fetch(list(uids), [item.encode(), b"INTERNALDATE"])
    result = {}
    for uid, data in resp.items():
        raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
        result[uid] = (raw or b"", data.get(b"INTERNALDATE"))
    return result


def _status_or_none(client: Any, folder: str, items: list[str]) -> dict | None:
    """STATUS of ``folder``, or None when the server refuses it (the folder is gone);
    a dropped connection still raises (``call`` reconnects)."""
    from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

    try:
        return client.folder_status(folder, items)
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        return None


def _quiet_close(client: Any) -> None:
    try:
        client.shutdown()
    except Exception:
        pass


def _text(exc: BaseException) -> str:
    """One line of an exception's text; a server's reply (bytes) as its text, not a repr."""
    reply = exc.args[0] if len(exc.args) == 1 else None
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else \
        str(exc) or type(exc).__name__
    return text.replace("\r", " ").replace("\n", " ")[:300]
