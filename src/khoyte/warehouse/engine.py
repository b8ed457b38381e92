"""One engine interface for the analytics store, with a DuckDB and a PostgreSQL implementation.

Queries are written once in the SQL both engines share (``COUNT(*) FILTER (WHERE …)``,
``date_trunc``, ``?`` placeholders); an engine translates what it must. The dashboard code only
ever sees :class:`AnalyticsEngine`, so a larger engine can be added without touching it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np

Params = Sequence[Any]
Row = tuple[Any, ...]


class AnalyticsEngine(Protocol):
    name: str

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a read-only query (``?`` placeholders)."""
        ...

    def execute(self, sql: str, params: Params = ()) -> None: ...

    def insert_columns(self, table: str, columns: dict[str, np.ndarray[Any, Any]]) -> None:
        """Append rows given column-wise (equal-length arrays)."""
        ...

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None: ...


class DuckDBEngine:
    """The embedded engine. One database handle per process; every thread works on its own
    cursor, so the web app reads while the loader writes (DuckDB's MVCC isolates them)."""

    name = "duckdb"

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._con = duckdb.connect(self.path, read_only=read_only)
        self._local = threading.local()
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        return self._cursor().execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Params = ()) -> None:
        self._cursor().execute(sql, list(params))

    def insert_columns(self, table: str, columns: dict[str, np.ndarray[Any, Any]]) -> None:
        if not columns or len(next(iter(columns.values()))) == 0:
            return
        cur = self._cursor()
        names = list(columns)
        cols = ", ".join(f'"{n}"' for n in names)
        # DuckDB scans a dict of numpy arrays directly (no per-row Python work).
        cur.register("_batch", {n: columns[n] for n in names})
        try:
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _batch")
        finally:
            cur.unregister("_batch")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def close(self) -> None:
        self._con.close()


_QMARK = re.compile(r"\?")


class PostgresEngine:
    """The same queries on PostgreSQL (the comparison a DHIS2-style design gives)."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._in_tx = False

    def _sql(self, sql: str) -> str:
        return _QMARK.sub("%s", sql.replace("%", "%%"))

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))
            return [tuple(r) for r in cur.fetchall()]

    def execute(self, sql: str, params: Params = ()) -> None:
        with self._conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))

    def insert_columns(self, table: str, columns: dict[str, np.ndarray[Any, Any]]) -> None:
        names = list(columns)
        if not names or len(columns[names[0]]) == 0:
            return
        cols = ", ".join(f'"{n}"' for n in names)
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy,
        ):
            for row in zip(*(columns[n].tolist() for n in names), strict=True):
                copy.write_row(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    def close(self) -> None:
        self._conn.close()
