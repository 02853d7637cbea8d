"""`db restore --from-replica` killed with -9 while Litestream works for it: Litestream
dies with it (it would otherwise go on talking to the replica server, and writing into a
restore nobody finishes, for as long as the server keeps it waiting)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from tests.ops.helpers import salescli_env


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def test_litestream_dies_with_a_restore_killed_by_9(tmp_path, procs):
    # A real server that takes the connection and never says a word (no SSH banner).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    silent.settimeout(60)
    url = f"sftp://backup@127.0.0.1:{silent.getsockname()[1]}/replica"
    proc = procs(sys.executable, "-m", "salescli", "db", "restore", "--from-replica", url,
                 "--output", tmp_path / "out", env=salescli_env(),
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        conn, _ = silent.accept()  # Litestream, started by salescli, has connected
        (child,) = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Litestream closes its end when it dies: the server reads the end of the stream.
        conn.settimeout(30)
        while conn.recv(4096):  # its SSH banner first, then nothing
            pass
        conn.close()
    finally:
        silent.close()
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)  # should it have outlived salescli
            except ProcessLookupError:
                pass
