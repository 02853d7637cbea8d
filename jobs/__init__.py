"""The cron entries: ``python -m salescli.jobs.NAME`` runs one job, quiet unless it fails.

Each entry loads the environment (and ``SALESCLI_ENV_FILE``, a ``KEY=VALUE``
file for secrets; variables already set win), runs the salescli command(s) with
``--quiet``, and exits non-zero on failure. Lock and job_runs row come from the
command itself (``salescli.ops.runner.run_job``). Standard output is kept out of
cron's mail and written to the log instead; stderr carries only failures, so
cron's MAILTO mails only those. A run skipped because the previous one still
holds the lock exits 0 (the next run catches up; ``salescli health`` reports a
run that hangs).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import NoReturn

log = logging.getLogger("salescli.jobs")
# A line our own log format wrote (it is in the log file already).
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ \[")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
MAX_LOGGED_OUTPUT = 2000


class JobConfigError(Exception):
    """A setting the job needs is missing or malformed."""


def parse_env_file(text: str, source: str = "env file") -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` allowed, ``#`` comments, optional quotes), no expansion."""
    values: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise JobConfigError(f"{source} line {n} is not KEY=VALUE")
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_environment() -> None:
    """Apply ``SALESCLI_ENV_FILE`` without overriding variables already set."""
    name = os.environ.get("SALESCLI_ENV_FILE", "").strip()
    if not name:
        return
    path = Path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobConfigError(f"SALESCLI_ENV_FILE {name!r} cannot be read: {exc.strerror}") \
            from None
    for key, value in parse_env_file(text, f"SALESCLI_ENV_FILE {name!r}").items():
        os.environ.setdefault(key, value)


def require(name: str, why: str) -> str:
    """The value of a variable a job cannot do without."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise JobConfigError(f"{name} is not set: {why}")
    return value


def _one_line(text: str) -> str:
    more = "…" if len(text) > MAX_LOGGED_OUTPUT else ""
    return text[:MAX_LOGGED_OUTPUT].replace("\n", " | ") + more


def _invoke(job: str, args: Sequence[str]) -> int:
    """Run one salescli command in this process; returns its exit code.

    Its stdout and stderr are captured: on success both go to the log only; on
    failure they are replayed to ours (so cron mails them) and the error logged.
    """
    import click

    from salescli.cli import cli
    from salescli.core.errors import JobLocked
    from salescli.core.log import logged_errors, setup_logging

    out, err = io.StringIO(), io.StringIO()
    seen = len(logged_errors)
    rc, failure, unexpected = 0, None, None
    with redirect_stdout(out), redirect_stderr(err):
        try:
            result = cli.main(args=["--quiet", *args], prog_name="salescli",
                              standalone_mode=False)
            rc = result if isinstance(result, int) else 0
        except click.ClickException as exc:
            if isinstance(exc.__context__, JobLocked) or isinstance(exc, JobLocked):
                print(f"skipped: {exc.format_message()}", file=sys.stderr)
            else:
                failure, rc = exc, exc.exit_code or 1
        except click.Abort:
            failure, rc = click.ClickException("aborted"), 1
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                failure = click.ClickException(exc.code)
        except Exception as exc:
            unexpected, rc = exc, 1
    setup_logging(quiet=True, job=job)  # back on the real stderr
    if text := out.getvalue().strip():
        log.info("%s output: %s", job, _one_line(text))
    said = "\n".join(x for x in err.getvalue().splitlines()
                     if x.strip() and not _LOG_LINE.match(x))
    if rc == 0:
        if said:
            log.info("%s said: %s", job, _one_line(said))
        return 0
    sys.stdout.write(out.getvalue())  # what it printed helps whoever reads cron's mail
    sys.stderr.write(err.getvalue())
    if unexpected is not None:
        log.error("%s failed with an unexpected error", job, exc_info=unexpected)
    elif failure is not None:
        message = failure.format_message()
        if not any(message in m for m in logged_errors[seen:]):
            log.error("%s failed: %s", job, message)
        if isinstance(failure, click.UsageError) and failure.ctx is not None:
            sys.stderr.write(failure.ctx.get_usage() + "\n")
    elif len(logged_errors) == seen:
        log.error("%s failed (exit status %s)", job, rc)
    return rc


def run(job: str, *commands: Sequence[str]) -> int:
    """Run ``commands`` (argument lists for salescli) one after the other as ``job``."""
    os.environ["SALESCLI_JOB"] = job
    from salescli.core.log import setup_logging

    setup_logging(quiet=True, job=job)
    for args in commands:
        rc = _invoke(job, args)
        if rc:
            return rc
    return 0


def main(job: str, build: Callable[[list[str]], list[list[str]]]) -> NoReturn:
    """Entry-point body: load the environment, build the command lines, run, exit."""
    os.environ["SALESCLI_JOB"] = job
    from salescli.core.errors import SalescliError
    from salescli.core.log import setup_logging

    try:  # (a bad log setting fails the first call: Python's last-resort handler says so)
        setup_logging(quiet=True, job=job)
        load_environment()
        setup_logging(quiet=True, job=job)  # again: the env file may name a log file
        commands = build(list(sys.argv[1:]))
    except (JobConfigError, SalescliError) as exc:
        log.error("%s: %s", job, exc)
        sys.exit(1)
    sys.exit(run(job, *commands))
