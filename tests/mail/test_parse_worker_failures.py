"""A header parser process that fails mid-request, as a worker can (it dies, or its answer
is garbage), is given up for the rest of the scan with one warning naming the failure,
and the chunk is parsed in-process: the same envelopes as without the worker."""

from __future__ import annotations

import logging
import os

import pytest

from salescli.mail import parse_worker
from salescli.mail.parse import parse_many


class _Exits:
    """A handle whose unpickling ends the worker process at once."""

    def __reduce__(self):
        return os._exit, (3,)


class _Prints:
    """A handle whose unpickling writes text where the worker's answer goes."""

    def __reduce__(self):
        return print, ("not a pickle",)


HEAD = b"From: ada@example.com\nSubject: Hello\nDate: Mon, 2 Nov 2026 09:30:00 +0000\n"


@pytest.mark.parametrize("handle, failure", [
    (_Exits(), "EOFError"),
    (_Prints(), "UnpicklingError"),
])
def test_a_worker_that_fails_mid_request_is_replaced_by_parsing_in_process(
        handle, failure, caplog):
    items = [(1, "box/1", HEAD, None), (handle, "box/2", HEAD.replace(b"ada", b"bob"), None)]
    worker = parse_worker.ParseWorker()
    try:
        with caplog.at_level(logging.WARNING, logger="salescli.mail"):
            envs = worker.parse("acct", "INBOX", False, items)
            again = worker.parse("acct", "INBOX", False, items[:1])
    finally:
        worker.close()
    assert [(e.handle, e.from_addr) for e in envs] == [(1, "ada@example.com"),
                                                       (handle, "bob@example.com")]
    assert envs == parse_many("acct", "INBOX", False, items) and again == envs[:1]
    assert caplog.messages == [f"header parser process failed ({failure}): parsing in-process"]
