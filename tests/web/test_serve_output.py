"""What ``salescli serve`` writes on its terminal: the line saying where it listens, and
warnings only (no line per request, no web server chatter) — a log fit for journald."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request

from tests.web.conftest import SECRET, copy_template


def test_serve_says_where_it_listens_and_nothing_else(tmp_path, template_dir):
    db_file = copy_template(template_dir, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALESCLI_", "DATASETTE_"))}
    env.update(SALESCLI_SECRET=SECRET, SALESCLI_DB=str(db_file))
    proc = subprocess.Popen([sys.executable, "-m", "salescli", "serve", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        url = None
        while url is None:
            line = proc.stderr.readline()
            assert line, "the server stopped before saying where: " + "".join(seen)
            seen.append(line)
            match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        with urllib.request.urlopen(url + "-/login", timeout=120) as page:
            assert page.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGTERM), err
    lines = [line.strip() for line in seen + err.splitlines() if line.strip()]
    # The log line saying where, and the line for the person who started it: nothing else.
    assert [line for line in lines if not line.startswith(f"Serving {db_file} on {url} ")
            and f" INFO [serve] serving {db_file} as /sales on {url}" not in line] == [], lines
    assert any(f"serving {db_file} as /sales on {url}" in line for line in lines), lines
