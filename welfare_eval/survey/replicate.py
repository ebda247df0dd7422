"""Replicate-weight designs: JK1, JKn (stratified delete-one jackknife), Rao-Wu bootstrap, BRR and Fay.

Replicate factors are built per PSU and follow R ``survey`` (``jk1weights``, ``jknweights``,
``brrweights``, ``subbootweights``):

* JK1 (unstratified): replicate j drops PSU j and multiplies the others by n/(n-1);
  ``scale = (n-1)/n`` times ``(N-n)/N`` with an fpc.
* JKn: within each stratum as JK1; ``rscale = (n_h-1)/n_h (1 - f_h)``; lonely strata follow the
  design's ``lonely_psu`` option as R does; strata sampled exhaustively (f_h = 0) give no replicates.
* bootstrap: the Rao-Wu (1988) rescaling bootstrap with ``m_h = n_h - 1`` PSUs drawn with replacement,
  factor ``1 - λ + λ n_h/(n_h-1) m*_hi`` with ``λ = sqrt(1 - f_h)`` (Rao, Wu & Yue 1992; λ = 1 without
  fpc); ``scale = 1/(R-1)``. Without fpc this is R's ``subbootstrap``.
* BRR / Fay: two PSUs per stratum, a Sylvester Hadamard matrix of order ≥ H+1; factors 2-ρ / ρ;
  ``scale = 1/(R (1-ρ)^2)``.

Only the first stage enters the replicates (as in R; the second-stage fpc is dropped), except inside
certainty PSUs, whose second-stage units (households) are jackknifed / bootstrapped within the PSU
with ``f_2 = m/M`` (certainty PSUs have no first-stage variance, so without this their sampling
variance would be lost). BRR / Fay ignore certainty PSUs.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
from scipy.linalg import hadamard

from welfare_eval._progress import progress
from welfare_eval.survey.variance import DesignError, RepInfo, SurveyDesign

__all__ = ["ReplicateMethod", "make_replicate_design", "replicate_factors"]

ReplicateMethod = Literal["auto", "jk1", "jkn", "bootstrap", "brr", "fay"]
_D = TypeVar("_D", bound=SurveyDesign)


def replicate_factors(
    design: SurveyDesign,
    method: str,
    *,
    replicates: int = 200,
    seed: int | None = None,
    fay_rho: float = 0.5,
    fpc: bool = True,
) -> tuple[np.ndarray, float, np.ndarray]:
    """PSU-level replicate factors (n_psu x R), ``scale`` and ``rscales`` (R ``svrVar`` conventions).

    ``method``: ``"jk1"``, ``"jkn"``, ``"bootstrap"``, ``"brr"`` or ``"fay"`` (see the module
    docstring); ``fpc=False`` ignores the first-stage fpc.
    """
    sp = design.sampling
    strat = sp.psu_stratum
    cert = sp.certainty
    n_psu = design.n_psu
    G = design.n_strata
    n_h = sp.n_h
    N_h = sp.N_h if fpc else np.full(G, np.inf)
    fin = np.isfinite(N_h)
    f_h = np.where(fin, (np.where(fin, N_h, 0.0) - n_h) / np.where(fin & (N_h > 0), N_h, 1.0), 1.0)
    cols: list[np.ndarray] = []
    rscales: list[float] = []
    scale = 1.0
    method = method.lower()
    if method == "jk1":
        if G > 1:
            raise DesignError("JK1 needs an unstratified design: use method='jkn' for stratified designs")
        units = np.flatnonzero(~cert)
        n = len(units)
        if n < 2:
            raise DesignError("JK1 needs at least 2 PSUs")
        for j in units:
            col = np.ones(n_psu)
            col[units] = n / (n - 1)
            col[j] = 0.0
            cols.append(col)
            rscales.append(1.0)
        scale = (n - 1) / n * float(f_h[0])
    elif method == "jkn":
        lonely = design.lonely_psu
        dropped = False
        for h in range(G):
            units = np.flatnonzero((strat == h) & ~cert)
            nh = len(units)
            if nh == 0 or f_h[h] <= 0:
                continue
            if nh == 1:
                if lonely == "error":
                    raise DesignError(
                        f"stratum {sp.strata_labels[h]!r} has only one PSU: choose lonely_psu= or collapse strata"
                    )
                if lonely == "adjust":
                    col = np.full(n_psu, G / (G - 1))
                    col[strat == h] = 0.0
                    cols.append(col)
                    rscales.append((G - 1) / G)
                else:
                    dropped = True
                continue
            for j in units:
                col = np.ones(n_psu)
                col[units] = nh / (nh - 1)
                col[j] = 0.0
                cols.append(col)
                rscales.append((nh - 1) / nh * float(f_h[h]))
        if not cols:
            raise DesignError("JKn: every stratum is exhaustively sampled or lonely: no replicates")
        if dropped and lonely == "average":
            n_units = int((~cert).sum())
            scale = n_units / len(cols)
    elif method == "bootstrap":
        if replicates < 2:
            raise DesignError("bootstrap needs replicates >= 2")
        rng = np.random.default_rng(seed)
        F = np.ones((n_psu, replicates))
        for h in range(G):
            units = np.flatnonzero((strat == h) & ~cert)
            nh = len(units)
            if nh == 1 and design.lonely_psu == "error" and f_h[h] > 0:
                raise DesignError(
                    f"stratum {sp.strata_labels[h]!r} has only one PSU: choose lonely_psu= or collapse strata"
                )
            if nh < 2:
                continue
            lam = np.sqrt(max(float(f_h[h]), 0.0))
            draws = rng.integers(0, nh, size=(replicates, nh - 1))
            counts = np.zeros((replicates, nh))
            np.add.at(counts, (np.repeat(np.arange(replicates), nh - 1), draws.ravel()), 1.0)
            F[units, :] = (1 - lam + lam * nh / (nh - 1) * counts).T
        return F, 1.0 / (replicates - 1), np.ones(replicates)
    elif method in ("brr", "fay"):
        rho = 0.0 if method == "brr" else float(fay_rho)
        if not 0 <= rho < 1:
            raise DesignError(f"fay_rho must be in [0, 1), got {rho}")
        pairs = []
        for h in range(G):
            units = np.flatnonzero((strat == h) & ~cert)
            if len(units) == 0:
                continue
            if len(units) != 2:
                raise DesignError(
                    f"BRR needs exactly 2 PSUs per stratum: stratum {sp.strata_labels[h]!r} has "
                    f"{len(units)}; use method='jkn' or 'bootstrap', or regroup into pairs"
                )
            pairs.append(units)
        order = 1
        while order < len(pairs) + 1:
            order *= 2
        order = max(order, 4) if len(pairs) > 1 else max(order, 2)
        H = hadamard(order)
        F = np.ones((n_psu, order))
        for i, (a, b) in enumerate(pairs):
            sign = H[i + 1, :]
            F[a, :] = np.where(sign > 0, 2 - rho, rho)
            F[b, :] = np.where(sign > 0, rho, 2 - rho)
        return F, 1.0 / (order * (1 - rho) ** 2), np.ones(order)
    else:
        raise DesignError(f"replicate method {method!r}: use 'jk1', 'jkn', 'bootstrap', 'brr' or 'fay'")
    return np.column_stack(cols), scale, np.asarray(rscales)


def _certainty_units(design: SurveyDesign, fpc: bool) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """For each certainty PSU: (psu code, its row indices, SSU code per row, f2 = 1 - m/M)."""
    out = []
    sp = design.sampling
    assert sp.ssu is not None
    for c in np.flatnonzero(sp.certainty):
        rows = np.flatnonzero(sp.psu == c)
        ssu = sp.ssu[rows]
        m = len(np.unique(ssu))
        M = sp.M_i[c] if fpc else np.inf
        f2 = (M - m) / M if np.isfinite(M) and M > 0 else 1.0
        out.append((int(c), rows, ssu, float(f2)))
    return out


def _certainty_jackknife(design: SurveyDesign, fpc: bool) -> tuple[np.ndarray, np.ndarray]:
    """Delete-one-SSU jackknife columns inside each certainty PSU (its households are the units)."""
    cols, rs = [], []
    for c, rows, ssu, f2 in _certainty_units(design, fpc):
        units = np.unique(ssu)
        m = len(units)
        if f2 <= 0:
            continue
        if m < 2:
            if design.lonely_psu == "error":
                raise DesignError(
                    f"certainty PSU {design.sampling.psu_labels[c]!r} has a single sampled unit: choose lonely_psu="
                )
            continue
        for j in units:
            col = np.ones(design.n)
            col[rows] = m / (m - 1)
            col[rows[ssu == j]] = 0.0
            cols.append(col)
            rs.append((m - 1) / m * f2)
    if not cols:
        return np.ones((design.n, 0)), np.zeros(0)
    return np.column_stack(cols), np.asarray(rs)


def _certainty_bootstrap(
    design: SurveyDesign, replicates: int, rng: np.random.Generator, fpc: bool
) -> np.ndarray:
    """Rao-Wu-Yue bootstrap factors of the SSUs inside each certainty PSU (rows x replicates)."""
    F = np.ones((design.n, replicates))
    for _c, rows, ssu, f2 in _certainty_units(design, fpc):
        units, inv = np.unique(ssu, return_inverse=True)
        m = len(units)
        if m < 2 or f2 <= 0:
            continue
        lam = np.sqrt(f2)
        draws = rng.integers(0, m, size=(replicates, m - 1))
        counts = np.zeros((replicates, m))
        np.add.at(counts, (np.repeat(np.arange(replicates), m - 1), draws.ravel()), 1.0)
        F[rows, :] = (1 - lam + lam * m / (m - 1) * counts).T[inv]
    return F


def make_replicate_design(
    design: _D,
    method: ReplicateMethod | str = "auto",
    *,
    replicates: int = 200,
    seed: int | None = None,
    mse: bool = False,
    reapply: bool = True,
    fay_rho: float = 0.5,
    fpc: bool = True,
) -> _D:
    """Replicate version of ``design``.

    With ``reapply=True`` the replicate factors multiply the *base* weights and every weighting step
    recorded on the design (nonresponse, post-stratification, raking, calibration, trimming) is
    re-applied to each replicate, so the variance reflects the adjustments. With ``reapply=False`` the
    factors multiply the final weights (R ``as.svrepdesign`` on an adjusted design).
    ``method="auto"`` is JK1 for an unstratified design and JKn otherwise (as R); the other options
    are those of :meth:`Design.replicate <welfare_eval.survey.Design.replicate>`.
    """
    if design.replicate_info is not None:
        raise DesignError("design already has replicate weights")
    method = method.lower()
    if method == "auto":
        method = "jkn" if design.n_strata > 1 else "jk1"
    F, scale, rscales = replicate_factors(
        design, method, replicates=replicates, seed=seed, fay_rho=fay_rho, fpc=fpc
    )
    sp = design.sampling
    factors = F[sp.psu]
    if sp.certainty.any() and method in ("jk1", "jkn"):
        # certainty PSUs: their households are the replicate units (their stage-2 variance)
        extra, extra_rs = _certainty_jackknife(design, fpc)
        if extra.shape[1]:
            rscales = np.concatenate([np.asarray(rscales, dtype=float) * scale, extra_rs])
            scale = 1.0
            factors = np.column_stack([factors, extra])
    elif sp.certainty.any() and method == "bootstrap":
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        factors = factors * _certainty_bootstrap(design, replicates, rng, fpc)
    steps = design.weighting_steps
    if reapply and steps:
        W = design.base_weights[:, None] * factors
        for op in steps:
            cols = [op.replicate(W[:, r]) for r in progress(range(W.shape[1]), desc=f"re-applying {op.name}")]
            W = np.column_stack(cols)
    else:
        W = design.weights[:, None] * factors
    info = RepInfo(
        weights=W, scale=float(scale), rscales=np.asarray(rscales, dtype=float), mse=mse, type=method
    )
    return design.with_replicates(info, step=f"replicate:{method}", detail=f"{W.shape[1]} replicates")
