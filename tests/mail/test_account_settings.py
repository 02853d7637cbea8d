"""Account settings a user gets wrong: ``salescli scan`` refuses them before connecting, with
one ``Error:`` line naming the setting (its place in the TOML file, or its variable) and the
value."""

from __future__ import annotations

import pytest

from tests.support.cli import fails

ACCOUNT = 'name = "office"\nhost = "mail.ours.example"\nuser = "sales"\npassword_env = "PW"\n'


@pytest.mark.parametrize("line, needles", [
    ("timeout = 0", ("accounts[0].timeout 0", "must be ≥ 1")),
    ("retries = \"many\"", ("accounts[0].retries 'many'", "is not a number")),
    ("backoff = -1", ("accounts[0].backoff -1", "must be ≥ 0")),
    ("fetch_batch = 0", ("accounts[0].fetch_batch 0", "must be ≥ 1")),
    ("rate_limit = \"fast\"", ("accounts[0].rate_limit 'fast'", "is not a number")),
    ("port = \"imaps\"", ("accounts[0].port 'imaps'", "is not a number")),
])
def test_a_bad_number_in_the_config_file_names_the_setting(invoke, tmp_path, monkeypatch, line,
                                                           needles):
    config = tmp_path / "salescli.toml"
    config.write_text(f"[[accounts]]\n{ACCOUNT}{line}\n")
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.setenv("PW", "s3cret")
    fails(invoke("scan"), *needles)


@pytest.mark.parametrize("missing, needle", [("user", "accounts[0].user ''"),
                                             ("host", "accounts[0].host ''")])
def test_an_account_without_a_user_or_host_is_refused(invoke, tmp_path, monkeypatch, missing,
                                                      needle):
    config = tmp_path / "salescli.toml"
    lines = ['name = "office"', 'host = "mail.ours.example"', 'user = "sales"',
             'password_env = "PW"']
    config.write_text("[[accounts]]\n" + "\n".join(ln for ln in lines
                                                   if not ln.startswith(missing)) + "\n")
    monkeypatch.setenv("SALESCLI_CONFIG", str(config))
    monkeypatch.setenv("PW", "s3cret")
    fails(invoke("scan"), needle, "must be set")


@pytest.mark.parametrize("var, value, needles", [
    ("SALESCLI_IMAP_TIMEOUT", "0.5", ("SALESCLI_IMAP_TIMEOUT '0.5'", "must be ≥ 1")),
    ("SALESCLI_IMAP_RETRIES", "x", ("SALESCLI_IMAP_RETRIES 'x'", "is not a number")),
    ("SALESCLI_IMAP_BACKOFF", "-2", ("SALESCLI_IMAP_BACKOFF '-2'", "must be ≥ 0")),
    ("SALESCLI_IMAP_FETCH_BATCH", "0", ("SALESCLI_IMAP_FETCH_BATCH '0'", "must be ≥ 1")),
    ("SALESCLI_IMAP_PORT", "0", ("SALESCLI_IMAP_PORT '0'", "must be ≥ 1")),
    ("SALESCLI_IMAP_RATE_LIMIT", "fast", ("SALESCLI_IMAP_RATE_LIMIT 'fast'", "is not a number")),
])
def test_a_bad_number_in_a_variable_names_the_variable(invoke, monkeypatch, var, value,
                                                       needles):
    for key, val in (("SALESCLI_IMAP_HOST", "imap.example.com"),
                     ("SALESCLI_IMAP_USER", "me@example.com"),
                     ("SALESCLI_IMAP_PASSWORD", "pw"), (var, value)):
        monkeypatch.setenv(key, val)
    fails(invoke("scan"), *needles)


def test_a_token_from_the_token_command_is_kept_out_of_every_later_log_line():
    """An OAuth2 token exists only at run time (no variable holds it): once the command
    has printed it, any log line or error text that would carry it says [redacted]."""
    import uuid

    from salescli.core.log import redact
    from salescli.mail.config import load_accounts

    token = f"ya29.{uuid.uuid4().hex}"
    [account] = load_accounts({"SALESCLI_IMAP_HOST": "imap.example.org",
                               "SALESCLI_IMAP_USER": "sales@ours.example",
                               "SALESCLI_IMAP_TOKEN_CMD": f"echo {token}"})
    assert redact(f"login failed: Bearer {token}") == f"login failed: Bearer {token}"
    assert account.secret() == token
    assert redact(f"login failed: Bearer {token}") == "login failed: Bearer [redacted]"


def test_no_account_at_all_is_one_line_saying_what_to_set(invoke, monkeypatch):
    for name in ("SALESCLI_CONFIG", "SALESCLI_IMAP_HOST"):
        monkeypatch.delenv(name, raising=False)
    line = fails(invoke("scan"))
    assert line == ("Error: SALESCLI_IMAP_HOST '' is not set (or name a TOML file with several"
                    " accounts in SALESCLI_CONFIG; see docs/email-monitor.md)")
