"""Which mailbox files a sender's sequence mail: the ``[[senders]]`` routes (any case), else
the account whose login is the address, else none; a route to an unknown account is one
error naming the accounts there are; and whether the filer exists at all, from the
environment (IMAP settings or a TOML file that has accounts)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salescli.core.errors import InvalidValue
from salescli.mail.config import Account
from salescli.mail.sent_copy import SentCopies, SentCopyFailed, from_environment
from tests.mail.test_imap_source import create_folders
from tests.support.dovecot import free_port

MARIA = Account(name="maria", host="imap.example", user="Maria@Ours.example")
DESK = Account(name="desk", host="imap.example", user="desk")
OMAR = Account(name="omar", host="imap.example", user=" omar@ours.example ")


@pytest.mark.parametrize("routes, sender, account", [
    ({}, "maria@ours.example", "maria"),                 # the login is the address
    ({}, "MARIA@OURS.EXAMPLE", "maria"),                 # in any case
    ({}, "omar@ours.example", "omar"),                   # around blanks
    ({}, "desk", None),                                  # a login that is no address
    ({}, "nobody@ours.example", None),
    ({"Nobody@Ours.example": "desk"}, "nobody@ours.example", "desk"),   # a route
    ({"maria@ours.example": "desk"}, "Maria@ours.example", "desk"),     # before the login
    ({"MARIA@ours.example": ""}, "maria@ours.example", None),           # "": no copy
])
def test_the_account_of_a_sender(routes, sender, account):
    found = SentCopies([MARIA, DESK, OMAR], routes).account_for(sender)
    assert (found.name if found else None) == account


def test_a_route_to_an_unknown_account_names_the_known_ones():
    with pytest.raises(InvalidValue) as err:
        SentCopies([MARIA, DESK], {"omar@ours.example": "omar"})
    assert str(err.value) == ("senders.omar@ours.example.imap_account 'omar' is not a"
                              " configured IMAP account (accounts: desk, maria)")


IMAP = {"SALESCLI_IMAP_HOST": "imap.example", "SALESCLI_IMAP_USER": "Maria@Ours.example",
        "SALESCLI_IMAP_PASSWORD": "pw"}
ACCOUNTS = ('[[accounts]]\nname = "desk"\nhost = "imap.example"\nuser = "desk@ours.example"\n'
            'password_env = "DESK_PW"\n')


@pytest.mark.parametrize("config, env, senders", [
    (None, {}, None),                                       # no IMAP at all: no filer
    (None, {"SALESCLI_CONFIG": "  "}, None),
    (None, IMAP, {"maria@ours.example": "default"}),
    ('[senders."x@ours.example"]\nimap_account = ""\n', IMAP, None),  # senders only
    (ACCOUNTS, {"DESK_PW": "pw"}, {"desk@ours.example": "desk"}),
    ("this is = not TOML [", {}, "SALESCLI_CONFIG '{path}' is not valid TOML"),
    ("", IMAP, None),                                       # the file rules, not IMAP_*
    (False, {}, "SALESCLI_CONFIG '{path}' cannot be read (No such file or directory)"),
])
def test_the_filer_exists_when_imap_accounts_are_configured(tmp_path, config, env, senders):
    path = tmp_path / "salescli.toml"
    if config is not None:  # False: named, missing
        if config is not False:
            path.write_text(config)
        env = {**env, "SALESCLI_CONFIG": str(path)}
    try:
        copies = from_environment({}, env)
    except InvalidValue as exc:
        assert str(exc).startswith(senders.format(path=path)), str(exc)  # (not TOML: + why)
        return
    got = None if copies is None else {k: a.name for k, a in copies.accounts.items()}
    assert got == senders


def test_a_failed_filing_is_one_warning_line_and_a_sender_without_mailbox_is_not_filed(
        caplog):
    port = free_port()
    maria = Account(name="maria", host="127.0.0.1", port=port, user="maria@ours.example",
                    ssl="none", password_env="PW", env={"PW": "pw"}, retries=0)
    copies = SentCopies([maria], {})
    when = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert copies("omar@ours.example", b"Subject: hi\r\n\r\nhello\r\n", when) is False
    with caplog.at_level("WARNING", logger="salescli.send"), pytest.raises(SentCopyFailed):
        copies("Maria@ours.example", b"Subject: hi\r\n\r\nhello\r\n", when)
    copies.close()
    assert [r.getMessage() for r in caplog.records] == [
        "sent mail of Maria@ours.example not filed in account maria (no more tries this run):"
        " account 'maria': LIST failed after 1 attempts: [Errno 111] Connection refused"]


def test_the_copy_goes_to_the_first_folder_flagged_sent_seen_and_dated(mailbox):
    create_folders(mailbox, ("Sent Items", "Sent", "Gesendet"))  # in reverse order
    server = mailbox.server
    account = Account(name="acme", host=server.host, port=server.port, user=mailbox.user,
                      ssl="none", password_env="PW", env={"PW": server.password(mailbox.user)})
    copies = SentCopies([account], {"me@ours.example": "acme"})
    when = datetime(2026, 12, 1, 9, tzinfo=UTC)
    try:
        assert copies("me@ours.example", b"Subject: hi\r\n\r\nhello\r\n", when) is True
    finally:
        copies.close()
    client = mailbox.client()
    client.normalise_times = False  # as the server has it, with its offset
    try:
        filed = {}
        for name in ("Gesendet", "Sent", "Sent Items"):
            client.select_folder(name, readonly=True)
            found = client.fetch(client.search(), ["FLAGS", "INTERNALDATE"]).values()
            filed[name] = [(set(d[b"FLAGS"]) - {b"\\Recent"}, d[b"INTERNALDATE"])
                           for d in found]
    finally:
        client.logout()
    assert filed == {"Gesendet": [], "Sent": [({b"\\Seen"}, when)], "Sent Items": []}
