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
