"""The do-not-contact list's errors name the field and the value (docs/testing.md: pinned
by mutants that survived the older tests)."""

from __future__ import annotations

from tests.support.cli import fails, scalar


def test_a_bad_address_is_one_error_line_and_nothing_is_suppressed(invoke, sales):
    fails(invoke("suppress", "not-an-email"),
          "address 'not-an-email' is not an email address or @domain")
    assert scalar(sales, "SELECT count(*) FROM suppressions") == 0


def test_unsuppressing_an_address_not_on_the_list_says_so(invoke, sales):
    fails(invoke("unsuppress", "Ghost@Example.com"),
          "suppression 'ghost@example.com' not found")
    assert scalar(sales, "SELECT count(*) FROM activities") == 0
