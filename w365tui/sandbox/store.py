"""SQLite storage behind the sandbox: one table per emulated Dataverse table, plus Ion's tables.

Rows are plain dicts keyed by logical name. Every write takes a new row version from one
counter, which is what the Web API exposes as the ETag. All access goes through one
connection guarded by a lock; the sandbox's HTTP server runs in its own thread, so the app's
event loop never waits on this.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from w365tui.sandbox.schema import (
    BIGINT,
    BOOLEAN,
    DECIMAL,
    ENTITIES,
    INTEGER,
    MONEY,
    PICKLIST,
    STATE,
    STATUS,
    Entity,
)

_SQL_TYPES = {
    INTEGER: "INTEGER",
    BIGINT: "INTEGER",
    BOOLEAN: "INTEGER",
    PICKLIST: "INTEGER",
    STATE: "INTEGER",
    STATUS: "INTEGER",
    DECIMAL: "REAL",
    MONEY: "REAL",
}

ION_SCHEMA = """
CREATE TABLE IF NOT EXISTS ion_customer (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    organization TEXT, contact_name TEXT, email TEXT, phone TEXT,
    street TEXT, city TEXT, state TEXT, zip TEXT, country TEXT,
    status TEXT NOT NULL, create_time TEXT, update_time TEXT
);
CREATE TABLE IF NOT EXISTS ion_cloud_profile (
    customer_id INTEGER NOT NULL, position INTEGER NOT NULL,
    provider_id TEXT, display_name TEXT, short_name TEXT, enabled INTEGER,
    tenant_id TEXT, domain TEXT,
    PRIMARY KEY (customer_id, position)
);
CREATE TABLE IF NOT EXISTS ion_subscription (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    subscription_id TEXT, name TEXT, total_licenses TEXT, status TEXT,
    product_id TEXT, product_display_name TEXT, sku_id TEXT, sku_display_name TEXT,
    plan_id TEXT, offer_id TEXT, mfg_part_number TEXT, billing_cycle TEXT, billing_term TEXT,
    start_date TEXT, end_date TEXT, renewal_date TEXT, auto_renew INTEGER,
    price REAL, cost REAL, currency TEXT, last_updated TEXT,
    plan_display_name TEXT, reseller_po TEXT, customer_po TEXT
);
CREATE INDEX IF NOT EXISTS ion_subscription_customer ON ion_subscription (customer_id, id);
CREATE TABLE IF NOT EXISTS ion_refresh_token (
    token TEXT PRIMARY KEY, account_id INTEGER NOT NULL, issued_at REAL NOT NULL,
    expires_at REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ion_access_token (
    token TEXT PRIMARY KEY, account_id INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sandbox_meta (key TEXT PRIMARY KEY, value TEXT);
"""


def fold(value: Any) -> Any:
    """Case-insensitive form of a string, as Dataverse compares strings."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).casefold()
    return value


_WILDCARDS = frozenset("%_[")


@functools.lru_cache(maxsize=256)
def _like(pattern: str, start: bool, end: bool) -> re.Pattern[str]:
    """A Dataverse string pattern as a regular expression: ``%`` any run of characters, ``_``
    any one, ``[abc]``/``[a-c]``/``[^abc]`` one of (or none of) a set; ``[%]`` is a literal %."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        close = pattern.find("]", index + 2) if char == "[" else -1
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and close != -1:
            body = pattern[index + 1:close]
            negated = body.startswith("^") and len(body) > 1
            body = body[1:] if negated else body
            parts = [re.escape(c) if c != "-" or i in (0, len(body) - 1) else "-" for i, c in enumerate(body)]
            out.append(f"[{'^' if negated else ''}{''.join(parts)}]")
            index = close
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile(("^" if start else "") + "".join(out) + ("$" if end else ""), re.DOTALL)


def _match(haystack: Any, needle: Any, start: bool, end: bool) -> int | None:
    if haystack is None or needle is None:
        return None
    hay, pattern = fold(haystack), fold(needle)
    if not _WILDCARDS & set(pattern):
        if start:
            return int(hay.startswith(pattern))
        if end:
            return int(hay.endswith(pattern))
        return int(pattern in hay)
    return int(_like(pattern, start, end).search(hay) is not None)


def _contains(haystack: Any, needle: Any) -> int | None:
    return _match(haystack, needle, False, False)


def _startswith(haystack: Any, needle: Any) -> int | None:
    return _match(haystack, needle, True, False)


def _endswith(haystack: Any, needle: Any) -> int | None:
    return _match(haystack, needle, False, True)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_ddl(entity: Entity) -> list[str]:
    columns = []
    for attr in entity.attributes:
        sql_type = _SQL_TYPES.get(attr.type, "TEXT")
        suffix = " PRIMARY KEY" if attr.logical_name == entity.primary_id else ""
        columns.append(f'"{attr.logical_name}" {sql_type}{suffix}')
    statements = [f'CREATE TABLE IF NOT EXISTS "{entity.logical_name}" ({", ".join(columns)})']
    for attr in entity.attributes:
        if attr.is_lookup or attr.logical_name == entity.primary_name:
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{entity.logical_name}__{attr.logical_name}" '
                f'ON "{entity.logical_name}" ("{attr.logical_name}")'
            )
        if attr.logical_name == "createdon":  # ranges of creation: how a large book is read in slices
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{entity.logical_name}__createdon" ON "{entity.logical_name}" ("createdon")'
            )
        if attr.logical_name == entity.primary_name:  # startswith and $orderby on the name, case-blind
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{entity.logical_name}__{attr.logical_name}__nocase" '
                f'ON "{entity.logical_name}" ("{attr.logical_name}" COLLATE NOCASE)'
            )
    return statements


class Fetched:
    """A statement's rows, read whole while the store's lock was held."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows


class LockedConnection:
    """The store's SQLite connection, one statement at a time whatever the thread.

    SQLite's own mutex is held while a statement runs, and a statement that calls one of the
    sandbox's Python functions (``dv_fold``…) needs the interpreter's lock too; another thread
    entering the connection while holding the interpreter's lock would wait on SQLite forever.
    Every statement runs whole under the store's lock instead, which is waited for with the
    interpreter's lock released.
    """

    def __init__(self, raw: sqlite3.Connection, lock: threading.RLock) -> None:
        self._raw = raw
        self._lock = lock

    def execute(self, sql: str, parameters: Any = ()) -> Fetched:
        with self._lock:
            return Fetched(self._raw.execute(sql, parameters).fetchall())

    def executemany(self, sql: str, parameters: Any) -> Fetched:
        with self._lock:
            return Fetched(self._raw.executemany(sql, parameters).fetchall())

    def executescript(self, script: str) -> None:
        with self._lock:
            self._raw.executescript(script)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_raw", "_lock"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._raw, name, value)


class Store:
    """The sandbox's database. Safe to share between threads; one writer at a time."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        raw = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn = LockedConnection(raw, self.lock)
        self.conn.row_factory = sqlite3.Row
        self.conn.create_function("dv_contains", 2, _contains, deterministic=True)
        self.conn.create_function("dv_startswith", 2, _startswith, deterministic=True)
        self.conn.create_function("dv_endswith", 2, _endswith, deterministic=True)
        self.conn.create_function("dv_fold", 1, fold, deterministic=True)
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self._depth = 0
        self.create_schema()

    # -- schema -----------------------------------------------------------------------------
    def create_schema(self) -> None:
        with self.lock:
            for entity in ENTITIES:
                for statement in table_ddl(entity):
                    self.conn.execute(statement)
            self.conn.executescript(ION_SCHEMA)
            self.conn.execute(
                "INSERT OR IGNORE INTO sandbox_meta (key, value) VALUES ('version', '0')"
            )

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An atomic unit: a transaction, or a savepoint inside one. Rolls back on error."""
        with self.lock:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1

    # -- meta -------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM sandbox_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO sandbox_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def next_version(self) -> int:
        with self.lock:
            row = self.conn.execute(
                "UPDATE sandbox_meta SET value = CAST(value AS INTEGER) + 1 "
                "WHERE key = 'version' RETURNING value"
            ).fetchone()
            return int(row[0])

    # -- rows -------------------------------------------------------------------------------
    def get(self, entity: Entity, row_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f'SELECT * FROM "{entity.logical_name}" WHERE "{entity.primary_id}" = ?', (row_id,)
        ).fetchone()
        return dict(row) if row else None

    def insert(self, entity: Entity, values: Mapping[str, Any], *, now: str | None = None) -> dict[str, Any]:
        row = dict(values)
        stamp = now or utcnow()
        row.setdefault("createdon", stamp)
        row["modifiedon"] = row.get("modifiedon") or stamp
        row["versionnumber"] = self.next_version()
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        with self.lock:
            self.conn.execute(
                f'INSERT INTO "{entity.logical_name}" ({names}) VALUES ({marks})', tuple(row.values())
            )
        return row

    def update(self, entity: Entity, row_id: str, changes: Mapping[str, Any]) -> int:
        values = dict(changes)
        values["modifiedon"] = utcnow()
        values["versionnumber"] = self.next_version()
        assignments = ", ".join(f'"{k}" = ?' for k in values)
        with self.lock:
            self.conn.execute(
                f'UPDATE "{entity.logical_name}" SET {assignments} WHERE "{entity.primary_id}" = ?',
                (*values.values(), row_id),
            )
        return values["versionnumber"]

    def delete(self, entity: Entity, row_id: str) -> None:
        with self.lock:
            self.conn.execute(
                f'DELETE FROM "{entity.logical_name}" WHERE "{entity.primary_id}" = ?', (row_id,)
            )

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    # -- inspection -------------------------------------------------------------------------
    def canonical_dump(self) -> str:
        """Every table's rows in primary-key order, as text: equal databases dump equally."""
        lines: list[str] = []
        with self.lock:
            tables = [
                r[0]
                for r in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            for table in tables:
                lines.append(f"## {table}")
                for row in self.conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2'):
                    lines.append(repr(tuple(row)))
        return "\n".join(lines)


def naming_of(store: Store) -> str:
    """The naming the database is served under: ``published``, or ``compact`` for databases built
    before there was a choice (they were served under the compact names)."""
    return store.meta("naming") or "compact"

