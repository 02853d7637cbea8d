"""Pipeline behaviour a fresh mutation sample found unchecked (``./dev mutants
salescli/pipeline --sample 80 --seed 31``): error lines word for word, the audit rows of
forget and stage removal, the reason of a stage change in the timeline, the header of a
written mapping — and a mapping written over the file being imported (a bug: the user's
file was overwritten and lost)."""

from __future__ import annotations

import json

from tests.pipeline.crm_plan.support import PEOPLE, PEOPLE_HEAD, add_user, crm_schema, write
from tests.support.cli import activities, db_state, fails, ok, scalar

ROW = ('1,Lucía,Fernández,lucia@andina.example,,Andina SA,Ana Souza,Customer,,'
       '2024-03-05 14:22,2024-04-01 09:00,"1,250.00",EUR,,,red\n')


def crm(sales):
    crm_schema(sales)
    add_user(sales, "ana", "ana@team.example", "Ana Souza")
    return sales


def test_a_mapping_that_is_no_toml_is_one_error_line(invoke, sales, tmp_path):
    crm(sales)
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROW)
    bad = write(tmp_path, "bad.toml", "[tool\nname = 'x'\n")
    line = fails(invoke("prospects", "import", f, "--mapping", bad))
    assert line.startswith(f"Error: profile {bad}: the file is not valid TOML: ")
    assert "line 1" in line


def test_a_date_before_1900_in_a_profile_column_names_the_value(invoke, sales, tmp_path):
    crm(sales)
    f = write(tmp_path, "contacts.csv",
              PEOPLE_HEAD + ROW.replace("2024-03-05 14:22", "1899-12-31 23:00"))
    result = invoke("prospects", "import", f, "--mapping", PEOPLE)
    assert result.exit_code == 1
    assert "row 2: created_at '1899-12-31 23:00' is before 1900" in result.stderr
    assert scalar(sales, "SELECT count(*) FROM prospects") == 0


def test_a_map_to_no_field_names_the_flag_and_the_pair(invoke, sales, tmp_path):
    crm(sales)
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROW)
    line = fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map",
                        "Phone Number=fax"))
    assert line.startswith("Error: --map 'Phone Number=fax' 'fax' is not a field (fields: ")


def test_a_written_mapping_says_how_to_use_it(invoke, sales, tmp_path):
    crm(sales)
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROW)
    saved = tmp_path / "mine.toml"
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--write-mapping", saved,
              "--dry-run"))
    assert saved.read_text().splitlines()[:3] == [
        "# Written by salescli prospects import --write-mapping from contacts.csv.",
        "# Edit it and pass it with --mapping FILE.", "[tool]"]


def test_a_mapping_is_never_written_over_the_file_being_imported(invoke, sales, tmp_path):
    crm(sales)
    text = PEOPLE_HEAD + ROW
    f = write(tmp_path, "contacts.csv", text)
    before = db_state(sales)
    for target, mapping in ((f, ("--mapping", PEOPLE)), (tmp_path / "." / "contacts.csv", ())):
        line = fails(invoke("prospects", "import", f, *mapping, "--write-mapping", target))
        assert line == f"Error: --write-mapping '{target}' is the file being imported"
        assert f.read_text(encoding="utf-8") == text
    assert db_state(sales) == before


def test_forget_leaves_a_tombstone_saying_so(invoke, three, db_file):
    ok(invoke("prospects", "forget", "cy@example.net", "--yes"))
    tomb = activities(db_file, entity="prospect", action="forget")[-1]
    assert tomb["after"]["forgotten"] is True


def test_removing_a_stage_audits_which_stage(invoke, three, db_file):
    sid = scalar(db_file, "SELECT id FROM stages WHERE name = 'replied'")
    ok(invoke("stages", "remove", "replied"))
    [row] = activities(db_file, entity="stage", action="remove")
    assert row["entity_id"] == sid and row["before"]["name"] == "replied"


def test_the_timeline_shows_why_a_stage_changed(invoke, three):
    ok(invoke("prospects", "move", "ada@example.com", "lost", "--reason", "no budget"))
    shown = json.loads(ok(invoke("prospects", "show", "ada@example.com", "--format", "json")))
    [lost] = [e for e in shown["timeline"] if e["type"] == "stage_change" and e["to"] == "lost"]
    assert lost["reason"] == "no budget" and lost["from"] == "lead"


def test_the_merge_row_counts_what_it_moved_and_dropped(invoke, three, db_file):
    ok(invoke("prospects", "merge", "ada@example.com", "cy@example.net"))
    [row] = activities(db_file, entity="prospect", action="merge")
    assert (row["after"]["duplicates_dropped"], row["after"]["stage_changes_moved"]) == (0, 1)
