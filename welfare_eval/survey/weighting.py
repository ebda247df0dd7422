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
truncated-linear, raking (bounds truncate ``g``, as R's ``cal.raking``) and logit distance functions,
R's ``bounds.const``, ``trim`` and ``force`` options and its rescaling of weights far below the totals
(checked against R survey 4.1.1 in ``tests/test_survey_calibrate_bounds.py``).
"""

from __future__ import annotations

import warnings
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
Bound = float | np.ndarray
CalFun = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]

_RESCALE_THRESHOLD = 20.0  # R grake's SOMETHRESHOLD


def _calfun(name: str, L: Bound, U: Bound) -> CalFun:
    """``F^{-1}(u) - 1`` and the derivative R uses for the distance functions of Deville & Särndal (1992).

    ``L`` and ``U`` bound the multipliers ``g`` (scalars, or one pair per unit with ``bounds_const``).
    The functions are those of R ``survey`` 4.1.1 (``cal.linear``, ``cal.raking``, ``cal.logit``),
    including ``cal.raking``'s derivative, which is set to 0 outside ``(L - 1, U - 1)`` on the scale
    of ``u = log g`` (the cut-offs of the linear function) rather than outside ``(log L, log U)``.
    The derivative only steers Newton's iteration: when it converges, the solution ``g`` is the same
    (the calibration equations have a unique solution in ``g``); keeping R's makes the iteration, the
    cases in which it fails and the last iterate kept by ``force=True``, those of R.
    """
    bounded = bool(np.any(np.isfinite(L)) or np.any(np.isfinite(U)))
    if name == "linear":
        if bounded:
            return (
                lambda u: np.minimum(np.maximum(u + 1, L), U) - 1,
                lambda u: ((u < U - 1) & (u > L - 1)).astype(float),
            )
        return (lambda u: u, lambda u: np.ones_like(u))
    if name == "raking":
        if bounded:
            return (
                lambda u: np.minimum(np.maximum(np.exp(u), L), U) - 1,
                lambda u: np.where((u < U - 1) & (u > L - 1), np.exp(u), 0.0),
            )
        return (lambda u: np.expm1(u), lambda u: np.exp(u))
    if name == "logit":
        if not (np.all(np.isfinite(L)) and np.all(np.isfinite(U))) or not (np.all(L < 1) and np.all(U > 1)):
            raise CalibrationError(
                "logit calibration needs finite bounds with lower < 1 < upper"
                + (f", got ({L}, {U})" if np.ndim(L) == 0 else " for every unit's multiplier")
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


def _rescale_factor(X: np.ndarray, w: np.ndarray, pop: np.ndarray) -> float | None:
    """R ``grake``'s rescaling: the mean of population / sample totals when all exceed 20, else None."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = pop / (X.T @ w)
    if np.all(np.isfinite(scales)) and scales.min() > _RESCALE_THRESHOLD:
        return float(scales.mean())
    return None


def _grake(
    X: np.ndarray,
    w: np.ndarray,
    pop: np.ndarray,
    Fm1: Callable[[np.ndarray], np.ndarray],
    dF: Callable[[np.ndarray], np.ndarray],
    *,
    max_iter: int,
    tol: float,
    rescale: bool = False,
) -> tuple[np.ndarray, int, float]:
    """Newton iteration for the calibration multipliers, as R ``grake``; returns g, iterations, misfit.

    Written from R ``survey`` 4.1.1's ``grake`` (no maintained Python package does R-compatible
    bounded calibration): steps ``T^+ misfit`` with ``T = sum w F'(x'eta) x x'`` (Moore-Penrose
    inverse, tolerance ``256 eps``), step halving while ``g`` is not finite, at most ``max_iter``
    steps (halvings count), convergence when every ``|misfit| / (1 + |total|) < tol``. With
    ``rescale`` (and population totals over 20 times the sample totals) the weights are first
    multiplied by the mean ratio and ``g`` by it at the end, as R does. Units with zero weight take
    no part (their ``g`` is irrelevant).
    """
    pos = w > 0
    scale = _rescale_factor(X, w, pop) if rescale else None
    if scale is not None:
        w = w * scale
    sample_total = X.T @ w
    eta = np.zeros(X.shape[1])
    xeta = X @ eta

    def misfit_at(xe: np.ndarray) -> np.ndarray:
        return pop - sample_total - X.T @ np.where(pos, w * Fm1(xe), 0.0)

    def finite(xe: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(Fm1(xe)[pos])) and np.all(np.isfinite(dF(xe)[pos])))

    it = 1
    misfit_rel = np.inf
    while True:
        T = (X * np.where(pos, w * dF(xeta), 0.0)[:, None]).T @ X
        misfit = misfit_at(xeta)
        if not (np.all(np.isfinite(T)) and np.all(np.isfinite(misfit))):
            misfit_rel = float("inf")
            break
        deta = np.linalg.pinv(T, rcond=256 * np.finfo(float).eps) @ misfit
        eta = eta + deta
        xeta = X @ eta
        while it < max_iter and not finite(xeta):
            it += 1
            deta = deta / 2
            eta = eta - deta
            xeta = X @ eta
        misfit = misfit_at(xeta)
        misfit_rel = float(np.max(np.abs(misfit) / (1 + np.abs(pop))))
        if misfit_rel < tol:
            break
        it += 1
        if it > max_iter:
            break
    g = 1 + Fm1(xeta)
    if scale is not None:
        g = g * scale
    return g, min(it, max_iter), misfit_rel


def _trim_g(g: np.ndarray, w: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, int]:
    """R ``calibrate(trim=)``: clip ``g`` to ``[lo, hi]`` and add the trimmed weight to the others.

    The others' ``g`` all rise by ``sum((g - g_trimmed) w) / sum(w of the others)``, one pass (so
    they may end outside ``[lo, hi]``), and the total of the weights is kept. Returns the new ``g``
    and the number of trimmed units. When every unit is trimmed nothing can be redistributed: the
    total changes (R does the same silently; here with a warning).
    """
    act = w > 0
    new = np.clip(g, lo, hi)
    outside = act & ((g < lo) | (g > hi))
    if not outside.any():
        return g, 0
    inside = act & ~outside
    extra = float(((g - new) * w)[act].sum())
    if inside.any():
        new = np.where(inside, new + extra / w[inside].sum(), new)
    else:
        warnings.warn(
            f"calibrate: every multiplier g is outside trim=({lo:g}, {hi:g}), so the trimmed weight "
            f"({extra:.6g}) cannot be given to other units and the sum of the weights changes",
            UserWarning,
            stacklevel=5,
        )
    return np.where(act, new, g), int(outside.sum())


def _bounds_feasible(X: np.ndarray, w: np.ndarray, pop: np.ndarray, L: Bound, U: Bound) -> bool | None:
    """Whether some multipliers ``g`` within ``[L, U]`` meet the totals (a linear program; None if unsure).

    Used to say why a bounded calibration failed: when no such ``g`` exists no distance function can
    succeed; when one exists the iteration (R's ``grake``) missed it.
    """
    from scipy.optimize import linprog

    pos = w > 0
    lo = np.broadcast_to(np.asarray(L, dtype=float), w.shape)[pos]
    hi = np.broadcast_to(np.asarray(U, dtype=float), w.shape)[pos]
    scale = 1 + np.abs(pop)
    A = (X[pos] * w[pos, None]).T / scale[:, None]
    bnds = [
        (None if not np.isfinite(a) else a, None if not np.isfinite(b) else b)
        for a, b in zip(lo, hi, strict=True)
    ]
    res = linprog(np.zeros(int(pos.sum())), A_eq=A, b_eq=pop / scale, bounds=bnds, method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    return None


def _interval(value: Any, what: str) -> tuple[float, float]:
    """``(lower, upper)`` from a pair of numbers with lower < upper (a clear error otherwise)."""
    try:
        if len(value) != 2:
            raise ValueError
        lo, hi = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise CalibrationError(
            f"calibrate: {what} must be two numbers (lower, upper), got {value!r}"
        ) from None
    if np.isnan(lo) or np.isnan(hi) or not lo < hi:
        raise CalibrationError(f"calibrate: {what}=({lo:g}, {hi:g}) needs lower < upper")
    return lo, hi


def _totals_matrix(
    design: Design,
    formula: str | None,
    population: Mapping[str, float] | pd.Series | None,
    margins: Mapping[str, Mapping[Any, float]] | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The calibration variables (n x k), their population totals and names, from a formula or margins."""
    if (formula is None) == (margins is None):
        raise CalibrationError("calibrate: give either formula= with population=, or margins=")
    if formula is None:
        assert margins is not None
        return _margins_matrix(design, margins)
    if population is None:
        raise CalibrationError("calibrate: formula= needs population={column: total}")
    from formulaic import model_matrix

    rhs = formula.split("~", 1)[-1]
    mm = model_matrix("~" + rhs, design.data, na_action="raise")
    names = list(mm.columns)
    popd = dict(population.items()) if isinstance(population, pd.Series) else dict(population)
    miss = [n for n in names if n not in popd]
    extra = [n for n in popd if n not in names]
    if miss or extra:
        raise CalibrationError(
            f"calibrate: population names must be the model-matrix columns {names}; missing {miss}, "
            f"unknown {extra}"
        )
    pop = np.array([float(popd[n]) for n in names])
    if not np.all(np.isfinite(pop)):
        bad = [n for n, v in zip(names, pop, strict=True) if not np.isfinite(v)]
        raise CalibrationError(f"calibrate: population totals of {bad} are missing or infinite")
    return np.asarray(mm, dtype=float), pop, names


def _failure_reason(
    X: np.ndarray, w: np.ndarray, pop: np.ndarray, L: float, U: float, *, bounds_const: bool, rescale: bool
) -> str:
    """Why a bounded calibration may have failed: the bounds cannot be met, or the iteration missed them."""
    if not (np.isfinite(L) or np.isfinite(U)):
        return ""
    s = _rescale_factor(X, w, pop) if rescale else None
    ok = _bounds_feasible(X, w if s is None else w * s, pop, *_g_bounds(w, L, U, bounds_const))
    if ok is False:
        return "; no weights with multipliers inside the bounds meet these totals (linear program)"
    if ok is True:
        return "; weights within the bounds that meet the totals exist (linear program): raise max_iter"
    return ""


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
    bounds_const: bool = False,
    trim: tuple[float, float] | None = None,
    force: bool = False,
    max_iter: int = 50,
    tol: float = 1e-7,
) -> Design:
    """Calibrate the weights to known totals (R ``calibrate``: GREG, raking, logit, with bounds).

    The new weights are ``w g`` with multipliers ``g = F(x' eta)`` solving ``sum w g x = totals``
    (Deville & Särndal 1992), found by Newton's iteration as R ``survey`` 4.1.1's ``grake``.

    Parameters
    ----------
    design : Design
        The design to calibrate (a replicate design is calibrated replicate by replicate).
    formula, population : str and dict or Series
        Right-hand side (e.g. ``"~ stype + enroll"``, expanded with formulaic) and its totals
        ``{model-matrix column: total}``, e.g. ``{"Intercept": 6194, "stype[T.H]": 755, ...}``.
    margins : dict, optional
        Instead of ``formula``: ``{column: {level: count}}`` (indicators of every level of every margin).
    calfun : {"linear", "truncated", "raking", "logit"}
        Distance function: ``"linear"`` (GREG, ``g = 1 + x'eta``), ``"truncated"`` (linear with
        bounds), ``"raking"`` (``g = exp(x'eta)``) or ``"logit"`` (needs ``lower < 1 < upper``).
    bounds : (float, float)
        Bounds ``(L, U)`` on the multipliers ``g``. Linear and raking multipliers are truncated to
        them inside the iteration (R's ``cal.linear`` / ``cal.raking``: ``g = min(max(F(x'eta), L),
        U)``), so the solution meets the totals with every ``g`` in ``[L, U]`` or the calibration
        fails; logit multipliers lie strictly inside them.
    bounds_const : bool
        ``bounds`` are bounds on the final weights instead (R's ``bounds.const=TRUE``): unit i's
        multiplier is bounded by ``(L / w_i, U / w_i)``.
    trim : (float, float), optional
        After calibration, clip ``g`` to ``trim`` and spread the weight trimmed off over the other
        units (R's ``trim=``; their ``g`` rise by a common amount, so the totals are no longer met
        exactly). When trimming happens it also accepts a calibration that did not converge, as R.
    force : bool
        Keep the last iterate of a calibration that did not converge, with a warning (R's
        ``force=TRUE``); by default non-convergence is a :class:`CalibrationError`.
    max_iter, tol : int, float
        At most ``max_iter`` Newton steps; converged when every ``|misfit| / (1 + |total|) < tol``
        (R's ``maxit`` and ``epsilon``).

    Returns
    -------
    Design
        The calibrated design; its Taylor variance uses the residuals of the ``w``-weighted regression
        on the calibration variables (R's ``greg_calibration``).

    Notes
    -----
    As R's ``grake``, when every population total is more than 20 times the sample's weighted total
    (e.g. weights of 1), the weights are first multiplied by the mean of those ratios, the bounds
    apply to ``g`` relative to the rescaled weights, and a warning says so. R applies neither the
    rescaling nor ``trim`` to linear calibration without bounds (it takes another path, ``regcalibrate``):
    here ``trim`` is honoured for every ``calfun``. On a replicate design each replicate is calibrated
    (and trimmed) in turn; a replicate that does not converge keeps its last iterate with a warning, as
    R does, and ``bounds_const`` bounds each replicate's weights (R's replicate method ignores it).
    """
    X, pop, names = _totals_matrix(design, formula, population, margins)
    L, U = _interval(bounds, "bounds")
    if bounds_const and not (np.isfinite(L) or np.isfinite(U)):
        raise CalibrationError(
            "calibrate: bounds_const=True needs finite bounds=(lower, upper) on the weights"
        )
    t_lo, t_hi = _interval(trim, "trim") if trim is not None else (-np.inf, np.inf)
    name = "linear" if calfun == "truncated" else calfun
    if calfun == "truncated" and not (np.isfinite(L) or np.isfinite(U)):
        raise CalibrationError("calibrate: calfun='truncated' needs finite bounds=(lower, upper)")
    if name == "logit" and bounds_const:
        w0 = design.weights
        out = np.flatnonzero((w0 > 0) & ~((w0 > L) & (w0 < U)))
        if out.size:
            raise CalibrationError(
                f"calibrate (logit, bounds_const=True): {out.size} weight(s) are not strictly inside the bounds "
                f"({L:g}, {U:g}) on the weights (first: row {int(out[0])}, weight {w0[out[0]]:g}); the logit "
                "function needs every weight inside them: widen the bounds or use calfun='raking'"
            )
    bounded = bool(np.isfinite(L) or np.isfinite(U))
    # R: linear calibration without bounds is regcalibrate (no rescaling); every other case is grake
    rescale = bounded or name != "linear"
    _calfun(name, *_g_bounds(design.weights, L, U, bounds_const))  # bad bounds fail here, once
    scale = _rescale_factor(X, design.weights, pop) if rescale else None
    if scale is not None and bounded:
        warnings.warn(
            f"calibrate: the population totals are over {_RESCALE_THRESHOLD:g} times the weighted sample "
            f"totals, so (as R's grake) the weights are first multiplied by {scale:.4g} and bounds=({L:g}, "
            f"{U:g}) apply to g relative to the rescaled weights: scale the weights to the population first "
            "if you meant bounds on the design weights",
            UserWarning,
            stacklevel=2,
        )

    def adjust(w: np.ndarray, *, replicate: bool) -> tuple[np.ndarray, CalStep]:
        Fm1, dF = _calfun(name, *_g_bounds(w, L, U, bounds_const))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g, it, mis = _grake(X, w, pop, Fm1, dF, max_iter=max_iter, tol=tol, rescale=rescale)
        failed = not mis < tol
        if trim is not None:
            g, n_trimmed = _trim_g(g, w, t_lo, t_hi)
            failed = failed and n_trimmed == 0
        if failed:
            what = f"calibrate ({calfun}): no convergence after {it} iterations"
            if replicate:
                # R calibrate.svyrep.design keeps a replicate's last iterate (grake's warning only)
                warnings.warn(
                    f"{what} on a replicate: its last iterate is kept, as R does for replicate designs "
                    "(its weights miss the totals; widen the bounds to avoid it)",
                    UserWarning,
                    stacklevel=5,
                )
            elif not force:
                why = _failure_reason(X, w, pop, L, U, bounds_const=bounds_const, rescale=rescale)
                raise CalibrationError(
                    f"{what} (max relative misfit {mis:.3g}){why}; widen bounds (now [{L:g}, {U:g}]"
                    f"{' on the weights' if bounds_const else ''}), drop or merge constraints, or check the "
                    "totals (force=True keeps the last iterate, as R)"
                )
            else:
                warnings.warn(
                    f"{what} (max relative misfit {mis:.3g}): the weights do not meet the totals (force=True)",
                    UserWarning,
                    stacklevel=4,
                )
        w_new = np.where(w > 0, w * g, 0.0)
        return w_new, CalStep(kind="greg", X=X, d=w, w_post=w_new)

    def fn(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        return adjust(w, replicate=False)

    def on_replicate(w: np.ndarray) -> tuple[np.ndarray, CalStep]:
        return adjust(w, replicate=True)

    detail = f"{calfun} on {len(names)} totals, bounds [{L:g}, {U:g}]" + (
        " on the weights" if bounds_const else ""
    )
    if trim is not None:
        detail += f", trim [{t_lo:g}, {t_hi:g}]"
    return design.with_weighting_step(WeightOp("calibrate", fn, detail, on_replicate=on_replicate))


def _g_bounds(w: np.ndarray, L: float, U: float, bounds_const: bool) -> tuple[Bound, Bound]:
    """Bounds on the multipliers: ``(L, U)``, or ``(L / w_i, U / w_i)`` per unit with ``bounds_const``.

    Units with zero weight take no part in the calibration, so any bounds do for them: they get
    ``(0.5, 2)``, around 1, on which every distance function is defined.
    """
    if not bounds_const:
        return L, U
    pos = w > 0
    safe = np.where(pos, w, 1.0)
    return np.where(pos, L / safe, 0.5), np.where(pos, U / safe, 2.0)


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
