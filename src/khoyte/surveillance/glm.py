"""A quasi-Poisson log-link GLM that reproduces R's ``glm.fit`` step by step.

The Farrington algorithms are defined by what R computes, so this is not "a" Poisson regression
but R's: the same start (``mustart = y + 0.1``), the same IRLS iteration, the same stopping rule
(``|dev - devold| / (|dev| + 0.1) < 1e-8``, at most 25 iterations), and — what matters at the
1e-6 level — the same quirk that the returned working weights, QR decomposition (hence hat
values, ``summary.glm``'s unscaled covariance and ``predict.glm``'s standard errors) belong to
the *last weighted least-squares step*, while ``mu`` and the working residuals are those after
it. Rank-deficient designs are not pivoted (the Farrington designs are full rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg, stats

Vec = NDArray[np.float64]
Mat = NDArray[np.float64]

EPSILON = 1e-8  # glm.control()$epsilon
MAXIT = 25  # glm.control()$maxit
_DBL_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, slots=True)
class GlmFit:
    x: Mat  # design matrix
    y: Vec
    prior: Vec  # prior weights
    coef: Vec
    mu: Vec
    weights: Vec  # working weights of the last IRLS step (R: model$weights)
    residuals: Vec  # working residuals (y - mu) / mu
    r: Mat  # upper-triangular R of the QR of sqrt(weights) * x (R: model$qr)
    converged: bool

    @property
    def df_residual(self) -> int:
        return int(np.count_nonzero(self.prior)) - int(self.x.shape[1])

    def dispersion(self) -> float:
        """``summary.glm(model)$dispersion`` for a quasi family: Pearson X² / residual df."""
        df = self.df_residual
        if df <= 0:
            return float("nan")
        ok = self.weights > 0
        return float(np.sum(self.weights[ok] * self.residuals[ok] ** 2) / df)

    def cov_unscaled(self) -> Mat:
        rinv = linalg.solve_triangular(self.r, np.eye(self.r.shape[0]))
        return np.asarray(rinv @ rinv.T, dtype=np.float64)

    def hatvalues(self) -> Vec:
        """``hatvalues(model)``: diagonal of the weighted projection (R's lm.influence)."""
        q = (np.sqrt(self.weights)[:, None] * self.x) @ linalg.solve_triangular(
            self.r, np.eye(self.r.shape[0])
        )
        h = np.sum(q * q, axis=1)
        h[h > 1 - 10 * _DBL_EPS] = 1.0
        return np.asarray(h, dtype=np.float64)

    def coef_pvalue(self, j: int) -> float:
        """``summary.glm(model)$coefficients[j, 4]``: two-sided t test on residual df."""
        disp = self.dispersion()
        se = float(np.sqrt(disp * self.cov_unscaled()[j, j]))
        t = float(self.coef[j]) / se
        return float(2 * stats.t.sf(abs(t), self.df_residual))

    def predict_link(self, x0: Vec, dispersion: float | None = None) -> tuple[float, float]:
        """``predict.glm(model, newdata, type="link", se.fit=TRUE)``; without ``dispersion``
        R takes the summary's (not floored at 1)."""
        disp = self.dispersion() if dispersion is None or dispersion == 0 else dispersion
        eta = float(x0 @ self.coef)
        z = linalg.solve_triangular(self.r, x0, trans="T")
        se = float(np.sqrt(np.sum(z * z) * disp))
        return eta, se

    def predict_response(self, x0: Vec, dispersion: float | None = None) -> tuple[float, float]:
        """``type="response"``: the fit through the inverse link, se by the delta method."""
        eta, se = self.predict_link(x0, dispersion)
        mu = max(np.exp(eta), _DBL_EPS)
        return float(mu), se * float(mu)


def _dev(y: Vec, mu: Vec, wt: Vec) -> float:
    r = mu * wt
    pos = y > 0
    r[pos] = (wt * (y * np.log(np.where(pos, y, 1.0) / mu) - (y - mu)))[pos]
    return float(2 * np.sum(r))


def fit(x: Mat, y: Vec, prior: Vec | None = None) -> GlmFit:
    """``glm.fit(x, y, weights = prior, family = quasipoisson(link = "log"))``."""
    n, p = x.shape
    wt = np.ones(n) if prior is None else np.asarray(prior, dtype=np.float64)
    good = wt > 0
    mu = y + 0.1
    eta = np.log(mu)
    devold = _dev(y, mu, wt)
    converged = False
    coef = np.zeros(p)
    w = np.zeros(n)
    r = np.eye(p)
    for _ in range(MAXIT):
        z = eta[good] + (y - mu)[good] / mu[good]
        w = np.sqrt(wt[good] * mu[good])  # sqrt(weights * mu.eta^2 / variance)
        q, r = np.linalg.qr(x[good] * w[:, None])
        coef = linalg.solve_triangular(r, q.T @ (z * w))
        eta = x @ coef
        mu = np.maximum(np.exp(eta), _DBL_EPS)
        dev = _dev(y, mu, wt)
        if abs(dev - devold) / (abs(dev) + 0.1) < EPSILON:
            converged = True
            break
        devold = dev
    weights = np.zeros(n)
    weights[good] = w * w
    # R's R factor has a sign convention of its own; R'R, and everything we use it for, is the same.
    return GlmFit(
        x=x,
        y=y,
        prior=wt,
        coef=np.asarray(coef, dtype=np.float64),
        mu=mu,
        weights=weights,
        residuals=(y - mu) / mu,
        r=np.asarray(r, dtype=np.float64),
        converged=converged,
    )


def anscombe_residuals(model: GlmFit, phi: float) -> Vec:
    """``anscombe.residuals(m, phi)`` of the surveillance package (standardised)."""
    y, mu = model.y, model.mu
    a = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - mu**0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / np.sqrt(phi * (1 - model.hatvalues())), dtype=np.float64)


def assign_weights(s: Vec, weights_threshold: float = 1.0) -> Vec:
    """``algo.farrington.assign.weights``: s⁻² above the threshold, 1 below, rescaled."""
    above = s > weights_threshold
    with np.errstate(divide="ignore"):
        inv2 = np.where(above, s ** (-2.0), 1.0)
    gamma = len(s) / float(np.sum(inv2))
    return np.asarray(np.where(above, gamma * inv2, gamma), dtype=np.float64)


def r_max1(value: float) -> float:
    """R's ``max(value, 1)``: NaN stays NaN."""
    return value if np.isnan(value) else max(value, 1.0)
