"""NL-JSON import: a broken last line without a newline is reported and skipped (pinned by
a mutant that survived the older tests: it made the reader loop for ever at the end)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.cli import query


def test_a_broken_last_line_without_newline_is_skipped_and_counted(sales):
    text = '{"email": "ada@example.com"}\n{"email": "bob@example.org"'
    # A separate process with a timeout, so that a reader looping at the end fails the test
    # (180 s: under mutmut on a loaded machine the import alone took over 60 s).
    r = subprocess.run([sys.executable, "-m", "salescli", "prospects", "import", "-",
                        "--format", "json", "--skip-invalid"], input=text, text=True,
                       capture_output=True, env=dict(os.environ), timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "stdin: 2 rows, 1 inserted, 0 updated, 1 rejected\n"
    assert [r["email"] for r in query(sales, "SELECT email FROM prospects")] == [
        "ada@example.com"]
