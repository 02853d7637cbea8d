"""The SQL of migration m006 (automation): tasks, follow-up sequences and their steps,
enrollments, the never-twice send ledger and the do-not-contact list.

Kept apart so ``migrations`` stays a readable list of steps (as ``metrics_schema`` does for
m003). Once shipped, the text is the migration's: change the schema with a new migration.
"""

from __future__ import annotations

from salescli.core.enums import (
    EnrollmentState,
    SendState,
    SuppressionSource,
    TaskKind,
    sql_in,
)

AUTOMATION = f"""
        CREATE TABLE suppressions (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL UNIQUE,          -- a lower-case address or @domain
            reason TEXT,
            source TEXT NOT NULL CHECK (source IN ({sql_in(SuppressionSource)})),
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            owner TEXT,
            kind TEXT NOT NULL CHECK (kind IN ({sql_in(TaskKind)})),
            text TEXT NOT NULL,
            due_on TEXT,                           -- a local day YYYY-MM-DD (SALESCLI_TZ)
            snoozed_until TEXT,
            done_at TEXT,
            note TEXT,
            source TEXT NOT NULL DEFAULT 'manual', -- manual, or sequence:NAME:STEP
            enrollment_id INTEGER REFERENCES enrollments(id) ON DELETE SET NULL,
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tasks_open ON tasks(owner, due_on) WHERE done_at IS NULL;
        CREATE INDEX tasks_prospect ON tasks(prospect_id);

        CREATE TABLE sequences (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            window TEXT NOT NULL DEFAULT '09:00-17:00',
            days TEXT NOT NULL DEFAULT 'mon-fri',
            timezone TEXT,                         -- NULL: SALESCLI_TZ
            paused_at TEXT,
            source TEXT,                           -- the file it was loaded from
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE sequence_steps (
            id INTEGER PRIMARY KEY,
            sequence_id INTEGER NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,             -- 1, 2, 3 …
            wait TEXT NOT NULL,
            subject TEXT,
            body TEXT,
            task TEXT CHECK (task IS NULL OR task IN ({sql_in(TaskKind)})),
            text TEXT,                             -- a task step's text template
            UNIQUE (sequence_id, position)
        );

        CREATE TABLE enrollments (
            id INTEGER PRIMARY KEY,
            sequence_id INTEGER NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
            prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE CASCADE,
            sender TEXT NOT NULL,                  -- the owner's address: every step's From
            step INTEGER NOT NULL DEFAULT 0,       -- steps done
            attempt INTEGER NOT NULL DEFAULT 1,    -- 2 while a soft-bounced step is retried
            state TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ({sql_in(EnrollmentState)})),
            reason TEXT,
            next_due_at TEXT,
            thread_subject TEXT,
            last_message_id TEXT,
            refs TEXT,                             -- References of the next follow-up
            seen_interaction_id INTEGER NOT NULL DEFAULT 0,
            retries INTEGER NOT NULL DEFAULT 0,    -- 4xx retries of the current step
            token TEXT NOT NULL UNIQUE,            -- the List-Unsubscribe token
            enrolled_at TEXT NOT NULL,
            ended_at TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (sequence_id, prospect_id)
        );
        CREATE INDEX enrollments_due ON enrollments(next_due_at, step, sequence_id, state)
            WHERE state = 'active';  -- covers the due-step selection
        CREATE INDEX enrollments_prospect ON enrollments(prospect_id);

        -- The never-twice ledger: one row per step (and soft-bounce attempt) per enrollment,
        -- written before SMTP with the Message-ID the mail will carry.
        CREATE TABLE sends (
            id INTEGER PRIMARY KEY,
            enrollment_id INTEGER NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 1,
            message_id TEXT NOT NULL UNIQUE,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT,
            state TEXT NOT NULL CHECK (state IN ({sql_in(SendState)})),
            handoffs INTEGER NOT NULL DEFAULT 0,   -- SMTP hand-offs started
            smtp_reply TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (enrollment_id, step, attempt)
        );
        CREATE INDEX sends_sender ON sends(sender, sent_at);
        CREATE INDEX sends_pending ON sends(state) WHERE state = 'pending';
        """
