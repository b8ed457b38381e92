"""``GroupCommit``: writers that arrive together share one run; each gets its own outcome, in
queue order, and a leader's failure reaches exactly its batch."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from khoyte.gateway.groupcommit import GroupCommit


def test_concurrent_writers_share_runs_and_get_their_own_outcomes() -> None:
    runs: list[list[int]] = []

    def run(items: list[int]) -> list[int | BaseException]:
        runs.append(list(items))
        time.sleep(0.005)  # a flush: writers pile up behind it
        return [ValueError(f"bad {i}") if i % 7 == 3 else i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(run, max_batch=8)

    def submit(i: int) -> int | str:
        try:
            return group.submit(i)
        except ValueError as exc:
            return str(exc)

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(submit, range(200)))
    assert got == [f"bad {i}" if i % 7 == 3 else i * 10 for i in range(200)]
    assert sorted(i for batch in runs for i in batch) == list(range(200))  # each exactly once
    assert max(len(b) for b in runs) <= 8
    assert group.batches == len(runs) < 200  # sharing happened
    assert group.items == 200
    assert group.waiting == 0


def test_a_failing_run_fails_its_whole_batch_and_the_next_batch_still_runs() -> None:
    gate = threading.Event()
    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str | BaseException]:
        calls.append(items)
        if items == ["first"]:
            gate.wait(5)  # hold the first batch while the others queue
            return ["ok"]
        if "boom" in items:
            raise RuntimeError("store down")
        return [f"{i}!" for i in items]

    group: GroupCommit[str, str] = GroupCommit(run)
    results: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            results[item] = group.submit(item)
        except RuntimeError as exc:
            results[item] = exc

    first = threading.Thread(target=submit, args=("first",))
    first.start()
    while group.waiting < 1:
        time.sleep(0.001)
    others = [threading.Thread(target=submit, args=(x,)) for x in ("a", "boom", "b")]
    for t in others:
        t.start()
    while group.waiting < 4:
        time.sleep(0.001)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert results["first"] == "ok"
    # the three queued behind the first were one batch: the run raised, so all three hear it
    assert sorted(calls[1]) == ["a", "b", "boom"]
    assert all(isinstance(results[x], RuntimeError) for x in ("a", "boom", "b"))
    assert group.submit("c") == "c!"  # and the queue goes on


@pytest.mark.parametrize("n", [1, 2])
def test_one_writer_alone_leads_its_own_batch(n: int) -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: [i + 1 for i in items])
    assert [group.submit(i) for i in range(n)] == [i + 1 for i in range(n)]
    assert group.batches == n
