"""``interactions.record_many``, the bulk writer of the scanner, the sender and CRM imports:
each interaction and its activity row stamped with one time, whatever the batch size."""

from __future__ import annotations

import json

from salescli.core import audit
from salescli.pipeline import interactions, prospects
from tests.support.cli import query


def test_each_interaction_and_its_activity_row_carry_one_time(conn, db_file, monkeypatch):
    p = prospects.add(conn, "setup", "ann@client.example")
    # the clock moves on before the activity rows are written: they keep the batch's time
    monkeypatch.setattr(audit, "now", lambda: "2099-01-01T00:00:00Z")
    [iid] = interactions.record_many(conn, "scan", [
        {"prospect_id": p["id"], "kind": "email_in", "occurred_at": "2025-03-01T10:00:00Z"}])
    [row] = query(db_file, "SELECT created_at FROM interactions WHERE id = ?", (iid,))
    [act] = query(db_file, "SELECT at FROM activities WHERE entity = 'interaction'"
                           " AND entity_id = ?", (iid,))
    assert act["at"] == row["created_at"] != "2099-01-01T00:00:00Z"


def test_a_batch_for_over_a_thousand_prospects_is_recorded_whole(conn, db_file):
    count = 1001  # owners are read 500 at a time: three reads
    ids = [prospects.add(conn, "setup", f"p{i}@client.example", owner="sam")["id"]
           for i in range(count)]
    got = interactions.record_many(conn, "scan", [
        {"prospect_id": pid, "kind": "email_out", "occurred_at": "2025-03-01T10:00:00Z"}
        for pid in ids])
    assert len(got) == count and None not in got
    assert query(db_file, "SELECT count(*) AS n, count(DISTINCT prospect_id) AS p,"
                          " min(owner) AS o FROM interactions") == [
        {"n": count, "p": count, "o": "sam"}]


def test_a_scanned_mails_activity_row_names_its_folder(conn, db_file):
    p = prospects.add(conn, "setup", "ann@client.example")
    iid = interactions.record(conn, "scan", p["id"], "email_in", "2025-03-01T10:00:00Z",
                              subject="Re: hi", message_id="<m1@client.example>",
                              account="sales", folder="INBOX/Clients", uid=7)
    [act] = query(db_file, "SELECT after FROM activities WHERE entity = 'interaction'"
                           " AND entity_id = ?", (iid,))
    assert json.loads(act["after"]) == {"kind": "email_in", "occurred_at": "2025-03-01T10:00:00Z",
                                        "subject": "Re: hi", "message_id": "<m1@client.example>",
                                        "folder": "INBOX/Clients"}
