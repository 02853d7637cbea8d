"""Every user error: one ``Error: …`` line naming field and value, exit 1, nothing written."""

from __future__ import annotations

import pytest

from tests.support.cli import db_state, fails, ok


@pytest.fixture
def world(invoke, three):
    ok(invoke("users", "add", "maria", "--role", "operator", "--no-password"))
    ok(invoke("prospects", "move", "cy@example.net", "lost", "--reason", "gone"))
    return three


USER_ERRORS = [
    # prospects add
    (("prospects", "add", "not-an-email"), ["email 'not-an-email'", "valid email"]),
    (("prospects", "add", "a@b"), ["email 'a@b'"]),
    (("prospects", "add", "two@@example.com"), ["email 'two@@example.com'"]),
    (("prospects", "add", "ADA@example.com"), ["prospect 'ada@example.com' already exists"]),
    (("prospects", "add", "new@example.com", "--stage", "nowhere"),
     ["stage 'nowhere'", "stages: lead"]),
    (("prospects", "add", "new@example.com", "--value", "lots"), ["value 'lots'", "number"]),
    (("prospects", "add", "new@example.com", "--value", "-5"), ["value '-5'"]),
    (("prospects", "add", "new@example.com", "--value", "nan"), ["value 'nan'"]),
    (("prospects", "add", "new@example.com", "--tag", "x" * 65), ["tag 'xxx"]),
    # show / update
    (("prospects", "show", "99"), ["prospect '99' not found"]),
    (("prospects", "show", "ghost@example.com"), ["prospect 'ghost@example.com' not found"]),
    (("prospects", "update", "99", "--name", "x"), ["prospect '99' not found"]),
    (("prospects", "update", "1", "--email", "broken"), ["email 'broken'"]),
    (("prospects", "update", "1", "--email", "bob@example.org"),
     ["prospect 'bob@example.org' already exists"]),
    (("prospects", "update", "1", "--value", "abc"), ["value 'abc'"]),
    # move
    (("prospects", "move", "99", "won"), ["prospect '99' not found"]),
    (("prospects", "move", "1", "heaven"), ["stage 'heaven'"]),
    (("prospects", "move", "1", "won"), ["--reason", "won"]),
    (("prospects", "move", "1", "lost", "--note", "n"), ["--reason", "lost"]),
    # archive / merge / forget
    (("prospects", "archive", "ghost@example.com"), ["prospect 'ghost@example.com' not found"]),
    (("prospects", "archive", "99", "--hard", "--yes"), ["prospect '99' not found"]),
    (("prospects", "merge", "1", "1"), ["OTHER '1'", "same prospect"]),
    (("prospects", "merge", "1", "ada@example.com"), ["OTHER 'ada@example.com'"]),
    (("prospects", "merge", "1", "99"), ["prospect '99' not found"]),
    (("prospects", "merge", "99", "1"), ["prospect '99' not found"]),
    (("prospects", "forget", "ghost@example.com", "--yes"),
     ["prospect 'ghost@example.com' not found"]),
    (("prospects", "forget", "nope", "--yes"), ["email 'nope'"]),
    # list
    (("prospects", "list", "--stage", "heaven"), ["stage 'heaven'"]),
    (("prospects", "list", "--sort", "shoe-size"), ["--sort 'shoe-size'"]),
    (("prospects", "list", "--search", "!!!"), ["--search '!!!'"]),
    # log
    (("log", "99", "--kind", "call"), ["prospect '99' not found"]),
    (("log", "1", "--kind", "call", "--at", "yesterday-ish"), ["--at 'yesterday-ish'"]),
    (("log", "1", "--kind", "call", "--at", "2024-13-45"), ["--at '2024-13-45'"]),
    (("log", "1", "--kind", "call", "--at", "9999-12-31T23:00:00-05:00"),
     ["--at '9999-12-31T23:00:00-05:00'", "out of range"]),
    (("activity", "--since", "1000000000d"), ["--since '1000000000d'", "too long"]),
    (("activity", "--since", "999999d"), ["--since '999999d'", "too far back"]),
    # stages
    (("stages", "add", "Lead"), ["stage 'Lead' already exists"]),
    (("stages", "add", " "), ["stage name ''"]),
    (("stages", "rename", "heaven", "hell"), ["stage 'heaven'"]),
    (("stages", "rename", "lead", "won"), ["stage 'won' already exists"]),
    (("stages", "reorder", "lead", "heaven"), ["stage 'heaven'"]),
    (("stages", "reorder", "lead", "LEAD"), ["names a stage twice"]),
    (("stages", "remove", "heaven"), ["stage 'heaven'"]),
    (("stages", "remove", "lead"), ["stage 'lead' holds 1 prospect", "--move-to"]),
    (("stages", "remove", "lead", "--move-to", "lead"), ["--move-to 'lead'"]),
    (("stages", "remove", "lead", "--move-to", "heaven"), ["stage 'heaven'"]),
    # users
    (("users", "add", "bad name", "--role", "admin", "--no-password"), ["username 'bad name'"]),
    (("users", "add", "maria", "--role", "admin", "--no-password"),
     ["user 'maria' already exists"]),
    (("users", "add", "bob", "--role", "admin", "--email", "bob-at-home", "--no-password"),
     ["--email 'bob-at-home'"]),
    (("users", "disable", "ghost"), ["user 'ghost' not found"]),
    (("users", "set-role", "ghost", "admin"), ["user 'ghost' not found"]),
    (("users", "set-email", "ghost", "g@example.com"), ["user 'ghost' not found"]),
    (("users", "set-email", "maria", "maria-at-work"), ["--email 'maria-at-work'"]),
    (("users", "passwd", "ghost", "--password-stdin"), ["user 'ghost' not found"]),
    # activity
    (("activity", "--since", "last tuesday"), ["--since 'last tuesday'"]),
    (("activity", "--prospect", "ghost@example.com"), ["prospect 'ghost@example.com'"]),
    (("activity", "--prospect", "999"), ["prospect '999' not found"]),
]


@pytest.mark.parametrize("args, needles", USER_ERRORS,
                         ids=[" ".join(a)[:60] for a, _ in USER_ERRORS])
def test_user_error_is_one_line_and_writes_nothing(invoke, world, args, needles):
    before = db_state(world)
    fails(invoke(*args, input="longenough\n"), *needles)
    assert db_state(world) == before


@pytest.mark.parametrize("args", [
    ("users", "add", "bob", "--role", "admin", "--password-stdin"),
    ("users", "passwd", "maria", "--password-stdin"),
])
def test_short_password_is_refused_and_nothing_is_stored(invoke, world, args):
    from salescli.core.db import credentials_path

    before = db_state(world)
    creds = credentials_path(world)
    creds_before = db_state(creds) if creds.exists() else None
    fails(invoke(*args, input="short\n"), "password", "at least 8 characters")
    assert db_state(world) == before
    assert (db_state(creds) if creds.exists() else None) == creds_before


USAGE_ERRORS = [
    ("frobnicate",),
    ("prospects", "add"),
    ("prospects", "list", "--format", "xml"),
    ("prospects", "list", "--email-status", "dead"),
    ("prospects", "list", "--limit", "-1"),
    ("prospects", "list", "--stale", "soon"),
    ("prospects", "export", "--format", "table"),
    ("prospects", "move", "1"),
    ("log", "1", "--kind", "telegram"),
    ("log", "1"),
    ("stages", "add", "x", "--kind", "maybe"),
    ("users", "add", "bob", "--role", "boss", "--no-password"),
    ("users", "set-role", "maria", "boss"),
    ("activity", "--entity", "planet"),
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) for a in USAGE_ERRORS])
def test_usage_errors_exit_2_and_write_nothing(invoke, world, args):
    before = db_state(world)
    fails(invoke(*args), code=2)
    assert db_state(world) == before


def test_export_to_a_missing_directory(invoke, world, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "out.csv"
    fails(invoke("prospects", "export", "--output", target), "output", str(target))
    assert not target.parent.exists()


def test_export_failure_leaves_no_partial_file(invoke, world, tmp_path, monkeypatch):
    """A failure while writing (a fault we cannot cause for real) leaves no file behind."""
    from salescli.core import output

    def broken(rows, fmt, out, **kw):
        out.write("id,email\n1,half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "render", broken)
    target = tmp_path / "out.csv"
    with pytest.raises(OSError):
        invoke("prospects", "export", "--output", target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".salescli-")] == []
