"""The weights pipeline: nonresponse adjustment, post-stratification, raking, calibration, trimming.

Every function takes a :class:`~welfare_eval.survey.design.Design` and returns a new one whose weights
are adjusted, with a row added to the audit trail (``design.audit()``). Each step is stored as a
replayable operation so that :meth:`Design.replicate` (``reapply=True``) repeats it on every replicate
and a replicate design passed in is adjusted replicate by replicate (as R ``survey`` does for
``svyrep.design`` objects).

Taylor variance after post-stratification, raking and calibration uses the ``g``-weighted residuals of
the calibration regression (Deville & Särndal 1992; R ``svyrecvar``); nonresponse adjustment (classes
or propensity) is linearised too (derivative of the adjusted estimator with respect to the design
weights, the classes of a propensity-class adjustment held fixed). Trimming is treated as fixed for
Taylor variance (use a replicate design with ``reapply=True`` to include it).

Algorithms written here (no maintained Python package does R-compatible calibration with bounds):
the Newton iteration of Deville, Särndal & Sautory (1993) as in R ``grake`` with the linear,
truncated-linear, raking and logit distance functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from welfare_eval.survey.design import Design
from welfare_eval.survey.variance import CalStep, DesignError, WeightOp

__all__ = [
    "CalibrationError",
    "adjust_nonresponse",
    "calibrate",
    "poststratify",
    "rake",
    "trim",
]


class CalibrationError(DesignError):
    """Calibration, raking or post-stratification cannot be done as asked (says what to fix)."""


# ---------------------------------------------------------------------------- helpers
def _cells(design: Design, columns: Sequence[str]) -> pd.Series:
    for c in columns:
        design.column(c)
        if design.data[c].isna().any():
            raise CalibrationError(
                f"column {c!r} has missing values: impute or give them a level before weighting"
            )
    if len(columns) == 1:
        return design.data[columns[0]]
    return pd.Series(list(zip(*(design.data[c] for c in columns), strict=True)), index=design.data.index)


def _population_map(population: Any, columns: Sequence[str]) -> dict[Any, float]:
    if isinstance(population, pd.DataFrame):
        count_cols = [c for c in population.columns if c not in columns]
        if len(count_cols) != 1:
            raise CalibrationError(
                f"population DataFrame must have the columns {list(columns)} and one count column, "
                f"got {list(population.columns)}"
            )
        keys = (
            population[columns[0]]
            if len(columns) == 1
            else list(zip(*(population[c] for c in columns), strict=True))
        )
        return {k: float(v) for k, v in zip(keys, population[count_cols[0]], strict=True)}
    if isinstance(population, pd.Series):
        return {k: float(v) for k, v in population.items()}
    if isinstance(population, Mapping):
        return {k: float(v) for k, v in population.items()}
    raise CalibrationError("population must be a dict {level: count}, a Series or a DataFrame")


def _match_cells(
    cells: pd.Series, pop: Mapping[Any, float], what: str, *, partial: bool = False
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Codes of each row's cell in ``pop`` order, and the population counts; errors on mismatches."""
    keys = list(pop.keys())
    index = {k: i for i, k in enumerate(keys)}
    # tolerate int/str mismatches of the labels only by exact match: say what is wrong instead
    sample_levels = pd.unique(cells)
    missing = [lv for lv in sample_levels if lv not in index]
    if missing:
        raise CalibrationError(
            f"{what}: sample level(s) {missing[:5]} have no population count: add them to the population "
            f"(known levels: {keys[:10]})"
        )
    codes = np.array([index[v] for v in cells], dtype=np.int64)
    counts = np.array([pop[k] for k in keys], dtype=float)
    if np.any(counts < 0) or np.any(~np.isfinite(counts)):
        raise CalibrationError(f"{what}: population counts must be finite and non-negative")
    present = np.bincount(codes, minlength=len(keys)) > 0
    empty = [k for k, p, c in zip(keys, present, counts, strict=True) if not p and c > 0]
    if empty and not partial:
        raise CalibrationError(
            f"{what}: population level(s) {empty[:5]} have no sample units: collapse them with a neighbour "
            "(or pass partial=True to ignore them)"
        )
    zero = [k for k, p, c in zip(keys, present, counts, strict=True) if p and c == 0]
    if zero:
        raise CalibrationError(
            f"{what}: sample units fall in level(s) {zero[:5]} whose population count is 0"
        )
    return codes, counts, keys


def _ps_factor(w: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    tot = np.bincount(codes, weights=w, minlength=len(counts))
    with np.errstate(divide="ignore", invalid="ignore"):
        fac = np.where(tot > 0, counts / np.where(tot > 0, tot, 1.0), 0.0)
    return fac[codes]


def _dummies(codes: np.ndarray, k: int) -> np.ndarray:
    X = np.zeros((len(codes), k))
    X[np.arange(len(codes)), codes] = 1.0
    return X


# ---------------------------------------------------------------------------- post-stratification
def poststratify(
    design: Design,
    strata: str | Sequence[str],
    population: Mapping[Any, float] | pd.Series | pd.DataFrame,
    *,
    partial: bool = False,
) -> Design:
    """Post-stratify the weights to known population counts (R ``postStratify``).

    Parameters
    ----------
    strata : str or list of str
        Post-stratum column(s); with several, cells are their combinations (tuples as keys).
    population : dict, Series or DataFrame
        Population count per cell: ``{level: N}`` (tuples for several columns), or a DataFrame with the
        stratum columns and one count column.
    partial : bool
        Ignore population cells with no sample units (R's ``partial=TRUE``); otherwise an error.
    """
    cols = [strata] if isinstance(strata, str) else list(strata)
    cells = _cells(design, cols)
    pop = _population_map(population, cols)
    codes, counts, keys = _match_cells(cells, pop, f"poststratify({cols})", partial=partial)
    X = _dummies(codes, len(keys))

    def fn(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        w_new = w * _ps_factor(w, codes, counts)
        return w_new, CalStep(kind="greg", X=X, d=w, w_post=w_new)

    return design.with_weighting_step(
        WeightOp("poststratify", fn, f"cells of {', '.join(cols)} ({len(keys)} cells)")
    )


# ---------------------------------------------------------------------------- raking
def rake(
    design: Design,
    margins: Mapping[Any, Any],
    *,
    by: str | None = None,
    max_iter: int = 200,
    tol: float = 1e-10,
    variance: Literal["calibration", "ipf"] = "calibration",
) -> Design:
    """Rake the weights to known margins by iterative proportional fitting (R ``rake``).

    Parameters
    ----------
    margins : dict
        ``{column: {level: population count}}``. All margins must add to the same population total.
        With ``by``: ``{group: {column: {level: count}}}``, one set of margins per group (e.g. per
        survey wave), each group raked separately in one step.
    by : str, optional
        Column whose groups are raked separately (e.g. ``"wave"``).
    max_iter, tol : int, float
        Stop when no margin's weighted total is off by more than ``tol * N``; otherwise raise.
    variance : {"calibration", "ipf"}
        Taylor variance of raked estimators. ``"calibration"`` (default) uses the residuals of the
        weighted regression on all margin indicators, the exact linearisation of raking (equal to R
        ``calibrate(..., calfun="raking")``). ``"ipf"`` reproduces R ``rake()``'s approximation (10 sweeps
        of unweighted within-cell centring).
    """
    if not margins:
        raise CalibrationError("rake: margins is empty")
    if by is None:
        groups: dict[Any, Mapping[str, Any]] = {None: margins}
        gcol = None
    else:
        gcol = _cells(design, [by])
        data_groups = set(pd.unique(gcol))
        missing = [g for g in data_groups if g not in margins]
        if missing:
            raise CalibrationError(f"rake(by={by!r}): no margins for group(s) {missing[:5]}: add them")
        groups = {g: m for g, m in margins.items() if g in data_groups}
        cols0 = set(next(iter(groups.values())).keys())
        for g, m in groups.items():
            if set(m.keys()) != cols0:
                raise CalibrationError(
                    f"rake(by={by!r}): group {g!r} has margins {sorted(m)}, expected {sorted(cols0)}"
                )
    specs = []
    totals_by_group: dict[Any, list[tuple[str, float]]] = {g: [] for g in groups}
    first = next(iter(groups.values()))
    for col in first:
        base_cells = _cells(design, [col])
        if gcol is None:
            cells = base_cells
            popmap = _population_map(first[col], [col])
            totals_by_group[None].append((col, sum(popmap.values())))
        else:
            cells = pd.Series(list(zip(gcol, base_cells, strict=True)), index=base_cells.index)
            popmap = {}
            for g, m in groups.items():
                pm = _population_map(m[col], [col])
                popmap.update({(g, k): v for k, v in pm.items()})
                totals_by_group[g].append((col, sum(pm.values())))
        codes, counts, _keys = _match_cells(cells, popmap, f"rake margin {col!r}")
        specs.append((col, codes, counts))
    for g, tots in totals_by_group.items():
        vals = [t for _, t in tots]
        if max(vals) - min(vals) > 1e-6 * max(vals):
            detail = ", ".join(f"{c}: {t:g}" for c, t in tots)
            where = "" if g is None else f" in group {g!r}"
            raise CalibrationError(
                f"rake: the margins{where} add to different population totals ({detail}): make them agree"
            )
    totals = [float(counts.sum()) for _, _, counts in specs]
    N = float(totals[0])
    X = np.column_stack([_dummies(codes, len(counts)) for _, codes, counts in specs])
    margin_codes = tuple(codes for _, codes, _ in specs)

    def fn(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        cur = w.copy()
        for _ in range(max_iter):
            for _, codes, counts in specs:
                cur = cur * _ps_factor(cur, codes, counts)
            off = max(
                float(np.max(np.abs(np.bincount(codes, weights=cur, minlength=len(counts)) - counts)))
                for _, codes, counts in specs
            )
            if off <= tol * N:
                break
        else:
            raise CalibrationError(
                f"rake: no convergence after {max_iter} iterations (largest margin misfit {off:.3g}); "
                "check for margins that cannot be met jointly (empty cross-cells) or raise max_iter"
            )
        if variance == "ipf":
            return cur, CalStep(kind="ipf", X=None, d=w, w_post=cur, margins=margin_codes)
        return cur, CalStep(kind="greg", X=X, d=w, w_post=cur)

    if variance not in ("calibration", "ipf"):
        raise CalibrationError(f"rake: variance={variance!r}: use 'calibration' or 'ipf'")
    return design.with_weighting_step(WeightOp("rake", fn, f"margins {', '.join(margins)}"))


# ---------------------------------------------------------------------------- calibration
def _calfun(
    name: str, L: float, U: float
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """F^{-1}(u) - 1 and its derivative for the distance functions of Deville & Särndal (1992)."""
    if name == "linear":
        if np.isfinite(L) or np.isfinite(U):
            return (
                lambda u: np.minimum(np.maximum(u + 1, L), U) - 1,
                lambda u: ((u < U - 1) & (u > L - 1)).astype(float),
            )
        return (lambda u: u, lambda u: np.ones_like(u))
    if name == "raking":
        return (lambda u: np.expm1(u), lambda u: np.exp(u))
    if name == "logit":
        if not (np.isfinite(L) and np.isfinite(U)) or not L < 1 < U:
            raise CalibrationError(
                f"logit calibration needs finite bounds with lower < 1 < upper, got ({L}, {U})"
            )
        A = (U - L) / ((U - 1) * (1 - L))

        def Fm1(u: np.ndarray) -> np.ndarray:
            e = np.exp(np.clip(A * u, -700, 700))
            return (L * (U - 1) + U * (1 - L) * e) / (U - 1 + (1 - L) * e) - 1

        def dF(u: np.ndarray) -> np.ndarray:
            e = np.exp(np.clip(A * u, -700, 700))
            den = U - 1 + (1 - L) * e
            return U * (1 - L) * e * A / den - (L * (U - 1) + U * (1 - L) * e) * ((1 - L) * e * A) / den**2

        return Fm1, dF
    raise CalibrationError(f"calfun={name!r}: use 'linear', 'truncated', 'raking' or 'logit'")


def _grake(
    X: np.ndarray,
    w: np.ndarray,
    pop: np.ndarray,
    Fm1: Callable[[np.ndarray], np.ndarray],
    dF: Callable[[np.ndarray], np.ndarray],
    *,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int, float]:
    """Newton iteration for the calibration multipliers (R ``grake``); returns g, iterations, misfit."""
    sample_total = X.T @ w
    eta = np.zeros(X.shape[1])
    xeta = X @ eta
    misfit_rel = np.inf
    for it in range(1, max_iter + 1):
        T = (X * (w * dF(xeta))[:, None]).T @ X
        misfit = pop - sample_total - X.T @ (w * Fm1(xeta))
        if not (np.all(np.isfinite(T)) and np.all(np.isfinite(misfit))):
            return 1 + Fm1(xeta), it, float("inf")
        deta = np.linalg.pinv(T, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + deta
        xeta = X @ eta
        halvings = 0
        while halvings < 50 and not (np.all(np.isfinite(Fm1(xeta))) and np.all(np.isfinite(dF(xeta)))):
            deta = deta / 2
            eta = eta - deta
            xeta = X @ eta
            halvings += 1
        misfit = pop - sample_total - X.T @ (w * Fm1(xeta))
        misfit_rel = float(np.max(np.abs(misfit) / (1 + np.abs(pop))))
        if misfit_rel < tol:
            return 1 + Fm1(xeta), it, misfit_rel
    return 1 + Fm1(xeta), max_iter, misfit_rel


def _margins_matrix(design: Design, margins: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    blocks, pops, names = [], [], []
    for col, pop in margins.items():
        cells = _cells(design, [col])
        popmap = _population_map(pop, [col])
        codes, counts, keys = _match_cells(cells, popmap, f"calibrate margin {col!r}")
        blocks.append(_dummies(codes, len(counts)))
        pops.append(counts)
        names += [f"{col}={k}" for k in keys]
    return np.column_stack(blocks), np.concatenate(pops), names


def calibrate(
    design: Design,
    formula: str | None = None,
    population: Mapping[str, float] | pd.Series | None = None,
    *,
    margins: Mapping[str, Mapping[Any, float]] | None = None,
    calfun: Literal["linear", "truncated", "raking", "logit"] = "linear",
    bounds: tuple[float, float] = (-np.inf, np.inf),
    max_iter: int = 50,
    tol: float = 1e-7,
) -> Design:
    """Calibrate the weights to known totals (R ``calibrate``, GREG and its bounded versions).

    Give either ``formula`` (right-hand side, e.g. ``"~ stype + enroll"``, expanded with formulaic;
    ``population`` is then ``{model-matrix column: total}``, e.g. ``{"Intercept": 6194, "stype[T.H]":
    755, ...}``) or ``margins={column: {level: count}}`` (indicators of every level of every margin).

    ``calfun``: ``"linear"`` (GREG; ``bounds`` make it truncated), ``"truncated"`` (linear with bounds),
    ``"raking"`` (exponential) or ``"logit"`` (bounded, needs ``lower < 1 < upper``). ``bounds`` apply to
    the multipliers ``g = w_new / w``. Non-convergence is an error that names the misfit.
    """
    if (formula is None) == (margins is None):
        raise CalibrationError("calibrate: give either formula= with population=, or margins=")
    if formula is not None:
        if population is None:
            raise CalibrationError("calibrate: formula= needs population={column: total}")
        from formulaic import model_matrix

        rhs = formula.split("~", 1)[-1]
        mm = model_matrix("~" + rhs, design.data, na_action="raise")
        names = list(mm.columns)
        X = np.asarray(mm, dtype=float)
        popd = dict(population.items()) if isinstance(population, pd.Series) else dict(population)
        miss = [n for n in names if n not in popd]
        extra = [n for n in popd if n not in names]
        if miss or extra:
            raise CalibrationError(
                f"calibrate: population names must be the model-matrix columns {names}; missing {miss}, "
                f"unknown {extra}"
            )
        pop = np.array([float(popd[n]) for n in names])
    else:
        assert margins is not None
        X, pop, names = _margins_matrix(design, margins)
    L, U = float(bounds[0]), float(bounds[1])
    name = "linear" if calfun == "truncated" else calfun
    if calfun == "truncated" and not (np.isfinite(L) or np.isfinite(U)):
        raise CalibrationError("calibrate: calfun='truncated' needs finite bounds=(lower, upper)")
    Fm1, dF = _calfun(name, L, U)

    def fn(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g, it, mis = _grake(X, w, pop, Fm1, dF, max_iter=max_iter, tol=tol)
        if not mis < tol:
            raise CalibrationError(
                f"calibrate ({calfun}): no convergence after {it} iterations (max relative misfit {mis:.3g}); "
                f"widen bounds (now [{L:g}, {U:g}]), drop or merge constraints, or check the totals"
            )
        w_new = w * g
        return w_new, CalStep(kind="greg", X=X, d=w, w_post=w_new)

    return design.with_weighting_step(
        WeightOp("calibrate", fn, f"{calfun} on {len(names)} totals, bounds [{L:g}, {U:g}]")
    )


# ---------------------------------------------------------------------------- trimming
def trim(
    design: Design,
    *,
    upper: float = np.inf,
    lower: float = -np.inf,
    redistribute: Literal["equal", "proportional"] = "equal",
    strict: bool = False,
    max_iter: int = 100,
) -> Design:
    """Trim weights to ``[lower, upper]`` and give the trimmed amount to the other units.

    ``redistribute="equal"`` adds the same amount to every untrimmed unit (R ``trimWeights``);
    ``"proportional"`` scales them up. With ``strict=True`` the step is repeated until no weight is
    outside the bounds. Units with zero weight are left alone. The sum of weights is kept.
    """
    if lower > upper:
        raise CalibrationError(f"trim: lower={lower} is above upper={upper}")

    def once(w: np.ndarray) -> tuple[np.ndarray, bool]:
        act = w != 0
        outside = act & ((w < lower) | (w > upper))
        if not outside.any():
            return w, False
        new = np.where(act, np.clip(w, lower, upper), 0.0)
        extra = float((w - new).sum())
        keep = act & ~outside
        if not keep.any():
            raise CalibrationError("trim: every weight is outside the bounds: widen them")
        if redistribute == "equal":
            new = np.where(keep, new + extra / keep.sum(), new)
        else:
            new = np.where(keep, new * (1 + extra / new[keep].sum()), new)
        return new, True

    def fn(w: np.ndarray) -> tuple[np.ndarray, None]:
        cur, changed = once(w)
        it = 1
        while strict and changed and it < max_iter:
            cur, changed = once(cur)
            it += 1
        if strict and changed:
            raise CalibrationError(f"trim: weights still outside [{lower}, {upper}] after {max_iter} rounds")
        return cur, None

    return design.with_weighting_step(WeightOp("trim", fn, f"bounds [{lower:g}, {upper:g}], {redistribute}"))


# ---------------------------------------------------------------------------- nonresponse
def _logit_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Weighted logistic regression by Newton-Raphson (coefficients)."""
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        mu = 1 / (1 + np.exp(-(X @ beta)))
        W = w * mu * (1 - mu)
        step = np.linalg.lstsq((X * W[:, None]).T @ X, X.T @ (w * (y - mu)), rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            return beta
    raise CalibrationError(
        "nonresponse propensity model did not converge: simplify the formula (separation?)"
    )


def adjust_nonresponse(
    design: Design,
    respond: str,
    *,
    classes: str | Sequence[str] | None = None,
    propensity: str | None = None,
    n_classes: int | None = 5,
    name: str = "nonresponse",
) -> Design:
    """Unit nonresponse adjustment; nonrespondents get weight 0 but stay in the design.

    Parameters
    ----------
    respond : str
        Boolean/0-1 column: 1 = responded.
    classes : str or list of str, optional
        Weighting classes: respondents' weights are multiplied by ``sum(w, all) / sum(w, respondents)``
        within their class.
    propensity : str, optional
        Right-hand side of a logistic response model (e.g. ``"~ hh_size + C(region)"``), fitted with the
        current weights. With ``n_classes`` the estimated propensities are cut at their quantiles into
        classes (Little 1986) and the class adjustment applied; with ``n_classes=None`` respondents'
        weights are divided by their propensity.
    """
    r = design.column(respond)
    if r.isna().any():
        raise CalibrationError(f"response indicator {respond!r} has missing values")
    resp = r.astype(float).to_numpy()
    if not set(np.unique(resp)) <= {0.0, 1.0}:
        raise CalibrationError(f"response indicator {respond!r} must be 0/1 or boolean")
    if (classes is None) == (propensity is None):
        raise CalibrationError("adjust_nonresponse: give exactly one of classes= or propensity=")
    is_r = resp == 1
    if classes is not None:
        cols = [classes] if isinstance(classes, str) else list(classes)
        cells = _cells(design, cols)
        codes, labels = pd.factorize(cells, sort=True)
        detail = f"weighting classes {', '.join(cols)}"
        X = None
    else:
        from formulaic import model_matrix

        assert propensity is not None
        X = np.asarray(
            model_matrix("~" + propensity.split("~", 1)[-1], design.data, na_action="raise"), dtype=float
        )
        codes, labels = None, None
        detail = f"propensity {propensity}" + (f" in {n_classes} classes" if n_classes else " (inverse)")

    def class_adjust(w: np.ndarray, cc: np.ndarray, labs: Any) -> np.ndarray:
        k = int(cc.max()) + 1
        tot = np.bincount(cc, weights=w, minlength=k)
        rtot = np.bincount(cc, weights=w * is_r, minlength=k)
        bad = np.flatnonzero((tot > 0) & (rtot == 0))
        if bad.size:
            raise CalibrationError(
                f"nonresponse class {labs[bad[0]]!r} has no respondents: collapse it with a neighbouring class"
            )
        fac = np.where(rtot > 0, tot / np.where(rtot > 0, rtot, 1.0), 0.0)
        return np.where(is_r, w * fac[cc], 0.0)

    def nrstep(w: np.ndarray, w_new: np.ndarray, cc: np.ndarray) -> CalStep:
        return CalStep(kind="nrclass", X=None, d=w, w_post=w_new, codes=cc, resp=is_r)

    def fn(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        if X is None:
            assert codes is not None
            w_new = class_adjust(w, codes, labels)
            return w_new, nrstep(w, w_new, codes)
        beta = _logit_fit(X, resp, w)
        p = 1 / (1 + np.exp(-(X @ beta)))
        if n_classes:
            edges = np.quantile(p[w > 0], np.linspace(0, 1, n_classes + 1)[1:-1])
            cc = np.searchsorted(edges, p, side="right")
            w_new = class_adjust(w, cc, [f"propensity class {i + 1}" for i in range(n_classes)])
            return w_new, nrstep(w, w_new, cc)
        w_new = np.where(is_r, w / p, 0.0)
        return w_new, CalStep(kind="ipw", X=X, d=w, w_post=w_new, resp=is_r, p=p)

    return design.with_weighting_step(WeightOp(name, fn, detail))
