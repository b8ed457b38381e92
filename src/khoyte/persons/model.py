"""The probabilistic half of the index: a Splink (Fellegi–Sunter) model on DuckDB.

Each comparison has levels from "agrees exactly" down to "disagrees"; Splink estimates how often
each level occurs among true matches (m, by expectation maximisation on blocked pairs) and among
random pairs (u, by sampling), and a pair's match weight is the sum of log2(m/u) over the
comparisons. The weights per comparison are kept with every link (``explain``), so an auto-link
can always say which fields agreed and how much each counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

log = logging.getLogger(__name__)

# Thresholds on the match weight (log2 of the Bayes factor, prior included):
# ≥ AUTO links without a person; [REVIEW, AUTO) goes to the review queue; below is distinct.
AUTO_WEIGHT = 12.0
REVIEW_WEIGHT = 2.0

# (output column, [(sql condition, label), …]) — most specific level first; the null level is
# added first and the else level last.
_LEVELS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "name": (
        "name_norm",
        [
            ("name_norm_l = name_norm_r", "họ tên trùng / name exact"),
            ("name_key_l = name_key_r", "họ và tên trùng, thiếu đệm / first + last name"),
            (
                "jaro_winkler_similarity(name_norm_l, name_norm_r) >= 0.92",
                "họ tên gần giống / name similar (JW ≥ 0.92)",
            ),
            ("family_l = family_r", "chỉ trùng họ / family name only"),
        ],
    ),
    "dob": (
        "dob",
        [
            ("dob_l = dob_r", "ngày sinh trùng / date of birth exact"),
            (
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND (substr(dob_l, 5, 2) = '00' OR "
                "substr(dob_r, 5, 2) = '00' OR (substr(dob_l, 5, 2) = substr(dob_r, 5, 2) AND "
                "(substr(dob_l, 7, 2) = '00' OR substr(dob_r, 7, 2) = '00')))",
                "ngày sinh khớp phần đã biết / partial date agrees",
            ),
            (
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 5, 2) = "
                "substr(dob_r, 7, 2) AND substr(dob_l, 7, 2) = substr(dob_r, 5, 2)",
                "ngày và tháng đảo / day and month swapped",
            ),
            ("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "trùng năm sinh / year only"),
        ],
    ),
    "sex": ("sex", [("sex_l = sex_r", "giới tính trùng / sex agrees")]),
    "commune": ("commune", [("commune_l = commune_r", "xã cư trú trùng / commune agrees")]),
    "phone": ("phone", [("phone_l = phone_r", "điện thoại trùng / phone agrees")]),
    "cccd": ("cccd", [("cccd_l = cccd_r", "CCCD trùng / CCCD agrees")]),
    "bhxh": ("bhxh", [("bhxh_l = bhxh_r", "mã BHXH trùng / BHXH number agrees")]),
}

COMPARISONS = tuple(_LEVELS)
# The columns the comparisons read (all compared as text; birth_year only blocks).
_COLUMNS = ("name_norm", "name_key", "family", "dob", "sex", "commune", "phone", "cccd", "bhxh")

# Candidate pairs: any of these agrees (Splink removes duplicates across rules).
# Family + given name with only the birth year made nine pairs in ten at 200 k persons and grew
# quadratically; a date typo is caught by the same month (a day written 00) or, within the
# same year, by the same commune (a day and month swapped, or only the year known).
_BLOCKING = (
    ("dob", "sex", "family"),
    ("phone",),
    ("name_key", "birth_year", "commune"),
    ("name_key", "substr(dob, 1, 6)"),
    ("cccd",),
    ("bhxh",),
)


def settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any] = []
    for out, (column, levels) in _LEVELS.items():
        # Starting values: a level the data never shows (no partial dates in a clean year)
        # keeps them instead of being left untrained.
        n = len(levels)
        custom = [
            cll.CustomLevel(sql, label).configure(
                m_probability=0.9 if i == 0 else 0.05 / n, u_probability=0.01 * (i + 1) / n
            )
            for i, (sql, label) in enumerate(levels)
        ]
        comparisons.append(
            cl.CustomComparison(
                output_column_name=out,
                comparison_levels=[
                    cll.NullLevel(column),
                    *custom,
                    cll.ElseLevel().configure(m_probability=0.02, u_probability=0.95),
                ],
            )
        )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in _BLOCKING],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


@dataclass(frozen=True, slots=True)
class Edge:
    left: int  # uid of a profile
    right: int
    weight: float  # match weight (log2 Bayes factor, prior included)
    probability: float
    weights: dict[str, float]  # comparison → its match weight (Splink's mw_<comparison>)


def _linker(con: duckdb.DuckDBPyConnection, table: str, model: dict[str, Any] | None) -> Any:
    from splink import DuckDBAPI, Linker

    api = DuckDBAPI(con)
    df = api.register(table, dataset_display_name="profiles")
    return Linker(df, model if model is not None else settings(), log_level=logging.ERROR)


def train(con: duckdb.DuckDBPyConnection, table: str, seed: int = 1) -> dict[str, Any]:
    """Estimate the model's parameters from the profiles in ``table`` (no labels needed):
    the prior from pairs agreeing on CCCD, u by random sampling, m by EM on two blockings
    (each estimates the comparisons it does not block on)."""
    from splink import block_on
    from splink.internals.exceptions import EMTrainingException, SplinkException

    linker = _linker(con, table, None)
    # A small store (a new installation, a test) has too few pairs for some estimates: each
    # step that cannot run keeps the starting values, and says so.
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("cccd"), block_on("bhxh")], recall=0.8
        )
    except (SplinkException, ZeroDivisionError, ValueError) as exc:
        log.warning("persons: prior not estimated (%s)", exc)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for cols in (("dob", "sex"), ("phone",), ("name_key", "birth_year")):
        rule = block_on(*cols)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        # ValueError: a level EM drove to m = 0 (never seen among matches in clean data)
        # underflows Splink's check; this blocking's estimates are dropped, the others stand.
        except (EMTrainingException, SplinkException, ValueError) as exc:
            log.warning("persons: EM on %s skipped (%s)", "+".join(cols), str(exc).splitlines()[0])
    return floor_m(linker.misc.save_model_to_json())


# A level EM never saw among matches in this data (a swapped date in a clean year) still
# happens in the world (half a percent of matches, at least): it weighs log2(M_FLOOR/u), not
# minus infinity.
M_FLOOR = 0.005


def floor_m(model: dict[str, Any]) -> dict[str, Any]:
    # A store with no pair agreeing on a key estimates a prior of 0 (log of 0 in every weight).
    p = float(model.get("probability_two_random_records_match") or 0.0)
    model["probability_two_random_records_match"] = min(max(p, 1e-7), 0.5)
    for comp in model["comparisons"]:
        for lv in comp["comparison_levels"]:
            if "m_probability" in lv:
                lv["m_probability"] = max(float(lv["m_probability"]), M_FLOOR)
    return model


def predict(
    con: duckdb.DuckDBPyConnection, table: str, model: dict[str, Any], floor: float = REVIEW_WEIGHT
) -> tuple[list[Edge], int]:
    """Every candidate pair scoring at least ``floor``, and how many pairs were compared."""
    linker = _linker(con, table, model)
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    # Table names are Splink's own; columns ours: nothing from the data reaches the SQL text.
    pairs = f"SELECT count(*) FROM {blocked.physical_name}"  # noqa: S608  # nosec B608
    compared = int(con.execute(pairs).fetchall()[0][0])
    scored = linker.inference.predict(threshold_match_weight=floor, warning_mode="never")
    names = list(_LEVELS)
    probe = con.execute(f"SELECT * FROM {scored.physical_name} LIMIT 0")  # noqa: S608  # nosec B608
    have = {d[0] for d in probe.description or ()}
    probe.fetchall()  # finish the result before the next statement on this connection
    # Splink leaves out the column of a comparison whose every level weighs the same (nothing
    # learned, e.g. on a tiny store): it counts 0 in every pair.
    cols = ", ".join(f"mw_{n}" if f"mw_{n}" in have else "0.0" for n in names)
    rows = con.execute(
        f"SELECT uid_l, uid_r, match_weight, match_probability, {cols} FROM {scored.physical_name}"  # noqa: S608  # nosec B608
    ).fetchall()
    return [
        Edge(
            int(r[0]),
            int(r[1]),
            float(r[2]),
            float(r[3]),
            dict(zip(names, map(float, r[4:]), strict=True)),
        )
        for r in rows
    ], compared


def level_weights(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, float]]]:
    """comparison → gamma → (label, log2 m/u) from a saved model."""
    import math

    out: dict[str, dict[int, tuple[str, float]]] = {}
    for comp in model["comparisons"]:
        levels: dict[int, tuple[str, float]] = {}
        non_null = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for i, lv in enumerate(non_null):
            gamma = len(non_null) - 1 - i
            m, u = lv.get("m_probability"), lv.get("u_probability")
            w = math.log2(m / u) if m and u else 0.0
            levels[gamma] = (str(lv.get("label_for_charts", "")), round(w, 3))
        levels[-1] = ("thiếu / missing", 0.0)
        out[str(comp["output_column_name"])] = levels
    return out


def prior_weight(model: dict[str, Any]) -> float:
    """The match weight of two records before any field is compared (log2 prior odds)."""
    import math

    p = float(model["probability_two_random_records_match"])
    return math.log2(p / (1 - p))


FIELD_LABELS = {
    "name": "họ tên / name", "dob": "ngày sinh / date of birth", "sex": "giới tính / sex",
    "commune": "xã cư trú / commune", "phone": "điện thoại / phone", "cccd": "CCCD",
    "bhxh": "mã BHXH / BHXH number",
}  # fmt: skip


def explain(model: dict[str, Any] | None, weights: dict[str, float]) -> list[dict[str, Any]]:
    """Which fields agreed and with what weight: one item per comparison, the level named by
    the model's level of that weight (a null level weighs 0; without a model, the field)."""
    table = level_weights(model) if model else {}
    out = []
    for name, w in weights.items():
        if not w:
            label = "thiếu / missing"
        elif name in table:
            label = min(table[name].values(), key=lambda lv: abs(lv[1] - w))[0]
        else:
            label = FIELD_LABELS.get(name, name)
        out.append({"field": name, "label": label, "weight": round(w, 3)})
    return out


class Scorer:
    """Scores one new record against its candidates in one DuckDB statement built from the
    saved model: the same level conditions (their SQL as Splink stored them) and the same
    weights as the batch, without Splink's per-call table registration (the online path's
    p95 budget is 50 ms)."""

    def __init__(self, model: dict[str, Any]) -> None:
        import math

        self.model = model
        self.prior = prior_weight(model)
        cases = []
        for comp in model["comparisons"]:
            whens = []
            for lv in comp["comparison_levels"]:
                if lv.get("is_null_level"):
                    w = 0.0
                elif lv["sql_condition"] == "ELSE":
                    continue
                else:
                    w = math.log2(float(lv["m_probability"]) / float(lv["u_probability"]))
                whens.append(f"WHEN {lv['sql_condition']} THEN {w!r}")
            last = comp["comparison_levels"][-1]
            other = math.log2(float(last["m_probability"]) / float(last["u_probability"]))
            cases.append(
                f"CASE {' '.join(whens)} ELSE {other!r} END AS mw_{comp['output_column_name']}"
            )
        pairs = ", ".join([*(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in _COLUMNS), "r.uid AS uid"])
        # The model's own SQL; the data arrive as parameters and a registered table.
        self.sql = (
            f"SELECT uid, {', '.join(cases)} FROM (SELECT {pairs} FROM "  # noqa: S608  # nosec B608
            f"(SELECT {', '.join(f'?::VARCHAR AS {c}' for c in _COLUMNS)}) l, candidates r)"
        )
        self.con = duckdb.connect()

    def score(self, record: dict[str, Any], candidates: Sequence[dict[str, Any]]) -> list[Edge]:
        import pyarrow as pa  # type: ignore[import-untyped]

        if not candidates:
            return []
        table = pa.table({c: [str(r[c]) if r[c] is not None else None for r in candidates]
                          for c in ("uid", *_COLUMNS)})  # fmt: skip
        self.con.register("candidates", table)
        try:
            params = [str(record[c]) if record[c] is not None else None for c in _COLUMNS]
            rows = self.con.execute(self.sql, params).fetchall()
        finally:
            self.con.unregister("candidates")
        names = [c["output_column_name"] for c in self.model["comparisons"]]
        out = []
        for r in rows:
            weights = dict(zip(names, map(float, r[1:]), strict=True))
            total = self.prior + sum(weights.values())
            out.append(Edge(-1, int(r[0]), total, 1 / (1 + 2**-total), weights))
        return out
