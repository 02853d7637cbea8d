"""How mail account settings resolve, pinned whole: every setting from ``SALESCLI_IMAP_*`` or
a TOML file, the account it becomes (each field, defaults included), and for each bad
setting the whole ``Error:`` text naming the setting (its variable or place in the file) and
the value. Also ``--account`` selection, the password or token an account signs in with, and
which hosts count as loopback."""

from __future__ import annotations

import uuid

import pytest

from salescli.core.errors import InvalidValue
from salescli.core.log import redact
from salescli.mail.config import Account, MailError, load_accounts, my_addresses, select

BASE = {"SALESCLI_IMAP_HOST": "imap.ours.example", "SALESCLI_IMAP_USER": "Sales@Ours.Example",
        "SALESCLI_IMAP_PASSWORD": "pw-123456"}
PW = "SALESCLI_IMAP_PASSWORD"


def _env(**settings: str) -> dict[str, str]:
    """BASE with ``SALESCLI_IMAP_<KEY>`` settings (``None`` drops one); MY_ADDRESSES as is."""
    env = dict(BASE)
    for key, value in settings.items():
        var = key if key.startswith("SALESCLI_") else f"SALESCLI_IMAP_{key}"
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    return env


def _account(env, **fields) -> Account:
    """The account BASE resolves to, with ``fields`` changed."""
    values = dict(name="default", host="imap.ours.example", user="Sales@Ours.Example", port=993,
                  ssl="ssl", password_env=PW, token_cmd=None, ca=None, folders=None,
                  my_addresses=frozenset({"sales@ours.example"}), timeout=30.0,
                  rate_limit=0.0, retries=5, backoff=1.0, fetch_batch=500, env=env)
    values.update(fields)
    return Account(**values)


VARIABLE_ACCOUNTS = {
    "nothing but host, user and password": ({}, {}),
    "every setting at its lowest": (
        dict(NAME=" office ", PORT="1", SSL=" STARTTLS ", FOLDERS="INBOX, Sent Items,, ",
             TOKEN_CMD="  get-token --print  ", PASSWORD=None, TIMEOUT="1", RATE_LIMIT="0",
             RETRIES="0", BACKOFF="0", FETCH_BATCH="1",
             SALESCLI_MY_ADDRESSES=" Team@Ours.Example , @Other.Example,"),
        dict(name="office", port=1, ssl="starttls", folders=["INBOX", "Sent Items"],
             token_cmd="get-token --print", timeout=1.0, rate_limit=0.0, retries=0,
             backoff=0.0, fetch_batch=1,
             my_addresses=frozenset({"sales@ours.example", "team@ours.example",
                                     "@other.example"}))),
    "numbers between": (
        dict(PORT="10993", TIMEOUT="2.5", RATE_LIMIT="0.5", RETRIES="3", BACKOFF="0.25",
             FETCH_BATCH="50"),
        dict(port=10993, timeout=2.5, rate_limit=0.5, retries=3, backoff=0.25, fetch_batch=50)),
    "empty variables are unset": (
        dict(NAME="", PORT="", SSL="", FOLDERS="", TOKEN_CMD="", TIMEOUT="", RATE_LIMIT="",
             RETRIES="", BACKOFF="", FETCH_BATCH="", CA="", SALESCLI_MY_ADDRESSES=""), {}),
    "starttls without a port: 143": (dict(SSL="starttls"), dict(ssl="starttls", port=143)),
    "no TLS without a port: 143": (dict(SSL="NONE"), dict(ssl="none", port=143)),
    "a user that is no address": (dict(USER=" sales "),
                                  dict(user="sales", my_addresses=frozenset())),
}


@pytest.mark.parametrize("settings, fields", VARIABLE_ACCOUNTS.values(),
                         ids=list(VARIABLE_ACCOUNTS))
def test_variables_resolve_to_the_whole_account(settings, fields):
    env = _env(**settings)
    assert load_accounts(env) == [_account(env, **fields)]


def test_a_ca_file_from_a_variable_is_kept(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = _env(CA=str(ca))
    assert load_accounts(env) == [_account(env, ca=str(ca))]


def test_the_process_environment_is_read_when_no_mapping_is_given(monkeypatch):
    monkeypatch.delenv("SALESCLI_CONFIG", raising=False)
    for key, value in _env(SALESCLI_MY_ADDRESSES="me@ours.example").items():
        monkeypatch.setenv(key, value)
    [account] = load_accounts()
    assert (account.host, account.my_addresses) == (
        "imap.ours.example", frozenset({"sales@ours.example", "me@ours.example"}))
    assert my_addresses() == frozenset({"me@ours.example"})


VARIABLE_ERRORS = {
    "no host": (dict(HOST=None), "SALESCLI_IMAP_HOST '' is not set (or name a TOML file with"
                " several accounts in SALESCLI_CONFIG; see docs/email-monitor.md)"),
    "blank host": (dict(HOST="  "), "SALESCLI_IMAP_HOST '' must be set"),
    "no user": (dict(USER=None), "SALESCLI_IMAP_USER '' must be set"),
    "blank user": (dict(USER=" "), "SALESCLI_IMAP_USER '' must be set"),
    "no password": (dict(PASSWORD=None), "SALESCLI_IMAP_PASSWORD '' is not set (the password"
                    " of mail account 'default')"),
    "no password, named": (dict(PASSWORD="", NAME="office"), "SALESCLI_IMAP_PASSWORD '' is not"
                           " set (the password of mail account 'office')"),
    "ssl": (dict(SSL="tls"), "SALESCLI_IMAP_SSL 'tls' must be one of ssl, starttls, none"),
    "ca": (dict(CA="/no/such.pem"), "SALESCLI_IMAP_CA '/no/such.pem' is not a readable file"),
    "port 0": (dict(PORT="0"), "SALESCLI_IMAP_PORT '0' must be ≥ 1"),
    "port word": (dict(PORT="imaps"), "SALESCLI_IMAP_PORT 'imaps' is not a number"),
    "timeout": (dict(TIMEOUT="0.5"), "SALESCLI_IMAP_TIMEOUT '0.5' must be ≥ 1"),
    "rate limit": (dict(RATE_LIMIT="-1"), "SALESCLI_IMAP_RATE_LIMIT '-1' must be ≥ 0"),
    "rate word": (dict(RATE_LIMIT="fast"), "SALESCLI_IMAP_RATE_LIMIT 'fast' is not a number"),
    "retries": (dict(RETRIES="-1"), "SALESCLI_IMAP_RETRIES '-1' must be ≥ 0"),
    "retries fraction": (dict(RETRIES="1.5"), "SALESCLI_IMAP_RETRIES '1.5' is not a number"),
    "backoff": (dict(BACKOFF="-0.5"), "SALESCLI_IMAP_BACKOFF '-0.5' must be ≥ 0"),
    "fetch batch": (dict(FETCH_BATCH="0"), "SALESCLI_IMAP_FETCH_BATCH '0' must be ≥ 1"),
    "no @": (dict(SALESCLI_MY_ADDRESSES="me"),
             "SALESCLI_MY_ADDRESSES 'me' is not an email address or @domain"),
    "a space": (dict(SALESCLI_MY_ADDRESSES="ok@ours.example, Me X@Ours"),
                "SALESCLI_MY_ADDRESSES 'me x@ours' is not an email address or @domain"),
    "no domain": (dict(SALESCLI_MY_ADDRESSES=" ME@ "),
                  "SALESCLI_MY_ADDRESSES 'me@' is not an email address or @domain"),
    "two @": (dict(SALESCLI_MY_ADDRESSES="a@b@c"),
              "SALESCLI_MY_ADDRESSES 'a@b@c' is not an email address or @domain"),
}


@pytest.mark.parametrize("settings, text", VARIABLE_ERRORS.values(), ids=list(VARIABLE_ERRORS))
def test_a_bad_variable_is_named_with_its_value(settings, text):
    with pytest.raises(InvalidValue) as caught:
        load_accounts(_env(**settings))
    assert str(caught.value) == text


ACCOUNT = 'host = "mail.ours.example"\nuser = "sales"\npassword_env = "PW"\n'


def _toml(tmp_path, text: str) -> dict[str, str]:
    config = tmp_path / "salescli.toml"
    config.write_text(text)
    return {"SALESCLI_CONFIG": str(config), "PW": "pw-123456"}


def test_a_file_resolves_to_whole_accounts(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = _toml(tmp_path, f"""my_addresses = "Team@Ours.Example"
[[accounts]]
{ACCOUNT}
[[accounts]]
name = " gmail "
host = " imap.gmail.example "
port = 1
ssl = "none"
user = "Me@Gmail.Example"
token_cmd = " oauth2-helper "
ca = "{ca}"
folders = ["INBOX", " ", "[Gmail]/Sent Mail"]
my_addresses = ["@Gmail.Example"]
timeout = 1
rate_limit = 0
retries = 0
backoff = 0
fetch_batch = 1
[[accounts]]
host = "h"
user = "u"
password_env = " PW "
token_cmd = " "
folders = "INBOX,Sent"
timeout = 2.5
rate_limit = 20
retries = 3
backoff = 0.5
fetch_batch = 50
""")
    team = frozenset({"team@ours.example"})
    defaults = dict(port=993, ssl="ssl", token_cmd=None, ca=None, folders=None, timeout=30.0,
                    rate_limit=0.0, retries=5, backoff=1.0, fetch_batch=500, env=env)
    assert load_accounts(env) == [
        Account(**{**defaults, "name": "sales", "host": "mail.ours.example", "user": "sales",
                   "password_env": "PW", "my_addresses": team}),
        Account(name="gmail", host="imap.gmail.example", user="Me@Gmail.Example", port=1,
                ssl="none", password_env=None, token_cmd="oauth2-helper", ca=str(ca),
                folders=["INBOX", "[Gmail]/Sent Mail"],
                my_addresses=team | {"@gmail.example", "me@gmail.example"}, timeout=1.0,
                rate_limit=0.0, retries=0, backoff=0.0, fetch_batch=1, env=env),
        Account(**{**defaults, "name": "u", "host": "h", "user": "u", "password_env": "PW",
                   "folders": ["INBOX", "Sent"], "my_addresses": team, "timeout": 2.5,
                   "rate_limit": 20.0, "retries": 3, "backoff": 0.5, "fetch_batch": 50}),
    ]


def test_the_defaults_of_an_account_are_those_of_an_account_with_nothing_set(tmp_path):
    env = _toml(tmp_path, "[[accounts]]\n" + ACCOUNT.replace("sales", "x@y.example"))
    assert load_accounts(env) == [Account("x@y.example", "mail.ours.example", "x@y.example",
                                          password_env="PW", env=env,
                                          my_addresses=frozenset({"x@y.example"}))]


FILE_ERRORS = {
    "two unknown settings": ('aardvark = 1\ncolour = "red"\n',
                             "accounts[0].aardvark 1 is not a known setting (settings: backoff,"
                             " ca, fetch_batch, folders, host, my_addresses, name, password_env,"
                             " port, rate_limit, retries, ssl, timeout, token_cmd, user)"),
    "blank host": ('host = " "\n', "accounts[0].host '' must be set"),
    "blank user": ('user = ""\n', "accounts[0].user '' must be set"),
    "blank password_env": ('password_env = " "\n',
                           "accounts[0].password_env '' or token_cmd must be set"),
    "unset password": ('password_env = "NOPE"\n',
                       "NOPE '' is not set (the password of mail account 'sales')"),
    "ssl": ('ssl = "TLS"\n', "accounts[0].ssl 'tls' must be one of ssl, starttls, none"),
    "port": ("port = 0\n", "accounts[0].port 0 must be ≥ 1"),
    "timeout": ("timeout = 0.5\n", "accounts[0].timeout 0.5 must be ≥ 1"),
    "timeout list": ("timeout = [1]\n", "accounts[0].timeout [1] is not a number"),
    "rate_limit": ("rate_limit = -1\n", "accounts[0].rate_limit -1 must be ≥ 0"),
    "retries": ("retries = -1\n", "accounts[0].retries -1 must be ≥ 0"),
    "retries word": ('retries = "many"\n', "accounts[0].retries 'many' is not a number"),
    "backoff": ("backoff = -0.5\n", "accounts[0].backoff -0.5 must be ≥ 0"),
    "fetch_batch": ("fetch_batch = 0\n", "accounts[0].fetch_batch 0 must be ≥ 1"),
    "my_addresses": ('my_addresses = "ok@ours.example,nobody"\n',
                     "accounts[0].my_addresses 'nobody' is not an email address or @domain"),
}


@pytest.mark.parametrize("line, text", FILE_ERRORS.values(), ids=list(FILE_ERRORS))
def test_a_bad_setting_in_the_file_is_named_with_its_value(tmp_path, line, text):
    # The line replaces the account's own setting of that name, if any.
    key = line.split("=")[0]
    own = "".join(ln + "\n" for ln in ACCOUNT.splitlines() if not ln.startswith(key))
    env = _toml(tmp_path, "[[accounts]]\n" + own + line)
    with pytest.raises(InvalidValue) as caught:
        load_accounts(env)
    assert str(caught.value) == text


def test_a_mistake_in_a_later_account_names_its_place(tmp_path):
    env = _toml(tmp_path, f'[[accounts]]\n{ACCOUNT}[[accounts]]\nname = "b"\n{ACCOUNT}port = 0\n')
    with pytest.raises(InvalidValue) as caught:
        load_accounts(env)
    assert str(caught.value) == "accounts[1].port 0 must be ≥ 1"


def test_select_picks_one_account_by_name_or_all(tmp_path):
    env = _toml(tmp_path, f'[[accounts]]\n{ACCOUNT}[[accounts]]\nname = "b"\n{ACCOUNT}')
    accounts = load_accounts(env)
    assert select(accounts, None) == select(accounts, "") == accounts
    assert select(accounts, "b") == accounts[1:]
    with pytest.raises(InvalidValue) as caught:
        select(accounts, "c")
    assert str(caught.value) == "--account 'c' is not a configured account (accounts: sales, b)"


def _office(**fields) -> Account:
    return Account(**{"name": "office", "host": "h", "user": "u", **fields})


def test_the_password_comes_from_the_named_variable_and_is_redacted_after():
    secret = f"pw-{uuid.uuid4().hex}"
    account = _office(password_env="OFFICE_PW", env={"OFFICE_PW": secret})
    assert (account.auth, redact(secret)) == ("password", secret)
    assert account.secret() == secret
    assert redact(f"login {secret}") == "login [redacted]"


@pytest.mark.parametrize("password_env, env, text", [
    ("OFFICE_PW", {}, "OFFICE_PW '' is not set (the password of mail account 'office')"),
    ("OFFICE_PW", {"OFFICE_PW": ""},
     "OFFICE_PW '' is not set (the password of mail account 'office')"),
    (None, {}, "password_env '' is not set (the password of mail account 'office')"),
])
def test_a_missing_password_is_named(password_env, env, text):
    with pytest.raises(InvalidValue) as caught:
        _office(password_env=password_env, env=env).secret()
    assert str(caught.value) == text


def test_the_token_is_the_first_line_the_command_prints_and_is_redacted_after():
    token = f"ya29.{uuid.uuid4().hex}"
    account = _office(token_cmd='printf "  %s  \\nsecond line\\n" "$TOKEN_FOR_TEST"',
                      env={"TOKEN_FOR_TEST": token}, password_env="UNREAD")
    assert (account.auth, redact(token)) == ("xoauth2", token)
    assert account.secret() == token
    assert redact(f"Bearer {token}") == "Bearer [redacted]"


@pytest.mark.parametrize("command, text", [
    ("echo leaked-token-words; exit 3", "account 'office': token command exited 3"),
    ("true", "account 'office': token command printed no token"),
    ("printf '  \\n'", "account 'office': token command printed no token"),
])
def test_a_token_command_that_fails_says_how(command, text):
    with pytest.raises(MailError) as caught:
        _office(token_cmd=command, env={}).secret()
    assert str(caught.value) == text


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
    ("10.0.0.1", False), ("localhost.example", False), ("imap.ours.example", False),
])
def test_which_hosts_are_loopback(host, loopback):
    assert _office(host=host).loopback is loopback


@pytest.mark.parametrize("timeout, limit", [(5.0, 30), (45.0, 45.0)])
def test_a_token_command_that_hangs_is_stopped_and_named(monkeypatch, timeout, limit):
    """A hanging command is stopped after the account's timeout, but never under 30 s.
    (The hang is the one fault faked here: waiting 30 s for a real one is too slow.)"""
    import subprocess

    given = []

    def hang(*args, **kwargs):
        given.append(kwargs["timeout"])
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", hang)
    with pytest.raises(MailError) as caught:
        _office(token_cmd="get-token", timeout=timeout, env={}).secret()
    assert (str(caught.value), given) == ("account 'office': token command timed out", [limit])
