"""A deals export (issue 16): several rows for one person become one prospect at the most
advanced open deal (else the latest closed one); the other deals are timeline notes."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.crm_plan.support import DEALS, DEALS_HEAD, add_user, crm_schema, write
from tests.support.cli import ok, query, scalar

DEALS_ROWS = (
    # Ann: two open deals and a won one → the proposal (most advanced open) wins
    "Website,Ann Lee,ann@lee.example,Lee Inc,ana,Demo Scheduled,open,500,EUR,"
    "2024-01-02 09:00,\n"
    "Renewal,Ann Lee,ANN@lee.example,,ana,Proposal Made,open,\"1,500.00\",EUR,2024-02-02 09:00,\n"
    "Pilot,,ann@lee.example,,ana,Proposal Made,won,200,EUR,2024-01-01 09:00,"
    "2024-01-20 09:00\n"
    # Bo: only closed deals → the latest closed one (lost in May) wins
    "Old,Bo Park,bo@park.example,Park AG,ana,Contact Made,won,300,USD,2024-01-05 09:00,"
    "2024-03-01 09:00\n"
    "Newer,Bo Park,bo@park.example,Park AG,ana,Contact Made,lost,700,USD,2024-02-05 09:00,"
    "2024-05-01 09:00\n"
    # Cy: one deal
    "Only,Cy Ro,cy@ro.example,,ana,Lead In,open,50,,2024-03-03 09:00,\n"
    # Cy's second deal: no stage, currency or dates; the first stage's deal is ahead of it
    "Extra,Cy Ro,cy@ro.example,,ana,,open,9,,,\n"
)


@pytest.fixture
def crm(sales):
    crm_schema(sales)
    add_user(sales, "ana")
    return sales


def test_one_prospect_per_person_at_the_most_advanced_open_deal(invoke, crm, tmp_path):
    f = write(tmp_path, "deals.csv", DEALS_HEAD + DEALS_ROWS)
    out = ok(invoke("prospects", "import", f, "--mapping", DEALS))
    assert out.splitlines() == [
        "recognised: Test CRM (deals) export (mapping deals.toml)",
        "deals.csv: 7 rows, 3 inserted, 0 updated, 4 other deals kept as timeline notes"]
    got = {r["email"]: r for r in query(
        crm, "SELECT p.id, p.email, p.name, p.company, s.name AS stage, p.value, p.currency,"
             " p.created_at, p.stage_entered_at FROM prospects p JOIN stages s"
             " ON s.id = p.stage_id")}
    ann, bo, cy = got["ann@lee.example"], got["bo@park.example"], got["cy@ro.example"]
    assert (ann["name"], ann["company"], ann["stage"], ann["value"], ann["currency"],
            ann["created_at"]) == ("Ann Lee", "Lee Inc", "proposal", 1500.0, "EUR",
                                   "2024-02-02T09:00:00Z")
    assert (bo["stage"], bo["value"], bo["currency"], bo["stage_entered_at"]) == \
        ("lost", 700.0, "USD", "2024-05-01T09:00:00Z")
    assert (cy["stage"], cy["value"], cy["currency"]) == ("lead", 50.0, None)
    notes = query(crm, "SELECT prospect_id, kind, occurred_at, subject, body FROM interactions"
                       " ORDER BY prospect_id, occurred_at")
    assert [(n["prospect_id"], n["kind"], n["occurred_at"], n["subject"]) for n in notes] == [
        (ann["id"], "note", "2024-01-02T09:00:00Z", "Deal: Website"),
        (ann["id"], "note", "2024-01-20T09:00:00Z", "Deal: Pilot"),
        (bo["id"], "note", "2024-03-01T09:00:00Z", "Deal: Old"),
        (cy["id"], "note", notes[3]["occurred_at"], "Deal: Extra")]
    assert notes[3]["occurred_at"] > "2026"  # no date of its own: the import's time
    assert notes[3]["body"] == "Deal 'Extra' (import, row 8): stage none, value 9"
    assert notes[1]["body"] == ("Deal 'Pilot' (import, row 4): stage won, value 200 EUR, "
                                "created 2024-01-01")
    assert scalar(crm, "SELECT count(*) FROM activities WHERE entity = 'interaction'") == 4


def test_a_dry_run_counts_the_deals_and_writes_no_note(invoke, crm, tmp_path):
    f = write(tmp_path, "deals.csv", DEALS_HEAD + DEALS_ROWS)
    out = ok(invoke("prospects", "import", f, "--mapping", DEALS, "--dry-run"))
    assert "file: deals.csv (7 rows; encoding utf-8, delimiter ','; one row per deal)" \
        in out.splitlines()
    assert out.splitlines()[-1] == ("dry run, nothing written: deals.csv: 7 rows, 3 to insert,"
                                    " 0 to update, 4 other deals kept as timeline notes")
    assert scalar(crm, "SELECT count(*) FROM interactions") == 0
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0


def test_a_bad_deal_row_imports_nothing(invoke, crm, tmp_path):
    f = write(tmp_path, "deals.csv", DEALS_HEAD + DEALS_ROWS
              + "Bad,Di,di@x.example,,ana,Lead In,open,lots,,2024-03-03 09:00,\n")
    result = invoke("prospects", "import", f, "--mapping", DEALS)
    assert result.exit_code == 1 and "row 9: value 'lots' is not an amount" in result.stderr
    assert scalar(crm, "SELECT count(*) FROM prospects") == 0
    assert scalar(crm, "SELECT count(*) FROM interactions") == 0


def test_an_address_cell_with_a_name_gives_the_name_when_no_column_does(invoke, crm,
                                                                         tmp_path):
    rows = ("A,,Ann Lee <ann@lee.example>,,ana,Lead In,open,5,,2024-03-03 09:00,\n"
            'B,,"Bo Park (bo@park.example); bo@home.example",,ana,Lead In,open,6,,'
            "2024-03-03 09:00,\n"
            "C,,mailto:Cy@Ro.example,,ana,Lead In,open,7,,2024-03-03 09:00,\n")
    f = write(tmp_path, "deals.csv", DEALS_HEAD + rows)
    out = ok(invoke("prospects", "import", f, "--mapping", DEALS, "--map", "Person - Name="))
    assert out.splitlines()[-1] == "deals.csv: 3 rows, 3 inserted, 0 updated, 1 other addresses"
    assert {r["email"]: r["name"] for r in query(crm, "SELECT email, name FROM prospects")} \
        == {"ann@lee.example": "Ann Lee", "bo@park.example": "Bo Park", "cy@ro.example": None}
    assert scalar(crm, "SELECT email FROM prospect_addresses") == "bo@home.example"


def test_each_deal_note_is_audited_on_its_prospect(invoke, crm, tmp_path):
    f = write(tmp_path, "deals.csv", DEALS_HEAD + DEALS_ROWS)
    ok(invoke("prospects", "import", f, "--mapping", DEALS))
    rows = query(crm, "SELECT a.prospect_id, a.after, p.email FROM activities a"
                      " JOIN interactions i ON i.id = a.entity_id JOIN prospects p"
                      " ON p.id = i.prospect_id WHERE a.entity = 'interaction'"
                      " AND a.action = 'create' ORDER BY i.occurred_at")
    assert [(r["email"], json.loads(r["after"])) for r in rows][:2] == [
        ("ann@lee.example", {"kind": "note", "occurred_at": "2024-01-02T09:00:00Z",
                             "subject": "Deal: Website"}),
        ("ann@lee.example", {"kind": "note", "occurred_at": "2024-01-20T09:00:00Z",
                             "subject": "Deal: Pilot"})]
    assert all(r["prospect_id"] == scalar(crm, "SELECT id FROM prospects WHERE email = ?",
                                          (r["email"],)) for r in rows)


def test_people_with_several_deals_get_ids_in_the_files_order(invoke, crm, tmp_path):
    rows = ("A,Zed Ka,zed@ka.example,,ana,Lead In,open,10,,2024-01-02 09:00,\n"
            "B,Zed Ka,zed@ka.example,,ana,Proposal Made,open,20,,2024-01-03 09:00,\n"
            "C,Amy Bo,amy@bo.example,,ana,Lead In,open,30,,2024-01-04 09:00,\n"
            "D,Amy Bo,amy@bo.example,,ana,Lead In,open,40,,2024-01-05 09:00,\n")
    f = write(tmp_path, "deals.csv", DEALS_HEAD + rows)
    ok(invoke("prospects", "import", f, "--mapping", DEALS))
    assert [r["email"] for r in query(crm, "SELECT email FROM prospects ORDER BY id")] == \
        ["zed@ka.example", "amy@bo.example"]


def test_the_import_activity_counts_the_deals_kept_as_notes(invoke, crm, tmp_path):
    f = write(tmp_path, "deals.csv", DEALS_HEAD + DEALS_ROWS)
    ok(invoke("prospects", "import", f, "--mapping", DEALS))
    (after,) = [json.loads(r["after"]) for r in query(
        crm, "SELECT after FROM activities WHERE action = 'import'")]
    assert {k: after[k] for k in ("recognised", "rows", "inserted", "deal_notes",
                                  "case_merged", "other_addresses", "owners_created")} == {
        "recognised": "Test CRM (deals) export (mapping deals.toml)", "rows": 7,
        "inserted": 3, "deal_notes": 4, "case_merged": 0, "other_addresses": 0,
        "owners_created": []}
