"""A bad duration setting says what a duration looks like (pinned by a mutant that
survived the older tests)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.cli import fails, ok
from tests.support.zone import in_zone


def test_a_bad_duration_in_the_environment_is_one_error_line(invoke, sales):
    fails(invoke("health", env={"SALESCLI_HEALTH_MAX_RUNTIME": "forever"}),
          "SALESCLI_HEALTH_MAX_RUNTIME 'forever' is not a duration like 30m, 12h, 7d or 2w")


@pytest.mark.parametrize("since, reason", [
    ("800000d", "reaches too far back"),         # before year 1
    ("99999999999w", "is too long a duration"),  # beyond what a timedelta holds
])
def test_a_duration_too_far_back_names_the_option(invoke, sales, since, reason):
    fails(invoke("activity", "--since", since), f"--since {since!r} {reason}")


def test_now_is_the_current_instant_whatever_the_machines_timezone(invoke, three):
    """``--at now`` on a machine set to New York records the UTC instant, not the wall
    clock's reading labelled UTC."""
    with in_zone("America/New_York"):
        before = datetime.now(UTC).replace(microsecond=0)
        out = ok(invoke("log", "ada@example.com", "--kind", "call", "--at", "now"))
        after = datetime.now(UTC)
    got = datetime.fromisoformat(out.split(" at ")[-1].strip())
    assert before <= got <= after, out


def test_a_time_moved_out_of_range_by_its_offset_is_one_exact_error(invoke, sales):
    line = fails(invoke("activity", "--since", "9999-12-31T23:00:00-05:00"))
    assert line == "Error: --since '9999-12-31T23:00:00-05:00' is out of range"


@pytest.mark.parametrize("text", ["2024-03-01t09:30:00z", "2024-03-01T09:30:00z",
                                  "2024-03-01t09:30:00Z"])
def test_lower_case_t_and_z_are_accepted_as_rfc_3339_allows(invoke, three, text):
    out = ok(invoke("log", "ada@example.com", "--kind", "call", "--at", text))
    assert out.rstrip().endswith(" at 2024-03-01T09:30:00Z"), out


def test_a_duration_error_without_a_field_name_says_duration():
    from salescli.core.errors import InvalidValue
    from salescli.core.timeutil import parse_duration

    with pytest.raises(InvalidValue) as err:
        parse_duration("soon")
    assert str(err.value) == "duration 'soon' is not a duration like 30m, 12h, 7d or 2w"


def test_a_bad_date_is_one_exact_error_line(invoke, sales):
    line = fails(invoke("activity", "--since", "yesterday"))
    assert line == ("Error: --since 'yesterday' is not a date (use YYYY-MM-DD, an ISO-8601"
                    " time, 'now' or '7d')")
