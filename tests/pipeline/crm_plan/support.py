"""Shared set-up of the import-plan tests: the two test profiles and the columns of
issue 16's migration (added here when the database does not have them yet)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import connect

HERE = Path(__file__).resolve().parent
PEOPLE = HERE / "people.toml"
DEALS = HERE / "deals.toml"

PEOPLE_HEAD = ("Record ID,First Name,Last Name,Email,Additional email addresses,Company Name,"
               "Contact owner,Lifecycle Stage,Lead Status,Create Date,Close Date,Amount,"
               "Currency,Labels,Phone Number,Favourite Colour\n")
DEALS_HEAD = ("Deal - Title,Person - Name,Person - Email,Organization - Name,Deal - Owner,"
              "Deal - Stage,Deal - Status,Deal - Value,Deal - Currency,Deal - Deal created,"
              "Deal - Deal closed on\n")


def crm_schema(db_file: Path) -> None:
    """users.full_name, prospects.currency and prospect_addresses, as issue 16's migration
    makes them, when the database has not got them yet."""
    conn = connect(db_file)
    try:
        def has(table: str, column: str) -> bool:
            return any(r[1] == column for r in conn.execute(f"PRAGMA table_info({table})"))

        if not has("users", "full_name"):
            conn.execute("ALTER TABLE users ADD COLUMN full_name TEXT")
        if not has("prospects", "currency"):
            conn.execute("ALTER TABLE prospects ADD COLUMN currency TEXT")
        conn.execute("CREATE TABLE IF NOT EXISTS prospect_addresses (id INTEGER PRIMARY KEY,"
                     " prospect_id INTEGER NOT NULL REFERENCES prospects(id) ON DELETE"
                     " CASCADE, email TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)")
    finally:
        conn.close()


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def add_user(db_file: Path, username: str, email: str | None = None,
             full_name: str | None = None) -> None:
    conn = connect(db_file)
    try:
        conn.execute("INSERT INTO users(username, email, role, full_name, created_at,"
                     " updated_at) VALUES (?, ?, 'operator', ?, '2025-01-01T00:00:00Z',"
                     " '2025-01-01T00:00:00Z')", (username, email, full_name))
    finally:
        conn.close()
