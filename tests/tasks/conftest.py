"""The tasks tests' day: fixed for each test, so that one which runs across midnight (in
SALESCLI_TZ) sees one "today" in the code and in its own arithmetic."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from salescli.core.timeutil import zone
from salescli.tasks import store


@pytest.fixture(autouse=True)
def today(monkeypatch) -> date:
    """The day the tasks code takes for today during the test (as it would: SALESCLI_TZ)."""
    day = datetime.now(zone()).date()
    monkeypatch.setattr(store, "today_local", lambda today=None: today or day)
    return day
