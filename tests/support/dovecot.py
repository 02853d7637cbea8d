"""A throwaway Dovecot IMAP server for tests and benchmarks.

Usage::

    from tests.support.dovecot import Dovecot

    with Dovecot(tls=True) as server:          # starts on a free loopback port
        server.add_user("alice", "secret")      # passwd-file user, re-read by Dovecot live
        client = server.client("alice")         # a logged-in imapclient.IMAPClient
        server.append("alice", "INBOX", raw_bytes, when=datetime(...))
        server.bulk_append("alice", "Sent", [(raw, when), ...])   # MULTIAPPEND, fast
        server.stop(); server.start()           # or server.restart(): same ports, same mail

``free_port()`` and ``make_ca_and_cert(directory)`` are usable on their own.

Attributes a test needs: ``host`` (127.0.0.1), ``port`` (plain IMAP, STARTTLS when
``tls``), ``tls_port`` (implicit TLS, when ``tls``), ``ca_file`` (the CA that signed
the server certificate for ``localhost``), ``root`` (a private directory, removed by
``close``). Options: ``sent_folders`` (mailbox names flagged ``\\Sent``),
``oauth2_introspection_url`` (adds an oauth2 passdb for XOAUTH2/OAUTHBEARER that
checks tokens against that URL; the answer must hold ``active`` and ``username``).

Runs as root (mail owned by the ``dovecot`` user, as design.md describes) or as an
ordinary user (everything runs as that user). Requires the ``dovecot-imapd`` package
and ``openssl`` for TLS. Tuned for tests: no fsync, no auth-failure delays or penalties.
The server dies with the process that started it, and ``close`` runs at exit.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca_and_cert(directory: Path, hostname: str = "localhost") -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for ``hostname`` signed by it (openssl CLI).

    Returns (ca_file, cert_file, key_file).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.pem"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(f"subjectAltName = DNS:{hostname}\n"
                   "basicConstraints = CA:FALSE\n"
                   "keyUsage = digitalSignature, keyEncipherment\n"
                   "extendedKeyUsage = serverAuth\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=salescli test CA", "-keyout", str(ca_key), "-out", str(ca_crt),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hostname}",
        "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-out", str(crt), "-extfile", str(ext))
    return ca_crt, crt, key


class Dovecot:
    """One Dovecot instance with its own config, runtime dirs, users and Maildirs."""

    def __init__(self, *, tls: bool = False, sent_folders: tuple[str, ...] = ("Sent",),
                 oauth2_introspection_url: str | None = None,
                 root: str | os.PathLike | None = None,
                 capabilities: str | None = None) -> None:
        self.tls = tls
        self.capabilities = capabilities  # imap_capability: the whole list, e.g. without IDLE
        self.sent_folders = sent_folders
        self.oauth2_url = oauth2_introspection_url
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="salescli-dovecot-"))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the dovecot user must traverse it
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.ca_file: Path | None = None
        self.passwd = self.root / "passwd.d"  # one file per user: new users are seen at once
        self.passwd.mkdir(exist_ok=True)
        self.mail_root = self.root / "mail"
        self.mail_root.mkdir(exist_ok=True)
        self.conf = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self._proc: subprocess.Popen | None = None
        self._started_once = False
        atexit.register(self.close)  # never leave a server behind
        self._users: dict[str, str] = {}
        self._root_user = os.geteuid() == 0
        if self._root_user:
            self._mail_owner = pwd.getpwnam("dovecot")
        else:
            self._mail_owner = pwd.getpwuid(os.geteuid())
        os.chown(self.mail_root, self._mail_owner.pw_uid, self._mail_owner.pw_gid)
        if tls:
            self.ca_file, self._cert, self._key = make_ca_and_cert(self.root / "tls")
        self._write_config()

    # -- configuration -------------------------------------------------------------
    def _write_config(self) -> None:
        r = self.root
        uid, gid = self._mail_owner.pw_uid, self._mail_owner.pw_gid
        mechanisms = "plain login" + (" xoauth2 oauthbearer" if self.oauth2_url else "")
        mailboxes = "\n".join(
            f'  mailbox "{name}" {{\n    special_use = \\Sent\n  }}' for name in self.sent_folders)
        lines = [
            f"base_dir = {r}/run",
            f"state_dir = {r}/state",
            f"log_path = {self.log}",
            "protocols = imap",
            f"listen = {self.host}",
            "disable_plaintext_auth = no",
            f"auth_mechanisms = {mechanisms}",
            f"mail_location = maildir:{self.mail_root}/%u/Maildir",
            f"first_valid_uid = {min(uid, 500)}",
            "mail_max_userip_connections = 200",
            "auth_failure_delay = 0",
            "mail_fsync = never",
            # No cap on a process's address space: Dovecot's default (256 MB) counts the
            # mmapped index cache, which a 500k-message folder outgrows mid-FETCH (EOF).
            "default_vsz_limit = 0",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            mailboxes,
            "}",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {self.passwd}/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={uid} gid={gid} home={self.mail_root}/%u",
            "}",
            # Tests fail logins on purpose: no growing penalty for it.
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {self.host}",
            f"    port = {self.tls_port or 0}",
            "  }",
            "}",
        ]
        if self.capabilities is not None:
            lines.append(f"imap_capability = {self.capabilities}")
        if self._root_user:
            lines += [f"mail_uid = {uid}", f"mail_gid = {gid}"]
        else:
            me = self._mail_owner.pw_name
            lines += [f"default_internal_user = {me}", f"default_login_user = {me}",
                      "service imap-login {", "  chroot =", "}",
                      "service anvil {", "  chroot =", "}"]
        if self.tls:
            lines += ["ssl = yes", f"ssl_cert = <{self._cert}", f"ssl_key = <{self._key}"]
        else:
            lines.append("ssl = no")
        if self.oauth2_url:
            oauth_conf = r / "oauth2.conf.ext"
            oauth_conf.write_text(
                f"introspection_url = {self.oauth2_url}\n"
                "introspection_mode = post\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n")
            lines += ["passdb {", "  driver = oauth2", "  mechanisms = xoauth2 oauthbearer",
                      f"  args = {oauth_conf}", "}"]
        self.conf.write_text("\n".join(lines) + "\n")

    # -- lifecycle -----------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> Dovecot:
        """Start ``dovecot -F`` and wait until it greets on the IMAP port. If another
        process took a port meanwhile, a first start moves to fresh ports (a restart
        waits for its own ports to come free)."""
        if self._proc and self._proc.poll() is None:
            return self
        for attempt in range(5):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                if not self._started_once:
                    self.port = free_port()
                    self.tls_port = free_port() if self.tls else None
                    self._write_config()
                time.sleep(0.2 * (attempt + 1))
        return self._start_once(timeout)

    def _start_once(self, timeout: float) -> Dovecot:
        self._proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace")
                self._proc.stderr.close()
                self._proc = None
                if "Address already in use" in err + self.log_text()[-2000:]:
                    raise _PortTaken(err)
                raise RuntimeError(f"dovecot exited: {err}\n{self.log_text()}")
            if self._greets():
                self._started_once = True
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start in {timeout}s\n{self.log_text()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM to its process group, then SIGKILL), keeping the mail."""
        proc, self._proc = self._proc, None
        if not proc or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        # Child processes of the group (imap, auth) go with the master; make sure.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if proc.stderr:
            proc.stderr.close()

    def restart(self) -> Dovecot:
        """Stop and start again on the same ports with the same mail."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return bool(self._proc and self._proc.poll() is None)

    def close(self) -> None:
        """Stop the server and remove its directory (when it made it)."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # -- users and mail ----------------------------------------------------------
    def add_user(self, name: str, password: str = "secret") -> str:
        """Add a passwd-file user (Dovecot notices the changed file); returns the name."""
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"user name {name!r}: letters, digits, - _ . only")
        self._users[name] = password
        (self.passwd / name).write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        home = self.mail_root / name
        home.mkdir(exist_ok=True)
        os.chown(home, self._mail_owner.pw_uid, self._mail_owner.pw_gid)
        return name

    def bulk_append(self, user: str, folder: str,
                    messages: list[tuple[bytes, datetime | None]], chunk: int = 500) -> None:
        """Append many messages fast (MULTIAPPEND, ``chunk`` per command)."""
        c = self.client(user)
        try:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            for i in range(0, len(messages), chunk):
                c.multiappend(folder, [{"msg": raw, **({"date": when} if when else {})}
                                       for raw, when in messages[i:i + chunk]])
        finally:
            c.logout()

    def password(self, user: str) -> str:
        return self._users[user]

    def client(self, user: str, *, timeout: float = 10):
        """A logged-in imapclient connection (plain IMAP on loopback)."""
        from imapclient import IMAPClient

        c = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        # APPEND sends a literal after a continuation: without this, Nagle's algorithm and
        # delayed ACKs cost ~40 ms per message.
        c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.login(user, self._users[user])
        return c

    def append(self, user: str, folder: str, message: bytes | str,
               when: datetime | None = None, flags: tuple = ()) -> int | None:
        """Append one message (creating the folder); returns its UID when the server says."""
        return self.append_many(user, folder, [(message, when)], flags=flags)[0]

    def append_many(self, user: str, folder: str,
                    messages: list[tuple[bytes | str, datetime | None]],
                    flags: tuple = ()) -> list[int | None]:
        """Append many messages over one connection; returns their UIDs (APPENDUID)."""
        c = self.client(user)
        try:
            if folder.upper() != "INBOX" and not c.folder_exists(folder):
                c.create_folder(folder)
            uids = []
            for raw, when in messages:
                if isinstance(raw, str):
                    raw = raw.encode()
                resp = c.append(folder, raw, flags=flags, msg_time=when)
                uids.append(_appenduid(resp))
            return uids
        finally:
            c.logout()


class _PortTaken(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, however it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _appenduid(resp: bytes) -> int | None:
    # b'[APPENDUID 1700000000 5] Append completed.'
    text = resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)
    if "APPENDUID" in text:
        try:
            return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
        except (IndexError, ValueError):
            return None
    return None
