"""Mailbox settings a user gets wrong, in the TOML file or in ``SALESCLI_IMAP_*``: ``salescli
scan`` stops before connecting, with exactly one ``Error:`` line that names the setting (its
place in the file, or its variable) and the value, and exit 1."""

from __future__ import annotations

import pytest

from tests.support.cli import fails

ACCOUNT = 'name = "office"\nhost = "mail.ours.example"\nuser = "sales"\npassword_env = "PW"\n'
TABLE = "[[accounts]]\n" + ACCOUNT

FILE_CASES = [
    (TABLE + 'colour = "red"\n', (),
     "accounts[0].colour 'red' is not a known setting (settings: backoff, ca, fetch_batch,"
     " folders, host, my_addresses, name, password_env, port, rate_limit, retries, ssl,"
     " timeout, token_cmd, user)"),
    (TABLE + 'ssl = "tls"\n', (), "accounts[0].ssl 'tls' must be one of ssl, starttls, none"),
    ('[[accounts]]\nname = "office"\nhost = "h"\nuser = "u"\n', (),
     "accounts[0].password_env '' or token_cmd must be set"),
    (TABLE.replace('"PW"', '"NOPE"'), (),
     "NOPE '' is not set (the password of mail account 'office')"),
    ('my_addresses = "me@ours.example"\n', (),
     "SALESCLI_CONFIG '{path}' has no [[accounts]] table"),
    ("accounts = []\n", (), "SALESCLI_CONFIG '{path}' has no [[accounts]] table"),
    ('accounts = ["x"]\n', (), "accounts[0] 'x' must be a table"),
    (TABLE + TABLE, (), "accounts[1].name 'office' is used twice"),
    (2 * TABLE.replace('name = "office"\n', ""), (), "accounts[1].name 'sales' is used twice"),
    (TABLE, ("--account", "home"),
     "--account 'home' is not a configured account (accounts: office)"),
    ('my_addresses = "me at ours"\n' + TABLE, (),
     "my_addresses 'me at ours' is not an email address or @domain"),
    (TABLE + 'my_addresses = "me@"\n', (),
     "accounts[0].my_addresses 'me@' is not an email address or @domain"),
    (TABLE + 'my_addresses = ["a@b@c"]\n', (),
     "accounts[0].my_addresses 'a@b@c' is not an email address or @domain"),
    (TABLE + 'ca = "/no/such.pem"\n', (), "accounts[0].ca '/no/such.pem' is not a readable file"),
    (TABLE, ("--source", "pop3"), "--source 'pop3' must be imap, maildir:PATH or mbox:PATH"),
    (TABLE, ("--source", "maildir: "),
     "--source 'maildir: ' must be imap, maildir:PATH or mbox:PATH"),
    ("accounts = \n", (),
     "SALESCLI_CONFIG '{path}' is not valid TOML (Invalid value (at line 1, column 12))"),
]


@pytest.mark.parametrize("toml, args, line", FILE_CASES,
                         ids=[line[:32] for _, _, line in FILE_CASES])
def test_a_mistake_in_the_config_file_is_one_error_line(invoke, db_file, tmp_path, monkeypatch,
                                                        toml, args, line):
    config = tmp_path / "salescli.toml"
    config.write_text(toml)
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.setenv("PW", "s3cret")
    assert fails(invoke("scan", *args)) == "Error: " + line.format(path=config)


def test_a_config_file_that_cannot_be_read_is_named(invoke, db_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESCLI_CONFIG", str(tmp_path / "missing.toml"))
    assert fails(invoke("scan")) == (f"Error: SALESCLI_CONFIG '{tmp_path / 'missing.toml'}'"
                                     " cannot be read (No such file or directory)")


VARIABLE_CASES = [
    ({}, "SALESCLI_IMAP_HOST '' is not set (or name a TOML file with several accounts in"
         " SALESCLI_CONFIG; see docs/email-monitor.md)"),
    ({"SALESCLI_IMAP_HOST": "h", "SALESCLI_IMAP_USER": "u"},
     "SALESCLI_IMAP_PASSWORD '' is not set (the password of mail account 'default')"),
    ({"SALESCLI_IMAP_HOST": "h", "SALESCLI_IMAP_USER": "u", "SALESCLI_IMAP_PASSWORD": "p",
      "SALESCLI_IMAP_NAME": "office"},
     "SALESCLI_IMAP_CA '/no/such.pem' is not a readable file"),
    ({"SALESCLI_IMAP_HOST": "h", "SALESCLI_IMAP_USER": "u", "SALESCLI_IMAP_PASSWORD": "p",
      "SALESCLI_IMAP_SSL": "tls"}, "SALESCLI_IMAP_SSL 'tls' must be one of ssl, starttls, none"),
    ({"SALESCLI_IMAP_HOST": "h", "SALESCLI_MY_ADDRESSES": "me@a@b"},
     "SALESCLI_MY_ADDRESSES 'me@a@b' is not an email address or @domain"),
]


@pytest.mark.parametrize("env, line", VARIABLE_CASES, ids=[line[:32] for _, line in VARIABLE_CASES])
def test_a_mistake_in_a_variable_is_one_error_line(invoke, db_file, monkeypatch, env, line):
    monkeypatch.delenv("SALESCLI_CONFIG", raising=False)
    for key in ("SALESCLI_IMAP_HOST", "SALESCLI_IMAP_USER", "SALESCLI_IMAP_PASSWORD",
                "SALESCLI_MY_ADDRESSES", "SALESCLI_IMAP_TOKEN_CMD"):
        monkeypatch.delenv(key, raising=False)
    if "SALESCLI_IMAP_NAME" in env:
        monkeypatch.setenv("SALESCLI_IMAP_CA", "/no/such.pem")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert fails(invoke("scan")) == "Error: " + line
