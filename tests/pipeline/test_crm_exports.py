"""Exports of other CRMs, as those tools write them, import as they come (issue 16).

One fixture per tool under tests/pipeline/crm/ (written by make_fixtures.py from each tool's
documented export), imported through the CLI with no flag but --skip-invalid and
--create-owners; every field is then read back from the database: name, company, owner,
stage, value and currency, created date, other addresses, tags. The profiles that recognise
them (salescli/pipeline/profiles/*.toml) are checked on their own too: they parse, use only
known fields and stages, and each fixture's header is recognised as its tool and no other.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import salescli.pipeline
from salescli.pipeline import crm_profiles
from salescli.pipeline.import_map import key
from tests.pipeline.crm import make_fixtures
from tests.support.cli import ok, query

CRM = Path(__file__).parent / "crm"
PROFILES = Path(salescli.pipeline.__file__).parent / "profiles"
STAGES = ("lead", "contacted", "replied", "meeting", "proposal", "won", "lost")
FIELDS = {"email", "other_emails", "name", "first_name", "last_name", "company", "owner",
          "stage", "status", "value", "currency", "tags", "source", "notes", "created_at",
          "closed_at", "lost_reason", "deal", ""} | {f"{s}_at" for s in STAGES}
USD = "USD"  # SALESCLI_CURRENCY's default: a prospect without a currency is in it


def P(name, company, owner, stage, created, value=None, currency=USD, other=(), tags=None,
      entered=None, note=None):
    """What one prospect must look like after the import (None: not in the export)."""
    return {"name": name, "company": company, "owner": owner, "stage": stage,
            "created_at": created, "value": value, "currency": currency,
            "other": sorted(other), "tags": tags, "entered": entered, "note": note}


ANA, JONAS, PRIYA, TOMAS = "Ana Souza", "Jonas Weber", "Priya Nair", "Tomás Ortega"
# tool → (fixture, profile, rows rejected for having no address, {email: prospect})
EXPECTED: dict[str, tuple[str, str, int, dict[str, dict]]] = {
    "hubspot-contacts": ("hubspot-contacts.csv", "hubspot-contacts", 1, {
        "lucia@andina.example": P("Lucía Fernández", "Andina Foods", ANA, "meeting",
                                  "2024-01-15T09:30:00Z",
                                  other=["lucia.fernandez@mail.example"]),
        "mark@harbor.example": P("Mark O'Connell", "Harbor Logistics", JONAS, "won",
                                 "2023-11-02T16:05:00Z"),
        "mei.chen@lotus.example": P("Mei Chen", "Lotus Design", PRIYA, "proposal",
                                    "2024-02-20T11:45:00Z",
                                    other=["mchen@lotus.example", "mei@chen-family.example"]),
        "greta@nordvik.example": P("Greta Lind", "Nordvik AB", JONAS, "lost",
                                   "2024-02-29T08:00:00Z"),
        "hugo@atelier.example": P("Hugo Blanc", "Atelier Blanc", None, "lead",
                                  "2023-12-24T18:30:00Z"),
        "aiko@kumo.example": P("Aiko Tanaka", "Kumo KK", TOMAS, "contacted",
                               "2024-03-05T14:22:00Z")}),
    "hubspot-deals": ("hubspot-deals.csv", "hubspot-deals", 0, {
        "lucia@andina.example": P("Lucía Fernández", "Andina Foods", ANA, "proposal",
                                  "2024-01-10T09:00:00Z", 12500.0, "EUR",
                                  note="Andina – Pilot"),
        "mark@harbor.example": P("Mark O'Connell", "Harbor Logistics", JONAS, "lost",
                                 "2023-11-05T16:00:00Z", 3000.0, "USD",
                                 entered="2024-01-20T00:00:00Z"),
        "greta@nordvik.example": P("Greta Lind", "Nordvik AB", JONAS, "meeting",
                                   "2024-03-01T12:00:00Z", 950.0, "SEK"),
        "mei.chen@lotus.example": P("Mei Chen", "Lotus Design", PRIYA, "proposal",
                                    "2024-02-21T09:15:00Z", 7200.75, "USD"),
        "aiko@kumo.example": P("Aiko Tanaka", "Kumo KK", TOMAS, "won", "2024-03-06T08:30:00Z",
                               2100.0, "USD", entered="2024-03-28T00:00:00Z")}),
    "pipedrive-people": ("pipedrive-people.csv", "pipedrive-people", 1, {
        "clara@fjord.example": P("Clara Jensen", "Fjord Analytics", ANA, "lead",
                                 "2024-02-14T10:20:30Z", other=["clara.jensen@home.example"],
                                 tags=["Hot lead"]),
        "bruno.costa@casa.example": P("Bruno Costa", "Costa Vinhos", JONAS, "lead",
                                      "2023-12-01T08:05:00Z", tags=["Warm lead"]),
        "nadia@cedar.example": P("Nadia Haddad", "Cedar Trading", PRIYA, "lead",
                                 "2024-03-05T17:45:00Z", other=["n.haddad@other.example"],
                                 tags=["Customer"]),
        "yara@mendes.example": P("Yara Mendes", "Mendes Arquitetura", TOMAS, "lead",
                                 "2024-01-31T23:59:59Z", tags=[])}),
    "pipedrive-deals": ("pipedrive-deals.csv", "pipedrive-deals", 1, {
        "clara@fjord.example": P("Clara Jensen", "Fjord Analytics", ANA, "proposal",
                                 "2024-02-15T09:00:00Z", 18000.0, "EUR",
                                 other=["clara.jensen@home.example"],
                                 note="Fjord – support add-on"),
        "bruno.costa@casa.example": P("Bruno Costa", "Costa Vinhos", JONAS, "won",
                                      "2023-12-02T10:00:00Z", 5600.5, "EUR",
                                      entered="2024-01-10T15:30:00Z"),
        "nadia@cedar.example": P("Nadia Haddad", "Cedar Trading", PRIYA, "lost",
                                 "2024-03-06T08:00:00Z", 9900.0, "USD",
                                 entered="2024-03-20T16:00:00Z"),
        "yara@mendes.example": P("Yara Mendes", "Mendes Arquitetura", TOMAS, "meeting",
                                 "2024-02-01T10:00:00Z", 3200.0, "BRL")}),
    "salesforce-report": ("salesforce-report.csv", "salesforce-report", 1, {
        "dmitri@volga.example": P("Dmitri Volkov", "Volga Systems", ANA, "contacted",
                                  "2024-03-14T00:00:00Z"),
        "fatima@oasis.example": P("Fatima Zahra", "Oasis Retail", JONAS, "lead",
                                  "2024-01-05T00:00:00Z"),
        "kofi@accramobile.example": P("Kofi Mensah", "Accra Mobile", PRIYA, "meeting",
                                      "2023-11-28T00:00:00Z"),
        "lena@schulzbau.example": P("Lena Schulz", "Schulz Bau", JONAS, "lost",
                                    "2024-02-29T00:00:00Z")}),
    "salesforce-dataloader": ("salesforce-dataloader.csv", "salesforce-dataloader", 1, {
        "dmitri@volga.example": P("Dmitri Volkov", "Volga Systems", ANA, "contacted",
                                  "2024-03-14T16:05:09Z"),
        "fatima@oasis.example": P("Fatima Zahra", "Oasis Retail", JONAS, "lead",
                                  "2024-01-05T08:30:00Z"),
        "kofi@accramobile.example": P("Kofi Mensah", "Accra Mobile", PRIYA, "meeting",
                                      "2023-11-28T21:15:42Z"),
        "lena@schulzbau.example": P("Lena Schulz", "Schulz Bau", JONAS, "lost",
                                    "2024-02-29T12:00:00Z")}),
    "zoho-leads": ("zoho-leads.csv", "zoho-leads", 1, {
        "marta@solenergia.example": P("Marta Ruiz", "Sol Energia", ANA, "replied",
                                      "2024-02-02T10:15:00Z",
                                      other=["marta.ruiz@personal.example"],
                                      tags=["webinar", "energy"]),
        "wei.li@home.example": P("Wei Li", "Li Trading", JONAS, "contacted",
                                 "2024-01-18T15:40:00Z", tags=[]),
        "tom@peak.example": P("Tom Hill", "Peak Outdoor", PRIYA, "lost",
                              "2023-10-30T09:00:00Z"),
        "carla@andes.example": P("Carla Rojas", "Andes Mining", TOMAS, "meeting",
                                 "2024-03-05T14:22:10Z", tags=["vip"])}),
    "zoho-contacts": ("zoho-contacts.csv", "zoho-contacts", 0, {
        "marta@solenergia.example": P("Marta Ruiz", "Sol Energia", ANA, "lead",
                                      "2024-02-12T11:00:00Z",
                                      other=["marta.ruiz@personal.example"],
                                      tags=["customer"]),
        "wei.li@home.example": P("Wei Li", "Li Trading", JONAS, "lead",
                                 "2024-01-25T16:00:00Z"),
        "carla@andes.example": P("Carla Rojas", "Andes Mining", TOMAS, "lead",
                                 "2024-03-15T09:30:00Z", tags=["vip", "mining"])}),
    "close-leads": ("close-leads.csv", "close-leads", 0, {
        "elena@blueharbor.example": P("Elena Petrova", "Blue Harbor Studio", ANA, "meeting",
                                      "2024-03-05T13:22:10Z",
                                      other=["elena.petrova@mail.example"]),
        "owen@graniteworks.example": P("Owen Price", "Granite Works", JONAS, "won",
                                       "2023-09-12T08:00:00Z"),
        "sara@pixelfarm.example": P("Sara Kim", "Pixel Farm", PRIYA, "lost",
                                    "2024-02-01T22:30:00Z"),
        "ken@quietleaf.example": P("Ken Ito", "Quiet Leaf Tea", TOMAS, "lead",
                                   "2024-03-17T21:45:00Z")}),
    "copper-people": ("copper-people.csv", "copper-people", 0, {
        "grace@lagosfintech.example": P("Grace Obi", "Lagos Fintech", ANA, "lead",
                                        "2024-03-14T00:00:00Z",
                                        other=["grace.obi@mail.example"],
                                        tags=["fintech", "referral"]),
        "peter.novak@home.example": P("Peter Novak", "Novak Print", JONAS, "won",
                                      "2023-10-02T00:00:00Z"),
        "ines@duartemoda.example": P("Ines Duarte", "Duarte Moda", PRIYA, "lost",
                                     "2024-01-22T00:00:00Z", other=["ines@other.example"],
                                     tags=["retail"]),
        "felix@braun.example": P("Felix Braun", None, TOMAS, "lead", "2024-02-13T00:00:00Z",
                                 tags=[])}),
    "odoo-crm": ("odoo-crm.csv", "odoo-crm", 0, {
        "emma@schmidt-logistik.example": P("Emma Schmidt", "Schmidt Logistik GmbH", ANA,
                                           "proposal", "2024-02-01T09:00:00Z", 24000.0,
                                           "EUR", note="Schmidt Logistik: trial"),
        "luca@athome.example": P("Luca Bianchi", "@home Services", JONAS, "meeting",
                                 "2024-03-05T14:22:10Z", 8500.5, "EUR", tags=["Services"]),
        "sofia@vegafoods.example": P("Sofia Vega", "Vega Foods", PRIYA, "lost",
                                     "2023-12-12T12:12:12Z", 12000.0, "USD"),
        "diego@ortizbikes.example": P("Diego Ortiz", "Ortiz Bikes", TOMAS, "lead",
                                      "2024-03-20T08:00:00Z", 0.0, "EUR")}),
    "twenty-people": ("twenty-people.csv", "twenty-people", 0, {
        "noah@alpenlabs.example": P("Noah Fischer", "Alpen Labs", None, "lead",
                                    "2024-03-05T14:22:10Z",
                                    other=["noah.fischer@mail.example"]),
        "amara.diallo@home.example": P("Amara Diallo", "Baobab Studio", None, "lead",
                                       "2024-01-17T09:05:00Z"),
        "ivo@equals.example": P("Ivo Petrov", "=Equals Labs", None, "lead",
                                "2023-12-31T23:59:59Z")}),
    "google-contacts": ("google-contacts.csv", "google-contacts", 0, {
        "julia@rioverde.example": P("Julia Costa", "Rio Verde Café", None, "lead", None,
                                    other=["julia.costa@mail.example"],
                                    tags=["Clients", "Trade fair 2024"]),
        "sven@karlsson-home.example": P("Sven Karlsson", "Karlsson Snickeri", None, "lead",
                                        None, tags=[]),
        "ada@nwosu-clinic.example": P("Ada Nwosu", None, None, "lead", None,
                                      tags=["Partners"])}),
    "outlook": ("outlook.csv", "outlook", 0, {
        "jose@olivo.example": P("José García", "Olivo Import", None, "lead", None,
                                other=["jose.garcia@correo.example"],
                                tags=["Customers", "Spain"]),
        "zoe.obrien@home.example": P("Zoë O’Brien", "Brontë Books", None, "lead", None,
                                     tags=[]),
        "etienne@cafedubois.example": P("Étienne Dubois", "Café Dubois", None, "lead", None,
                                        tags=["Suppliers"])}),
    # A Pipedrive deals export re-saved by a German Excel: the exact values.
    "german-excel": ("german-excel.csv", "pipedrive-deals", 0, {
        "renee@mueller-soehne.example": P("Renée D’Souza", "Müller & Söhne GmbH",
                                          "Jürgen Groß", "proposal", "2024-03-05T14:22:00Z",
                                          12500.0, "EUR"),
        "bjoern@koehler.example": P("Björn Köhler", "Köhler Maschinenbau", "Jürgen Groß",
                                    "won", "2024-01-17T09:05:00Z", 980.5, "EUR",
                                    entered="2024-02-28T16:40:00Z"),
        "anna@strasser.example": P("Anna Straßer", "Straßer Bäckerei", "Jürgen Groß",
                                   "contacted", "2024-02-29T08:00:00Z", 1250.0, "EUR")}),
}


def profiles() -> dict[str, dict]:
    """Every shipped profile, by name."""
    return {p.stem: tomllib.loads(p.read_text(encoding="utf-8"))
            for p in sorted(PROFILES.glob("*.toml"))}


def header(fixture: str) -> list[str]:
    """The header row of a fixture."""
    return list(make_fixtures.FILES[fixture][1])


def test_every_tool_of_the_issue_has_a_profile_and_a_fixture():
    assert set(profiles()) == {
        "hubspot-contacts", "hubspot-deals", "pipedrive-people", "pipedrive-deals",
        "salesforce-report", "salesforce-dataloader", "zoho-leads", "zoho-contacts",
        "close-leads", "copper-people", "odoo-crm", "twenty-people", "google-contacts",
        "outlook"}
    assert {p for _, p, _, _ in EXPECTED.values()} == set(profiles())
    assert {f for f, _, _, _ in EXPECTED.values()} == set(make_fixtures.FILES)


@pytest.mark.parametrize("name", sorted(profiles()))
def test_profile_parses_and_uses_only_known_fields_and_stages(name):
    profile = profiles()[name]
    tool = profile["tool"]
    assert tool["name"] == name
    assert tool["title"] and tool["export"]
    assert tool["rows"] in ("people", "deals")
    assert tool["required"] and 1 <= tool["min_signature"] <= len(tool["signature"])
    columns = profile["columns"]
    assert set(columns.values()) <= FIELDS, set(columns.values()) - FIELDS
    assert "email" in columns.values()
    assert "created_at" in columns.values() or name in ("google-contacts", "outlook")
    # required and signature headers are columns the profile knows
    known = {key(h) for h in columns}
    assert {key(h) for h in tool["required"] + tool["signature"]} <= known
    assert len(known) == len(columns), "two headers of one profile compare equal"
    # "" marks a status that leaves the stage as it is
    assert set(profile["stages"].values()) <= set(STAGES) | {""}
    if "stage" in columns.values():  # a closed stage is reachable from the file
        assert set(profile["stages"].values()) & {"won", "lost"}
    else:
        assert profile["stages"] == {}
    if "status" in columns.values():
        assert {"won", "lost"} & set(profile["stages"].values())
    fmt = profile["format"]
    assert fmt["encoding"] == "auto" and fmt["delimiter"] == "auto"
    assert fmt["dates"] == "auto" and fmt["numbers"] == "auto"
    if "tags" in columns.values():
        assert fmt["tags_separator"]


def test_the_loader_accepts_every_profile(sales):
    shipped = crm_profiles.shipped()  # parses and checks each file, or raises naming it
    assert sorted(p.name for p in shipped) == sorted(profiles())
    for profile in shipped:
        crm_profiles.check_stages(profile, STAGES)


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_fixture_is_recognised_as_its_tool_and_no_other(tool):
    fixture, own, _, _ = EXPECTED[tool]
    keys = {key(h) for h in header(fixture)}
    matched = {p.name: s for p in crm_profiles.shipped() if (s := p.score(keys))}
    assert list(matched) == [own], matched
    assert matched[own] >= 5
    assert crm_profiles.recognise(header(fixture)).name == own


def test_a_generic_file_is_no_tool():
    headers = ["Email", "Name", "Company", "Owner", "Stage", "Value", "Tags", "created_at"]
    assert crm_profiles.recognise(headers) is None
    # nor is a Google export without its address column, or an Outlook one without names
    google = [h for h in header("google-contacts.csv") if h != "E-mail 1 - Value"]
    assert crm_profiles.recognise(google) is None
    outlook = [h for h in header("outlook.csv") if h not in ("First Name", "Last Name")]
    assert crm_profiles.recognise(outlook) is None


def test_fixtures_are_what_make_fixtures_writes(tmp_path):
    make_fixtures.main(tmp_path)
    for name in make_fixtures.FILES:
        assert (tmp_path / name).read_bytes() == (CRM / name).read_bytes(), name
    raw = (CRM / "german-excel.csv").read_bytes()
    assert b"12.500,00" in raw and b"980,50" in raw and b"\x80" in raw and b"\x92" in raw
    assert b";" in raw.split(b"\r\n")[0]
    assert (CRM / "hubspot-contacts.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"Grand Totals" in (CRM / "salesforce-report.csv").read_bytes()


def prospects_of(db_file) -> dict[str, dict]:
    return {r["email"]: r for r in query(
        db_file, "SELECT p.*, s.name AS stage, u.full_name AS owner_name FROM prospects p"
                 " JOIN stages s ON s.id = p.stage_id"
                 " LEFT JOIN users u ON u.username = p.owner")}


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_export_imports_as_it_comes(tool, invoke, sales):
    fixture, profile, rejected, expected = EXPECTED[tool]
    result = invoke("prospects", "import", CRM / fixture, "--skip-invalid", "--create-owners")
    out = ok(result)
    assert profiles()[profile]["tool"]["title"] in out.splitlines()[0], out
    got = prospects_of(sales)
    assert sorted(got) == sorted(expected)
    for email, want in expected.items():
        p = got[email]
        assert (p["name"], p["company"], p["stage"]) == \
            (want["name"], want["company"], want["stage"]), email
        assert p["owner_name"] == want["owner"] and (p["owner"] is None) == \
            (want["owner"] is None), email
        assert (p["value"], p["currency"] or USD) == (want["value"], want["currency"]), email
        if want["created_at"]:
            assert p["created_at"] == want["created_at"], email
        if want["entered"]:
            assert p["stage_entered_at"] == want["entered"], email
        others = [r["email"] for r in query(
            sales, "SELECT email FROM prospect_addresses WHERE prospect_id = ? ORDER BY email",
            (p["id"],))]
        assert others == want["other"], email
        if want["tags"] is not None:
            assert sorted(json.loads(p["tags"])) == sorted(want["tags"]), email
        if want["note"]:
            assert want["note"] in ok(invoke("prospects", "show", email)), email
    owners = {w["owner"] for w in expected.values()} - {None}
    users = query(sales, "SELECT username, full_name, role FROM users WHERE full_name IS NOT"
                         " NULL ORDER BY full_name")
    assert {u["full_name"] for u in users} == owners
    assert {u["role"] for u in users} <= {"operator"}
    # the summary counts the rows without an address, skipped
    assert (f"{rejected} rejected" in out) == bool(rejected), out


@pytest.mark.parametrize("tool", sorted(EXPECTED))
def test_dry_run_names_the_tool_and_writes_nothing(tool, invoke, sales):
    fixture, profile, _, _ = EXPECTED[tool]
    out = ok(invoke("prospects", "import", CRM / fixture, "--dry-run", "--skip-invalid",
                    "--create-owners"))
    assert profiles()[profile]["tool"]["title"] in out.splitlines()[0], out
    assert query(sales, "SELECT count(*) AS n FROM prospects")[0]["n"] == 0
    assert query(sales, "SELECT count(*) AS n FROM users")[0]["n"] == 0


def test_german_excel_plan_names_its_formats(invoke, sales):
    out = ok(invoke("prospects", "import", CRM / "german-excel.csv", "--dry-run",
                    "--create-owners"))
    assert "cp1252" in out.lower() or "windows-1252" in out.lower(), out
    assert "DD.MM.YYYY" in out and "eu" in out, out
