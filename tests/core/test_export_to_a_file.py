"""``salescli prospects export -o FILE`` writes what the same export prints on stdout: the
same columns in the same order, and a CSV header even when there are no prospects."""

from __future__ import annotations

from tests.support.cli import ok


def test_an_export_to_a_file_is_the_export_on_stdout(invoke, sales, tmp_path):
    empty = tmp_path / "empty.csv"
    ok(invoke("prospects", "export", "-o", str(empty)))
    header = ok(invoke("prospects", "export"))
    assert header.startswith("id,email,") and header.endswith(",other_emails\n")
    assert empty.read_text(encoding="utf-8") == header

    ok(invoke("prospects", "add", "ada@example.com", "--name", "Ada", "--company", "Acme"))
    for fmt in ("csv", "json", "nl"):
        target = tmp_path / f"p.{fmt}"
        ok(invoke("prospects", "export", "--format", fmt, "-o", str(target)))
        assert target.read_text(encoding="utf-8") == ok(invoke("prospects", "export",
                                                               "--format", fmt))
