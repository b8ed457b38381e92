"""The master person index: batch linkage time and peak memory, extrapolated to a 1.7 M-person
province-year (≈ 4 M visits); online linking of one record (p50, p95); quality against truth.

Identities come straight from the synth's population (the XML round trip is the reader's
benchmark, not this one): visits drawn by the synth's consulting weights, each written as a
clerk writes it (the synth's noise: CCCD left out 3 %, names mistyped 3 %, the card valid that
day) plus ``khoyte.synth.identity_noise`` (date typos, missing phones, moves, 1 % twins). Two sizes run;
the extrapolation uses the growth measured between them (pairs compared grow faster than
linearly: blocks such as one date of birth fill up as the province grows).

Run: ``python -m benchmarks.persons [--quick]``; ``--persons 1700000`` measures that size directly
(a province-year: time and peak memory of the whole batch, not an estimate).
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.persons_helpers import pairwise

from khoyte.persons.identity import Identity, bhxh_of, fold
from khoyte.persons.index import PersonIndex
from khoyte.persons.link import link
from khoyte.store.db import make_engine, migrate
from khoyte.synth.identity_noise import noisy, twins
from khoyte.synth.names import misspell
from khoyte.synth.people import catchment
from khoyte.synth.province import build_province

TARGET_PERSONS = 1_700_000
VISITS_PER_PERSON = 4_000_000 / 1_700_000
START = date(2025, 1, 1)


def identities(persons: int, seed: int = 5) -> tuple[list[Identity], dict[str, int]]:
    prov = build_province(seed, "82", persons, START)
    pop = prov.pop
    r = random.Random(seed)
    everyone = catchment(pop, None)
    n = int(persons * VISITS_PER_PERSON)
    pids = everyone.sample(r, n)
    communes = [c.code for c in prov.geo.communes]
    out, truth = [], {}
    for seq, pid in enumerate(pids):
        day = START + timedelta(days=r.randrange(365))
        cccd = pop.cccd_number(pid)
        if cccd is not None and r.random() < 0.03:
            cccd = None
        name = pop.name(pid)
        if r.random() < 0.03:
            name = misspell(name, r.randrange(4))
        card = pop.card_on(pid, day)
        born = pop.birth_date(pid)
        norm = fold(name)
        parts = norm.split(" ")
        ident = Identity(
            "82001", f"LK{seq:09d}", name, norm, parts[0], parts[-1], f"{parts[0]} {parts[-1]}",
            f"{born:%Y%m%d}", born.year, "1" if pop.male[pid] else "2", cccd,
            bhxh_of(card[0]) if card else None, card[0] if card else None,
            prov.geo.communes[int(pop.commune[pid])].code, pop.phone(pid),
        )  # fmt: skip
        ident = noisy(ident, communes)
        out.append(ident)
        truth[ident.key] = pid
    return twins(out, truth)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(persons: int) -> tuple[int, int, dict[str, float], float]:
    ids, truth = identities(persons)
    rss0 = _rss_mb()
    t = time.perf_counter()
    res = link(ids)
    secs = time.perf_counter() - t
    p, rcl = pairwise(res.person_of(), truth)
    print(f"{persons:>9,} persons, {len(ids):>9,} visits → {len(res.profiles):,} profiles, "
          f"{res.compared:,} pairs compared, {res.deterministic_links:,} key links, "
          f"{res.auto_links:,} Splink links, {len(res.reviews):,} review items; "
          f"{secs:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in res.seconds.items())}); "
          f"peak RSS {_rss_mb():.0f} MB (before linking {rss0:.0f} MB); "
          f"pairwise P={p:.4f} R={rcl:.4f}")  # fmt: skip
    return len(ids), res.compared, res.seconds, _rss_mb() - rss0


def online(persons: int, n: int) -> None:
    ids, _ = identities(persons, seed=9)
    cut = len(ids) - n
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url=f"sqlite:///{Path(tmp) / 'store.sqlite3'}")
        migrate(engine)
        index = PersonIndex()
        with Session(engine) as s:
            index.batch(s, list(enumerate(ids[:cut], 1)))
            s.commit()
            times = []
            for k, ident in enumerate(ids[cut:]):
                t = time.perf_counter()
                index.link_one(s, ident, cut + k + 1)
                times.append(time.perf_counter() - t)
            s.commit()
        engine.dispose()
    times.sort()
    print(f"online: {n} records against an index of {cut:,}: p50 {times[n // 2] * 1000:.1f} ms, "
          f"p95 {times[int(n * 0.95)] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")  # fmt: skip


def record_page(population: int, n: int) -> None:
    """The health record's query and its FHIR Bundle (what ``GET /api/v1/persons/{id}`` and
    ``/fhir`` compute), from a store filled through the gateway, per person."""
    from khoyte.config import Settings
    from khoyte.gateway.ingest import ingest, local_submitter
    from khoyte.persons.fhir import bundle
    from khoyte.persons.index import store_identities
    from khoyte.persons.models import PersonRecord
    from khoyte.persons.record import health_record
    from khoyte.registry.facilities import import_file
    from khoyte.services import build_services
    from khoyte.synth.generate import SynthConfig, run

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "synth"
        run(
            SynthConfig(seed=4, population=population, end=date(2025, 3, 31), aggregates=False), out
        )
        services = build_services(Settings(data_dir=Path(tmp) / "data"), warehouse=False)
        service = services.intake
        with Session(service.engine) as s:
            import_file(s, out / "facilities.csv")
            s.commit()
        ingest([out / "xml"], local_submitter(service))
        with Session(service.engine) as s:
            PersonIndex().batch(s, store_identities(service.engine))
            s.commit()
            ids = sorted(set(s.scalars(select(PersonRecord.health_id))))
            rng = random.Random(1)
            sample = [rng.choice(ids) for _ in range(n)]
            times, sizes = [], []
            for hid in sample:
                t = time.perf_counter()
                rec = health_record(s, hid)
                assert rec is not None
                bundle(rec)
                times.append(time.perf_counter() - t)
                sizes.append(len(rec["visits"]))
            # the page over HTTP, as facility staff (the role that reads records) of the
            # facility with the most records, for persons that facility treated
            fac = s.execute(select(PersonRecord.facility, func.count()).group_by(
                PersonRecord.facility).order_by(func.count().desc()).limit(1)).one()[0]  # fmt: skip
            treated = sorted(set(s.scalars(
                select(PersonRecord.health_id).where(PersonRecord.facility == fac))))  # fmt: skip
        services.close()
        page_times = _page_times(Path(tmp) / "data", fac, [rng.choice(treated) for _ in range(n)])
    times.sort()
    print(f"health record + FHIR Bundle: {n} persons of {len(ids):,} (up to {max(sizes)} visits "
          f"each): p50 {times[n // 2] * 1000:.1f} ms, p95 {times[int(n * 0.95)] * 1000:.1f} ms "
          f"(query and Bundle, no HTTP)")  # fmt: skip
    print(f"health record page over HTTP (GET /persons/{{id}}, signed-in facility staff, {n} "
          f"persons of {len(treated):,} treated by {fac}): p50 {page_times[n // 2] * 1000:.1f} ms, "
          f"p95 {page_times[int(n * 0.95)] * 1000:.1f} ms (goal: p95 < 300 ms)")  # fmt: skip


def _page_times(data: Path, facility: str, sample: list[str]) -> list[float]:
    """``GET /persons/{health_id}`` through the whole app (auth, audit, template), timed."""
    from tests.security_helpers import make_env

    env = make_env(data, None, database_url=f"sqlite:///{data / 'khoyte.sqlite3'}")  # type: ignore[arg-type]
    env.add_user("bench", ["facility_staff"], [f"facility:{facility}"])
    headers = {"Authorization": f"Bearer {env.token('bench')}"}
    out = []
    with env.client() as client:
        for hid in sample:
            t = time.perf_counter()
            r = client.get(f"/persons/{hid}", headers=headers)
            out.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:200]
    return sorted(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--persons", type=int, help="measure one batch linkage of this many persons (no estimate)"
    )
    args = ap.parse_args(argv)
    if args.persons:
        batch(args.persons)
        return
    small, large = (10_000, 40_000) if args.quick else (50_000, 200_000)
    v1, c1, _, _ = batch(small)
    v2, c2, s2, m2 = batch(large)
    # Training samples a bounded number of pairs (about constant); preparing and clustering
    # grow with the visits; scoring with the pairs compared, whose growth is measured here.
    target = TARGET_PERSONS * VISITS_PER_PERSON
    pairs_exp = math.log(max(c2, 1) / max(c1, 1)) / math.log(v2 / v1)
    pairs = c2 * (target / v2) ** pairs_exp
    est = (s2["train"] + (s2["prepare"] + s2["cluster"]) * target / v2
           + s2["predict"] * pairs / max(c2, 1))  # fmt: skip
    print(f"pairs compared grow as visits^{pairs_exp:.2f}; at 1.7 M persons (≈{target / 1e6:.1f} M "
          f"visits) ≈ {pairs / 1e6:.0f} M pairs, ≈ {est / 60:.1f} min on this machine "
          f"(train {s2['train']:.0f} s + prepare/cluster linear + scoring ∝ pairs); memory "
          f"added by linking {m2:.0f} MB at {v2:,} visits → ≈ {m2 * target / v2 / 1024:.1f} GB "
          f"if linear (goal: ≤ 5 min, ≤ 8 GB). Estimates, not measurements.")  # fmt: skip
    online(small if args.quick else 50_000, 200 if args.quick else 500)
    record_page(3000 if args.quick else 10_000, 100 if args.quick else 300)


if __name__ == "__main__":
    main()
