"""The SQL of migration m001_initial: every table the product started with.

The text is the shipped migration's: never edit it here (append a migration instead).
"""

from __future__ import annotations

from salescli.core.enums import (
    EmailStatus,
    InteractionKind,
    JobStatus,
    Role,
    StageKind,
    sql_in,
)


def initial_sql() -> str:
    """The script m001_initial runs (the enums' values fill its CHECK constraints)."""
    return f"""
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
