"""`db restore` at a shell: a progress bar for each file it copies (the live file it keeps
beside, then the backup it puts back), each run to the end, and the restore succeeds."""

from __future__ import annotations

import re

from salescli.core import db
from salescli.ops import backup
from tests.ops.helpers import salescli_env
from tests.support.cli import run_on_terminal


def test_a_restore_on_a_terminal_fills_a_bar_for_each_file(db_file, tmp_path):
    db.open_write(db_file).close()
    copy = backup.backup(db_file, tmp_path / "bk", keep=1)["copies"][0].path
    code, out, terminal = run_on_terminal(["db", "restore", str(copy), "--force"],
                                          salescli_env())
    assert code == 0, terminal
    assert out.startswith(f"restored the sales database {db_file}")
    for label in (f"{db_file.name} (current)", copy.name):
        assert re.search(re.escape(label) + r"\s+\[#+\]\s+100%", terminal), terminal
