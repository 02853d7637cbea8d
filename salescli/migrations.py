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

from salescli import db
from salescli.enums import EmailStatus, InteractionKind, JobStatus, Role, StageKind, sql_in

m = Migrations("salescli")


@m()
def m001_initial(db: Database) -> None:
    """Every table the product needs, with indexes for each CLI filter and FTS."""
    db.executescript(
        f"""
        CREATE TABLE stages (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL COLLATE NOCASE,
            position INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'open' CHECK (kind IN ({sql_in(StageKind)})),
            created_at TEXT NOT NULL,
            removed_at TEXT
        );
        CREATE UNIQUE INDEX stages_name_live ON stages(name) WHERE removed_at IS NULL;

        CREATE TABLE prospects (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of deleted people are never reused
            email TEXT NOT NULL UNIQUE,
            name TEXT,
            company TEXT,
            owner TEXT,
            stage_id INTEGER NOT NULL REFERENCES stages(id),
            email_status TEXT NOT NULL DEFAULT 'ok'
                CHECK (email_status IN ({sql_in(EmailStatus)})),
            bounce_reason TEXT,
            value REAL,
            tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
            source TEXT,
            notes TEXT,
            stage_entered_at TEXT NOT NULL,
            last_contacted_at TEXT,
            last_reply_at TEXT,
            last_interaction_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            archived_at TEXT
        );
        CREATE INDEX prospects_stage ON prospects(stage_id);
        CREATE INDEX prospects_owner ON prospects(owner);
        CREATE INDEX prospects_email_status ON prospects(email_status);
        CREATE INDEX prospects_last_interaction ON prospects(last_interaction_at);
        CREATE INDEX prospects_created ON prospects(created_at);
        CREATE INDEX prospects_updated ON prospects(updated_at);
        CREATE INDEX prospects_value ON prospects(value);
        CREATE INDEX prospects_archived ON prospects(archived_at);

        -- Tags live as a JSON array on the prospect (what people read) and are
        -- mirrored here by triggers so that --tag filters use an index.
        CREATE TABLE prospect_tags (
            tag TEXT NOT NULL COLLATE NOCASE,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            PRIMARY KEY (tag, prospect_id)
        ) WITHOUT ROWID;
        CREATE INDEX prospect_tags_prospect ON prospect_tags(prospect_id);
        CREATE TRIGGER prospects_tags_ai AFTER INSERT ON prospects BEGIN
            INSERT OR IGNORE INTO prospect_tags(tag, prospect_id)
                SELECT value, new.id FROM json_each(new.tags);
        END;
        CREATE TRIGGER prospects_tags_au AFTER UPDATE OF tags ON prospects BEGIN
            DELETE FROM prospect_tags WHERE prospect_id = old.id;
            INSERT OR IGNORE INTO prospect_tags(tag, prospect_id)
                SELECT value, new.id FROM json_each(new.tags);
        END;

        CREATE VIRTUAL TABLE prospects_fts USING fts5(
            email, name, company, notes,
            content='prospects', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER prospects_fts_ai AFTER INSERT ON prospects BEGIN
            INSERT INTO prospects_fts(rowid, email, name, company, notes)
            VALUES (new.id, new.email, new.name, new.company, new.notes);
        END;
        CREATE TRIGGER prospects_fts_ad AFTER DELETE ON prospects BEGIN
            INSERT INTO prospects_fts(prospects_fts, rowid, email, name, company, notes)
            VALUES ('delete', old.id, old.email, old.name, old.company, old.notes);
        END;
        CREATE TRIGGER prospects_fts_au AFTER UPDATE OF email, name, company, notes
        ON prospects BEGIN
            INSERT INTO prospects_fts(prospects_fts, rowid, email, name, company, notes)
            VALUES ('delete', old.id, old.email, old.name, old.company, old.notes);
            INSERT INTO prospects_fts(rowid, email, name, company, notes)
            VALUES (new.id, new.email, new.name, new.company, new.notes);
        END;

        CREATE TABLE stage_changes (
            id INTEGER PRIMARY KEY,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            from_stage_id INTEGER REFERENCES stages(id),
            to_stage_id INTEGER NOT NULL REFERENCES stages(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            owner TEXT,
            value REAL,
            note TEXT,
            reason TEXT
        );
        CREATE INDEX stage_changes_prospect ON stage_changes(prospect_id, at);
        CREATE INDEX stage_changes_at ON stage_changes(at);

        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ({sql_in(InteractionKind)})),
            occurred_at TEXT NOT NULL,
            subject TEXT,
            body TEXT,
            message_id TEXT,
            thread_key TEXT,
            account TEXT,
            folder TEXT,
            uid INTEGER,
            owner TEXT,
            actor TEXT NOT NULL,
            detail TEXT CHECK (detail IS NULL OR json_valid(detail)),
            created_at TEXT NOT NULL,
            UNIQUE (message_id, prospect_id)
        );
        CREATE INDEX interactions_prospect ON interactions(prospect_id, occurred_at);
        CREATE INDEX interactions_occurred ON interactions(occurred_at);
        CREATE INDEX interactions_kind ON interactions(kind, occurred_at);
        CREATE INDEX interactions_thread ON interactions(thread_key);
        CREATE INDEX interactions_created ON interactions(created_at);
        CREATE TRIGGER interactions_touch_ai AFTER INSERT ON interactions BEGIN
            UPDATE prospects SET
                last_interaction_at = max(coalesce(last_interaction_at, ''), new.occurred_at),
                last_contacted_at = CASE WHEN new.kind IN ('email_out', 'call', 'meeting')
                    THEN max(coalesce(last_contacted_at, ''), new.occurred_at)
                    ELSE last_contacted_at END
            WHERE id = new.prospect_id;
        END;

        CREATE TABLE activities (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id INTEGER,
            prospect_id INTEGER,
            before TEXT CHECK (before IS NULL OR json_valid(before)),
            after TEXT CHECK (after IS NULL OR json_valid(after))
        );
        CREATE INDEX activities_at ON activities(at);
        CREATE INDEX activities_prospect ON activities(prospect_id, at);
        CREATE INDEX activities_actor ON activities(actor, at);
        CREATE INDEX activities_entity ON activities(entity, entity_id);

        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ({sql_in(Role)})),
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ({sql_in(JobStatus)})),
            counts TEXT CHECK (counts IS NULL OR json_valid(counts)),
            error TEXT,
            host TEXT,
            pid INTEGER
        );
        CREATE INDEX job_runs_job ON job_runs(job, started_at);
        CREATE INDEX job_runs_started ON job_runs(started_at);

        CREATE TABLE mail_checkpoints (
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER,
            last_uid INTEGER NOT NULL DEFAULT 0,
            highestmodseq INTEGER,
            newest_message_at TEXT,
            last_scan_at TEXT,
            PRIMARY KEY (account, folder)
        );

        CREATE TABLE mail_quarantine (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            folder TEXT NOT NULL,
            uid INTEGER,
            message_id TEXT,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (account, folder, uid)
        );
        CREATE INDEX mail_quarantine_created ON mail_quarantine(created_at);

        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            event_key TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            prospect_id INTEGER REFERENCES prospects(id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            subject TEXT,
            payload TEXT CHECK (payload IS NULL OR json_valid(payload)),
            created_at TEXT NOT NULL,
            sent_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT
        );
        CREATE INDEX notifications_pending ON notifications(sent_at, next_attempt_at);
        CREATE INDEX notifications_prospect ON notifications(prospect_id, created_at);
        CREATE INDEX notifications_created ON notifications(created_at);

        CREATE TABLE metrics (
            day TEXT NOT NULL,
            stage TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            in_stage INTEGER NOT NULL DEFAULT 0,
            entered INTEGER NOT NULL DEFAULT 0,
            exited INTEGER NOT NULL DEFAULT 0,
            won INTEGER NOT NULL DEFAULT 0,
            lost INTEGER NOT NULL DEFAULT 0,
            open_value REAL NOT NULL DEFAULT 0,
            emails_sent INTEGER NOT NULL DEFAULT 0,
            emails_received INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            auto_replies INTEGER NOT NULL DEFAULT 0,
            bounces INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, stage, owner)
        );
        """
    )


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
    analytics views; names are documented in ``salescli.metrics`` and docs/metrics.md."""
    db.executescript(
        """
        DROP TABLE IF EXISTS metrics;
        -- Days are local days (SALESCLI_TZ) as YYYY-MM-DD; owner '' = no owner.
        CREATE TABLE metrics_pipeline (
            day TEXT NOT NULL,
            stage_id INTEGER NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            in_stage INTEGER NOT NULL DEFAULT 0,
            value REAL NOT NULL DEFAULT 0,
            entered INTEGER NOT NULL DEFAULT 0,
            entered_value REAL NOT NULL DEFAULT 0,
            exited INTEGER NOT NULL DEFAULT 0,
            created INTEGER NOT NULL DEFAULT 0,
            won INTEGER NOT NULL DEFAULT 0,
            lost INTEGER NOT NULL DEFAULT 0,
            archived INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, stage_id, owner)
        ) WITHOUT ROWID;
        CREATE TABLE metrics_activity (
            day TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            emails_sent INTEGER NOT NULL DEFAULT 0,
            emails_received INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            auto_replies INTEGER NOT NULL DEFAULT 0,
            bounces INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            meetings INTEGER NOT NULL DEFAULT 0,
            notes INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, owner)
        ) WITHOUT ROWID;
        CREATE TABLE metrics_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tz TEXT NOT NULL,
            first_day TEXT NOT NULL,
            last_day TEXT NOT NULL,
            stage_changes_mark INTEGER NOT NULL,
            interactions_mark INTEGER NOT NULL,
            activities_mark INTEGER NOT NULL,
            started_at TEXT NOT NULL
        );

        CREATE VIEW metrics AS
        SELECT m.day, s.name AS stage, s.kind AS stage_kind, m.owner, m.in_stage,
               CASE WHEN s.kind = 'open' THEN m.value ELSE 0 END AS open_value, m.value,
               m.entered, m.entered_value, m.exited, m.created, m.won, m.lost, m.archived,
               0 AS emails_sent, 0 AS emails_received, 0 AS replies, 0 AS auto_replies,
               0 AS bounces, 0 AS calls, 0 AS meetings, 0 AS notes
        FROM metrics_pipeline m JOIN stages s ON s.id = m.stage_id
        UNION ALL
        SELECT day, NULL, NULL, owner, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, emails_sent,
               emails_received, replies, auto_replies, bounces, calls, meetings, notes
        FROM metrics_activity;

        -- One row per stay of a prospect in a stage: from a change into the stage to the
        -- next change into another one (a change into the same stage, as merged histories
        -- have, continues the stay). Changes after a prospect was archived are left out.
        CREATE VIEW stage_stays AS
        SELECT c.id AS change_id, c.prospect_id, c.to_stage_id AS stage_id, s.name AS stage,
               s.kind AS stage_kind, s.position AS stage_position,
               coalesce(c.owner, '') AS owner, c.value, c.at AS entered_at,
               n.at AS exited_at, n.to_stage_id AS next_stage_id, ns.name AS next_stage,
               ns.kind AS next_stage_kind,
               round(julianday(coalesce(n.at, p.archived_at, 'now')) - julianday(c.at), 3)
                   AS days,
               p.archived_at
        FROM stage_changes c
        JOIN prospects p ON p.id = c.prospect_id
        JOIN stages s ON s.id = c.to_stage_id
        LEFT JOIN stage_changes v ON v.id = (
            SELECT x.id FROM stage_changes x
            WHERE x.prospect_id = c.prospect_id AND (x.at, x.id) < (c.at, c.id)
            ORDER BY x.at DESC, x.id DESC LIMIT 1)
        LEFT JOIN stage_changes n ON n.id = (
            SELECT y.id FROM stage_changes y
            WHERE y.prospect_id = c.prospect_id AND (y.at, y.id) > (c.at, c.id)
              AND y.to_stage_id != c.to_stage_id
              AND (p.archived_at IS NULL OR y.at < p.archived_at)
            ORDER BY y.at, y.id LIMIT 1)
        LEFT JOIN stages ns ON ns.id = n.to_stage_id
        WHERE (p.archived_at IS NULL OR c.at < p.archived_at)
          AND (v.id IS NULL OR v.to_stage_id != c.to_stage_id);

        CREATE VIEW stage_transitions AS
        SELECT x.stage AS from_stage, x.next_stage AS to_stage,
               CASE WHEN x.next_stage_kind = 'lost' THEN 'lost'
                    WHEN n.position > x.stage_position THEN 'forward' ELSE 'back' END
                   AS direction,
               count(*) AS moves, count(DISTINCT x.prospect_id) AS prospects,
               round(1.0 * count(*) / sum(count(*)) OVER (PARTITION BY x.stage_id), 4)
                   AS share_of_exits
        FROM stage_stays x JOIN stages n ON n.id = x.next_stage_id
        GROUP BY x.stage_id, x.next_stage_id
        ORDER BY x.stage_position, n.position;

        CREATE VIEW funnel AS
        WITH best AS (
            SELECT prospect_id, max(stage_position) AS reached FROM stage_stays
            WHERE stage_kind != 'lost' GROUP BY prospect_id
        ), hist AS (
            SELECT reached, count(*) AS n FROM best GROUP BY reached
        ), now AS (
            SELECT stage_id, count(*) AS n, coalesce(sum(value), 0) AS v FROM prospects
            WHERE archived_at IS NULL GROUP BY stage_id
        ), f AS (
            SELECT s.id, s.name, s.position, s.kind, coalesce(sum(h.n), 0) AS reached
            FROM stages s LEFT JOIN hist h ON h.reached >= s.position
            WHERE s.removed_at IS NULL AND s.kind != 'lost' GROUP BY s.id
        )
        SELECT f.name AS stage, f.position AS stage_position, f.kind AS stage_kind,
               f.reached, LEAD(f.name) OVER w AS next_stage,
               round(1.0 * LEAD(f.reached) OVER w / NULLIF(f.reached, 0), 4)
                   AS conversion_rate,
               round(1.0 * f.reached / NULLIF(FIRST_VALUE(f.reached) OVER w, 0), 4)
                   AS share_of_first,
               coalesce(now.n, 0) AS prospects_now, coalesce(now.v, 0) AS value_now
        FROM f LEFT JOIN now ON now.stage_id = f.id
        WINDOW w AS (ORDER BY f.position, f.id)
        ORDER BY f.position, f.id;

        -- Medians average the two middle values; p90 is the nearest rank ceil(0.9 n).
        -- Rows with owner NULL are all owners together (as SQL's ROLLUP writes them).
        CREATE VIEW time_in_stage AS
        WITH done AS MATERIALIZED (
            SELECT stage_id, owner, days FROM stage_stays WHERE exited_at IS NOT NULL
        ), g AS (
            SELECT stage_id, NULL AS owner, days FROM done
            UNION ALL SELECT stage_id, owner, days FROM done
        ), r AS (
            SELECT stage_id, owner, days, ROW_NUMBER() OVER w AS rn,
                   COUNT(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                       AS n
            FROM g WINDOW w AS (PARTITION BY stage_id, owner ORDER BY days)
        )
        SELECT s.name AS stage, s.position AS stage_position, r.owner, max(r.n) AS stays,
               round(avg(CASE WHEN r.rn IN ((r.n + 1) / 2, (r.n + 2) / 2) THEN r.days END), 2)
                   AS median_days,
               round(max(CASE WHEN r.rn = (9 * r.n + 9) / 10 THEN r.days END), 2) AS p90_days,
               round(avg(r.days), 2) AS avg_days, round(max(r.days), 2) AS max_days
        FROM r JOIN stages s ON s.id = r.stage_id
        GROUP BY r.stage_id, r.owner
        ORDER BY s.position, r.owner IS NOT NULL, r.owner;

        -- Prospects whose current (or last, if archived) stay is in a won or lost stage.
        CREATE VIEW deals_closed AS
        SELECT x.prospect_id, x.stage_kind AS outcome, x.stage, x.owner, x.value,
               f.at AS created_at, x.entered_at AS closed_at,
               round(julianday(x.entered_at) - julianday(f.at), 2) AS cycle_days, c.reason
        FROM stage_stays x JOIN stage_changes c ON c.id = x.change_id
        JOIN stage_changes f ON f.id = (
            SELECT y.id FROM stage_changes y WHERE y.prospect_id = x.prospect_id
            ORDER BY y.at, y.id LIMIT 1)
        WHERE x.exited_at IS NULL AND x.stage_kind IN ('won', 'lost');

        CREATE VIEW win_rate AS
        WITH d AS MATERIALIZED (SELECT owner, outcome, value FROM deals_closed),
        g AS (SELECT NULL AS owner, outcome, value FROM d UNION ALL SELECT * FROM d)
        SELECT owner, sum(outcome = 'won') AS won, sum(outcome = 'lost') AS lost,
               count(*) AS closed, round(1.0 * sum(outcome = 'won') / count(*), 4) AS win_rate,
               coalesce(sum(CASE WHEN outcome = 'won' THEN value END), 0) AS won_value
        FROM g GROUP BY owner ORDER BY owner IS NOT NULL, owner;

        CREATE VIEW sales_cycle AS
        WITH d AS MATERIALIZED (
            SELECT owner, cycle_days FROM deals_closed WHERE outcome = 'won'
        ), g AS (
            SELECT NULL AS owner, cycle_days FROM d UNION ALL SELECT * FROM d
        ), r AS (
            SELECT owner, cycle_days, ROW_NUMBER() OVER w AS rn,
                   COUNT(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                       AS n
            FROM g WINDOW w AS (PARTITION BY owner ORDER BY cycle_days)
        )
        SELECT owner, max(n) AS won_deals,
               round(avg(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN cycle_days END), 2)
                   AS median_days,
               round(max(CASE WHEN rn = (9 * n + 9) / 10 THEN cycle_days END), 2) AS p90_days,
               round(avg(cycle_days), 2) AS avg_days
        FROM r GROUP BY owner ORDER BY owner IS NOT NULL, owner;

        -- Per owner, from the rollup: emails and rates per email sent.
        CREATE VIEW owner_rates AS
        WITH a AS MATERIALIZED (
            SELECT owner, sum(emails_sent) AS emails_sent,
                   sum(emails_received) AS emails_received, sum(replies) AS replies,
                   sum(auto_replies) AS auto_replies, sum(bounces) AS bounces,
                   sum(calls) AS calls, sum(meetings) AS meetings
            FROM metrics_activity GROUP BY owner
        ), g AS (
            SELECT * FROM a
            UNION ALL
            SELECT NULL, sum(emails_sent), sum(emails_received), sum(replies),
                   sum(auto_replies), sum(bounces), sum(calls), sum(meetings)
            FROM a HAVING count(*) > 0
        )
        SELECT *, round(1.0 * replies / NULLIF(emails_sent, 0), 4) AS reply_rate,
               round(1.0 * bounces / NULLIF(emails_sent, 0), 4) AS bounce_rate
        FROM g ORDER BY owner IS NOT NULL, owner;

        -- Per owner, live: prospects emailed, and how many replied (an email_in after the
        -- owner's first email_out to them).
        CREATE VIEW prospect_reply_rates AS
        WITH firsts AS MATERIALIZED (
            SELECT coalesce(owner, '') AS owner, prospect_id, min(occurred_at) AS first_out
            FROM interactions WHERE kind = 'email_out' GROUP BY 1, 2
        ), lastin AS MATERIALIZED (
            SELECT prospect_id, max(occurred_at) AS last_in FROM interactions
            WHERE kind = 'email_in' GROUP BY prospect_id
        ), per AS MATERIALIZED (
            SELECT f.owner, f.prospect_id, coalesce(l.last_in > f.first_out, 0) AS replied
            FROM firsts f LEFT JOIN lastin l ON l.prospect_id = f.prospect_id
        ), g AS (
            SELECT owner, count(*) AS emailed, sum(replied) AS replied FROM per GROUP BY owner
            UNION ALL
            SELECT NULL, count(*), sum(r) FROM (SELECT max(replied) AS r FROM per
                                                GROUP BY prospect_id) HAVING count(*) > 0
        )
        SELECT owner, emailed AS prospects_emailed, replied AS prospects_replied,
               round(1.0 * replied / NULLIF(emailed, 0), 4) AS prospect_reply_rate
        FROM g ORDER BY owner IS NOT NULL, owner;

        -- Open prospects and how long since anything happened to them (the later of
        -- their last interaction and their entry into the current stage).
        CREATE VIEW open_prospects_idle AS
        SELECT p.id AS prospect_id, p.email, p.name, p.company,
               coalesce(p.owner, '') AS owner, s.name AS stage, s.position AS stage_position,
               p.value, p.stage_entered_at, p.last_interaction_at,
               max(coalesce(p.last_interaction_at, ''), p.stage_entered_at) AS last_touch_at,
               CAST(julianday('now') - julianday(max(coalesce(p.last_interaction_at, ''),
                                                     p.stage_entered_at)) AS INTEGER)
                   AS idle_days
        FROM prospects p JOIN stages s ON s.id = p.stage_id
        WHERE p.archived_at IS NULL AND s.kind = 'open';

        CREATE VIEW stale_by_stage AS
        WITH i AS MATERIALIZED (
            SELECT stage, stage_position, owner, idle_days FROM open_prospects_idle
        ), g AS (
            SELECT stage, stage_position, NULL AS owner, idle_days FROM i
            UNION ALL SELECT * FROM i
        )
        SELECT stage, owner, count(*) AS open_prospects, sum(idle_days >= 7) AS idle_7d,
               sum(idle_days >= 14) AS idle_14d, sum(idle_days >= 30) AS idle_30d,
               sum(idle_days >= 90) AS idle_90d, max(idle_days) AS max_idle_days
        FROM g GROUP BY stage_position, stage, owner
        ORDER BY stage_position, owner IS NOT NULL, owner;

        -- Weeks start on Monday (local days); open_* are at the last rolled-up day of
        -- the week; rates are per email sent (replies, bounces) and per deal closed (won).
        CREATE VIEW weekly_trends AS
        WITH mp AS MATERIALIZED (
            SELECT date(m.day, 'weekday 0', '-6 days') AS week, m.day, m.owner, s.kind,
                   m.in_stage, m.value, m.created, m.won, m.lost, m.entered_value
            FROM metrics_pipeline m JOIN stages s ON s.id = m.stage_id
        ), ends AS (
            SELECT week, max(day) AS last_day FROM mp GROUP BY week
        ), pg AS (
            SELECT mp.*, mp.day = e.last_day AS at_end FROM mp JOIN ends e USING (week)
        ), pipe AS MATERIALIZED (
            SELECT week, owner, sum(created) AS new_prospects, sum(won) AS won,
                   sum(lost) AS lost,
                   sum(CASE WHEN kind = 'won' THEN entered_value ELSE 0 END) AS won_value,
                   sum(CASE WHEN kind = 'open' AND at_end THEN in_stage ELSE 0 END)
                       AS open_prospects,
                   sum(CASE WHEN kind = 'open' AND at_end THEN value ELSE 0 END) AS open_value
            FROM (SELECT * FROM pg UNION ALL
                  SELECT week, day, NULL, kind, in_stage, value, created, won, lost,
                         entered_value, at_end FROM pg)
            GROUP BY week, owner
        ), ma AS MATERIALIZED (
            SELECT date(day, 'weekday 0', '-6 days') AS week, owner, emails_sent,
                   emails_received, replies, auto_replies, bounces, calls, meetings, notes
            FROM metrics_activity
        ), act AS MATERIALIZED (
            SELECT week, owner, sum(emails_sent) AS emails_sent,
                   sum(emails_received) AS emails_received, sum(replies) AS replies,
                   sum(auto_replies) AS auto_replies, sum(bounces) AS bounces,
                   sum(calls) AS calls, sum(meetings) AS meetings, sum(notes) AS notes
            FROM (SELECT * FROM ma UNION ALL
                  SELECT week, NULL, emails_sent, emails_received, replies, auto_replies,
                         bounces, calls, meetings, notes FROM ma)
            GROUP BY week, owner
        ), keys AS (
            SELECT week, owner FROM pipe UNION SELECT week, owner FROM act
        )
        SELECT k.week, date(k.week, '+6 days') AS week_end, k.owner,
               coalesce(p.new_prospects, 0) AS new_prospects, coalesce(p.won, 0) AS won,
               coalesce(p.lost, 0) AS lost, coalesce(p.won_value, 0) AS won_value,
               round(1.0 * p.won / NULLIF(p.won + p.lost, 0), 4) AS win_rate,
               coalesce(p.open_prospects, 0) AS open_prospects,
               coalesce(p.open_value, 0) AS open_value,
               coalesce(a.emails_sent, 0) AS emails_sent,
               coalesce(a.emails_received, 0) AS emails_received,
               coalesce(a.replies, 0) AS replies, coalesce(a.auto_replies, 0) AS auto_replies,
               coalesce(a.bounces, 0) AS bounces, coalesce(a.calls, 0) AS calls,
               coalesce(a.meetings, 0) AS meetings, coalesce(a.notes, 0) AS notes,
               round(1.0 * a.replies / NULLIF(a.emails_sent, 0), 4) AS reply_rate,
               round(1.0 * a.bounces / NULLIF(a.emails_sent, 0), 4) AS bounce_rate
        FROM keys k
        LEFT JOIN pipe p ON p.week = k.week AND p.owner IS k.owner
        LEFT JOIN act a ON a.week = k.week AND a.owner IS k.owner
        ORDER BY k.week, k.owner IS NOT NULL, k.owner;
        """
    )


@m()
def m004_web(db: Database) -> None:
    """Dashboard: views the Datasette dashboard and canned queries read."""


@m()
def m005_ops(db: Database) -> None:
    """Operations: anything health, backups and retention need."""


SCHEMA_VERSION = len(m._migrations)
assert SCHEMA_VERSION == db.SCHEMA_VERSION, "update salescli.db.SCHEMA_VERSION"


def migrate(conn: sqlite3.Connection, path: str | os.PathLike) -> int:
    """Bring the database up to ``SCHEMA_VERSION``; refuse a newer one. Returns the version."""
    from salescli.db import schema_version
    from salescli.enums import DEFAULT_STAGES
    from salescli.errors import SchemaError

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
            fresh = version == 0
            m.apply(Database(conn))
            if fresh:
                from salescli.db import now

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
