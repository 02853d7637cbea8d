"""A bad duration setting says what a duration looks like (pinned by a mutant that
survived the older tests)."""

from __future__ import annotations

from tests.support.cli import fails


def test_a_bad_duration_in_the_environment_is_one_error_line(invoke, sales):
    fails(invoke("health", env={"SALESCLI_HEALTH_MAX_RUNTIME": "forever"}),
          "SALESCLI_HEALTH_MAX_RUNTIME 'forever' is not a duration like 30m, 12h, 7d or 2w")
