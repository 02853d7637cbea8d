"""What keeps mail from a prospect (the sequence sender asks ``suppressions.blocking``): a
suppression of the address we send to, else one of any other address of the same person,
else nothing. And the key of unsubscribe links: a missing or short SALESCLI_SECRET is one
error that never echoes the secret."""

from __future__ import annotations

import pytest

from salescli.core.errors import InvalidValue
from salescli.pipeline import addresses, prospects, suppressions, unsubscribe


def test_a_suppressed_other_address_blocks_mail_to_the_primary(conn):
    ada = prospects.add(conn, "t", "ada@work.test")["id"]
    bob = prospects.add(conn, "t", "bob@work.test")["id"]
    addresses.add(conn, "t", ada, ["ada@home.test"])
    assert suppressions.blocking(conn, ada, "ada@work.test") is None
    suppressions.add(conn, "t", "ada@home.test", reason="asked")
    hit = suppressions.blocking(conn, ada, "ada@work.test")
    assert hit is not None and (hit["address"], hit["reason"]) == ("ada@home.test", "asked")
    assert suppressions.blocking(conn, bob, "bob@work.test") is None
    suppressions.add(conn, "t", "@work.test")  # the primary's own suppression comes first
    assert suppressions.blocking(conn, ada, "ada@work.test")["address"] == "@work.test"


def test_the_enrolment_check_blocks_the_same_people_as_the_sender(conn):
    """blocked_prospects (enrolment, many at once) agrees with blocking (the sender), also
    past its first 400 people."""
    ada = prospects.add(conn, "t", "ada@work.test")["id"]
    cy = prospects.add(conn, "t", "cy@work.test")["id"]
    dee = prospects.add(conn, "t", "dee@work.test")["id"]
    addresses.add(conn, "t", ada, ["ada@home.test"])
    addresses.add(conn, "t", dee, ["dee@home.test"])
    suppressions.add(conn, "t", "ada@home.test")
    suppressions.add(conn, "t", "cy@work.test")
    people = [(100_000 + i, f"p{i}@none.test") for i in range(400)]
    people += [(ada, "ada@work.test"), (cy, "CY@work.test"), (dee, "dee@work.test")]
    assert suppressions.blocked_prospects(conn, people) == {ada, cy}
    assert {pid for pid, email in people[400:]
            if suppressions.blocking(conn, pid, email)} == {ada, cy}
    assert suppressions.blocked_prospects(conn, []) == set()


@pytest.mark.parametrize("secret, shown", [(None, "''"), ("", "''"), ("s" * 31, "'…'")])
def test_a_missing_or_short_secret_is_refused_without_echoing_it(secret, shown):
    environ = {} if secret is None else {"SALESCLI_SECRET": secret}
    with pytest.raises(InvalidValue) as err:
        unsubscribe.signing_key(environ)
    assert str(err.value) == (
        f"SALESCLI_SECRET {shown} must be set to at least 32 bytes for one-click unsubscribe"
        " links (SALESCLI_UNSUBSCRIBE_URL)")
    assert unsubscribe.signing_key({"SALESCLI_SECRET": "s" * 32}) == \
        unsubscribe.key_from_secret(b"s" * 32)
