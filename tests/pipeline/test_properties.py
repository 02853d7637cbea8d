"""Hypothesis properties: email normalisation, export → import round-trips, and that no
input file, however broken, gets past the importer as anything but a clear user error."""

from __future__ import annotations

import io
import json
import shutil
import string
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from salescli.core import db, output
from salescli.core.enums import DEFAULT_STAGES
from salescli.core.errors import InvalidValue, SalescliError
from salescli.pipeline import import_read, import_write, importer
from salescli.pipeline.prospects import add, list_prospects, normalise_email


def cfg(examples: int = 100) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- email

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
DOMAIN = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
LOCAL = st.from_regex(r"[a-z0-9._%+'=-]{1,20}", fullmatch=True).filter(lambda s: ".." not in s)
EMAIL = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN)
SPACE = st.text(alphabet=" \t\r\n", max_size=3)


@cfg()
@given(EMAIL, SPACE, SPACE, st.booleans())
def test_normalised_email_ignores_case_and_surrounding_space(email, before, after, upper):
    messy = before + (email.upper() if upper else email) + after
    assert normalise_email(messy) == email
    assert normalise_email("mailto:" + email) == email


@cfg()
@given(st.one_of(st.emails(), st.text(max_size=40)))
def test_normalise_email_accepts_or_says_why(text):
    try:
        email = normalise_email(text)
    except InvalidValue as exc:
        assert exc.field == "email" and "email" in str(exc)
        return
    assert email == email.strip().lower()
    assert email.count("@") == 1 and not any(c.isspace() for c in email)
    assert len(email) <= 254
    assert normalise_email(email) == email  # idempotent
    assert normalise_email(email.upper()) == email


# --------------------------------------------------------------------------- round-trips

PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=20)
# What a spreadsheet would run as a formula, quotes and separators that need quoting.
TRICKY = st.sampled_from(["=", "+", "-", "@", "'", "'=", "''+", ",", ";", '"', "\n", "\r\n"])
TEXT = st.one_of(
    st.none(),
    st.builds(lambda a, b: (a + b).strip() or None, TRICKY, PLAIN),
    PLAIN.map(lambda t: t.strip() or None),
)
WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1,
               max_size=12)
TAGS = st.lists(WORD.map(str.strip).filter(bool), max_size=3, unique_by=str.lower)  # as parse_tags
VALUE = st.one_of(st.none(), st.floats(min_value=0, max_value=1e12, allow_nan=False),
                  st.integers(min_value=0, max_value=10**9).map(float))
STAGE = st.sampled_from([name for name, _ in DEFAULT_STAGES])
PROSPECT = st.fixed_dictionaries({
    "email": EMAIL, "name": TEXT, "company": TEXT, "owner": TEXT, "stage": STAGE,
    "value": VALUE, "tags": TAGS, "source": TEXT, "notes": TEXT,
})
PROSPECTS = st.lists(PROSPECT, max_size=6, unique_by=lambda p: p["email"])
# The columns of `prospects export`, including those the importer must ignore.
COLUMNS = ["id", "email", "name", "company", "owner", "stage", "email_status", "value", "tags",
           "source", "notes", "created_at", "archived_at"]
FIELDS = ["email", "name", "company", "owner", "stage", "value", "tags", "source", "notes"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """An empty, migrated sales database to copy for each example."""
    path = tmp_path_factory.mktemp("template") / "sales.db"
    db.open_write(path).close()
    return path


def exported(rows: list[dict], fmt: str) -> str:
    full = [{"id": i, "email_status": "ok", "created_at": "2024-01-01T00:00:00Z",
             "archived_at": None, **r} for i, r in enumerate(rows, 1)]
    buf = io.StringIO()
    if fmt == "csv":
        output.write_csv(full, buf, columns=COLUMNS)
    elif fmt == "nl":
        output.write_nl(full, buf)
    else:
        output.write_json(full, buf)
    return buf.getvalue()


@cfg(60)
@given(rows=PROSPECTS, fmt=st.sampled_from(["csv", "nl", "json"]))
def test_export_then_import_round_trips(template, rows, fmt):
    assume(rows or fmt != "nl")  # an empty NL-JSON export is an empty file: refused as such
    text = exported(rows, fmt)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.db"
        shutil.copy(template, path)
        conn = db.open_write(path)
        try:
            name = "prospects.csv" if fmt == "csv" else "prospects.json"
            result = importer.import_data(conn, "prop", text.encode("utf-8"), name)
            assert result.inserted == len(rows) and not result.rejected
            back = [{f: p[f] for f in FIELDS} for p in list_prospects(conn)]
        finally:
            conn.close()
    assert back == rows


# --------------------------------------------------------------------------- no tracebacks

CSVISH = st.lists(
    st.lists(st.one_of(PLAIN, EMAIL, STAGE, st.sampled_from(["email", "Name", "value", "tags",
                                                              "-1", "[", '["a"', "1e999"])),
             max_size=5).map(",".join),
    max_size=5).map("\n".join)


@pytest.fixture(scope="module")
def shared(template, tmp_path_factory):
    path = tmp_path_factory.mktemp("shared") / "sales.db"
    shutil.copy(template, path)
    conn = db.open_write(path)
    yield conn
    conn.close()


@cfg(100)
@given(data=st.one_of(st.binary(max_size=200), CSVISH.map(str.encode),
                      st.builds(lambda s: ("email\n" + s).encode(), CSVISH)),
       name=st.sampled_from(["f.csv", "f.json", "f.txt", "-"]),
       options=st.fixed_dictionaries({"on_duplicate": st.sampled_from(list(importer.OnDuplicate)),
                                      "skip_invalid": st.booleans(),
                                      "ignore_unknown": st.booleans()}))
def test_any_input_is_imported_or_refused_with_a_reason(shared, data, name, options):
    try:
        result = importer.import_data(shared, "prop", data, name, dry_run=True, **options)
    except importer.ImportRejected as exc:
        assert exc.result.rejected and not exc.result.written
        assert all(str(r).startswith(f"row {r.row}: ") for r in exc.result.rejected)
    except SalescliError as exc:
        assert str(exc)
    else:
        assert not result.written
        assert result.rows >= result.inserted + result.skipped + result.rejected_rows
    assert not shared.in_transaction


def test_letters_only_local_parts_are_not_special():
    # a sanity anchor for the strategies above: the grammar really is accepted
    for c in string.ascii_lowercase:
        assert normalise_email(f"{c}@example.com") == f"{c}@example.com"


# --------------------------------------------------------------------------- batches

# Duplicates in the file and of the database are likely, a bad cell now and then.
POOL = [f"p{i}@example.com" for i in range(6)] + ["old1@example.com", "old2@example.com"]
ROW = st.tuples(st.sampled_from(POOL + ["not-an-email"]), st.sampled_from(["", "Ada", "Bob"]),
                st.sampled_from(["", "lead", "won", "", "lead", "won", "x"]),
                st.sampled_from(["", "1", "2.5", "", "1", "2.5", "-1"]),
                st.sampled_from(["", "a", "a,b"]))


def _outcome(template: Path, text: str, small: bool, options: dict) -> tuple:
    """What importing ``text`` into a copy of ``template`` (holding old1 and old2) does, with
    batches of one or two rows written while the next is read, or in one pass."""
    sizes = {"_FIRST": 1, "_BATCH": 2} if small else {"_FIRST": 10**6, "_BATCH": 10**6}
    knobs = {**{(import_read, k): v for k, v in sizes.items()},
             (importer, "_FLUSH"): 1, (import_write, "_BULK_MIN"): 2 if small else 10**6}
    saved = {key: getattr(*key) for key in knobs}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.db"
        shutil.copy(template, path)
        conn = db.open_write(path)
        try:
            for email in ("old1@example.com", "old2@example.com"):
                add(conn, "prop", email, name="Old", tags="old")
            for (module, name), value in knobs.items():
                setattr(module, name, value)
            try:
                r = importer.import_data(conn, "prop", text, "f.csv", **options)
                summary = (r.summary(), [str(x) for x in r.rejected], r.ids)
            except importer.ImportRejected as exc:
                summary = (str(exc), [str(x) for x in exc.result.rejected], None)
            finally:
                for (module, name), value in saved.items():
                    setattr(module, name, value)
            conn.execute("INSERT INTO prospects_fts(prospects_fts, rank)"
                         " VALUES ('integrity-check', 1)")
            rows = [tuple(r) for r in conn.execute(
                "SELECT id, email, name, stage_id, value, tags FROM prospects ORDER BY id")]
            history = [tuple(r) for r in conn.execute(
                "SELECT prospect_id, from_stage_id, to_stage_id, value, note FROM stage_changes"
                " ORDER BY id")]
            tags = [tuple(r) for r in conn.execute("SELECT * FROM prospect_tags ORDER BY 1, 2")]
            schema = [tuple(r) for r in conn.execute("SELECT * FROM sqlite_master ORDER BY name")]
        finally:
            conn.close()
    return summary, rows, history, tags, schema


@cfg(80)
@given(rows=st.lists(ROW, max_size=9),
       options=st.fixed_dictionaries({"on_duplicate": st.sampled_from(list(importer.OnDuplicate)),
                                      "skip_invalid": st.booleans()}))
def test_batches_written_while_reading_change_nothing(template, rows, options):
    text = "email,name,stage,value,tags\n" + "".join(
        ",".join(f'"{c}"' for c in row) + "\n" for row in rows)
    assert _outcome(template, text, True, options) == _outcome(template, text, False, options)


# --------------------------------------------------------------------------- values, numbers, dates

_COUNTER = iter(range(10**9))


def _email() -> str:
    return f"prop{next(_COUNTER)}@example.com"


def _one(conn, text: str, name: str, **options) -> tuple[dict | None, list[str]]:
    """Import one row: the prospect written, or None and the rejection lines."""
    try:
        result = importer.import_data(conn, "prop", text, name, **options)
    except importer.ImportRejected as exc:
        assert not exc.result.written
        return None, [str(r) for r in exc.result.rejected]
    assert result.inserted == 1, result.summary()
    row = conn.execute("SELECT * FROM prospects WHERE id = ?", (result.ids[0],)).fetchone()
    return dict(row), []


@cfg(150)
@given(st.floats(min_value=0, max_value=1e15, allow_nan=False),
       st.sampled_from(["{x!r}", "{x:,}", " {x} ", "{x:.2f}", "{x:,.3f}"]))
def test_csv_values_read_as_written(shared, x, form):
    text = form.format(x=x)
    row, errors = _one(shared, f"email,value\n{_email()},\"{text}\"\n", "v.csv")
    assert not errors and row["value"] == float(text.strip().replace(",", ""))


@cfg(150)
@given(st.one_of(st.integers(min_value=-10**120, max_value=10**120),
                 st.floats(allow_nan=True, allow_infinity=True),
                 st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
                 .filter(lambda s: "E" not in s)))
def test_json_numbers_are_stored_or_rejected_by_name(shared, number):
    raw = json.dumps(number) if not isinstance(number, str) else number
    row, errors = _one(shared, f'[{{"email": "{_email()}", "value": {raw}}}]', "v.json")
    if row is None:
        assert len(errors) == 1 and errors[0].startswith("row 1: value "), errors
        assert ("too many digits" in errors[0]) == (len(raw) > 100)
        return
    assert len(raw) <= 100
    value = float(raw)
    assert value >= 0 and value == value and value != float("inf")
    assert row["value"] == value


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=12)


@cfg(200)
@given(st.dictionaries(st.sampled_from(["name", "company", "owner", "stage", "value",
                                        "tags", "source", "notes", "created_at",
                                        "won_at", "lost_reason"]), JSONISH, max_size=5),
       st.sampled_from(["json", "jsonl"]))
def test_any_json_cell_is_stored_or_rejected_with_its_row(shared, cells, kind):
    item = {"email": _email(), **cells}
    text = json.dumps([item]) if kind == "json" else json.dumps(item) + "\n"
    try:
        row, errors = _one(shared, text, f"x.{kind}")
    except SalescliError as exc:  # a limit (nesting): one error naming the row
        assert str(exc).startswith("row 1")
        return
    assert row is not None or all(e.startswith("row 1: ") for e in errors)


FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%y-%m-%d", "%d.%m.%Y %H:%M:%S",
           "%Y-%m-%dT%H:%M:%S%z", "%b %d %Y %I:%M %p", "%Y%m%d"]


@cfg(200)
@given(st.datetimes(min_value=datetime(1969, 1, 1), max_value=datetime(2026, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(-timedelta(hours=8))])),
       st.sampled_from(FORMATS + [None]))
def test_dates_read_as_written_with_date_format(shared, when, fmt):
    text = when.isoformat() if fmt is None else when.strftime(fmt)
    row, errors = _one(shared, f"email,created_at\n{_email()},{text}\n", "d.csv",
                       date_format=fmt)
    assert not errors, errors
    # what the format keeps of the time: to the second, minute or day; no offset means UTC
    keep = when if fmt is None else datetime.strptime(text, fmt)
    if keep.tzinfo is None:
        keep = keep.replace(tzinfo=UTC)
    assert row["created_at"] == keep.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["stage_entered_at"] == row["created_at"]


STAGE_DATES = st.fixed_dictionaries({}, optional={
    f: st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 1, 20))
    for f in ("created_at", "contacted_at", "replied_at", "proposal_at", "won_at")})


@cfg(150)
@given(STAGE_DATES)
def test_history_is_accepted_exactly_when_its_dates_are_in_order(shared, dates):
    order = ["contacted_at", "replied_at", "proposal_at", "won_at"]
    stages_given = [dates[f] for f in order if f in dates]
    fine = stages_given == sorted(stages_given) and not (
        "created_at" in dates and stages_given and stages_given[0] < dates["created_at"])
    header = ",".join(["email", *dates])
    line = ",".join([_email(), *(d.isoformat() for d in dates.values())])
    row, errors = _one(shared, f"{header}\n{line}\n", "h.csv")
    assert (row is not None) == fine, errors
    if row is None:
        assert len(errors) == 1 and errors[0].startswith("row 2: ")
        return
    changes = [tuple(r) for r in shared.execute(
        "SELECT at, to_stage_id FROM stage_changes WHERE prospect_id = ? ORDER BY id",
        (row["id"],))]
    assert [at for at, _ in changes] == sorted(at for at, _ in changes)
    if dates:
        assert row["created_at"] == f"{min(dates.values()).isoformat()}T00:00:00Z"
        assert row["stage_entered_at"] == changes[-1][0]
        assert changes[-1][0] == f"{max(dates.values()).isoformat()}T00:00:00Z"


def _dry(conn, data: bytes, name: str) -> tuple:
    try:
        r = importer.import_data(conn, "prop", data, name, dry_run=True, skip_invalid=True,
                                 ignore_unknown=True)
        return r.summary(), [str(x) for x in r.rejected], r.notes
    except SalescliError as exc:
        return str(exc).replace(name, "F"), None, None


@cfg(150)
@given(data=st.one_of(
    st.builds(lambda rows, fmt: exported(rows, fmt).encode("utf-8"), PROSPECTS,
              st.sampled_from(["csv", "nl", "json"])),
    CSVISH.map(lambda s: ("email,name\r\n" + s.replace("\n", "\r\n")).encode()),
    st.binary(max_size=60)),
    chunk=st.integers(min_value=1, max_value=17), name=st.sampled_from(["f.csv", "f.json"]))
def test_reading_in_small_pieces_changes_nothing(shared, data, chunk, name):
    """The reader sees the file a piece at a time: a line, a CRLF, a UTF-8 character or a
    JSON record cut between two pieces reads the same as whole."""
    whole = _dry(shared, data, name)
    saved = import_read._CHUNK
    import_read._CHUNK = chunk
    try:
        assert _dry(shared, data, name) == whole
    finally:
        import_read._CHUNK = saved
