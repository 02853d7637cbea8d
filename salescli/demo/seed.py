"""The demo: a realistic sample pipeline in its own directory, never the user's database.

Built with the same library calls the CLI uses, with history spread over the last
weeks so that metrics, reports and the dashboard have something to show.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from salescli.core.db import open_write
from salescli.core.timeutil import iso
from salescli.pipeline import interactions, prospects, stages
from salescli.web import users

FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara",
         "Ken", "Frances", "Edsger", "Radia", "Tim", "Hedy", "Donald", "Sophie", "Guido",
         "Anita", "Bjarne", "Jean", "John", "Karen", "Leslie", "Mary", "Niklaus", "Ole",
         "Pat", "Rosalind", "Shafi", "Vint"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie",
        "Liskov", "Thompson", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr",
        "Knuth", "Wilson", "van Rossum", "Borg", "Stroustrup", "Bartik", "Backus",
        "Spärck Jones", "Lamport", "Keller", "Wirth", "Dahl", "Hanrahan", "Franklin",
        "Goldwasser", "Cerf"]
COMPANIES = [("Northwind Traders", "northwind.example"), ("Contoso Ltd", "contoso.example"),
             ("Fabrikam", "fabrikam.example"), ("Initech", "initech.example"),
             ("Globex", "globex.example"), ("Umbrella Analytics", "umbrella.example"),
             ("Stark Logistics", "stark.example"), ("Wayne Foods", "wayne.example"),
             ("Hooli", "hooli.example"), ("Vandelay Imports", "vandelay.example"),
             ("Acme Tools", "acme.example"), ("Soylent Labs", "soylent.example")]
OWNERS = ["maria", "dev"]
DEMO_MANAGER = "demo-manager"  # its password is set and printed when the demo serves
MY_ADDRESS = "sales@salescli.example"


HISTORY = 160  # closed deals of the last two years, so the forecast has something to learn


def build(directory: Path, *, count: int = 36, seed: int = 7, history: int = HISTORY) -> Path:
    """Create ``directory/sales.db`` afresh with sample prospects and history."""
    directory.mkdir(parents=True, exist_ok=True)
    db_file = directory / "sales.db"
    for name in ("sales.db", "credentials.db"):
        for suffix in ("", "-wal", "-shm"):
            (directory / f"{name}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    conn = open_write(db_file)
    actor = "demo"
    users.add(conn, db_file, actor, "maria", "operator", email="maria@salescli.example")
    users.add(conn, db_file, actor, "dev", "operator", email="dev@salescli.example")
    users.add(conn, db_file, actor, DEMO_MANAGER, "manager", email="manager@salescli.example")
    now = datetime.now(UTC).replace(microsecond=0)
    path = ["contacted", "replied", "meeting", "proposal"]
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        company, domain = COMPANIES[i % len(COMPANIES)]
        email = f"{first}.{last}".lower().replace(" ", "").replace("ä", "a") + f"@{domain}"
        start = now - timedelta(days=rng.randint(10, 70), hours=rng.randint(0, 23))
        p = prospects.add(conn, actor, email, name=f"{first} {last}", company=company,
                          owner=OWNERS[i % 2], value=rng.choice([1200, 2500, 4800, 9000, 15000]),
                          tags=rng.sample(["inbound", "referral", "event", "vip", "q4"], 2),
                          source=rng.choice(["website", "referral", "conference"]), at=iso(start))
        depth = rng.choices(range(6), weights=[4, 6, 5, 4, 3, 3])[0]
        when = start
        for stage in path[:depth]:
            when += timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
            if when >= now:
                break
            stages.move(conn, OWNERS[i % 2], p["id"], stage, at=iso(when))
            kind = {"contacted": "email", "replied": "note", "meeting": "meeting",
                    "proposal": "call"}[stage]
            topic = rng.choice(["pricing", "timeline", "demo", "security review"])
            interactions.log(conn, OWNERS[i % 2], p["id"], kind, at=iso(when),
                             body=f"{stage}: {topic}")
        if depth == 5 and when < now - timedelta(days=2):
            outcome = rng.choice(["won", "won", "lost"])
            stages.move(conn, OWNERS[i % 2], p["id"], outcome, at=iso(when + timedelta(days=2)),
                          reason="signed annual plan" if outcome == "won" else "chose a competitor")
    closed_history(conn, rng, now, history)
    conn.close()
    return db_file


def closed_history(conn: sqlite3.Connection, rng: random.Random, now: datetime,
                   n: int) -> None:
    """``n`` deals of the past two years, each won or lost, through the same library calls
    with explicit dates: replied deals and later stages win more often, as in life."""
    path = ["contacted", "replied", "meeting", "proposal"]
    for i in range(n):
        first, last = FIRST[(i * 11) % len(FIRST)], LAST[(i * 3) % len(LAST)]
        company, domain = COMPANIES[(i * 5) % len(COMPANIES)]
        owner = OWNERS[i % 2]
        start = now - timedelta(days=rng.randint(75, 730), hours=rng.randint(0, 23))
        p = prospects.add(conn, "demo", f"{first}.{last}.{i}@{domain}".lower()
                          .replace(" ", "").replace("ä", "a"), name=f"{first} {last}",
                          company=company, owner=owner,
                          value=rng.choice([1200, 2500, 4800, 9000, 15000]),
                          source=rng.choice(["website", "referral", "conference"]),
                          at=iso(start))
        when, depth = start, rng.choices(range(1, 5), weights=[3, 3, 3, 4])[0]
        replied = rng.random() < 0.5
        for stage in path[:depth]:
            when += timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 8))
            stages.move(conn, owner, p["id"], stage, at=iso(when))
            interactions.record(conn, owner, p["id"], "email_out", iso(when))
            if replied and stage == "contacted":
                interactions.record(conn, "demo", p["id"], "email_in",
                                    iso(when + timedelta(days=1)))
        chance = (0.15 + 0.15 * depth) * (1.5 if replied else 0.6)
        won = rng.random() < chance
        stages.move(conn, owner, p["id"], "won" if won else "lost",
                    at=iso(when + timedelta(days=rng.randint(3, 25))),
                    reason="signed annual plan" if won else "no budget")


def sample_prospects(conn: sqlite3.Connection, n: int = 8) -> list[dict]:
    """A few lead/contacted prospects for the sample mailbox to write to and about."""
    return [dict(r) for r in conn.execute(
        "SELECT p.email, p.name, p.company FROM prospects p JOIN stages s ON s.id = p.stage_id"
        " WHERE s.name IN ('lead', 'contacted') ORDER BY p.id LIMIT ?", (n,))]
