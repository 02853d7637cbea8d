"""``salescli forecast --explain`` shows a bounce the deal had before the as-of day, and
its tags."""

from __future__ import annotations

import json

from salescli.pipeline import interactions
from tests.forecast.conftest import build
from tests.support.cli import ok


def test_explain_shows_that_the_deal_bounced(conn, invoke):
    # 50 deals closed in June (10 won) teach the learned model; the open deal bounced.
    deals = [(f"t{i}@x.example", "ana", "2025-05-10T09:00:00Z", "lead", 1000,
              [("won" if i < 10 else "lost", "2025-06-10T09:00:00Z")]) for i in range(50)]
    deals.append(("open@x.example", "ana", "2025-06-20T09:00:00Z", "lead", 1000, []))
    ids = build(conn, deals)
    interactions.record(conn, "scan", ids["open@x.example"], "bounce", "2025-06-21T00:00:00Z")
    conn.execute("UPDATE prospects SET tags = '[\"vip\", \"eu\"]' WHERE id = ?",
                 (ids["open@x.example"],))
    conn.commit()
    out = json.loads(ok(invoke("forecast", "--as-of", "2025-06-30", "--horizon", "30d",
                               "--explain", "open@x.example", "--format", "json")))
    assert out["model"]["kind"] == "learned"
    [bounced] = [f for f in out["factors"] if f["factor"] == "bounced"]
    assert (bounced["value"], bounced["typical"]) == ("yes", "no")
    [tags] = [f for f in out["factors"] if f["factor"] == "tags"]
    assert tags["value"] == "eu, vip"
