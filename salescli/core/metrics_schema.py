"""The SQL of migration m003 (metrics): the rollup tables and the analytics views.

One constant per object, in creation order, so ``migrations.m003_metrics`` reads as a list.
The text is the shipped migration's, byte for byte (SQLite stores it in sqlite_master): never
edit it here; change the schema with a new migration. Columns are in docs/metrics-and-reports.md,
"Tables and views".
"""

ROLLUP_TABLES = """
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
"""

METRICS_VIEW = """
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
"""

STAGE_STAYS = """
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
"""

STAGE_TRANSITIONS = """
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
"""

FUNNEL = """
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
"""

TIME_IN_STAGE = """
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
"""

DEALS_CLOSED = """
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
"""

WIN_RATE = """
        CREATE VIEW win_rate AS
        WITH d AS MATERIALIZED (SELECT owner, outcome, value FROM deals_closed),
        g AS (SELECT NULL AS owner, outcome, value FROM d UNION ALL SELECT * FROM d)
        SELECT owner, sum(outcome = 'won') AS won, sum(outcome = 'lost') AS lost,
               count(*) AS closed, round(1.0 * sum(outcome = 'won') / count(*), 4) AS win_rate,
               coalesce(sum(CASE WHEN outcome = 'won' THEN value END), 0) AS won_value
        FROM g GROUP BY owner ORDER BY owner IS NOT NULL, owner;
"""

SALES_CYCLE = """
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
"""

OWNER_RATES = """
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
"""

PROSPECT_REPLY_RATES = """
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
"""

OPEN_PROSPECTS_IDLE = """
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
"""

STALE_BY_STAGE = """
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
"""

WEEKLY_TRENDS = """
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
