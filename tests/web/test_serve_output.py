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
    try:
        first = proc.stderr.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+/)", first).group(1)
        with urllib.request.urlopen(url + "-/login", timeout=60) as page:
            assert page.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM), err
    # After the log line read above, one line for the person who started it.
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Serving {db_file} on {url} "), err
    assert out == ""
