"""The SQL of migration m010_funnel: each prospect's furthest stage, kept by triggers.

The pipeline funnel counts, per open or won stage, the prospects that ever reached it or a
later one. A prospect's "furthest" is the highest position among the stages it entered
(every ``stage_changes.to_stage_id``) and the stage it is in now, lost stages left out;
NULL when there is none. Computing that per request meant aggregating the whole stage
history (~43k rows for 20k prospects) on every funnel page; ``prospect_furthest`` holds
the answer. Since m011 (at the end) it holds a row only for the prospects whose furthest
stage is not the one they are in (moved back; lost after getting somewhere): the funnel
counts every prospect at its current stage from the covering index and moves those few.

Triggers keep it exact whoever writes (CLI, scanner rules, import, merge, forget, a
``sqlite3`` shell): any change to a prospect's history or current stage recomputes that
prospect from scratch (a few index probes), and a stage whose position or kind changes
(add, reorder, remove renumber them) recomputes the prospects that ever entered it.
``FURTHEST`` is the figure itself (for prospect ``p``), used by every trigger and by
the backfill; ``AGGREGATED_SQL`` is the old per-request computation, which the tests
compare with the table. The text of each migration is the shipped one's: never edit it.
"""

from collections.abc import Callable

# The furthest position of the prospect whose id is {pid}: over its current stage and
# every stage its history entered, lost stages left out.
FURTHEST = """(SELECT max(s.position) FROM stages s WHERE s.kind != 'lost'
                 AND (s.id = p.stage_id OR s.id IN (SELECT c.to_stage_id FROM stage_changes c
                                                    WHERE c.prospect_id = p.id)))"""

# Recompute one prospect: drop its row, then insert it again if the prospect still exists
# (a prospect being deleted gets no row, whatever order SQLite runs cascades in).
_RECOMPUTE = """
            DELETE FROM prospect_furthest WHERE prospect_id = {pid};
            INSERT INTO prospect_furthest(prospect_id, position)
                SELECT p.id, {furthest} FROM prospects p WHERE p.id = {pid};"""


def _recompute(pid: str) -> str:
    return _RECOMPUTE.format(pid=pid, furthest=FURTHEST)


FURTHEST_TABLE = """
        -- Derived (no audit rows): see salescli/core/funnel_schema.py.
        CREATE TABLE prospect_furthest (
            prospect_id INTEGER PRIMARY KEY REFERENCES prospects(id) ON DELETE CASCADE,
            position INTEGER
        );
"""


def _row_triggers(recompute: Callable[[str], str]) -> str:
    """The five triggers that recompute one prospect when its history or stage changes."""
    return f"""
        CREATE TRIGGER prospect_furthest_change_insert AFTER INSERT ON stage_changes
        BEGIN{recompute("NEW.prospect_id")}
        END;
        CREATE TRIGGER prospect_furthest_change_delete AFTER DELETE ON stage_changes
        BEGIN{recompute("OLD.prospect_id")}
        END;
        CREATE TRIGGER prospect_furthest_change_update
        AFTER UPDATE OF prospect_id, to_stage_id ON stage_changes
        BEGIN{recompute("OLD.prospect_id")}{recompute("NEW.prospect_id")}
        END;
        CREATE TRIGGER prospect_furthest_prospect_insert AFTER INSERT ON prospects
        BEGIN{recompute("NEW.id")}
        END;
        CREATE TRIGGER prospect_furthest_prospect_stage AFTER UPDATE OF stage_id ON prospects
        WHEN OLD.stage_id IS NOT NEW.stage_id
        BEGIN{recompute("NEW.id")}
        END;
"""


TRIGGERS = _row_triggers(_recompute) + f"""
        CREATE TRIGGER prospect_furthest_prospect_delete AFTER DELETE ON prospects
        BEGIN
            DELETE FROM prospect_furthest WHERE prospect_id = OLD.id;
        END;
        CREATE TRIGGER prospect_furthest_stage AFTER UPDATE OF position, kind ON stages
        WHEN OLD.position IS NOT NEW.position OR OLD.kind IS NOT NEW.kind
        BEGIN
            INSERT OR REPLACE INTO prospect_furthest(prospect_id, position)
                SELECT p.id, {FURTHEST} FROM prospects p
                WHERE p.stage_id = NEW.id OR p.id IN (
                    SELECT c.prospect_id FROM stage_changes c WHERE c.to_stage_id = NEW.id);
        END;
"""

BACKFILL = f"""
        INSERT INTO prospect_furthest(prospect_id, position)
            SELECT p.id, {FURTHEST} FROM prospects p;
"""

# What the funnel computed on every request before m010 (per prospect id: furthest).
AGGREGATED_SQL = """
    with pos as materialized (select id, position from stages where kind != 'lost'),
    hist as materialized (
      select c.prospect_id as id, max(pos.position) as furthest
      from stage_changes c join pos on pos.id = c.to_stage_id
      group by c.prospect_id)
    select p.id, coalesce(max(h.furthest, cur.position), h.furthest, cur.position)
      as furthest
    from prospects p left join hist h on h.id = p.id
    left join pos cur on cur.id = p.stage_id
"""

# A big import (pipeline/import_write.py) drops these two while it inserts (with the
# secondary indexes it rebuilds at the end, each firing would read the whole history) and
# computes each batch's new prospects itself, on its worker thread, from FURTHEST.
BULK_TRIGGERS = ("prospect_furthest_change_insert", "prospect_furthest_prospect_insert")


# --- m011_funnel_sparse -------------------------------------------------------------------
# A row only where the furthest stage differs from the one the prospect is in: a plain
# import wrote 100k rows that said nothing the prospect row does not (0.13 s of a 2.3 s
# import). The funnel reads ``EFFECTIVE``: the kept row, else the current stage's position
# (lost: NULL). ``CURRENT`` is that position for prospect ``p``.
CURRENT = "(SELECT g.position FROM stages g WHERE g.id = p.stage_id AND g.kind != 'lost')"
EFFECTIVE_SQL = """
    SELECT p.id, coalesce(f.position, g.position) AS furthest FROM prospects p
    LEFT JOIN prospect_furthest f ON f.prospect_id = p.id
    LEFT JOIN stages g ON g.id = p.stage_id AND g.kind != 'lost'
"""


def kept_rows(where: str) -> str:
    """The rows to keep for the prospects ``p`` matching ``where``: their furthest position,
    for those whose furthest is not their current stage's."""
    return (f"SELECT id, furthest FROM (SELECT p.id, {FURTHEST} AS furthest,"
            f" {CURRENT} AS current FROM prospects p WHERE {where})"
            " WHERE furthest IS NOT current")


def _sparse(pid: str) -> str:
    return f"""
            DELETE FROM prospect_furthest WHERE prospect_id = {pid};
            INSERT INTO prospect_furthest(prospect_id, position) {kept_rows(f"p.id = {pid}")};"""


# Prospects whose figure a change to stage NEW can alter: in it now, or entered it once.
_TOUCHED = ("p.stage_id = NEW.id OR p.id IN (SELECT c.prospect_id FROM stage_changes c"
            " WHERE c.to_stage_id = NEW.id)")

def sparse() -> str:
    """The script of m011: re-create the triggers that keep a row per prospect so that they
    keep one only where it says more than the current stage, and drop the rows that do not.
    (Built when called, not at import, so that mutation testing can reach it.)"""
    return f"""
        DROP TRIGGER prospect_furthest_change_insert;
        DROP TRIGGER prospect_furthest_change_delete;
        DROP TRIGGER prospect_furthest_change_update;
        DROP TRIGGER prospect_furthest_prospect_insert;
        DROP TRIGGER prospect_furthest_prospect_stage;
        DROP TRIGGER prospect_furthest_stage;
        DELETE FROM prospect_furthest WHERE position IS (
            SELECT g.position FROM prospects p JOIN stages g ON g.id = p.stage_id
            WHERE p.id = prospect_furthest.prospect_id
              AND g.kind != 'lost');{_row_triggers(_sparse)}
        CREATE TRIGGER prospect_furthest_stage AFTER UPDATE OF position, kind ON stages
        WHEN OLD.position IS NOT NEW.position OR OLD.kind IS NOT NEW.kind
        BEGIN
            DELETE FROM prospect_furthest WHERE prospect_id IN (
                SELECT p.id FROM prospects p WHERE {_TOUCHED});
            INSERT INTO prospect_furthest(prospect_id, position) {kept_rows(_TOUCHED)};
        END;
"""
