"""Import behaviour ``./dev mutants`` led to: a short malformed NL-JSON line in a big file
is one rejected row (not a 'too long' record), exact error lines, the time a stage move
is dated, and the audit rows of the do-not-contact list."""

from __future__ import annotations

from tests.support.cli import db_state, scalar


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_a_short_bad_nl_json_line_before_much_more_data_is_one_rejected_row(
        invoke, sales, tmp_path):
    # The record limit is 16 × 40 = 640 characters; 50 good lines after the bad one are
    # more than that, which made the reader call the bad line 'longer than 640 characters'.
    good = "".join(f'{{"email": "b{i}@example.com"}}\n' for i in range(50))
    path = write(tmp_path, "p.jsonl", '{"email": "a@example.com"}\nnope\n' + good)
    env = {"SALESCLI_IMPORT_MAX_FIELD": "40"}
    before = db_state(sales)
    refused = invoke("prospects", "import", path, env=env)
    assert refused.exit_code == 1 and refused.stderr.splitlines() == [
        "row 2: is not valid JSON: Expecting value",
        "Error: 1 of 52 rows in p.jsonl rejected; nothing imported (fix them, or use"
        " --skip-invalid to import the other 51)"]
    assert db_state(sales) == before
    result = invoke("prospects", "import", path, "--skip-invalid", env=env)
    assert result.exit_code == 0, result.output
    assert "row 2: is not valid JSON" in result.stderr
    assert scalar(sales, "SELECT count(*) FROM prospects") == 51
