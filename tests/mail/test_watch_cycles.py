"""The watcher's loop without a server: it counts the cycles it ran (its return value),
a cycle that fails is not the end of it, and a stop request ends it after the cycle."""

from __future__ import annotations

from salescli.core.errors import SalescliError
from salescli.mail import sample
from salescli.mail.watch import Watch, watch
from tests.mail.helpers import ME, ago


def test_the_watcher_runs_until_stopped_and_returns_its_cycles(tmp_path, db_file):
    box = tmp_path / "Maildir"
    sample.write_maildir_message(box, sample.outbound(ME, {"email": "a@example.com"}, ago(1),
                                                      "Hi")[0], ago(1))
    state = Watch()
    runs = []

    def cycle() -> None:
        runs.append(len(runs) + 1)
        state.wake.set()  # as IDLE does: the next cycle comes without waiting the interval
        if len(runs) == 2:
            raise SalescliError("the server is down")  # logged; the next wake-up retries
        if len(runs) == 4:
            state.stop.set()

    assert watch(db_file, source=f"maildir:{box}", state=state, cycle=cycle,
                 interval=300) == 4
    assert runs == [1, 2, 3, 4]
