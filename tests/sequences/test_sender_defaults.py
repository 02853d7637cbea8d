"""A ``[[senders]]`` table that leaves out the port gets the usual port of its TLS mode,
as ``SALESCLI_SMTP_*`` does."""

from __future__ import annotations

import pytest

from salescli.sequences import senders

ME = "me@ours.example"


@pytest.mark.parametrize(("ssl", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_a_sender_without_smtp_port_uses_the_port_of_its_tls_mode(tmp_path, ssl, port):
    config = tmp_path / "salescli.toml"
    config.write_text(f'[[senders]]\naddress = "{ME}"\nsmtp_host = "smtp.ours.example"\n'
                      f'smtp_ssl = "{ssl}"\n')
    sender = senders.for_address(senders.load({"SALESCLI_CONFIG": str(config)}), ME)
    assert (sender.settings.host, sender.settings.port) == ("smtp.ours.example", port)
