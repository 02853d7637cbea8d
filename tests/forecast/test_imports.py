"""scikit-learn, numpy and scipy load only where the forecast needs them."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [("prospects", "list"), ("metrics",), ("rollup",)])
def test_other_commands_do_not_import_the_model_library(sales, args):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "salescli", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0]
              for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert not loaded & {"sklearn", "numpy", "scipy"}
    assert "salescli" in loaded


def test_csv_rows(small, invoke):
    from tests.support.cli import ok

    out = ok(invoke("forecast", "--as-of", "2025-03-31", "--horizon", "30d", "--by", "owner",
                    "--format", "csv")).splitlines()
    assert out[0].startswith("period,deals,open_value,expected_count")
    assert [line.split(",")[0] for line in out[1:]] == ["ana", "bo", "total"]
