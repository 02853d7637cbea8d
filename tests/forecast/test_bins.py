"""The learned model's bins are "under N", boundaries excluded: a deal 7 days in its stage
is in the 7–14 days bin, one touch is in the 1–2 touches bin (pinned by a seed-61 mutant
that moved every boundary into the bin below)."""

from __future__ import annotations

from salescli.forecast.model import encode

ROW = {"stage": "lead", "in_stage": 3.5, "age": 20.0, "owner": "ann", "source": "",
       "tags": (), "value": 1200.0, "replied": False, "since_reply": None, "touches": 0,
       "bounced": False, "ooo": False}


def test_a_boundary_falls_in_the_bin_above_it():
    def shown(**changes) -> set:
        return {v for v in encode({**ROW, **changes}).values() if isinstance(v, str)}

    assert "lead|<14" in shown(in_stage=7.0) and "lead|<7" in shown(in_stage=6.9)
    assert "<1" in shown(touches=0) and "<0" not in shown(touches=0)
    assert "<3" in shown(touches=1) and "<3" in shown(touches=2)
    assert "<7" in shown(touches=3) and "7+" in shown(touches=7)
