"""A refused TLS certificate names the account, the server and OpenSSL's reason; the hint
to set a private CA comes only when no CA is set (with one set, it would mislead)."""

from __future__ import annotations

from tests.mail.test_auth_tls import _tls_env, tls_dovecot  # noqa: F401 (fixture)


def test_with_a_ca_set_a_wrong_host_name_gets_no_private_ca_hint(
        tls_dovecot, monkeypatch, invoke):  # noqa: F811
    _tls_env(monkeypatch, tls_dovecot, host="127.0.0.1", ca=True)
    result = invoke("scan")
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.endswith("certificate is not valid for '127.0.0.1'."), error
    assert "SALESCLI_IMAP_CA" not in error
