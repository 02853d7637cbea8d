"""The served sales database: read-only, with its catalog read once per schema version.

Datasette 0.65 asks SQLite about the schema on every page, one thread-pool round trip per
question: each ``view-table`` permission check looks the name up in ``sqlite_master``, and
the database page asks for every table's columns, primary keys, full-text table and row
count — some 200 round trips for ``/sales``, each queued behind whatever slow query holds
the few SQL threads. Under 32 clients that page took seconds.

Here those answers come from one snapshot of the catalog, rebuilt in one round trip when
``PRAGMA schema_version`` changes (a migration). The version is read on the calling thread
from a connection of its own: a few microseconds, no queue, so a schema change is seen by
the very next question. Row counts for the database page are taken in one round trip too.
Datasette also re-reads every schema into its ``_internal`` tables before each page (three
round trips): ``sales_datasette()`` does it only when a served file's schema version moved.
Data is never cached: every query still reads the live file.
"""

from __future__ import annotations

import functools
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from datasette.database import Database, Results
from datasette.utils import (
    detect_fts,
    detect_primary_keys,
    get_all_foreign_keys,
    get_outbound_foreign_keys,
    table_column_details,
)

# Datasette's case-insensitive name lookup before each ``view-table`` permission check.
NAME_LOOKUP_SQL = ("select name from sqlite_master "
                   "where type in ('table', 'view') and name = ? collate nocase")
COUNT_LIMIT_MS = 5  # per table, as Datasette's database page: a bigger table shows no count
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def nocase(name: str) -> str:
    """``name`` as SQLite's NOCASE collation compares it (ASCII letters folded only)."""
    return name.translate(_ASCII_FOLD)


@dataclass
class Catalog:
    """What Datasette asks about the schema, for one ``schema_version``."""

    version: int
    tables: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # nocase(name) -> name
    details: dict[str, list] = field(default_factory=dict)  # table or view -> columns
    primary_keys: dict[str, list[str]] = field(default_factory=dict)
    fts: dict[str, str | None] = field(default_factory=dict)
    outbound: dict[str, list] = field(default_factory=dict)
    all_foreign_keys: dict[str, dict] = field(default_factory=dict)
    fts_hidden: list[str] = field(default_factory=list)
    virtual: frozenset[str] = frozenset()
    definitions: dict[tuple[str, str], str | None] = field(default_factory=dict)


def read_catalog(conn: sqlite3.Connection) -> Catalog:
    """The catalog of ``conn``'s main database. Not in a transaction (the SQL guard allows
    none): a schema changed meanwhile has a newer version, so the next question rebuilds."""
    if True:
        cat = Catalog(conn.execute("PRAGMA schema_version").fetchone()[0])
        master = conn.execute("select type, name, tbl_name, sql, rootpage from sqlite_master"
                              ).fetchall()
        cat.tables = [r[1] for r in master if r[0] == "table"]
        cat.views = [r[1] for r in master if r[0] == "view"]
        cat.names = {nocase(n): n for n in cat.tables + cat.views}
        cat.virtual = frozenset(r[1] for r in master if r[0] == "table" and r[4] == 0)
        for name in cat.tables + cat.views:
            cat.details[name] = table_column_details(conn, name)
        for name in cat.tables + cat.views:
            cat.primary_keys[name] = detect_primary_keys(conn, name)
            cat.fts[name] = detect_fts(conn, name)
            cat.outbound[name] = get_outbound_foreign_keys(conn, name)
        cat.all_foreign_keys = get_all_foreign_keys(conn)
        # As Database.hidden_table_names: FTS virtual tables and the statistics tables.
        cat.fts_hidden = [r[1] for r in master if r[4] == 0 and r[3]
                          and _like_fts(r[3])] + [
            r[1] for r in master if r[1] in ("sqlite_stat1", "sqlite_stat2", "sqlite_stat3",
                                             "sqlite_stat4")]
        for kind, name, _tbl, sql, _root in master:
            if kind in ("table", "view"):
                indexes = [r[3] for r in master if r[0] == "index" and r[2] == name and r[3]]
                cat.definitions[(name, kind)] = "\n".join(
                    [sql + ";", *(s + ";" for s in indexes)]) if sql else None
    return cat


def _like_fts(sql: str) -> bool:
    """``sql like '%VIRTUAL TABLE%USING FTS%'`` (LIKE is case-insensitive for ASCII)."""
    text = nocase(sql)
    at = text.find("virtual table")
    return at >= 0 and text.find("using fts", at) >= 0


def count_rows(conn: sqlite3.Connection, tables: list[str], limit_ms: int,
               skip: frozenset[str] = frozenset()) -> dict:
    """``count(*)`` of each table, None for one that takes over ``limit_ms`` and for those
    in ``skip`` (virtual tables: counting a full-text index reads all of it)."""
    counts: dict[str, int | None] = {}
    for table in tables:
        if table in skip:
            counts[table] = None
            continue
        deadline = time.perf_counter() + limit_ms / 1000
        # How often (in SQLite VM steps) the deadline is looked at: any small number stops a
        # slow count within the limit, so its exact value is not behaviour: pragma.
        conn.set_progress_handler(lambda d=deadline: time.perf_counter() >= d,
                                  1000,  # pragma: no mutate
                                  )
        try:
            counts[table] = conn.execute(
                f"select count(*) from [{table}]").fetchone()[0]  # noqa: S608 - a catalog name
        except sqlite3.DatabaseError:
            counts[table] = None
        finally:
            conn.set_progress_handler(None, 0)
    return counts


class ReadOnlyDatabase(Database):
    """The sales database opened read-only (not immutable: cron writers keep writing in WAL
    mode and every query sees their commits). Asking for a write connection fails.
    Catalog questions are answered from a snapshot (see the module docstring)."""

    _catalog: Catalog | None = None
    _probe: sqlite3.Connection | None = None

    def connect(self, write: bool = False) -> sqlite3.Connection:
        if write:
            raise PermissionError("salescli serves the sales database read-only")
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._all_file_connections.append(conn)
        return conn

    def _schema_version(self) -> int | None:
        """The file's schema version, read here and now (None if SQLite is busy)."""
        try:
            if self._probe is None:
                self._probe = self.connect()
                self._probe.execute("PRAGMA busy_timeout = 0")
            return self._probe.execute("PRAGMA schema_version").fetchone()[0]
        except sqlite3.Error:
            return None

    async def catalog(self) -> Catalog:
        """The catalog for the current schema version; rebuilt (one round trip) on change."""
        cat = self._catalog
        if cat is None or cat.version != self._schema_version():
            cat = await self.execute_fn(read_catalog)
            self._catalog = cat
        return cat

    async def execute(self, sql: str, params: Any = None, *args: Any, **kwargs: Any
                      ) -> Results:
        if sql == NAME_LOOKUP_SQL and params and len(params) == 1:
            name = (await self.catalog()).names.get(nocase(str(params[0])))
            # (Datasette reads only the rows of its name look-up, never "truncated")
            return Results([(name,)] if name else [], False,  # pragma: no mutate
                           [("name",)])
        return await super().execute(sql, params, *args, **kwargs)

    async def table_exists(self, table: str) -> bool:
        return table in (await self.catalog()).tables

    async def table_names(self) -> list[str]:
        return list((await self.catalog()).tables)

    async def view_names(self) -> list[str]:
        return list((await self.catalog()).views)

    async def _cached(self, kind: str, table: str) -> Any:
        known = getattr(await self.catalog(), kind)
        return known[table] if table in known else None

    async def table_column_details(self, table: str) -> list:
        found = await self._cached("details", table)
        return found if found is not None else await super().table_column_details(table)

    async def table_columns(self, table: str) -> list[str]:
        found = await self._cached("details", table)
        if found is None:
            return await super().table_columns(table)
        return [c.name for c in found]

    async def primary_keys(self, table: str) -> list[str]:
        found = await self._cached("primary_keys", table)
        return list(found) if found is not None else await super().primary_keys(table)

    async def fts_table(self, table: str) -> str | None:
        cat = await self.catalog()
        return cat.fts[table] if table in cat.fts else await super().fts_table(table)

    async def foreign_keys_for_table(self, table: str) -> list:
        found = await self._cached("outbound", table)
        return found if found is not None else await super().foreign_keys_for_table(table)

    async def get_all_foreign_keys(self) -> dict:
        return (await self.catalog()).all_foreign_keys

    async def hidden_table_names(self) -> list[str]:
        cat = await self.catalog()
        hidden = list(cat.fts_hidden)
        tables = self.ds.metadata(database=self.name).get("tables", {})
        hidden += [t for t in tables if tables[t].get("hidden")]
        for table_name in cat.tables:  # as Datasette: "x_fts" hides "x_fts_data" too
            if any(table_name.startswith(h) for h in hidden):
                hidden.append(table_name)
        return hidden

    async def get_table_definition(self, table: str, type_: str = "table") -> str | None:
        cat = await self.catalog()
        if table in cat.details:  # known: a table asked for as a view has no definition
            return cat.definitions.get((table, type_))
        return await super().get_table_definition(table, type_)

    async def label_column_for_table(self, table: str) -> str | None:
        """As Datasette's, from the catalog: the metadata's, else a name or title column,
        else the other column of a two-column table with an id."""
        explicit = self.ds.table_metadata(self.name, table).get("label_column")
        if explicit:
            return explicit
        names = await self.table_columns(table)
        name_or_title = [c for c in names if c.lower() in ("name", "title")]
        if name_or_title:
            return name_or_title[0]
        if names and len(names) == 2 and ("id" in names or "pk" in names):
            return [c for c in names if c not in ("id", "pk")][0]
        return None

    async def attached_databases(self) -> list:
        return []  # ATTACH is refused on every connection (sqlguard sets its limit to 0)

    async def table_counts(self, limit: int = 10) -> dict:
        cat = await self.catalog()
        return await self.execute_fn(lambda conn: count_rows(conn, cat.tables, limit,
                                                             cat.virtual))


@functools.cache
def sales_datasette() -> type:
    """The Datasette class salescli serves with (see ``refresh_schemas``). Built on first
    use: importing ``datasette.app`` loads every plugin, this module's importer included,
    which must be complete by then."""
    from datasette.app import Datasette

    class SalesDatasette(Datasette):
        """Datasette that refreshes its ``_internal`` schema tables only when the schema
        version of a served file changed (read without a round trip), not before every
        page."""

        _schema_seen: tuple | None = None

        async def refresh_schemas(self) -> None:
            served = [d for d in self.databases.values() if isinstance(d, ReadOnlyDatabase)]
            versions = tuple(d._schema_version() for d in served)
            if versions == self._schema_seen and None not in versions:
                return
            if self._refresh_schemas_lock.locked():
                return  # another request is refreshing; the next one checks again
            await super().refresh_schemas()
            self._schema_seen = versions

    return SalesDatasette
