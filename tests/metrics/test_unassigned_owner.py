"""``--owner ''`` in ``salescli metrics``: the prospects nobody owns, whether their owner
column is NULL (added without an owner) or an empty string (older imports)."""

from __future__ import annotations

from salescli.metrics import live


def test_prospects_without_an_owner_count_as_unassigned(history):
    h = history
    h.add("z", 2, "10:00", None, 300)            # no owner: stored as NULL
    h.conn.execute("UPDATE prospects SET owner = '' WHERE id = ?", [h.ids["e"]])
    h.conn.commit()
    k = live.kpis(h.conn, days=11, owner="", today=h.today)
    assert k["owner"] == ""
    assert k["new_prospects"] == 1                 # z's creation; e's was ben's stay
    assert k["open_prospects"] == 2                # z (NULL) and e ('') now
    assert k["open_value"] == 300
    f = live.funnel(h.conn, days=11, owner="", today=h.today)
    assert {r["stage"]: r["prospects"] for r in f if r["prospects"]} == {
        "lead": 1, "contacted": 1}
