"""Outbreak detection algorithms, native Python, agreeing with R ``surveillance`` (1.20).

* ``ears_c`` — ``earsC(sts, control = list(method = "C1" | "C2" | "C3", baseline = 7,
  minSigma = 0, alpha))``; ``alpha`` defaults to 0.001 for C1/C2 and 0.025 for C3, as in R.
* ``farrington`` — ``algo.farrington`` (Farrington et al. 1996) with the default
  ``fitFun = "algo.farrington.fitGLM.fast"``.
* ``farrington_flexible`` — ``farringtonFlexible`` (Noufaily et al. 2013).

Each function takes the whole series (index 1 is its first period, as in R) and the range of
1-based periods to judge, and returns, per period in range, observed, expected, upper bound and
alarm, with NaN where R gives NA. Every quirk of R that changes a number is kept on purpose and
noted where it happens; docs/surveillance.md lists them. Time points are indices
(``epochAsDate = FALSE``): a year is ``freq`` periods back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from khoyte.surveillance import glm
from khoyte.surveillance.glm import GlmFit, Vec

ALGORITHMS = ("ears_c1", "ears_c2", "ears_c3", "farrington", "farrington_flexible")
POWERTRANS = {"none": 1.0, "1/2": 0.5, "2/3": 2 / 3}


@dataclass(frozen=True, slots=True)
class Result:
    """One row per judged period; NaN where R gives NA (alarm: 1.0, 0.0 or NaN)."""

    idx: NDArray[np.int64]  # 1-based position in the series
    observed: Vec
    expected: Vec
    upperbound: Vec
    alarm: Vec

    def rows(self) -> list[tuple[int, float, float | None, float | None, bool | None]]:
        def opt(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        return [
            (
                int(i),
                float(o),
                opt(e),
                opt(u),
                None if np.isnan(a) else bool(a),
            )
            for i, o, e, u, a in zip(
                self.idx, self.observed, self.expected, self.upperbound, self.alarm, strict=True
            )
        ]


def _as_series(observed: Sequence[float] | Vec) -> Vec:
    return np.asarray(observed, dtype=np.float64)


def _range(range_: Sequence[int] | None, default_start: int, n: int) -> NDArray[np.int64]:
    rng = np.arange(default_start, n + 1) if range_ is None else np.sort(np.asarray(range_))
    if len(rng) == 0 or rng[0] < 1 or rng[-1] > n:
        raise ValueError(f"range must lie within 1..{n}")
    return rng.astype(np.int64)


# --------------------------------------------------------------------------------------------
# EARS C1, C2, C3
# --------------------------------------------------------------------------------------------


def ears_c(
    observed: Sequence[float] | Vec,
    *,
    method: str = "C1",
    baseline: int = 7,
    min_sigma: float = 0.0,
    alpha: float | None = None,
    range_: Sequence[int] | None = None,
) -> Result:
    """R ``earsC``. ``expected`` (which R does not report) is the mean of the baseline window
    (lags 1..baseline for C1, 3..baseline+2 for C2 and C3). C3's bound is R's own formula:
    ``observed + sd · (zα − Σ max(0, C2(t−i) − 1), i = 1, 2)``, floored at 0."""
    if method not in ("C1", "C2", "C3"):
        raise ValueError("method must be C1, C2 or C3")
    if min_sigma < 0:
        raise ValueError("The minimum sigma parameter (minSigma) needs to be positive")
    if baseline < 3:
        raise ValueError("Minimum baseline to use is 3.")
    y = _as_series(observed)
    lag0 = {"C1": 1, "C2": 3, "C3": 5}[method]
    rng = _range(range_, baseline + lag0, len(y))
    if np.any(np.diff(rng) != 1):
        raise ValueError("range must be contiguous")
    if alpha is None:
        alpha = 0.025 if method == "C3" else 0.001
    z = float(stats.norm.ppf(1 - alpha))
    max_lag = {"C1": baseline, "C2": baseline + 2, "C3": baseline + 4}[method]
    if rng[0] - max_lag < 1:
        raise ValueError("The vector of observed is too short!")
    lags = np.arange(baseline, 0, -1) if method == "C1" else np.arange(baseline + 2, 2, -1)

    def refvals(ts: NDArray[np.int64]) -> Vec:
        return np.asarray(y[ts[:, None] - lags[None, :] - 1], dtype=np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        if method != "C3":
            ref = refvals(rng)
            expected = ref.mean(axis=1)
            upper = expected + z * np.maximum(ref.std(axis=1, ddof=1), min_sigma)
        else:
            rng2 = np.arange(rng[0] - 2, rng[-1] + 1)
            ref = refvals(rng2)
            sd = np.maximum(ref.std(axis=1, ddof=1), min_sigma)
            c2 = (y[rng2 - 1] - ref.mean(axis=1)) / sd
            lag2 = np.maximum(0.0, c2[:-2] - 1)
            lag1 = np.maximum(0.0, c2[1:-1] - 1)
            upper = np.maximum(0.0, y[rng - 1] + sd[2:] * (z - (lag2 + lag1)))
            expected = ref.mean(axis=1)[2:]
        obs = y[rng - 1]
        alarm = np.where(np.isnan(upper), np.nan, (obs > upper).astype(np.float64))
    return Result(rng, obs, expected, upper, alarm)


# --------------------------------------------------------------------------------------------
# Farrington (1996): algo.farrington
# --------------------------------------------------------------------------------------------


def _design(wtime: Vec, trend: bool) -> NDArray[np.float64]:
    cols = [np.ones(len(wtime))] + ([wtime] if trend else [])
    return np.column_stack(cols).astype(np.float64)


def _fit_fast(response: Vec, wtime: Vec, trend: bool, reweight: bool) -> tuple[GlmFit, float]:
    """``algo.farrington.fitGLM.fast``: no convergence with trend → without; no convergence
    without trend is kept (as R does)."""
    x = _design(wtime, trend)
    model = glm.fit(x, response)
    if not model.converged and trend:
        x = _design(wtime, False)
        model = glm.fit(x, response)
    phi = glm.r_max1(model.dispersion())
    if reweight:
        omega = glm.assign_weights(glm.anscombe_residuals(model, phi))
        model = glm.fit(x, response, omega)
        phi = glm.r_max1(model.dispersion())
    return model, phi


def _x0(model: GlmFit, k: int, extra: Sequence[float] = ()) -> Vec:
    has_trend = model.x.shape[1] - len(extra) == 2
    return np.asarray([1.0, *([float(k)] if has_trend else []), *extra], dtype=np.float64)


def _power_se(mu0: float, se_fit: float, phi: float, powertrans: str) -> tuple[float, float]:
    """(se on the transformed scale, exponent) of ``algo.farrington.threshold``."""
    if powertrans not in POWERTRANS:
        raise ValueError("No proper exponent in algo.farrington.threshold.")
    tau = phi + se_fit**2 / mu0
    exponent = POWERTRANS[powertrans]
    se = {
        "none": np.sqrt(mu0 * tau),
        "1/2": np.sqrt(tau / 4),
        "2/3": np.sqrt(4 / 9 * mu0 ** (1 / 3) * tau),
    }[powertrans]
    return float(se), exponent


def _limit54_ok(y: Vec, k: int, limit54: tuple[int, int]) -> bool:
    cases, periods = limit54
    if not (cases >= 0 and periods > 0):
        raise ValueError("The limit54 arguments are out of bounds: cases >= 0 and period > 0.")
    return bool(np.sum(y[max(k - periods, 0) : k]) >= cases)


def farrington(
    observed: Sequence[float] | Vec,
    *,
    freq: int = 52,
    range_: Sequence[int] | None = None,
    b: int = 5,
    w: int = 3,
    reweight: bool = True,
    alpha: float = 0.05,
    trend: bool = True,
    limit54: tuple[int, int] = (5, 4),
    powertrans: str = "2/3",
) -> Result:
    """R ``algo.farrington``. Reference values: periods k − i·freq ± w, i = 1..b (those before
    the series' start dropped). Two-sided ``qnorm(1 − alpha/2)`` bound. With fewer than
    ``limit54`` cases the bound is 0 and there is no alarm (R's choice). ``expected`` is the
    model's prediction (R's ``control$pd[, 2]``)."""
    y = _as_series(observed)
    rng = _range(range_, freq * b - w, len(y))
    z = float(stats.norm.ppf(1 - alpha / 2))
    out = np.full((3, len(rng)), np.nan)
    for n, k in enumerate(rng):
        wtime_all = np.concatenate(
            [np.arange(k - freq * i - w, k - freq * i + w + 1) for i in range(b, 0, -1)]
        )
        wtime = wtime_all[wtime_all > 0].astype(np.float64)
        response = y[wtime.astype(np.int64) - 1]
        model, phi = _fit_fast(response, wtime, trend, reweight)
        if model.x.shape[1] == 2:
            p = model.coef_pvalue(1)
            mu0_hat, _ = model.predict_response(_x0(model, int(k)), phi)
            if not (b >= 3 and p < 0.05 and mu0_hat <= np.max(response)):
                model, phi = _fit_fast(response, wtime, False, reweight)
        mu0, se_fit = model.predict_response(_x0(model, int(k)), phi)
        se, e = _power_se(mu0, se_fit, phi, powertrans)
        upper = float((mu0**e + z * se) ** (1 / e))
        yk = float(y[k - 1])
        if _limit54_ok(y, int(k), limit54):
            with np.errstate(divide="ignore", invalid="ignore"):
                x = (yk - mu0) / (upper - mu0)
            out[:, n] = (mu0, upper, np.nan if np.isnan(x) else float(x > 1))
        else:
            out[:, n] = (mu0, 0.0, 0.0)
    return Result(rng, y[rng - 1], out[0], out[1], out[2])


# --------------------------------------------------------------------------------------------
# Improved Farrington (Noufaily et al. 2013): farringtonFlexible
# --------------------------------------------------------------------------------------------


def _r_colon(a: int, b: int) -> NDArray[np.int64]:
    """R's ``a:b`` (descending when b < a)."""
    return np.arange(a, b + 1) if a <= b else np.arange(a, b - 1, -1)


def _assign(vec: Vec, idx1: NDArray[np.int64], value: float) -> None:
    """R's ``vec[idx] <- value`` for 1-based indices (0 ignored, negatives refused)."""
    if np.any(idx1 < 0):
        raise ValueError(
            "Some reference time points did not exist; decrease 'b' or postpone 'range'."
        )
    vec[idx1[idx1 > 0] - 1] = value


def blocks(n: int, k: int, b: int, w: int, freq: int, p: int) -> Vec:
    """``blocks()``: the seasonal factor of every period (NaN: not used). The windows around
    the current and reference periods get level ``p``; with ``p > 1`` each stretch between
    windows is cut into ``p − 1`` blocks, the first ``rest`` one longer."""
    f = np.full(n, np.nan)
    _assign(f, _r_colon(k - w, k), p)
    ref_weeks = [k - freq * i for i in range(b + 1)]
    for i in range(1, b + 1):
        ref = ref_weeks[i]
        _assign(f, _r_colon(ref - w, ref + w), p)
        if p != 1:
            period = ref_weeks[i - 1] - 2 * w - 1 - ref
            if period < p - (2 * w + 1):
                raise ValueError("Number of factors too big!")
            lengths = np.full(p - 1, period // (p - 1))
            lengths[: period % (p - 1)] += 1
            cs = np.concatenate([[0], np.cumsum(lengths)])
            for j in range(1, p):
                _assign(f, _r_colon(ref + w + 1 + cs[j - 1], ref + w + 1 + cs[j] - 1), j)
    return f


@dataclass(frozen=True, slots=True)
class _FlexData:
    response: Vec
    wtime: Vec
    seas: Vec  # factor level per row
    levels: Vec  # sorted distinct levels present

    def design(self, trend: bool) -> NDArray[np.float64]:
        cols = [np.ones(len(self.wtime))] + ([self.wtime] if trend else [])
        cols += [(self.seas == lev).astype(np.float64) for lev in self.levels[1:]]
        return np.column_stack(cols).astype(np.float64)

    def x0(self, k: int, trend: bool, p: int) -> Vec:
        if p not in self.levels:
            raise ValueError("factor seasgroups has new level")
        dummies = [float(lev == p) for lev in self.levels[1:]]
        return np.asarray([1.0, *([float(k)] if trend else []), *dummies], dtype=np.float64)


def _fit_flexible(
    data: _FlexData, trend: bool, reweight: bool, weights_threshold: float
) -> tuple[GlmFit, float, bool] | None:
    """``algo.farrington.fitGLM.flexible``; None where R returns NULL (no convergence)."""
    x = data.design(trend)
    model = glm.fit(x, data.response)
    if not model.converged:
        if trend:
            trend = False
            x = data.design(False)
            model = glm.fit(x, data.response)
        if not model.converged:
            return None
    phi = glm.r_max1(model.dispersion())
    if reweight:
        omega = glm.assign_weights(glm.anscombe_residuals(model, phi), weights_threshold)
        model = glm.fit(x, data.response, omega)
        phi = glm.r_max1(model.dispersion())
        # R then sets ``model$weights <- omega``: from here on summary.glm (trend p-value) and
        # predict.glm (standard error) take the dispersion as Σ ω·r² / df with the working
        # residuals r, not the Pearson statistic.
        model = replace(model, weights=omega)
    return model, phi, trend


def _threshold(
    method: str, fit: float, se_fit: float, phi: float, alpha: float, powertrans: str, y: float
) -> tuple[float, float, float]:
    """(upper, score, expected) of ``algo.farrington.threshold.farrington`` ("delta") or
    ``.noufaily`` ("nbPlugin", "muan"). As in R, the Noufaily score divides by
    ``upper − η₀`` with η₀ on the link scale."""
    if method == "delta":
        se, e = _power_se(fit, se_fit, phi, powertrans)
        upper = float((fit**e + float(stats.norm.ppf(1 - alpha)) * se) ** (1 / e))
        expected = fit
    else:
        mu_q = float(
            np.exp(fit if method == "nbPlugin" else stats.norm.ppf(1 - alpha, fit, se_fit))
        )
        if np.isinf(mu_q):
            upper = float("nan")
        elif phi > 1:
            upper = float(stats.nbinom.ppf(1 - alpha, mu_q / (phi - 1), 1 / phi))
        else:
            upper = float(stats.poisson.ppf(1 - alpha, mu_q))
        expected = float(np.exp(fit))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (y - fit) / (upper - fit) if not np.isnan(upper) else float("nan")
    return upper, float(score), expected


def farrington_flexible(
    observed: Sequence[float] | Vec,
    *,
    freq: int = 52,
    range_: Sequence[int] | None = None,
    b: int = 5,
    w: int = 3,
    reweight: bool = True,
    weights_threshold: float = 2.58,
    alpha: float = 0.05,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    limit54: tuple[int, int] = (5, 4),
    powertrans: str = "2/3",
    no_periods: int = 1,
    past_weeks_not_included: int | None = None,
    threshold_method: str = "delta",
) -> Result:
    """R ``farringtonFlexible``. One-sided ``qnorm(1 − alpha)``; with fewer than ``limit54``
    cases the bound, expected value and alarm are NA/no alarm (R's choice); an alarm needs
    ``observed > 0``. As in R, the standard error of the prediction uses the GLM's own
    dispersion estimate (not floored at 1) while the threshold uses φ = max(dispersion, 1)."""
    if threshold_method not in ("delta", "nbPlugin", "muan"):
        raise ValueError("thresholdMethod must be delta, nbPlugin or muan")
    y = _as_series(observed)
    n = len(y)
    rng = _range(range_, freq * b + w + 1, n)
    pwni = w if past_weeks_not_included is None else past_weeks_not_included
    factors = no_periods != 1
    type_link = threshold_method != "delta"
    out = np.full((3, len(rng)), np.nan)
    for col, k in enumerate(rng):
        k = int(k)
        if k - freq * b < 1:
            raise ValueError(
                "Some reference time points did not exist; decrease 'b' or postpone 'range'."
            )
        f = blocks(n, k, b, w, freq, no_periods)
        _assign(f, _r_colon(k - pwni, k), np.nan)
        keep = np.flatnonzero(~np.isnan(f) & ~np.isnan(y))
        seas = f[keep] if factors else np.full(len(keep), float(no_periods))
        data = _FlexData(y[keep], (keep + 1).astype(np.float64), seas, np.unique(seas))
        fitted = _fit_flexible(data, trend, reweight, weights_threshold)
        if fitted is None:
            continue
        model, phi, has_trend = fitted
        if has_trend:
            fit_k, _ = model.predict_response(data.x0(k, True, no_periods))
            significant = model.coef_pvalue(1) < p_threshold_trend
            if not (b >= 3 and significant and fit_k <= np.max(data.response)):
                fitted = _fit_flexible(data, False, reweight, weights_threshold)
                if fitted is None:
                    continue
                model, phi, has_trend = fitted
        x0 = data.x0(k, has_trend, no_periods)
        # R passes ``dispersion = model$phi`` inside newdata, so predict.glm uses the summary's.
        pfit, pse = model.predict_link(x0) if type_link else model.predict_response(x0)
        yk = float(y[k - 1])
        upper, score, expected = _threshold(threshold_method, pfit, pse, phi, alpha, powertrans, yk)
        if _limit54_ok(y, k, limit54):
            alarm = float(not np.isnan(score) and score > 1 and yk != 0)
            out[:, col] = (np.nan if np.isnan(upper) else expected, upper, alarm)
        else:
            out[2, col] = 0.0
    return Result(rng, y[rng - 1], out[0], out[1], out[2])


# --------------------------------------------------------------------------------------------
# One entry point with R's parameter names (the CLI and the warehouse use it)
# --------------------------------------------------------------------------------------------

_R_NAMES: dict[str, dict[str, str]] = {
    "ears": {"baseline": "baseline", "minSigma": "min_sigma", "alpha": "alpha"},
    "farrington": {
        "b": "b", "w": "w", "reweight": "reweight", "alpha": "alpha", "trend": "trend",
        "limit54": "limit54", "powertrans": "powertrans",
    },
    "farrington_flexible": {
        "b": "b", "w": "w", "reweight": "reweight", "weightsThreshold": "weights_threshold",
        "alpha": "alpha", "trend": "trend", "pThresholdTrend": "p_threshold_trend",
        "limit54": "limit54", "powertrans": "powertrans", "noPeriods": "no_periods",
        "pastWeeksNotIncluded": "past_weeks_not_included",
        "thresholdMethod": "threshold_method",
    },
}  # fmt: skip
_IGNORED = {"verbose", "plot", "glmWarnings", "fitFun", "populationOffset"}
_INTS = {"b", "w", "baseline", "no_periods", "past_weeks_not_included"}
_BOOLS = {"reweight", "trend"}
_STRS = {"powertrans", "threshold_method"}


def _value(name: str, raw: str) -> Any:
    text = raw.strip().strip("'\"")
    if name in _BOOLS:
        if text.upper() not in ("TRUE", "FALSE", "T", "F", "1", "0"):
            raise ValueError(f"{name} must be TRUE or FALSE")
        return text.upper() in ("TRUE", "T", "1")
    if name == "limit54":
        parts = text.removeprefix("c(").removesuffix(")").split(",")
        if len(parts) != 2:
            raise ValueError("limit54 must be two numbers, e.g. 5,4")
        return (int(parts[0]), int(parts[1]))
    if name in _STRS:
        return text
    if text.upper() in ("NULL", "NA"):
        return None
    return int(text) if name in _INTS else float(text)


def r_params(algorithm: str, params: Mapping[str, str]) -> dict[str, Any]:
    """Translate ``NAME=VALUE`` pairs spelt as in R into keyword arguments."""
    names = _R_NAMES["ears" if algorithm.startswith("ears") else algorithm]
    kwargs: dict[str, Any] = {}
    for rname, raw in params.items():
        if rname in _IGNORED:
            if rname == "populationOffset" and raw.strip().upper() not in ("FALSE", "F"):
                raise ValueError("populationOffset is not supported (no population data)")
            continue
        if rname not in names:
            raise ValueError(f"unknown parameter for {algorithm}: {rname}")
        kwargs[names[rname]] = _value(names[rname], raw)
    return kwargs


def detect(
    algorithm: str,
    observed: Sequence[float] | Vec,
    *,
    frequency: int = 52,
    range_: Sequence[int] | None = None,
    params: Mapping[str, str] | None = None,
) -> Result:
    """Run ``algorithm`` (one of ALGORITHMS) with R-named ``params``."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")
    kwargs = r_params(algorithm, params or {})
    if algorithm.startswith("ears"):
        return ears_c(observed, method="C" + algorithm[-1], range_=range_, **kwargs)
    if algorithm == "farrington":
        return farrington(observed, freq=frequency, range_=range_, **kwargs)
    return farrington_flexible(observed, freq=frequency, range_=range_, **kwargs)
