"""Linkage quality against the synth's person truth, with the world's identity noise laid on
top (``khoyte.synth.identity_noise``: date-of-birth typos and partial dates, missing and changed
phones, moves, dropped letters — beside the generator's missing CCCDs, renewed cards and
misspelled names), compared in the same run with linking on CCCD alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from khoyte.persons import model as mdl
from khoyte.persons.link import link
from khoyte.synth.identity_noise import noisy, twins
from tests.persons_helpers import by_cluster, pairwise, province


@pytest.mark.slow
def test_linkage_beats_cccd_only_and_explains_every_link(tmp_path: Path) -> None:
    prov = province(tmp_path / "p", population=20000, end=date(2025, 3, 31))
    communes = prov.communes
    data, truth = twins([noisy(i, communes) for _, i in prov.identities], prov.truth)
    assert len(data) - len(prov.identities) > 50  # twins: same birthday, home and phone
    # The noise is there: partial or swapped dates, missing phones, moved residences.
    assert sum(1 for i in data if i.dob and i.dob.endswith("00")) > 50
    assert sum(1 for i, (_, o) in zip(data, prov.identities, strict=False) if i.dob != o.dob) > 150
    assert sum(1 for i in data if i.phone is None) > len(data) // 5
    res = link(data)
    found = res.person_of()
    precision, recall = pairwise(found, truth)
    c_precision, c_recall = by_cluster(found, truth)
    baseline = {i.key: (i.cccd or i.key) for i in data}
    b_precision, b_recall = pairwise(baseline, truth)
    _, b_c_recall = by_cluster(baseline, truth)
    print(f"index P={precision:.4f} R={recall:.4f} cluster P={c_precision:.4f} R={c_recall:.4f}; "
          f"CCCD only P={b_precision:.4f} R={b_recall:.4f} cluster R={b_c_recall:.4f}; "
          f"compared {res.compared}, reviews {len(res.reviews)}")  # fmt: skip
    assert precision >= 0.995
    assert recall >= 0.99
    assert c_precision >= 0.995
    assert c_recall >= 0.98
    # CCCD alone misses every child without one and every visit whose clerk left it out.
    assert b_recall < 0.9
    assert recall - b_recall > 0.1
    assert c_recall > b_c_recall
    # Splink did real work beyond the keys, and every link it made says why.
    splink = [e for e in res.links if e.method == "splink"]
    assert len(splink) > 20
    prior = mdl.prior_weight(res.model)
    for e in splink:
        assert e.weight is not None
        assert e.weight >= mdl.AUTO_WEIGHT
        assert e.weights
        why = mdl.explain(res.model, e.weights)
        assert {w["field"] for w in why} == set(mdl.COMPARISONS)
        assert abs(prior + sum(w["weight"] for w in why) - e.weight) < 0.01
        agreed = [w for w in why if w["weight"] > 0]
        assert agreed
        assert all(w["label"] for w in agreed)
    # The online scorer (one DuckDB statement from the saved model) gives Splink's weights.
    scorer = mdl.Scorer(res.model)
    for e in splink[:50]:
        (online,) = scorer.score(res.profiles.row(e.left), [res.profiles.row(e.right)])
        assert e.weight is not None
        assert abs(online.weight - e.weight) < 0.01
    for e in res.links:
        if e.method in ("cccd", "bhxh"):
            a, b = res.profiles.row(e.left), res.profiles.row(e.right)
            assert a[e.method] == b[e.method]
