"""A sequence file with a mistake is refused by ``sequences load`` with the one ``Error:`` line
that names the setting and its value, and nothing is loaded; the edges of what is accepted
(a window up to 24:00, a 100-character name, days that wrap past Sunday) load, and mean the
weekdays and minutes the sender keeps to."""

from __future__ import annotations

import pytest

from salescli.sequences import plans
from tests.sequences.conftest import write_plan
from tests.support.cli import fails, ok, query

MAIL = '[[steps]]\nsubject = "Hi"\nbody = "Hello"\n'
NAMED = 'name = "x"\n'
WINDOW = "is not a window like 09:00-17:00 (start before end, within one day)"


CASES = [
    (NAMED + 'colour = "red"\n' + MAIL,
     "key 'colour' is not a sequence setting (days, name, steps, timezone, window)"),
    (MAIL, "name None must be a name of 1 to 100 characters"),
    ('name = "  "\n' + MAIL, "name '  ' must be a name of 1 to 100 characters"),
    (f'name = "{"n" * 101}"\n' + MAIL,
     f"name '{'n' * 101}' must be a name of 1 to 100 characters"),
    (NAMED, "steps None must be at least one [[steps]] table"),
    (NAMED + "steps = []\n", "steps [] must be at least one [[steps]] table"),
    (NAMED + '[[steps]]\nbody = "b"\n',
     "step 1 subject None is required on the first mail of a sequence"),
    (NAMED + '[[steps]]\ntask = "call"\n[[steps]]\nwait = "1d"\nbody = "b"\n',
     "step 2 subject None is required on the first mail of a sequence"),
    (NAMED + '[[steps]]\ntask = "call"\nbody = "b"\n',
     "step 1 task 'call' cannot be combined with subject or body (a step is a mail or a task)"),
    (NAMED + '[[steps]]\ntask = "dance"\n',
     "step 1 task 'dance' must be one of call, email, meeting, todo"),
    (NAMED + MAIL + '[[steps]]\nwait = "3 days"\nbody = "b"\n',
     "step 2 wait '3 days' is not a wait like 4h, 3d, 2w or 3bd (business days)"),
    (NAMED + MAIL + "[[steps]]\ncolor = 1\n",
     "step 2 key 'color' is not a step setting (body, subject, task, text, wait)"),
    (NAMED + 'window = "9-17"\n' + MAIL, "window '9-17' is not a window like 09:00-17:00"),
    (NAMED + 'window = "09:60-17:00"\n' + MAIL, f"window '09:60-17:00' {WINDOW}"),
    (NAMED + 'window = "09:00-17:60"\n' + MAIL, f"window '09:00-17:60' {WINDOW}"),
    (NAMED + 'window = "24:00-24:00"\n' + MAIL, f"window '24:00-24:00' {WINDOW}"),
    (NAMED + 'window = "09:00-24:01"\n' + MAIL, f"window '09:00-24:01' {WINDOW}"),
    (NAMED + 'window = "09:00-09:00"\n' + MAIL, f"window '09:00-09:00' {WINDOW}"),
    (NAMED + 'days = "weekdays"\n' + MAIL,
     "days 'weekdays' is not days like mon-fri or mon,wed,fri"),
    (NAMED + 'days = "mon-wed-fri"\n' + MAIL,
     "days 'mon-wed-fri' is not days like mon-fri or mon,wed,fri"),
    (NAMED + 'days = ","\n' + MAIL, "days ',' names no day"),
    (NAMED + '[[steps]]\nsubject = "Hi {{ nmae }}"\nbody = "b"\n',
     "sequence 'x' step 1 subject: undefined variable 'nmae'"),
    (NAMED + 'timezone = "Mars/Base"\n' + MAIL,
     "timezone 'Mars/Base' is not a known time zone (e.g. Europe/Berlin)"),
]


@pytest.mark.parametrize("plan, line", CASES, ids=[line[:30] for _, line in CASES])
def test_a_mistake_in_a_sequence_file_is_one_error_line(invoke, db_file, tmp_path, plan, line):
    assert fails(invoke("sequences", "load", write_plan(tmp_path, plan))) == f"Error: {line}"
    assert query(db_file, "SELECT count(*) AS n FROM sequences")[0]["n"] == 0


def test_a_file_that_is_not_toml_names_the_file(invoke, db_file, tmp_path):
    path = write_plan(tmp_path, "name = \n")
    fails(invoke("sequences", "load", path), f"FILE '{path}' is not valid TOML (Invalid value")


@pytest.mark.parametrize("settings, window, days", [
    ('window = "00:00-24:00"\n', "00:00-24:00", "mon-fri"),
    ('window = "23:59-24:00"\ndays = "fri-mon"\n', "23:59-24:00", "fri-mon"),
    ('window = "08:30 - 12:15"\ndays = "Monday, Wed"\n', "08:30 - 12:15", "Monday, Wed"),
], ids=["whole-day", "last-minute-wrapping-days", "spaces-and-day-names"])
def test_the_edges_of_a_window_and_days_load(invoke, db_file, tmp_path, settings, window, days):
    ok(invoke("sequences", "load", write_plan(tmp_path, f'name = "{"n" * 100}"\n'
                                                        + settings + MAIL)))
    assert query(db_file, "SELECT name, window, days FROM sequences") == [
        {"name": "n" * 100, "window": window, "days": days}]


@pytest.mark.parametrize("days, weekdays", [
    ("daily", {0, 1, 2, 3, 4, 5, 6}), ("all", {0, 1, 2, 3, 4, 5, 6}),
    ("mon-fri", {0, 1, 2, 3, 4}), ("fri-mon", {4, 5, 6, 0}), ("sun-tue", {6, 0, 1}),
    ("Monday, Wed", {0, 2}), ("sat", {5}), ("thu-thu", {3}),
])
def test_days_name_the_weekdays_a_sequence_sends_on(days, weekdays):
    assert plans.parse_days(days) == weekdays


@pytest.mark.parametrize("window, minutes", [
    ("00:00-24:00", (0, 1440)), ("08:30 - 12:15", (510, 735)), ("08:00-17:59", (480, 1079)),
    ("23:59-24:00", (1439, 1440)),
])
def test_a_window_is_minutes_after_midnight(window, minutes):
    assert plans.parse_window(window) == minutes


@pytest.mark.parametrize("args, code, line", [
    (("enroll", "intro", "ada@example.com", "--tag", "vip"), 1,
     "ID|EMAIL 'ada@example.com' cannot be combined with --stage, --tag or --search"),
    (("enroll", "intro"), 1, "prospects '' name some: ID|EMAIL…, --stage, --tag or --search"),
    (("unenroll", "intro"), 2, "Missing argument 'ID|EMAIL...'."),
    (("unenroll", "intro", "bob@example.org"), 1,
     "enrollment in 'intro' of 'bob@example.org' not found"),
], ids=["keys-and-filter", "nobody", "unenroll-nobody", "unenroll-not-enrolled"])
def test_enrolling_nobody_or_two_ways_is_one_error_line(invoke, db_file, intro, args, code,
                                                        line):
    ok(invoke("sequences", "enroll", "intro", "ada@example.com"))
    before = query(db_file, "SELECT prospect_id, state FROM enrollments")
    assert fails(invoke("sequences", *args), code=code) == f"Error: {line}"
    assert query(db_file, "SELECT prospect_id, state FROM enrollments") == before
