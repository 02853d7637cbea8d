"""The schema, as named migrations applied in order (sqlite-utils ``Migrations``).

Each migration runs in its own savepoint inside one ``BEGIN IMMEDIATE`` so two
processes opening a fresh file never both migrate it. ``PRAGMA user_version``
holds the number of migrations applied: sqlite-utils accepts unknown newer
migrations silently, so we refuse a file whose version is above ours.

To change the schema, append a new function decorated with ``@m()``; never
edit one that has shipped.
"""

from __future__ import annotations

import os
import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from salescli.core import (
    automation_schema,
    funnel_schema,
    initial_schema,
    metrics_schema,
    schema,
)
from salescli.core.enums import (
    DEFAULT_STAGES,
)
from salescli.core.errors import SchemaError
from salescli.core.schema import schema_version
from salescli.core.timeutil import now

m = Migrations("salescli")


@m()
def m001_initial(db: Database) -> None:
    """Every table the product needs, with indexes for each CLI filter and FTS."""
    db.executescript(initial_schema.initial_sql())


# Slots for the later parts of the product, in the order they were planned.
# Each is owned by one part; fill it in before the first release, then treat it
# as shipped like the rest.


@m()
def m002_mail(db: Database) -> None:
    """Email monitor: tables beyond the checkpoint/quarantine ones in m001."""
    db.executescript(
        """
        -- Every message the monitor has processed once, by message key (Message-ID, else
        -- a content hash): rescans, copies in several folders or accounts and reruns
        -- after a crash skip it. Bookkeeping only: no addresses, no audit rows.
        CREATE TABLE mail_messages (
            message_key TEXT PRIMARY KEY,
            sent_at TEXT,
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uid INTEGER,
            kind TEXT NOT NULL,
            outcome TEXT NOT NULL,
            processed_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX mail_messages_processed ON mail_messages(processed_at);
        -- Where a quarantined message lives: imap://user@host/folder;UID=n, a file path.
        ALTER TABLE mail_quarantine ADD COLUMN location TEXT;
        """
    )


@m()
def m003_metrics(db: Database) -> None:
    """Metrics: the daily rollup tables (replacing m001's ``metrics`` table) and the
    analytics views; names are documented in ``salescli.metrics.rollup`` and
    docs/metrics-and-reports.md."""
    db.executescript("".join((
        metrics_schema.ROLLUP_TABLES,
        metrics_schema.METRICS_VIEW,
        metrics_schema.STAGE_STAYS,
        metrics_schema.STAGE_TRANSITIONS,
        metrics_schema.FUNNEL,
        metrics_schema.TIME_IN_STAGE,
        metrics_schema.DEALS_CLOSED,
        metrics_schema.WIN_RATE,
        metrics_schema.SALES_CYCLE,
        metrics_schema.OWNER_RATES,
        metrics_schema.PROSPECT_REPLY_RATES,
        metrics_schema.OPEN_PROSPECTS_IDLE,
        metrics_schema.STALE_BY_STAGE,
        metrics_schema.WEEKLY_TRENDS,
    )))


@m()
def m004_web(db: Database) -> None:
    """Dashboard: views the Datasette dashboard and canned queries read."""


@m()
def m005_ops(db: Database) -> None:
    """Operations: anything health, backups and retention need."""


@m()
def m006_automation(db: Database) -> None:
    """Sales automation: tasks, follow-up sequences and their steps, enrollments, the
    never-twice send ledger and the do-not-contact list (docs/automation.md)."""
    db.executescript(automation_schema.AUTOMATION)


@m()
def m007_forecast(db: Database) -> None:
    """Forecast: what the nightly refresh writes for the dashboard (salescli.forecast.store).
    Derived data, replaced whole on each refresh; no addresses (joins reach prospects)."""
    db.executescript(
        """
        CREATE TABLE forecast_deals (
            prospect_id INTEGER PRIMARY KEY REFERENCES prospects(id) ON DELETE CASCADE,
            owner TEXT NOT NULL,
            stage TEXT NOT NULL,
            value REAL NOT NULL,
            probability REAL NOT NULL,
            stage_rate REAL NOT NULL,
            expected_close TEXT NOT NULL,
            month TEXT NOT NULL
        );
        -- owner NULL: all owners together; month 'total': the whole horizon.
        CREATE TABLE forecast_periods (
            owner TEXT,
            month TEXT NOT NULL,
            deals INTEGER NOT NULL,
            expected_count REAL NOT NULL,
            count_low INTEGER NOT NULL,
            count_high INTEGER NOT NULL,
            expected_value REAL NOT NULL,
            value_low REAL NOT NULL,
            value_high REAL NOT NULL,
            stage_weighted_value REAL NOT NULL
        );
        CREATE INDEX forecast_periods_owner ON forecast_periods(owner, month);
        CREATE TABLE forecast_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            as_of TEXT NOT NULL,
            horizon TEXT NOT NULL,
            horizon_end TEXT NOT NULL,
            tz TEXT NOT NULL,
            model TEXT NOT NULL,
            note TEXT NOT NULL,
            closed_deals INTEGER NOT NULL,
            refreshed_at TEXT NOT NULL
        );
        """
    )



@m()
def m008_crm(db: Database) -> None:
    """Moving in from another CRM (issue 16): a prospect's other addresses (the scanner
    matches mail from any of them), users' full names (owners in an export are matched by
    them), and a prospect's currency (NULL: the default, ``SALESCLI_CURRENCY``)."""
    db.executescript(
        """
        CREATE TABLE prospect_addresses (
            id INTEGER PRIMARY KEY,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            email TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE INDEX prospect_addresses_prospect ON prospect_addresses(prospect_id);
        ALTER TABLE users ADD COLUMN full_name TEXT;
        ALTER TABLE prospects ADD COLUMN currency TEXT
            CHECK (currency IS NULL OR (length(currency) = 3 AND currency GLOB '[A-Z][A-Z][A-Z]'));
        -- The stored forecast: one row per owner, month and currency (sums never mix them).
        ALTER TABLE forecast_periods ADD COLUMN currency TEXT;

        """
    )


@m()
def m009_load(db: Database) -> None:
    """Dashboard under load: indexes that answer its aggregates from the index alone.
    Per stage and per owner read one narrow covering index instead of every prospect row
    (it replaces prospects_stage, its prefix); the funnel reads each prospect's stages
    reached from (prospect_id, to_stage_id) without touching stage_changes rows."""
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS prospects_dashboard ON prospects(stage_id, archived_at,
            owner, value, stage_entered_at, last_interaction_at, last_reply_at, created_at);
        DROP INDEX IF EXISTS prospects_stage;
        CREATE INDEX IF NOT EXISTS stage_changes_reached ON stage_changes(prospect_id,
            to_stage_id);
        """
    )
    # A database analysed before (db optimize) has statistics for the old indexes only;
    # without some for the new ones the planner keeps reading rows through the old.
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE prospects_dashboard")
        db.execute("ANALYZE stage_changes_reached")



@m()
def m010_funnel(db: Database) -> None:
    """Dashboard under load, again: each prospect's furthest stage kept by triggers, so the
    funnel reads one small row per prospect instead of aggregating the whole stage history
    (core/funnel_schema.py), backfilled here; and the dashboard's covering index gains
    ``currency`` (added by m008 after it), so per-stage and per-owner sums by currency are
    answered from the index alone instead of reading every prospect row."""
    db.executescript(funnel_schema.FURTHEST_TABLE + funnel_schema.BACKFILL
                     + funnel_schema.TRIGGERS + """
        DROP INDEX IF EXISTS prospects_dashboard;
        CREATE INDEX prospects_dashboard ON prospects(stage_id, archived_at, owner, currency,
            value, stage_entered_at, last_interaction_at, last_reply_at, created_at);
        """)
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE prospects_dashboard")
        db.execute("ANALYZE prospect_furthest")


@m()
def m011_funnel_sparse(db: Database) -> None:
    """Import speed: ``prospect_furthest`` keeps a row only for a prospect whose furthest
    stage is not the one it is in (moved back, lost after getting somewhere), so a plain
    import writes none; the funnel reads the current stage for the others
    (core/funnel_schema.py ``EFFECTIVE_SQL``). Triggers re-created, redundant rows dropped."""
    db.executescript(funnel_schema.sparse())
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE prospect_furthest")


@m()
def m012_scan_speed(db: Database) -> None:
    """Scan speed (issue 12): the trigger that keeps a prospect's last interaction and
    last contact up to date fires only when the new interaction moves one of them. A first
    scan records old mail in any order, and most of it is older than what is recorded
    already: rewriting the prospect row (and its indexes) for nothing was a large part of
    recording it. The columns end the same: the update it skips changes nothing.
    ``activities_people``: people's changes to prospects (what the mail rules must not
    undo), a few rows, so that re-deriving a prospect does not read every activity of the
    monitor's to find none (rules._PEOPLE; the actor is rules.ACTOR)."""
    db.executescript(
        """
        DROP TRIGGER IF EXISTS interactions_touch_ai;
        CREATE TRIGGER interactions_touch_ai AFTER INSERT ON interactions
        WHEN NOT EXISTS (SELECT 1 FROM prospects WHERE id = new.prospect_id
            AND last_interaction_at >= new.occurred_at
            AND (new.kind NOT IN ('email_out', 'call', 'meeting')
                 OR last_contacted_at >= new.occurred_at))
        BEGIN
            UPDATE prospects SET
                last_interaction_at = max(coalesce(last_interaction_at, ''), new.occurred_at),
                last_contacted_at = CASE WHEN new.kind IN ('email_out', 'call', 'meeting')
                    THEN max(coalesce(last_contacted_at, ''), new.occurred_at)
                    ELSE last_contacted_at END
            WHERE id = new.prospect_id;
        END;
        CREATE INDEX activities_people ON activities(prospect_id)
            WHERE entity = 'prospect' AND actor != 'monitor' AND action != 'create';
        """
    )



@m()
def m013_one_history_index(db: Database) -> None:
    """Imports and moves write one index less: ``stage_changes_reached`` (m009) served the
    funnel's per-prospect aggregate, which reads ``prospect_furthest`` since m010; the few
    look-ups of one prospect's stages left use ``stage_changes_prospect``. 100k imported
    prospects with history: 5 % smaller file, 0.04 s less (benchmarks/bench_import.py)."""
    db.execute("DROP INDEX IF EXISTS stage_changes_reached")


@m()
def m014_forecast_stages(db: Database) -> None:
    """The stage outlook ("from here": win share and median days to a win per open stage)
    stored by the nightly forecast refresh, per owner (NULL: all owners), so that
    ``salescli metrics`` reads it instead of replaying the whole history (1.3 s of its
    1.6 s at benchmark size, against a goal of 0.5 s)."""
    db.executescript(
        """
        CREATE TABLE forecast_stages (
            owner TEXT,
            stage_id INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
            closed_since INTEGER NOT NULL,
            won INTEGER NOT NULL,
            median_days_to_win REAL
        );
        CREATE INDEX forecast_stages_owner ON forecast_stages(owner);
        """
    )

SCHEMA_VERSION = len(m._migrations)
assert SCHEMA_VERSION == schema.SCHEMA_VERSION, "update salescli.core.schema.SCHEMA_VERSION"


def migrate(conn: sqlite3.Connection, path: str | os.PathLike) -> int:
    """Bring the database up to ``SCHEMA_VERSION``; refuse a newer one. Returns the version."""
    version = schema_version(conn)
    if version == SCHEMA_VERSION:
        return version
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"database {str(path)!r} has schema version {version}, newer than this "
            f"salescli understands ({SCHEMA_VERSION}); upgrade salescli"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have migrated meanwhile
        if version < SCHEMA_VERSION:
            # A new file gets the default stages. A copy made with `sqlite3 .dump` has no
            # user_version but all its tables (and its record of applied migrations): it
            # keeps its own stages and only gets its version back.
            fresh = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'stages'").fetchone() is None
            m.apply(Database(conn))
            if fresh:
                ts = now()
                conn.executemany(
                    "INSERT INTO stages(name, position, kind, created_at) VALUES (?, ?, ?, ?)",
                    [(name, i, kind.value, ts) for i, (name, kind) in enumerate(DEFAULT_STAGES)],
                )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
