"""The plan of another CRM's export (issue 16): recognised from the header row, printed by
--dry-run, saved by --write-mapping, applied by --mapping, changed by --map and
--stage-map; fields that keep their meaning; nothing half-written."""

from __future__ import annotations

import pytest

from salescli.pipeline import crm_profiles
from tests.pipeline.crm_plan.support import (
    PEOPLE,
    PEOPLE_HEAD,
    add_user,
    crm_schema,
    write,
)
from tests.support.cli import fails, ok, query, scalar

ROWS = (
    '1,Lucía,Fernández,lucia@andina.example,lucia.personal@gmail.example;lf@andina.example,'
    'Andina SA,Ana Souza,Customer,,2024-03-05 14:22,2024-04-01 09:00,"1,250.00",EUR,'
    'VIP;* myContacts,+1 555,red\n'
    '2,Bob,Stone,bob@stone.example,,Stone Ltd,ana@team.example,Subscriber,Unqualified,'
    '2024-02-01 10:00,2024-02-20 10:00,980.50,,,,blue\n'
    '3,Cy,Young,,cy@young.example,,,Opportunity,New,2024-01-15 08:00,,"12,500.00",USD,,,\n'
)
NO_ADDRESS = '4,Dee,Null,,,,Ana Souza,Subscriber,,2024-01-16 08:00,,,,,,\n'


@pytest.fixture
def crm(sales):
    crm_schema(sales)
    add_user(sales, "ana", "ana@team.example", "Ana Souza")
    return sales


def prospects(db_file) -> dict[str, dict]:
    return {r["email"]: r for r in query(
        db_file, "SELECT p.email, p.name, p.company, p.owner, s.name AS stage, p.value,"
                 " p.currency, p.tags, p.created_at, p.stage_entered_at FROM prospects p"
                 " JOIN stages s ON s.id = p.stage_id")}


def test_dry_run_prints_the_plan_and_writes_nothing(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS + NO_ADDRESS)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run",
                    "--skip-invalid"))
    lines = out.splitlines()
    assert lines[0] == "recognised: Test CRM (people) export (mapping people.toml)"
    assert lines[1] == ("file: contacts.csv (4 rows; encoding utf-8, delimiter ','; one row "
                        "per person)")
    for line in ("  Email → email", "  Additional email addresses → other_emails",
                 "  Record ID → ignored (known to the profile, no field)",
                 "  Favourite Colour → ignored (no field for it)",
                 "stages (Lifecycle Stage, Lead Status):", "  Subscriber → lead (2 rows)",
                 "  Customer → won (1 row)", "  Unqualified → lost (1 row)",
                 "  New → no stage (the other column decides) (1 row)",
                 "owners (Contact owner):", "  Ana Souza → ana (2 rows)",
                 "  ana@team.example → ana (1 row)", "numbers: Amount us",
                 "dates: Create Date iso; Close Date iso", "rows to reject: 1",
                 "  row 5: email '' is required"):
        assert line in lines, line
    assert lines[-1] == ("dry run, nothing written: contacts.csv: 4 rows, 3 to insert, "
                         "0 to update, 2 other addresses, 1 rejected")
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0
    assert scalar(crm, "SELECT count(*) FROM prospect_addresses") == 0


def test_fields_keep_their_meaning(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert out.splitlines() == [
        "recognised: Test CRM (people) export (mapping people.toml)",
        "contacts.csv: 3 rows, 3 inserted, 0 updated, 2 other addresses"]
    got = prospects(crm)
    lucia, bob, cy = (got[e] for e in ("lucia@andina.example", "bob@stone.example",
                                      "cy@young.example"))
    assert (lucia["name"], lucia["company"], lucia["owner"], lucia["stage"], lucia["value"],
            lucia["currency"], lucia["tags"], lucia["created_at"], lucia["stage_entered_at"]) \
        == ("Lucía Fernández", "Andina SA", "ana", "won", 1250.0, "EUR", '["VIP"]',
            "2024-03-05T14:22:00Z", "2024-04-01T09:00:00Z")
    # the lost status beats the stage; the close date is when it was lost
    assert (bob["stage"], bob["value"], bob["currency"], bob["owner"],
            bob["stage_entered_at"]) == ("lost", 980.5, None, "ana", "2024-02-20T10:00:00Z")
    # the only address sat in the second email column; an open status leaves the stage
    assert (cy["stage"], cy["value"], cy["currency"], cy["owner"]) == \
        ("proposal", 12500.0, "USD", None)
    assert [r["email"] for r in query(crm, "SELECT email FROM prospect_addresses ORDER BY id")
            ] == ["lucia.personal@gmail.example", "lf@andina.example"]
    steps = query(crm, "SELECT p.email, f.name AS f, t.name AS t, c.at FROM stage_changes c"
                       " JOIN prospects p ON p.id = c.prospect_id LEFT JOIN stages f"
                       " ON f.id = c.from_stage_id JOIN stages t ON t.id = c.to_stage_id"
                       " WHERE p.email = 'lucia@andina.example' ORDER BY c.id")
    assert [(s["f"], s["t"], s["at"]) for s in steps] == [
        (None, "lead", "2024-03-05T14:22:00Z"), ("lead", "won", "2024-04-01T09:00:00Z")]
    activity = query(crm, "SELECT after FROM activities WHERE action = 'import'")
    assert len(activity) == 1 and '"recognised": "Test CRM (people) export' in \
        activity[0]["after"]


def test_a_row_without_an_address_is_rejected_by_number_and_nothing_imported(
        invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS + NO_ADDRESS)
    result = invoke("prospects", "import", f, "--mapping", PEOPLE)
    assert result.exit_code == 1
    assert "row 5: email '' is required" in result.stderr
    assert "Error: 1 of 4 rows in contacts.csv rejected; nothing imported" in result.stderr
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0
    assert scalar(crm, "SELECT count(*) FROM prospect_addresses") == 0
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--skip-invalid"))
    assert out.splitlines()[-1].endswith("3 inserted, 0 updated, 2 other addresses, "
                                         "1 rejected")


def test_unmapped_stage_values_are_one_error_listing_each(invoke, crm, tmp_path):
    rows = ROWS.replace("Customer", "Evangelist") + ROWS.replace("Customer", "Evangelist") \
        .replace("Opportunity", "Other").replace("lucia@", "l2@").replace("bob@", "b2@") \
        .replace("cy@", "c2@").replace("lucia.personal", "x").replace("lf@", "y@")
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    line = fails(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert line == ("Error: 2 stage values in contacts.csv have no stage: 'Evangelist' "
                    "(2 rows: --stage-map 'Evangelist=STAGE'), 'Other' (1 row: --stage-map "
                    "'Other=STAGE') (stages: lead, contacted, replied, meeting, proposal, "
                    "won, lost)")
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--stage-map",
                    "evangelist=won", "--stage-map", "Other=Lead"))
    assert "6 inserted" in out
    got = prospects(crm)
    assert (got["l2@andina.example"]["stage"], got["c2@young.example"]["stage"]) == \
        ("won", "lead")


def test_a_bad_stage_map_names_the_flag(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--stage-map", "Customer=vip"),
          "--stage-map 'Customer=vip'", "'vip' is not a stage")
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--stage-map", "Customer"),
          "--stage-map 'Customer' must be NAME=VALUE")


def test_map_sends_a_column_to_a_field_or_ignores_it(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map",
                    "Favourite Colour=notes", "--map", "company name=", "--dry-run"))
    assert "  Favourite Colour → notes" in out.splitlines()
    assert "  Company Name → ignored (--map)" in out.splitlines()
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map",
              "Favourite Colour=notes", "--map", "company name="))
    got = prospects(crm)
    assert got["lucia@andina.example"]["company"] is None
    assert scalar(crm, "SELECT notes FROM prospects WHERE email = 'bob@stone.example'") \
        == "blue"
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Colour=notes"),
          "--map 'Colour=notes'", "'Colour' is not a column of contacts.csv")
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Phone Number=fax"),
          "'fax' is not a field")


def test_write_mapping_then_mapping_round_trips(invoke, crm, tmp_path):
    rows = ROWS.replace("Customer", "Evangelist")
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    saved = tmp_path / "mine.toml"
    # the plan is saved even though a stage value has no stage yet: the user edits it
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--write-mapping", saved,
                    "--map", "Favourite Colour=notes")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == f"mapping written to {saved}"
    assert result.stderr.startswith("Error: 1 stage value in contacts.csv has no stage: "
                                    "'Evangelist' (1 row")
    text = saved.read_text()
    assert '# "Evangelist" = ""  # 1 row: no stage yet; name one' in text
    assert '"Favourite Colour" = "notes"' in text
    assert '"Ana Souza" = "ana"  # 1 row' in text
    assert 'dates = "iso"' in text and 'numbers = "us"' in text
    # unedited, the saved mapping fails the same way; edited, it imports
    fails(invoke("prospects", "import", f, "--mapping", saved), "'Evangelist' (1 row")
    saved.write_text(text.replace('# "Evangelist" = ""  # 1 row: no stage yet; name one',
                                  '"Evangelist" = "won"'))
    out = ok(invoke("prospects", "import", f, "--mapping", saved))
    assert out.splitlines()[0] == "recognised: Test CRM (people) export (mapping mine.toml)"
    got = prospects(crm)
    assert got["lucia@andina.example"]["stage"] == "won"
    assert scalar(crm, "SELECT notes FROM prospects WHERE email = 'bob@stone.example'") \
        == "blue"
    # written again from the applied mapping, the plan is the same
    again = tmp_path / "again.toml"
    ok(invoke("prospects", "import", f, "--mapping", saved, "--write-mapping", again,
              "--dry-run", "--on-duplicate", "skip"))
    assert again.read_text().split("\n", 1)[1] == \
        saved.read_text().replace('"Evangelist" = "won"', '"Evangelist" = "won"  # 1 row'
                                  ).split("\n", 1)[1]


def test_rows_differing_only_in_the_address_case_become_one_prospect(invoke, crm, tmp_path):
    rows = ROWS + ROWS.splitlines()[1].replace("bob@stone.example", "Bob@Stone.Example") \
        .replace("Stone Ltd", "").replace("blue", "green") + "\n"
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map",
                    "Favourite Colour=notes"))
    assert out.splitlines()[-1] == (
        "contacts.csv: 4 rows, 3 inserted, 0 updated, 1 merged with an earlier row for the "
        "same address (ignoring case), 2 other addresses")
    bob = query(crm, "SELECT company, notes FROM prospects WHERE email = 'bob@stone.example'")
    assert bob == [{"company": "Stone Ltd", "notes": "green"}]  # later non-empty fields win


def test_an_amount_in_another_style_is_a_rejected_row(invoke, crm, tmp_path):
    rows = ROWS + ('5,Eve,Ng,eve@ng.example,,,,Subscriber,,2024-01-16 08:00,,about 5,,,,\n')
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    result = invoke("prospects", "import", f, "--mapping", PEOPLE)
    assert result.exit_code == 1
    assert "row 5: value 'about 5' is not an amount in the column's style (us)" \
        in result.stderr
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0


def test_a_profile_breaking_the_format_is_one_line_naming_file_and_key(invoke, crm,
                                                                       tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    bad = tmp_path / "bad.toml"
    bad.write_text(PEOPLE.read_text().replace('"Labels" = "tags"', '"Labels" = "labels"'))
    fails(invoke("prospects", "import", f, "--mapping", bad),
          f"profile {bad}: columns.'Labels' 'labels' is not a field")
    bad.write_text(PEOPLE.read_text().replace('"Labels" = "tags"', '"Labels" = "signed_at"'))
    line = fails(invoke("prospects", "import", f, "--mapping", bad))
    assert line.startswith(f"Error: profile {bad}: columns.'Labels' 'signed_at' is not a field:"
                           " 'signed' is not a stage (stages: ")
    bad.write_text(PEOPLE.read_text().replace('"Customer" = "won"', '"Customer" = "closed"'))
    fails(invoke("prospects", "import", f, "--mapping", bad),
          f"profile {bad}: stages.'Customer' 'closed' is not a stage of the database")
    bad.write_text(PEOPLE.read_text().replace('dates = "auto"', 'date = "auto"'))
    fails(invoke("prospects", "import", f, "--mapping", bad), "format.date is not a key")
    fails(invoke("prospects", "import", f, "--mapping", tmp_path / "none.toml"),
          "does not exist")


def test_a_header_matching_no_profile_goes_to_the_generic_reader(invoke, crm, tmp_path):
    f = write(tmp_path, "leads.csv", "email,name,colour\na@example.com,A,red\n")
    fails(invoke("prospects", "import", f), "column 'colour' in ",
          "is not a prospect field")  # today's error, unchanged
    fails(invoke("prospects", "import", f, "--from", "nothing-like-it"),
          "--from 'nothing-like-it' is not a known export")


def test_recognition_picks_the_profile_knowing_most_headers():
    people = crm_profiles.load(PEOPLE)
    narrow = crm_profiles.parse({"tool": {"name": "narrow", "title": "Narrow",
                                          "required": ["Email"], "signature": ["Create Date"],
                                          "min_signature": 1},
                                 "columns": {"Email": "email"}}, "narrow.toml")
    headers = PEOPLE_HEAD.strip().split(",")
    assert crm_profiles.recognise(headers, [narrow, people]) is people
    assert crm_profiles.recognise(["Email", "Create Date"], [narrow, people]) is narrow
    # required headers all present, but too little of the signature: not recognised
    assert crm_profiles.recognise(["Record ID", "E-mail", "Email", "Lead Status"],
                                  [people]) is None
    assert crm_profiles.recognise(["record id", "EMAIL", "lead_status", "Contact Owner"],
                                  [people]) is people


def test_a_generic_file_with_a_plan_flag_goes_through_the_plan(invoke, crm, tmp_path):
    f = write(tmp_path, "g.csv", "email,name,stage,owner,created_at\n"
                                 "a@x.example,A,Qualified,Zed Ödön,2024-01-02\n"
                                 "b@x.example,B,lead,ana,16/01/2024\n")
    saved = tmp_path / "g.toml"
    out = ok(invoke("prospects", "import", f, "--stage-map", "Qualified=meeting",
                    "--create-owners", "--write-mapping", saved))
    assert out.splitlines() == ["recognised: generic CSV", f"mapping written to {saved}",
                                "g.csv: 2 rows, 2 inserted, 0 updated, 1 owners created"]
    got = prospects(crm)
    assert (got["a@x.example"]["stage"], got["a@x.example"]["owner"],
            got["b@x.example"]["created_at"]) == ("meeting", "zed.odon", "2024-01-16T00:00:00Z")
    text = saved.read_text()
    assert '"Qualified" = "meeting"  # 1 row' in text and '"Zed Ödön" = "zed.odon"' in text
    assert 'dates = "eu"' in text
    # without a plan flag the same file is today's generic import: its stage is an error
    result = invoke("prospects", "import", f, "--on-duplicate", "skip")
    assert result.exit_code == 1
    assert "row 2: stage 'Qualified' is not a stage" in result.stderr


def test_other_addresses_as_a_json_list_and_an_empty_one(invoke, crm, tmp_path):
    rows = ('1,A,B,,"[""a@home.example"", ""a2@home.example""]",,,Subscriber,,,,,,,,\n'
            '2,C,D,c@x.example,[],,,Subscriber,,,,,,,,\n')
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert sorted(r["email"] for r in query(crm, "SELECT email FROM prospects")) == \
        ["a@home.example", "c@x.example"]
    assert scalar(crm, "SELECT email FROM prospect_addresses") == "a2@home.example"


def test_the_profile_format_errors_name_the_key():
    base = {"tool": {"name": "x", "title": "X"}, "columns": {"E": "email"}}
    with pytest.raises(crm_profiles.ProfileError, match=r"^profile f.toml: tool.title must "
                                                        r"be given as text$"):
        crm_profiles.parse({**base, "tool": {"name": "x"}}, "f.toml")
    with pytest.raises(crm_profiles.ProfileError, match=r"^profile f.toml: tool.rows "
                                                        r"'companies' must be one of people, "
                                                        r"deals$"):
        crm_profiles.parse({**base, "tool": {"name": "x", "title": "X",
                                             "rows": "companies"}}, "f.toml")


def test_a_file_without_an_email_column_and_a_stage_date_column(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Email=",
                 "--map", "Additional email addresses=notes"),
          "file 'contacts.csv' has no email column for Test CRM (people) (columns: 'Record ID'",
          "map one with --map 'COLUMN=email'")
    # a column can be sent to a stage's date; that stage's history comes from it
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Close Date=Won_at"))
    assert prospects(crm)["lucia@andina.example"]["stage_entered_at"] == \
        "2024-04-01T09:00:00Z"


def test_write_mapping_to_a_place_that_cannot_be_written(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE, "--write-mapping", tmp_path),
          f"--write-mapping '{tmp_path}' cannot be written")


def test_a_bad_currency_and_an_open_deal_with_a_close_date(invoke, crm, tmp_path):
    rows = ROWS.replace("2024-01-15 08:00,,", "2024-01-15 08:00,2030-01-01 08:00,") \
        + '5,Eve,Ng,eve@ng.example,,,,Subscriber,,2024-01-16 08:00,,5,EURO,,,\n' \
        + '6,Flo,Ng,flo@ng.example,,,,Subscriber,,soon,,,,,,\n'
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    result = invoke("prospects", "import", f, "--mapping", PEOPLE)
    assert "row 5: currency 'EURO' is not a 3-letter ISO 4217 code" in result.stderr
    assert "row 6: Create Date 'soon' is not a date in the column's style (iso); use " \
           "--date-format" in result.stderr
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--skip-invalid"))
    assert out.splitlines()[-1].endswith("3 inserted, 0 updated, 2 other addresses, 2 rejected")
    # an open prospect's close date is when it may close: no history from it
    assert (prospects(crm)["cy@young.example"]["stage"],
            scalar(crm, "SELECT count(*) FROM stage_changes c JOIN prospects p ON"
                        " p.id = c.prospect_id WHERE p.email = 'cy@young.example'")) == \
        ("proposal", 1)


def test_repeats_are_found_across_batches_and_by_the_slower_reader(invoke, crm, tmp_path,
                                                                  monkeypatch):
    from salescli.pipeline import import_crm

    rows = ROWS + ROWS.splitlines()[1].replace("bob@stone.example", "BOB@stone.example") + "\n"
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    monkeypatch.setattr(import_crm, "_LIGHT_BATCH", 2)  # the repeat is in another batch
    plan = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run"))
    assert "1 merged with an earlier row" in plan.splitlines()[-1]
    monkeypatch.setattr(import_crm, "light_batches", lambda *args: None)
    assert ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run")) == plan


def test_repeats_are_found_by_the_bit_filter_past_the_exact_set(invoke, crm, tmp_path,
                                                                 monkeypatch):
    from salescli.pipeline import import_crm, import_plan

    rows = ROWS + ROWS.splitlines()[1].replace("bob@stone.example", "BOB@stone.example") + "\n"
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    monkeypatch.setattr(import_crm, "_LIGHT_BATCH", 2)
    monkeypatch.setattr(import_plan, "_EXACT", 1)  # the filter takes over after batch 1
    plan = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run"))
    assert "1 merged with an earlier row" in plan.splitlines()[-1]


def test_date_format_applies_to_a_crm_exports_dates(invoke, crm, tmp_path):
    # day first, and 05/03 could be read either way: only --date-format says which
    rows = ROWS.replace("2024-03-05 14:22", "05/03/2024 14:22") \
        .replace("2024-04-01 09:00", "01/04/2024 09:00") \
        .replace("2024-02-01 10:00", "01/02/2024 10:00") \
        .replace("2024-02-20 10:00", "20/02/2024 10:00") \
        .replace("2024-01-15 08:00", "15/01/2024 08:00")
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run",
                    "--date-format", "%d/%m/%Y %H:%M"))
    assert "dates: Create Date %d/%m/%Y %H:%M; Close Date %d/%m/%Y %H:%M" in out.splitlines()
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE,
              "--date-format", "%d/%m/%Y %H:%M"))
    got = prospects(crm)
    assert got["lucia@andina.example"]["created_at"] == "2024-03-05T14:22:00Z"
    assert got["lucia@andina.example"]["stage_entered_at"] == "2024-04-01T09:00:00Z"


def test_a_written_mapping_lists_the_commonest_values_first(invoke, crm, tmp_path):
    more = "".join(f'{n},Sue,Bee{n},sue{n}@bee.example,,,,Subscriber,,2024-02-01 10:00,,,,,,\n'
                   for n in (7, 8))
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS + more)
    saved = tmp_path / "mine.toml"
    out = ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--write-mapping", saved,
                    "--dry-run")).splitlines()
    assert out.index("  Subscriber → lead (3 rows)") < out.index("  Customer → won (1 row)")
    lines = saved.read_text().splitlines()
    stages = lines[lines.index("[stages]") + 1:lines.index("[owners]")]
    assert stages[:2] == ['"Subscriber" = "lead"  # 3 rows', '"Customer" = "won"  # 1 row']


def test_a_mapping_files_owners_table_names_the_users(invoke, crm, tmp_path):
    rows = ROWS.replace("Ana Souza", "The Boss")
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    mine = tmp_path / "mine.toml"
    mine.write_text(PEOPLE.read_text(encoding="utf-8") + '\n[owners]\n"The Boss" = "ana"\n',
                    encoding="utf-8")
    fails(invoke("prospects", "import", f, "--mapping", PEOPLE), "'The Boss' (1 row")
    ok(invoke("prospects", "import", f, "--mapping", mine))
    assert prospects(crm)["lucia@andina.example"]["owner"] == "ana"


def test_two_columns_for_one_field_give_the_first_non_empty_cell(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Phone Number=notes",
              "--map", "Favourite Colour=notes"))
    notes = {r["email"]: r["notes"] for r in query(crm, "SELECT email, notes FROM prospects")}
    assert notes == {"lucia@andina.example": "+1 555", "bob@stone.example": "blue",
                     "cy@young.example": None}


def test_a_written_mapping_comments_only_the_columns_it_leaves_out(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    saved = tmp_path / "mine.toml"
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--write-mapping", saved,
              "--dry-run"))
    lines = saved.read_text().splitlines()
    assert '"Email" = "email"' in lines and '"Company Name" = "company"' in lines
    assert '"Record ID" = ""  # known to the profile, no field' in lines
    assert '"Favourite Colour" = ""  # no field for it' in lines


def test_a_dry_run_shows_how_to_map_a_stage_value_with_no_stage(invoke, crm, tmp_path):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS.replace("Customer", "Evangelist"))
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run")
    assert result.exit_code == 1
    assert "  Evangelist → no stage: map it with --stage-map 'Evangelist=STAGE' (1 row)" \
        in result.stdout.splitlines()


def test_a_currency_column_without_an_amount_column_is_still_read(invoke, crm, tmp_path):
    """Currency is a field of its own: with the amount column mapped away, each row still
    gets its currency, and a bad code is still refused (the row named)."""
    rows = ROWS + '5,Eve,Ng,eve@ng.example,,,,Subscriber,,2024-01-16 08:00,,5,EURO,,,\n'
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Amount=")
    assert "row 5: currency 'EURO' is not a 3-letter ISO 4217 code" in result.stderr
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE, "--map", "Amount=",
              "--skip-invalid"))
    got = {e: (p["value"], p["currency"]) for e, p in prospects(crm).items()}
    assert got == {"lucia@andina.example": (None, "EUR"), "bob@stone.example": (None, None),
                   "cy@young.example": (None, "USD")}


@pytest.mark.parametrize("toml, problem", [
    ('columns = "Email"\n[tool]\nname = "x"\ntitle = "X"\n', "[columns] must be a table"),
    ('format = 3\n[tool]\nname = "x"\ntitle = "X"\n[columns]\nEmail = "email"\n',
     "[format] must be a table"),
    ('[tool]\nname = "x"\ntitle = "X"\n[columns]\nEmail = "email"\n[format]\ncolour = 1\n',
     "format.colour is not a key of [format] (keys: encoding, delimiter, dates, numbers,"
     " tags_separator, tags_drop)"),
], ids=["columns", "format", "format-key"])
def test_a_broken_mapping_file_is_one_error_line(invoke, crm, tmp_path, toml, problem):
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + ROWS)
    mapping = write(tmp_path, "bad.toml", toml)
    assert fails(invoke("prospects", "import", f, "--mapping", mapping)) == \
        f"Error: profile {mapping}: {problem}"
    assert prospects(crm) == {}


def test_an_unfinished_plan_counts_every_row_without_an_address(invoke, crm, tmp_path):
    """A dry run that stops at an unmapped stage still says how many rows have no address
    (each counted, not just noticed)."""
    rows = ROWS + NO_ADDRESS + NO_ADDRESS.replace("4,Dee", "5,Dee") \
        + '6,Eve,Ng,eve@ng.example,,,,Evangelist,,,,,,,,\n'
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    result = invoke("prospects", "import", f, "--mapping", PEOPLE, "--dry-run")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    at = lines.index("rows to reject: 2")
    assert lines[at + 1:] == [
        "  row 5: email '' is required (no address in any email column)",
        "  row 6: email '' is required (no address in any email column)"]
    assert prospects(crm) == {}


def test_rows_whose_address_comes_again_are_written_after_the_others(invoke, crm, tmp_path):
    """The rows of an address that repeats are kept back and folded at the end: the others
    are written batch by batch, in file order, and get the first ids."""
    rows = ROWS + '5,Lucía,F.,lucia@andina.example,,,,Customer,,,,,,,,\n'
    f = write(tmp_path, "contacts.csv", PEOPLE_HEAD + rows)
    ok(invoke("prospects", "import", f, "--mapping", PEOPLE))
    assert [r["email"] for r in query(crm, "SELECT email FROM prospects ORDER BY id")] == \
        ["bob@stone.example", "cy@young.example", "lucia@andina.example"]


def test_a_workbooks_plan_names_no_delimiter(invoke, crm, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    head = PEOPLE_HEAD.rstrip("\n").split(",")
    book.active.append(head)
    book.active.append(["1", "Bob", "Stone", "bob@stone.example"] + [""] * (len(head) - 4))
    book.save(tmp_path / "contacts.xlsx")
    out = ok(invoke("prospects", "import", tmp_path / "contacts.xlsx", "--mapping", PEOPLE,
                    "--dry-run"))
    assert out.splitlines()[1] == "file: contacts.xlsx (1 row; encoding utf-8; one row per" \
        " person)"
