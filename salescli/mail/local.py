"""Local mail with the same interface as IMAP: a Maildir (as Dovecot, mbsync or
offlineimap write it) or mbox files. Folders unchanged since the last run are skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salescli.mail.config import MailError
from salescli.mail.sources import (
    HEADER_CHUNK,
    MAX_BODY,
    SKIP_LOCAL,
    Checkpoint,
    Chunk,
    Fetched,
    FolderPlan,
    Source,
    is_sent_name,
)

if TYPE_CHECKING:
    import mailbox


def _read_header(path: Path, limit: int = 1_048_576) -> bytes:
    """The header block of a message file (up to the first empty line)."""
    with open(path, "rb") as fh:
        data = b""
        while len(data) < limit:
            chunk = fh.read(65536)
            if not chunk:
                break
            data += chunk
            for sep in (b"\r\n\r\n", b"\n\n"):
                end = data.find(sep)
                if end >= 0:
                    return data[:end + len(sep)]
        return data


def _sig(*values: int) -> int:
    digest = hashlib.sha1(repr(values).encode()).digest()
    return int.from_bytes(digest[:8]) & (2 ** 63 - 1)  # (big-endian: the default)


class MaildirSource(Source):
    """A local Maildir (Maildir++ ``.Folder`` subfolders, or one directory per folder as
    mbsync writes). A folder whose directories did not change since the last run is
    skipped; otherwise every file is read and already-processed messages are dropped."""

    def __init__(self, path: str | os.PathLike, own: frozenset[str] = frozenset()):
        self.root = Path(path).expanduser()
        if not self.root.is_dir():
            raise MailError(f"--source maildir:{path}: not a directory")
        self.account = f"maildir:{self.root.resolve()}"
        self.own = own
        self._dirs: dict[str, Path] = {}  # pragma: no mutate: folders() sets it before use

    def folders(self) -> list[tuple[str, bool]]:
        dirs: dict[str, Path] = {}
        if (self.root / "cur").is_dir():
            dirs["INBOX"] = self.root
            for sub in sorted(self.root.iterdir()):
                if sub.name.startswith(".") and (sub / "cur").is_dir():
                    dirs[sub.name[1:].replace(".", "/")] = sub
        else:
            for cur in sorted(self.root.glob("**/cur")):
                folder = cur.parent
                name = folder.relative_to(self.root).as_posix()
                dirs["INBOX" if name.lower() == "inbox" else name] = folder
        if not dirs:
            raise MailError(f"--source maildir:{self.root}: no Maildir folders (cur/new) found")
        self._dirs = {n: p for n, p in dirs.items() if not SKIP_LOCAL.search(n)}
        return [(n, is_sent_name(n)) for n in self._dirs]

    def plan(self, folder: str, sent: bool, cp: Checkpoint | None,
             since: str | None) -> FolderPlan:
        # Checkpoint fields here: uidvalidity = when the last complete pass listed the
        # folder (epoch seconds), last_uid = its file count, highestmodseq = a signature of
        # the cur/ and new/ directory times. Files unchanged since that pass are skipped.
        d = self._dirs[folder]
        started = int(time.time())
        sig = _sig(*((d / s).stat().st_mtime_ns if (d / s).is_dir() else None
                     for s in ("cur", "new")))
        files = sorted(p for s in ("new", "cur") if (d / s).is_dir()
                       for p in (d / s).iterdir() if not p.name.startswith("."))
        final = Checkpoint(started, len(files), sig)
        if cp is not None and cp.highestmodseq == sig and cp.last_uid == len(files):
            return FolderPlan(folder, sent, [], final,
                              numeric=False,  # pragma: no mutate: no handle to number
                              )
        if cp is not None and cp.uidvalidity:
            cutoff = cp.uidvalidity - 2  # a margin for coarse file-system clocks
            files = [p for p in files if _changed_since(p, cutoff)]
        return FolderPlan(folder, sent, files, final, numeric=False)

    def headers(self, plan: FolderPlan) -> Iterator[Chunk]:
        out: list[Fetched] = []
        covered = 0
        for path in plan.handles:
            covered += 1
            path = _existing(path)
            if path is None:
                continue
            try:
                raw = _read_header(path)
                arrived = _maildir_time(path)
            except OSError:
                continue
            out.append((path, raw, arrived))
            if len(out) >= HEADER_CHUNK:
                yield covered, out
                out, covered = [], 0
        if out or covered:
            yield covered, out

    def bodies(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes]]:
        for path in handles:
            real = _existing(path)
            if real is not None:
                with open(real, "rb") as fh:
                    yield path, fh.read(MAX_BODY)

    def location(self, folder: str, handle: Any) -> str:
        return str(handle)


def _changed_since(path: Path, cutoff: float) -> bool:
    try:
        changed = path.stat().st_ctime
    except OSError:
        return True  # moved meanwhile: read it (where it went) to be sure
    # > or >= read the same new mail: a file changed at the cutoff (2 s before the last
    # pass listed the folder) was in that listing, and reading it again changes nothing.
    return changed >= cutoff  # pragma: no mutate (equivalent, see above)


def _existing(path: Path) -> Path | None:
    """The file, or where a mail client moved it (new → cur, flags changed)."""
    if path.exists():
        return path
    base = path.name.split(":")[0]
    for sub in ("cur", "new"):
        for candidate in (path.parent.parent / sub).glob(glob_escape(base) + "*"):
            return candidate
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _maildir_time(path: Path) -> datetime:
    head = path.name.split(".")[0]
    if head.isdigit() and 9 <= len(head) <= 11:
        return datetime.fromtimestamp(int(head), UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class MboxSource(Source):
    """An mbox file, or a directory of them (one folder per file). Message N of a file is
    UID N; a file rewritten from the start gets a new UIDVALIDITY and is rescanned."""

    def __init__(self, path: str | os.PathLike, own: frozenset[str] = frozenset()):
        self.root = Path(path).expanduser()
        if not self.root.exists():
            raise MailError(f"--source mbox:{path}: no such file or directory")
        self.account = f"mbox:{self.root.resolve()}"
        self.own = own
        self._files: dict[str, Path] = {}  # pragma: no mutate: folders() sets it before use
        self._boxes: dict[str, mailbox.mbox] = {}

    def folders(self) -> list[tuple[str, bool]]:
        if self.root.is_file():
            files = {self.root.stem: self.root}  # a file always has a stem (".mbox" is one)
        else:
            files = {p.name: p for p in sorted(self.root.iterdir())
                     if p.is_file() and not p.name.startswith(".")
                     and not SKIP_LOCAL.search(p.name)}
        self._files = files
        return [(n, is_sent_name(n)) for n in files]

    def plan(self, folder: str, sent: bool, cp: Checkpoint | None,
             since: str | None) -> FolderPlan:
        path = self._files[folder]
        st = path.stat()
        sig = _sig(st.st_size, st.st_mtime_ns)
        if cp is not None and cp.highestmodseq == sig:
            return FolderPlan(folder, sent, [], cp, cp.last_uid)
        import mailbox

        box = mailbox.mbox(path, create=False)  # pragma: no mutate: stat() above fails first
        self._boxes[folder] = box
        keys = sorted(box.keys())
        # The first message identifies the file: rewritten from the start, it is rescanned.
        uidvalidity = zlib.crc32(box.get_bytes(keys[0])) & 0x7FFFFFFF if keys else 0
        same = cp is not None and cp.uidvalidity == uidvalidity
        last = cp.last_uid if same else 0
        handles = [k + 1 for k in keys if k + 1 > last]
        return FolderPlan(folder, sent, handles, Checkpoint(uidvalidity, len(keys), sig), last,
                          reset=cp is not None and not same)

    def headers(self, plan: FolderPlan) -> Iterator[Chunk]:
        box = self._boxes[plan.folder]
        out: list[Fetched] = []
        for uid in plan.handles:
            raw = box.get_bytes(uid - 1)
            end = min((i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0),
                      default=len(raw))
            out.append((uid, raw[:end + 2], _from_line_time(box, uid - 1)))
            if len(out) >= HEADER_CHUNK:
                yield len(out), out
                out = []
        if out:
            yield len(out), out

    def bodies(self, plan: FolderPlan, handles: list) -> Iterator[tuple[Any, bytes]]:
        box = self._boxes[plan.folder]
        for uid in handles:
            yield uid, box.get_bytes(uid - 1)[:MAX_BODY]

    def location(self, folder: str, handle: Any) -> str:
        return f"{self._files[folder]}#{handle}"

    def close(self) -> None:
        for box in self._boxes.values():
            box.close()
        self._boxes.clear()


def _from_line_time(box: mailbox.mbox, key: int) -> datetime | None:
    try:
        line = box.get_file(key, from_=True).readline().decode(errors="replace")
        return datetime.strptime(" ".join(line.split()[-5:]), "%a %b %d %H:%M:%S %Y")\
            .replace(tzinfo=UTC)
    except (ValueError, KeyError, OSError):
        return None
