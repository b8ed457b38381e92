"""Batch linkage: identities → persons (clusters of records), pure (no store).

1. Identical identities collapse into one *profile* (a person seen ten times with the same
   details is compared once): lossless, and it shrinks 4 M visits to about 2 M profiles.
2. Deterministic keys: profiles sharing a 12-digit CCCD or a BHXH number (the last 10
   characters of the card) are one person, unless sex or year of birth contradict.
3. Splink scores the candidate pairs of the blocking rules; a pair at or above
   :data:`~khoyte.persons.model.AUTO_WEIGHT` links, one between the thresholds goes to review.
4. Clusters never join two different CCCDs or two different BHXH numbers: such a pair, however
   similar (twins, namesakes born the same day), goes to review instead.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import duckdb

from khoyte.persons import model as mdl
from khoyte.persons.identity import COLUMNS, Identity


@dataclass(slots=True)
class Evidence:
    """One link that joined two clusters: the edges of each cluster's spanning tree, so every
    record's place is explained by a chain of these."""

    left: int  # profile uids
    right: int
    method: str  # "cccd" | "bhxh" | "splink"
    weight: float | None = None  # Splink's match weight
    weights: dict[str, float] | None = None  # comparison → match weight (model.explain)


@dataclass(slots=True)
class Review:
    left: int  # profile uids
    right: int
    weight: float
    weights: dict[str, float]
    reason: str  # "uncertain" | "conflict" (a key disagrees)


MEMORY_LIMIT = "2GB"  # DuckDB's share of a batch (the profiles in Python are the rest)


class Profiles:
    """Distinct identities, column by column (a dict per profile cost ten times the memory):
    ``columns[c][uid]``; ``owner[i]`` is the profile of the ``i``-th identity."""

    def __init__(self, identities: Sequence[Identity]) -> None:
        index: dict[tuple[Any, ...], int] = {}
        self.columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        self.owner = array("i")
        self.first: list[int] = []  # uid → its first identity
        signature = attrgetter(*COLUMNS)  # one C call per identity (this runs 4 M times)
        sigs: list[tuple[Any, ...]] = []
        owner = self.owner
        for i, ident in enumerate(identities):
            sig = signature(ident)
            uid = index.get(sig)
            if uid is None:
                uid = index[sig] = len(sigs)
                self.first.append(i)
                sigs.append(sig)
            owner.append(uid)
        for c, values in zip(COLUMNS, zip(*sigs, strict=True) if sigs else [()] * len(COLUMNS),
                             strict=True):  # fmt: skip
            self.columns[c] = list(values)

    def __len__(self) -> int:
        return len(self.first)

    def row(self, uid: int) -> dict[str, Any]:
        return {"uid": uid, **{c: self.columns[c][uid] for c in COLUMNS}}


@dataclass(slots=True)
class LinkResult:
    identities: Sequence[Identity]
    profiles: Profiles
    cluster: list[int]  # uid → cluster root uid
    links: list[Evidence]
    reviews: list[Review]
    model: dict[str, Any]
    compared: int = 0
    auto_links: int = 0
    deterministic_links: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def key(self, uid: int) -> str:
        """The record key of the profile's first identity."""
        return self.identities[self.profiles.first[uid]].key

    def person_of(self) -> dict[str, int]:
        """record key → cluster id."""
        owner, cluster = self.profiles.owner, self.cluster
        return {ident.key: cluster[owner[i]] for i, ident in enumerate(self.identities)}

    def records_of(self, uids: Iterable[int]) -> dict[int, list[str]]:
        wanted = set(uids)
        out: dict[int, list[str]] = {u: [] for u in wanted}
        for i, uid in enumerate(self.profiles.owner):
            if uid in wanted:
                out[uid].append(self.identities[i].key)
        return out


class _Clusters:
    """Union-find whose components remember their CCCDs and BHXH numbers (a set only for a
    component that has grown; a lone profile's keys are its own columns)."""

    def __init__(self, profiles: Profiles) -> None:
        self.parent = array("i", range(len(profiles)))
        self.own = (profiles.columns["cccd"], profiles.columns["bhxh"])
        self.grown: dict[int, tuple[set[str], set[str]]] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def _keys(self, root: int) -> tuple[set[str], set[str]]:
        got = self.grown.get(root)
        if got is not None:
            return got
        c, b = self.own[0][root], self.own[1][root]
        return ({c} if c else set(), {b} if b else set())

    def conflict(self, a: int, b: int) -> bool:
        (ca, ba), (cb, bb) = self._keys(a), self._keys(b)
        return bool((ca and cb and ca != cb) or (ba and bb and ba != bb))

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or self.conflict(ra, rb):
            return False
        ra, rb = min(ra, rb), max(ra, rb)
        self.parent[rb] = ra
        ka, kb = self._keys(ra), self._keys(rb)
        self.grown[ra] = (ka[0] | kb[0], ka[1] | kb[1])
        self.grown.pop(rb, None)
        return True


def _deterministic(profiles: Profiles, uf: _Clusters, ev: list[Evidence]) -> int:
    n = len(ev)
    cols = profiles.columns
    sex, year = cols["sex"], cols["birth_year"]

    def compatible(a: int, b: int) -> bool:
        sa, sb, ya, yb = sex[a], sex[b], year[a], year[b]
        return (sa is None or sb is None or sa == sb) and (ya is None or yb is None or ya == yb)

    for key in ("cccd", "bhxh"):
        first: dict[str, int] = {}
        for uid, k in enumerate(cols[key]):
            if not k:
                continue
            anchor = first.setdefault(k, uid)
            if anchor != uid and compatible(anchor, uid) and uf.union(anchor, uid):
                ev.append(Evidence(anchor, uid, key))
    return len(ev) - n


def load_profiles(con: duckdb.DuckDBPyConnection, profiles: Profiles) -> str:
    import pyarrow as pa  # type: ignore[import-untyped]

    table = pa.table({"uid": pa.array(range(len(profiles)), pa.int32()),
                      **{c: profiles.columns[c] for c in COLUMNS}})  # fmt: skip
    con.register("profiles_arrow", table)
    con.execute("CREATE OR REPLACE TABLE profiles AS SELECT * FROM profiles_arrow")
    con.unregister("profiles_arrow")
    return "profiles"


def link(
    identities: Iterable[Identity],
    model: dict[str, Any] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    auto: float = mdl.AUTO_WEIGHT,
    review: float = mdl.REVIEW_WEIGHT,
) -> LinkResult:
    """Link ``identities`` into persons; ``model`` reuses trained parameters (else EM)."""
    t0 = time.perf_counter()
    own = con is None
    if con is None:
        import tempfile

        # Bounded: past the limit DuckDB spills the pairs to disk instead of growing.
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT,
                                     "temp_directory": tempfile.gettempdir()})  # fmt: skip
    try:
        idents = identities if isinstance(identities, list) else list(identities)
        profiles = Profiles(idents)
        ev: list[Evidence] = []
        uf = _Clusters(profiles)
        det = _deterministic(profiles, uf, ev)
        table = load_profiles(con, profiles)
        t1 = time.perf_counter()
        if model is None:
            model = mdl.train(con, table)
        t2 = time.perf_counter()
        edges, compared = mdl.predict(con, table, model, floor=review)
        t3 = time.perf_counter()
        autos, reviews = 0, []
        pending: list[tuple[mdl.Edge, str]] = []
        for e in sorted(edges, key=lambda e: -e.weight):
            if e.weight >= auto:
                if uf.union(e.left, e.right):
                    autos += 1
                    ev.append(Evidence(e.left, e.right, "splink", e.weight, e.weights))
                elif uf.find(e.left) != uf.find(e.right):
                    pending.append((e, "conflict"))
            else:
                pending.append((e, "uncertain"))
        seen: set[tuple[int, int]] = set()
        for e, why in pending:
            a, b = sorted((uf.find(e.left), uf.find(e.right)))
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                reviews.append(Review(e.left, e.right, e.weight, e.weights, why))
        cluster = [uf.find(u) for u in range(len(profiles))]
        t4 = time.perf_counter()
        return LinkResult(
            idents, profiles, cluster, ev, reviews, model, compared, autos, det,
            {"prepare": t1 - t0, "train": t2 - t1, "predict": t3 - t2, "cluster": t4 - t3},
        )  # fmt: skip
    finally:
        if own:
            con.close()
