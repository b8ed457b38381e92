"""The incremental loader: ask the source for what came after the watermark, apply it.

A refresh is cheap when nothing is new (one query for the watermark, one call to the source),
so it can run after every submission and/or be polled every second. Within one refresh the
versions are applied in batches; each batch is one transaction that also advances the watermark,
so a crash loses nothing and loads nothing twice.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from khoyte.handoff import PersonSource, RecordPerson, RecordVersion, VersionSource
from khoyte.registry import icd10
from khoyte.standards.assessment import PREFIX as ASSESSMENT_PREFIX
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine
from khoyte.warehouse.transform import (
    Batch,
    add_record,
    person_key_of,
    person_number,
    submission_rows,
)

if TYPE_CHECKING:
    from khoyte.registry.facilities import FacilityEntry

log = logging.getLogger(__name__)

# Version of where dim_icd10's names come from: a store whose ``wh_meta.icd_labels`` differs is
# relabelled from the catalogues when a loader opens it (1: catalogue only, no claim text).
ICD_LABELS_VERSION = "1"
_T = TypeVar("_T")
LOADABLE = frozenset({"accepted", "accepted_with_warnings"})
BATCH = 5000


# dim_facility's columns, from the registry's FacilityEntry (khoyte.registry.facilities)
FACILITY_COLUMNS = ("ma_cskcb", "ten", "tuyen", "loai", "ma_xa", "ten_xa", "ma_tinh", "giuong",
                    "nhan_luc", "active", "valid_from", "valid_to", "revision")  # fmt: skip


def _facility_values(f: FacilityEntry) -> tuple[Any, ...]:
    return (f.code, f.name, f.tier, f.kind, f.commune, f.commune_name, f.province, f.beds,
            f.staff, f.active, f.valid_from, f.valid_to, f.revision)  # fmt: skip


@dataclass
class LoadReport:
    versions: int = 0
    loaded: int = 0
    rejected: int = 0
    superseded: int = 0
    stale: int = 0  # older than what the warehouse already holds
    watermark: int = 0
    facilities: int = 0  # registry rows applied to dim_facility
    registry_watermark: int = 0
    persons: int = 0  # records whose person key the master person index changed
    persons_watermark: int = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while one batch is read and applied. A batch holds
    thousands of decoded records (a few hundred thousand dicts and rows, none in a cycle: they
    go by reference counting); with the collector on, they were scanned again and again as
    they piled up, a quarter of the load's CPU. It is back on between batches, so the other
    threads' cyclic garbage waits one batch at most."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _chunks(it: Iterable[_T], size: int) -> Iterator[list[_T]]:
    i = iter(it)
    while chunk := list(islice(i, size)):
        yield chunk


class Loader:
    """Writes into an analytics engine. One loader per engine: refreshes are serialised."""

    def __init__(self, engine: AnalyticsEngine, person_key: bytes) -> None:
        self.engine = engine
        self.key = person_key
        self._lock = threading.RLock()
        schema.create(engine)
        if schema.get_meta(engine, "aggregates") != schema.AGGREGATES_VERSION:
            # a store written before the aggregates existed: build them once from its facts
            self.rebuild_aggregates()
        if schema.get_meta(engine, "icd_labels") != ICD_LABELS_VERSION:
            self.relabel_icd10()

    # -- watermark ------------------------------------------------------------------------
    def watermark(self) -> int:
        v = schema.get_meta(self.engine, "watermark")
        return int(v) if v else 0

    def as_of(self) -> str | None:
        return schema.get_meta(self.engine, "as_of")

    # -- registry -------------------------------------------------------------------------
    def registry_watermark(self, key: str) -> int:
        v = schema.get_meta(self.engine, f"registry_watermark:{key}")
        return int(v) if v else 0

    def upsert_facilities(
        self, facilities: Iterable[FacilityEntry], watermark: tuple[str, int] | None = None
    ) -> int:
        """Write these facilities into ``dim_facility`` (replacing rows of the same code) and,
        in the same transaction, the registry watermark ``(key, revision)`` when given."""
        rows = list({f.code: f for f in facilities}.values())
        with self._lock, self.engine.transaction():
            if rows:
                values = [_facility_values(f) for f in rows]
                cols = {n: _obj([v[i] for v in values]) for i, n in enumerate(FACILITY_COLUMNS)}
                self._set_keys(cols["ma_cskcb"], cols["ma_cskcb"])
                self.engine.execute(
                    "DELETE FROM dim_facility WHERE ma_cskcb IN "
                    "(SELECT facility FROM wh_batch_keys)"
                )
                self.engine.insert_columns("dim_facility", cols)
                self.engine.execute("DELETE FROM wh_batch_keys")
            if watermark is not None:
                schema.set_meta(self.engine, f"registry_watermark:{watermark[0]}",
                                str(watermark[1]))  # fmt: skip
        return len(rows)

    def refresh_registry(self, source: VersionSource) -> tuple[int, int]:
        """Apply the facilities changed after this warehouse's registry watermark (the
        registry's own watermark, beside the record versions'). Returns (rows, watermark)."""
        key = source.registry_key
        with self._lock:
            mark = self.registry_watermark(key)
            changed = source.facilities_since(mark)
            if not changed:
                return 0, mark
            top = max(mark, *(f.revision for f in changed))
            return self.upsert_facilities(changed, (key, top)), top

    # -- persons --------------------------------------------------------------------------
    def persons_watermark(self) -> int:
        v = schema.get_meta(self.engine, "persons_watermark")
        return int(v) if v else 0

    def refresh_persons(self, persons: PersonSource, batch_size: int = 50000) -> tuple[int, int]:
        """Apply the health IDs changed after the persons watermark (online links, batches,
        merges, unmerges): ``map_person`` keeps each linked record's pseudonymous person key,
        and the records already loaded get it. One transaction per chunk; a chunk that may end
        inside a revision sets the watermark just below it (applying a change twice gives the
        same rows), the last one to the highest revision read. Returns (changes, watermark)."""
        with self._lock:
            mark = self.persons_watermark()
            n = 0
            chunks = _chunks(persons.persons_since(mark), batch_size)
            chunk = next(chunks, None)
            while chunk is not None:
                following = next(chunks, None)
                top = chunk[-1].revision if following is None else chunk[-1].revision - 1
                mark = max(mark, top)
                self._apply_persons(chunk, mark)
                n += len(chunk)
                chunk = following
            return n, mark

    def _apply_persons(self, chunk: list[RecordPerson], mark: int) -> None:
        latest = {(p.facility, p.ma_lk): p for p in chunk}  # the newest change wins
        keys = [person_key_of(self.key, p.health_id) for p in latest.values()]
        eng = self.engine
        with eng.transaction():
            eng.execute("DELETE FROM wh_person_batch")
            eng.insert_columns("wh_person_batch", {
                "facility": _obj([k[0] for k in latest]),
                "ma_lk": _obj([k[1] for k in latest]),
                "person_key": _obj(keys),
                "person": _obj([person_number(k) for k in keys]),
            })  # fmt: skip
            eng.execute(
                "DELETE FROM map_person WHERE EXISTS (SELECT 1 FROM wh_person_batch b "
                "WHERE b.facility = map_person.facility AND b.ma_lk = map_person.ma_lk)"
            )
            eng.execute(
                "INSERT INTO map_person (facility, ma_lk, person_key) "
                "SELECT facility, ma_lk, person_key FROM wh_person_batch"
            )
            # A record's current version id is at least the one the index linked: from there
            # on only (DuckDB's zone maps skip the older row groups; an online link of a new
            # record reads the newest ones only).
            eng.execute(
                "UPDATE fact_episode SET person_key = b.person_key, person = b.person "
                "FROM wh_person_batch b "
                "WHERE fact_episode.version_id >= ? AND b.facility = fact_episode.facility "
                "AND b.ma_lk = fact_episode.ma_lk "
                "AND fact_episode.person_key IS DISTINCT FROM b.person_key",
                [min(p.version_id for p in latest.values())],
            )
            eng.execute("DELETE FROM wh_person_batch")
            schema.set_meta(eng, "persons_watermark", str(mark))

    def _linked(self) -> dict[tuple[str, str], str]:
        """Person keys of the batch's records the master person index has linked."""
        rows = self.engine.query(
            "SELECT m.facility, m.ma_lk, m.person_key FROM map_person m "
            "JOIN wh_batch_keys k ON k.facility = m.facility AND k.ma_lk = m.ma_lk"
        )
        return {(str(f), str(m)): str(p) for f, m, p in rows}

    # -- loading --------------------------------------------------------------------------
    def refresh(
        self, source: VersionSource, batch_size: int = BATCH, persons: PersonSource | None = None
    ) -> LoadReport:
        """Load the person index's changes, then every version after the watermark (records
        then find their person key in ``map_person``: a first load writes each key once)."""
        with self._lock:
            got = self.refresh_persons(persons) if persons is not None else (0, 0)
            report = self._refresh(source, batch_size)
            report.persons, report.persons_watermark = got
            return report

    def _refresh(self, source: VersionSource, batch_size: int) -> LoadReport:
        with self._lock:
            report = LoadReport(watermark=self.watermark())
            report.facilities, report.registry_watermark = self.refresh_registry(source)
            chunks = _chunks(source.iter_versions(report.watermark), batch_size)
            while True:
                with _gc_paused():
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    self._apply(chunk, report)
            if report.loaded and not self.engine.query("SELECT 1 FROM dim_facility LIMIT 1"):
                log.warning(
                    "Kho có hồ sơ nhưng danh mục cơ sở trống: bảng điều khiển không có tên, xã, "
                    "tuyến; hãy chạy `khoyte facility import TỆP` / the warehouse has records but "
                    "no facility: run `khoyte facility import FILE` (docs/registry.md)"
                )
            return report

    def rebuild(self, source: VersionSource, persons: PersonSource | None = None) -> LoadReport:
        """Drop the facts and load everything again; the registry and the person index are
        fed again from the start (registry rows the source no longer has are kept: facts may
        still name them)."""
        with self._lock, self.engine.transaction():
            for t in (*schema.CURRENT_TABLES, "fact_submission", *schema.AGGREGATES,
                      "map_person"):  # fmt: skip
                self.engine.execute(f"DELETE FROM {t}")
            self.engine.execute(
                "DELETE FROM wh_meta WHERE key IN ('watermark', 'as_of', 'persons_watermark') "
                "OR key LIKE 'registry_watermark:%'"
            )
        return self.refresh(source, persons=persons)

    def rebuild_aggregates(self) -> None:
        """Compute every aggregate table again from the facts (one GROUP BY each)."""
        with self._lock, self.engine.transaction():
            for agg, (fact, keys, measures) in schema.AGGREGATES.items():
                self.engine.execute(f"DELETE FROM {agg}")
                self.engine.execute(
                    f"INSERT INTO {agg} ({', '.join((*keys, *measures))}) "
                    f"{_agg_select(agg, fact, keys, measures)} GROUP BY {_positions(keys)} "
                    # in key order (day first): DuckDB's zone maps then skip the days not asked
                    f"ORDER BY {_positions(keys)}"
                )
            schema.set_meta(self.engine, "aggregates", schema.AGGREGATES_VERSION)

    def _delta(self, agg: str, ids: list[int], sign: int) -> None:
        """Add to the scratch delta of ``agg`` the facts with these version ids, counted with
        ``sign`` (−1 for rows about to be deleted, +1 for rows just inserted). The ids go into
        a scratch table in one columnar insert and are joined: one statement per batch (an
        ``IN (?, …)`` list per 500 ids cost most of a first load's time)."""
        if not ids:
            return
        fact, keys, measures = schema.AGGREGATES[agg]
        self.engine.execute("DELETE FROM wh_batch_ids")
        self.engine.insert_columns("wh_batch_ids", {"version_id": np.asarray(ids, np.int64)})
        self.engine.execute(
            f"INSERT INTO wh_delta_{agg} ({', '.join((*keys, *measures))}) "
            f"{_agg_select(agg, fact, keys, measures, sign)} "
            "WHERE e.version_id BETWEEN ? AND ? "
            "AND e.version_id IN (SELECT version_id FROM wh_batch_ids) "
            f"GROUP BY {_positions(keys)}",
            [min(ids), max(ids)],
        )
        self.engine.execute("DELETE FROM wh_batch_ids")

    def _merge(self, agg: str) -> None:
        """Fold the scratch delta into ``agg``: the rows of the keys it touches are summed with
        it and written again (rows left with no record go away)."""
        _, keys, measures = schema.AGGREGATES[agg]
        delta = f"wh_delta_{agg}"
        cols = ", ".join((*keys, *measures))
        match = " AND ".join(f"d.{k} IS NOT DISTINCT FROM a.{k}" for k in keys)
        hit = f"EXISTS (SELECT 1 FROM {delta} d WHERE {match})"
        eng = self.engine
        eng.execute(f"INSERT INTO {delta} ({cols}) SELECT {cols} FROM {agg} a WHERE {hit}")
        eng.execute(f"DELETE FROM {agg} a WHERE {hit}")
        sums = ", ".join(f"{schema.AGG_COMBINE.get(m, 'SUM')}({m})" for m in measures)
        first = next(iter(measures))
        eng.execute(
            f"INSERT INTO {agg} ({cols}) SELECT {', '.join(keys)}, {sums} FROM {delta} "
            f"GROUP BY {', '.join(keys)} HAVING SUM({first}) <> 0"
        )
        eng.execute(f"DELETE FROM {delta}")

    def _existing(self) -> dict[tuple[str, str], tuple[int | None, int]]:
        """(version, version_id) held for the keys of the batch: of the episode, or of a
        medical assessment sent as its own document (its paper row alone, no version number:
        its version id, which grows with arrival, orders it)."""
        rows = self.engine.query(
            "SELECT e.facility, e.ma_lk, e.version, e.version_id FROM fact_episode e "
            "JOIN wh_batch_keys k ON k.facility = e.facility AND k.ma_lk = e.ma_lk "
            "UNION ALL SELECT a.facility, a.ma_lk, NULL, a.version_id FROM fact_assessment a "
            "JOIN wh_batch_keys k ON k.facility = a.facility AND k.ma_lk = a.ma_lk "
            "WHERE a.ma_lk LIKE ?",
            [f"{ASSESSMENT_PREFIX}%"],
        )
        return {(str(f), str(m)): (None if v is None else int(v), int(i)) for f, m, v, i in rows}

    def _set_keys(self, facility: np.ndarray[Any, Any], ma_lk: np.ndarray[Any, Any]) -> None:
        self.engine.execute("DELETE FROM wh_batch_keys")
        self.engine.insert_columns("wh_batch_keys", {"facility": facility, "ma_lk": ma_lk})

    def _apply(self, chunk: list[RecordVersion], report: LoadReport) -> None:
        report.versions += len(chunk)
        newest: dict[tuple[str, str], RecordVersion] = {}
        for rv in chunk:
            if rv.status not in LOADABLE:
                report.rejected += 1
                continue
            k = (rv.facility, rv.ma_lk)
            old = newest.get(k)
            if old is None or rv.version > old.version:
                if old is not None:
                    report.superseded += 1
                newest[k] = rv
            else:
                report.stale += 1
        eng = self.engine
        with eng.transaction():
            eng.insert_columns("fact_submission", submission_rows(chunk).arrays())
            self._delta("agg_submission", [rv.version_id for rv in chunk], +1)
            self._merge("agg_submission")
            if newest:
                keys = list(newest)
                self._set_keys(_obj([k[0] for k in keys]), _obj([k[1] for k in keys]))
                existing = self._existing()
                linked = self._linked()
                batch = Batch()
                replace: list[int] = []
                loaded_ids: list[int] = []
                for k, rv in newest.items():
                    have = existing.get(k)
                    if have is not None and (
                        have[1] >= rv.version_id if have[0] is None else have[0] >= rv.version
                    ):
                        report.stale += 1
                        continue
                    if have is not None:
                        report.superseded += 1
                        replace.append(have[1])
                    try:
                        add_record(batch, rv, self.key, linked.get(k))
                    except LookupError:  # no XML1: nothing to count
                        report.rejected += 1
                        continue
                    report.loaded += 1
                    loaded_ids.append(rv.version_id)
                for agg in schema.EPISODE_AGGREGATES:
                    self._delta(agg, replace, -1)
                for lo in range(0, len(replace), 500):
                    ids = replace[lo : lo + 500]
                    marks = ", ".join("?" * len(ids))
                    for t in schema.CURRENT_TABLES:
                        eng.execute(f"DELETE FROM {t} WHERE version_id IN ({marks})", ids)
                eng.execute("DELETE FROM wh_batch_keys")
                for table, cols in batch.tables().items():
                    if len(cols):
                        eng.insert_columns(table, cols.arrays())
                for agg in schema.EPISODE_AGGREGATES:
                    self._delta(agg, loaded_ids, +1)
                    self._merge(agg)
                self._add_icd_codes(batch.icd_codes)
            top = max(rv.version_id for rv in chunk)
            report.watermark = max(report.watermark, top)
            schema.set_meta(eng, "watermark", str(report.watermark))
            schema.set_meta(eng, "as_of", datetime.now(UTC).isoformat(timespec="seconds"))

    def _add_icd_codes(self, codes: Iterable[str]) -> None:
        """New codes get their names from the catalogues (``registry.icd10``) only."""
        known = {str(r[0]) for r in self.engine.query("SELECT code FROM dim_icd10")}
        new = sorted(set(codes) - known)
        if new:
            self.engine.insert_columns("dim_icd10", _icd_columns(new))

    def relabel_icd10(self) -> None:
        """Give every code of ``dim_icd10`` its catalogue names again: a store loaded before
        labels came from the catalogue holds facilities' free text there (F7)."""
        with self._lock, self.engine.transaction():
            codes = sorted(str(r[0]) for r in self.engine.query("SELECT code FROM dim_icd10"))
            self.engine.execute("DELETE FROM dim_icd10")
            if codes:
                self.engine.insert_columns("dim_icd10", _icd_columns(codes))
            schema.set_meta(self.engine, "icd_labels", ICD_LABELS_VERSION)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"engine": self.engine.name, "watermark": self.watermark()}
        for t in (
            *schema.CURRENT_TABLES,
            "fact_submission",
            *schema.AGGREGATES,
            "dim_facility",
            "dim_icd10",
            "map_person",
        ):
            out[t] = int(self.engine.query(f"SELECT COUNT(*) FROM {t}")[0][0])
        out["as_of"] = self.as_of()
        out["persons_watermark"] = self.persons_watermark()
        out["registry_watermarks"] = {
            str(k).split(":", 1)[1]: int(v)
            for k, v in self.engine.query(
                "SELECT key, value FROM wh_meta WHERE key LIKE 'registry_watermark:%' ORDER BY 1"
            )
        }
        return out


def _agg_select(
    agg: str, fact: str, keys: tuple[str, ...], measures: dict[str, str], sign: int = 1
) -> str:
    """``SELECT keys, measures FROM fact e`` (without GROUP BY), measures times ``sign``."""
    exprs = schema.AGG_KEY_EXPRS.get(agg, {})
    ms = [expr if sign == 1 or m in schema.AGG_COMBINE else f"{sign} * ({expr})"
          for m, expr in measures.items()]  # fmt: skip
    ks = [exprs.get(k, f"e.{k}") for k in keys]
    return f"SELECT {', '.join(ks)}, {', '.join(ms)} FROM {fact} e"


def _positions(keys: tuple[str, ...]) -> str:
    return ", ".join(str(i + 1) for i in range(len(keys)))


def _icd_columns(codes: list[str]) -> dict[str, np.ndarray[Any, Any]]:
    return {
        "code": _obj(codes),
        "name_vi": _obj([icd10.name_vi(c) for c in codes]),
        "name_en": _obj([icd10.description(c) for c in codes]),
        "chapter": _obj([icd10.chapter(c) for c in codes]),
    }


def _obj(values: list[Any]) -> np.ndarray[Any, Any]:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr
