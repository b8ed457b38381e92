"""The first load's helpers: the chunk read ahead in a second thread, and DuckDB on one thread
while a backlog loads (``warehouse.loader._read_ahead``, ``DuckDBEngine.one_thread``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.loader import _read_ahead


def test_every_chunk_arrives_in_order_read_by_another_thread() -> None:
    readers: set[str] = set()

    def chunks() -> Iterator[list[int]]:
        for i in range(7):
            readers.add(threading.current_thread().name)
            yield [i, i]

    assert list(_read_ahead(chunks())) == [[i, i] for i in range(7)]
    assert readers == {"warehouse-read-ahead"}


def test_an_error_of_the_reader_is_raised_to_the_writer_after_the_chunks_before_it() -> None:
    def chunks() -> Iterator[list[int]]:
        yield [1]
        raise OSError("the store went away")

    ahead = _read_ahead(chunks())
    assert next(ahead) == [1]
    with pytest.raises(OSError, match="went away"):
        next(ahead)


def test_a_writer_stopping_early_stops_and_closes_the_reader() -> None:
    closed = threading.Event()

    def chunks() -> Iterator[list[int]]:
        try:
            i = 0
            while True:
                yield [i]
                i += 1
        finally:
            closed.set()

    ahead = _read_ahead(chunks())
    assert next(ahead) == [0]
    ahead.close()  # joins the reader
    assert closed.is_set()
    assert not any(t.name == "warehouse-read-ahead" for t in threading.enumerate())


def test_one_thread_puts_the_setting_back_even_after_an_error(tmp_path: Path) -> None:
    eng = DuckDBEngine(tmp_path / "w.duckdb")
    eng.execute("SET threads = 2")
    with eng.one_thread():
        assert eng.query("SELECT current_setting('threads')")[0][0] == 1
    assert eng.query("SELECT current_setting('threads')")[0][0] == 2
    with pytest.raises(RuntimeError), eng.one_thread():
        raise RuntimeError
    assert eng.query("SELECT current_setting('threads')")[0][0] == 2
    eng.close()
