"""``SALESCLI_LOG_SYSLOG=1``: the log goes to the local syslog, the /dev/log socket when
there is one, else syslog's UDP port on localhost (a machine without a local socket, like
this container); each line is the job's line with the facility user."""

from __future__ import annotations

import logging
import os

import pytest

from salescli.core.log import setup_logging
from tests.support.syslog import syslog_listener


@pytest.mark.parametrize("on", ["1", "on", "TRUE", "yes", "Yes"])
def test_syslog_on_without_a_local_socket_goes_to_udp_514_on_localhost(on, monkeypatch):
    if os.path.exists("/dev/log") or os.path.exists("/var/run/syslog"):
        pytest.skip("this machine has a local syslog socket: the line goes there")
    with syslog_listener() as server:  # skips when not root, or a syslog daemon listens
        got = _unset_then_on(server, on, monkeypatch)
    assert got.startswith("<12>salescli[")  # facility user, level warning
    assert got.endswith("WARNING [scan] scan slow\x00")


def _unset_then_on(server, on: str, monkeypatch) -> str:
    """Nothing reaches ``server`` with the variable unset; with it ``on``, the line that
    did (with the variable cleared again after)."""
    try:
        # unset: nothing is sent (a datagram on loopback is queued before sendto returns)
        monkeypatch.delenv("SALESCLI_LOG_SYSLOG", raising=False)
        setup_logging(quiet=True, job="scan")
        logging.getLogger("salescli.jobs").warning("not to syslog")
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.recv(4096)
        server.settimeout(10)
        monkeypatch.setenv("SALESCLI_LOG_SYSLOG", on)
        setup_logging(quiet=True, job="scan")
        logging.getLogger("salescli.jobs").warning("scan slow")
        return server.recv(4096).decode()
    finally:
        monkeypatch.delenv("SALESCLI_LOG_SYSLOG", raising=False)
        setup_logging()
