"""Many mailboxes at once (``scan --jobs N``): accounts fetched in parallel over their
own connections, one writer; an account whose server is down or whose password is wrong
is reported while the others are recorded, and the result does not depend on N."""

from __future__ import annotations

import shutil
from datetime import timedelta

from salescli.core import db
from salescli.mail import sample
from salescli.pipeline import prospects
from tests.mail.helpers import CREATED, ME, ago, cli_env, last_run, new_mailbox, run_cli, snapshot
from tests.support.dovecot import free_port

PEOPLE = [{"email": f"p{i}@firm{i}.example", "name": f"P {i}"} for i in range(8)]


def _config(path, accounts: list[tuple[str, int, str]]) -> None:
    text = f'my_addresses = ["{ME}"]\n'
    for name, port, user in accounts:
        text += (f'\n[[accounts]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {port}\n'
                 f'user = "{user}"\nssl = "none"\npassword_env = "PW_{name.upper()}"\n'
                 'retries = 1\nbackoff = 0.01\ntimeout = 10\n')
    path.write_text(text)


def _mail(box, people: list[dict]) -> None:
    t = ago(days=3)
    sent, inbox = [], []
    for i, person in enumerate(people):
        raw, mid = sample.outbound(ME, person, t + timedelta(hours=i), "Hello")
        sent.append((raw, t + timedelta(hours=i)))
        if i % 2 == 0:
            later = t + timedelta(days=1, hours=i)
            inbox.append((sample.reply(person, ME, later, "Hello", mid)[0], later))
    box.append_many("Sent", sent)
    box.append_many("INBOX", inbox)


def _make_db(path):
    c = db.open_write(path)
    for p in PEOPLE:
        prospects.add(c, "tester", p["email"], name=p["name"], at=CREATED)
    c.close()
    return path


def test_failing_accounts_are_isolated_and_jobs_do_not_change_the_result(dovecot, tmp_path):
    boxes = [new_mailbox(dovecot) for _ in range(4)]
    for n, box in enumerate(boxes):
        _mail(box, PEOPLE[2 * n:2 * n + 2])
    wrong = new_mailbox(dovecot)
    accounts = [(f"a{n}", dovecot.port, box.user) for n, box in enumerate(boxes)]
    accounts.insert(1, ("down", free_port(), "nobody"))
    accounts.insert(3, ("wrong", dovecot.port, wrong.user))
    config = tmp_path / "accounts.toml"
    _config(config, accounts)
    env = cli_env(SALESCLI_CONFIG=str(config), PW_DOWN="x", PW_WRONG="not-the-password",
                  **{f"PW_A{n}": dovecot.password(box.user) for n, box in enumerate(boxes)})
    template = _make_db(tmp_path / "template.db")
    results = {}
    for jobs in ("1", "6"):
        target = tmp_path / f"jobs{jobs}.db"
        shutil.copy(template, target)
        done = run_cli("scan", "--jobs", jobs, env={**env, "SALESCLI_DB": str(target)})
        assert done.returncode == 1, done.stderr
        error = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(error) == 1
        assert "account 'down': connect failed" in error[0]
        assert "account 'wrong': login as" in error[0]
        c = db.connect(target)
        run = last_run(c)
        c.close()
        assert run["status"] == "failed"
        for n in range(4):
            assert run["counts"]["accounts"][f"a{n}"]["outbound"] == 2, (jobs, n)
            assert "error" not in run["counts"]["accounts"][f"a{n}"]
        assert "error" in run["counts"]["accounts"]["down"]
        results[jobs] = snapshot(target)
    facts = results["1"]
    stages = {row[0]: row[1] for row in facts["prospects"]}
    assert stages == {p["email"]: "replied" if i % 2 == 0 else "contacted"
                      for i, p in enumerate(PEOPLE)}
    assert results["6"] == facts
