"""Difference-in-differences for the matched-pair design and the classic 2×2, with inference side by side.

Specifications
--------------
*Matched pairs* (``unit`` and ``pair`` given)::

    y_it = τ D_it + α_unit + λ_{pair × period} + x_it'γ + ε_it,   D = treated × post

on household or village rows, weighted (survey weights) or not, clustered by pair. Both fixed effects are
absorbed exactly (see :mod:`welfare_eval.did._absorb`). With ``reference=`` (or a non-0/1 ``post``
column, e.g. ``wave``) the effect is estimated by period: ``D_w = treated × 1[period = w]`` for each
period ``w`` other than the reference.

*Classic 2×2* (neither ``unit`` nor ``pair``)::

    y = β0 + β1 treated + β2 post + τ D + x'γ + ε

clustered by ``cluster`` when given, otherwise with iid and HC1 errors (repeated cross-sections).

Inference methods (``inference=``)
----------------------------------
``iid``, ``hc1``, ``cr1``, ``cr2`` (with Satterthwaite df), ``cr3`` (leave-one-cluster-out), ``wild``
(restricted wild cluster bootstrap-t, test inversion CI), ``ri`` (exact randomization inference over
within-pair swaps; rows ``ri`` for the coefficient and ``ri_t`` for the CR1-studentized statistic).
See :mod:`welfare_eval.did._linear` and :mod:`welfare_eval.did._resample` for the formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._blas import one_blas_thread
from .._results import ResultBase
from ._absorb import Absorber
from ._linear import LinearFit
from ._resample import DrawSet, randomization_terms, wild_bootstrap

__all__ = ["DEFAULT_INFERENCE", "DiDResult", "estimate"]

DEFAULT_INFERENCE: tuple[str, ...] = ("cr1", "cr2", "wild", "ri")
WAVE_ORDER = ("baseline", "midline", "endline")
KNOWN_METHODS = ("iid", "hc1", "cr1", "cr2", "cr3", "jackknife", "wild", "ri")
TIDY_COLUMNS = [
    "term", "method", "estimate", "std_error", "df", "statistic", "p_value", "ci_low", "ci_high",
    "null", "n_obs", "n_clusters", "draws",
]


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def _require_columns(data: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"data has no column(s) {missing}; available: {list(data.columns)[:20]}")


def _binary(data: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"column {col!r} must be 0/1; found {pd.unique(data.loc[bad, col])[:5].tolist()}")
    return values


def _is_binary(series: pd.Series) -> bool:
    # on the distinct values only (hashing): parsing a million strings of a wave column took 0.5 s
    vals = pd.to_numeric(pd.Series(pd.unique(series)), errors="coerce")
    return bool(vals.notna().all() and vals.isin([0, 1]).all())


@dataclass
class _Design:
    frame: pd.DataFrame
    y: np.ndarray
    X: np.ndarray
    names: list[str]
    treat_terms: list[int]
    fes: list[np.ndarray]
    weights: np.ndarray
    cluster: np.ndarray | None
    cluster_labels: np.ndarray | None
    spec: str
    notes: list[str] = field(default_factory=list)
    periods: list[Any] = field(default_factory=list)
    unit_codes: np.ndarray | None = None
    pair_codes: np.ndarray | None = None


def _str_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values.astype(str)`` (one per distinct string) and the strings, by hashing the raw values
    (distinct raw values with equal strings, e.g. ``1`` and ``"1"`` in an object column, share a code).

    Integer, boolean and string columns map distinct values to distinct strings, so only their (few)
    distinct values are converted; the string array of a million-level column is never built.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    codes = codes.astype(np.intp)
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    distinct_str = pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype))
    if distinct_str:  # labels converted where needed (error messages, the few pair labels)
        return codes, np.asarray(pd.Index(uniques), dtype=object)
    labels = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    merged, inv = np.unique(labels.astype(str), return_inverse=True)
    if merged.size == labels.size:
        return codes, labels
    return inv.ravel().astype(np.intp)[codes], np.asarray(merged, dtype=object)


def _sorted_codes(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recode so that codes follow the sorted string labels (as ``np.unique`` of the strings)."""
    strs = np.array([str(v) for v in labels])
    order = np.argsort(strs, kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return rank[codes], strs[order]


def _build_design(
    data: pd.DataFrame,
    *,
    outcome: str,
    treated: str,
    post: str,
    unit: str | None,
    pair: str | None,
    weights: str | None,
    covariates: Sequence[str] | None,
    cluster: str | None,
    period: str | None,
    reference: Any,
    dropna: bool,
) -> _Design:
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    covariates = list(covariates or [])
    if (unit is None) != (pair is None):
        raise ValueError("give both unit= and pair= (matched-pair DiD) or neither (classic 2×2)")
    spec = "pairs" if unit is not None else "2x2"
    by_period = reference is not None or (spec == "pairs" and not _is_binary(data[post]) if post in data else False)
    if period is None and by_period:
        period = post
    cols = [outcome, treated, post, *covariates]
    cols += [c for c in (unit, pair, weights, cluster, period) if c is not None]
    cols = list(dict.fromkeys(cols))
    _require_columns(data, cols)
    frame = data[cols].copy()
    notes: list[str] = []
    na = frame.isna().any(axis=1)
    if na.any():
        counts = frame.isna().sum()
        detail = ", ".join(f"{c}: {int(n)}" for c, n in counts.items() if n)
        if not dropna:
            raise ValueError(
                f"{int(na.sum())} row(s) have missing values ({detail}); drop them explicitly or pass dropna=True"
            )
        notes.append(f"{int(na.sum())} row(s) with missing values dropped ({detail})")
        frame = frame.loc[~na]
    frame = frame.reset_index(drop=True)
    n = len(frame)
    if n == 0:
        raise ValueError("no rows to estimate from")
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"outcome {outcome!r} must be numeric and finite")
    tr = _binary(frame, treated)
    if weights is not None:
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(w).all() or (w <= 0).any():
            bad = int((~np.isfinite(w) | (w <= 0)).sum())
            raise ValueError(f"weights {weights!r}: {bad} value(s) missing, non-finite or ≤ 0; weights must be > 0")
    else:
        w = np.ones(n)
    cov = np.empty((n, 0))
    if covariates:
        cov = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float) for c in covariates])
        if not np.isfinite(cov).all():
            raise ValueError(f"covariates {covariates} must be numeric and finite")

    if spec == "2x2":
        if reference is not None:
            raise ValueError("effects by period (reference=) need the matched-pair specification (unit=, pair=)")
        ps = _binary(frame, post)
        d = tr * ps
        if np.ptp(d) == 0:
            raise ValueError(f"no variation in D = {treated} × {post}")
        X = np.column_stack([np.ones(n), tr, ps, d, cov])
        names = ["(Intercept)", treated, post, "D", *covariates]
        clu = clu_labels = None
        if cluster is not None:
            clu, clu_labels = _sorted_codes(*_str_codes(frame[cluster]))
        return _Design(frame, y, X, names, [3], [], w, clu, clu_labels, spec, notes)

    # ---- matched pairs -----------------------------------------------------------------------------
    assert unit is not None and pair is not None
    per_col = period if period is not None else post
    per_values = frame[per_col]
    if isinstance(per_values.dtype, pd.CategoricalDtype):
        levels = [lv for lv in per_values.cat.categories if (per_values == lv).any()]
    else:
        levels = sorted(pd.unique(per_values).tolist(), key=lambda v: (str(type(v)), v))
        if set(map(str, levels)) <= set(WAVE_ORDER):  # project waves as plain strings: survey order
            levels = sorted(levels, key=lambda v: WAVE_ORDER.index(str(v)))
    if len(levels) < 2:
        raise ValueError(f"column {per_col!r} has a single period ({levels}); DiD needs two or more")
    # integer codes with the semantics of the columns' string values (O(N) hashing, no string arrays)
    ucode, unit_labels = _str_codes(frame[unit])
    pcode, pair_raw = _str_codes(frame[pair])
    pair_labels = np.array([str(v) for v in pair_raw], dtype=object)
    tcode = tr.astype(np.intp)
    # treated constant within unit; unit nested in pair
    for codes, what in ((pcode, "pair"), (tcode, "treated")):
        first = np.full(unit_labels.size, -1, dtype=np.intp)
        first[ucode] = codes
        bad_units = np.unique(ucode[first[ucode] != codes])
        if bad_units.size:
            names_bad = [str(v) for v in unit_labels[bad_units][:5]]
            if what == "pair":
                raise ValueError(f"unit(s) {names_bad} appear in more than one pair")
            raise ValueError(f"{treated!r} varies within unit(s) {names_bad}")
    # every pair has both arms in every period
    per_code, per_raw = _str_codes(per_values)
    per_labels = np.array([str(v) for v in per_raw], dtype=object)
    present = np.zeros((pair_labels.size, 2, per_labels.size), dtype=bool)
    present[pcode, tcode, per_code] = True
    lookup = {lab: k for k, lab in enumerate(per_labels.tolist())}
    problems = []
    for pi in np.argsort(pair_labels, kind="stable"):
        pr = pair_labels[pi]
        for arm, arm_name in ((1, "pilot"), (0, "comparison")):
            miss = [str(lv) for lv in levels if str(lv) not in lookup or not present[pi, arm, lookup[str(lv)]]]
            if miss:
                problems.append(f"pair {pr}: no {arm_name} observations in period(s) {miss}")
    if problems:
        raise ValueError(
            "incomplete pairs (every pair needs its pilot and comparison village in every period; "
            "drop the pair or the period explicitly): " + "; ".join(problems[:6])
        )
    if by_period:
        if reference is None:
            reference = levels[0]
        if reference not in levels:
            raise ValueError(f"reference={reference!r} is not a level of {per_col!r} ({levels})")
        others = [lv for lv in levels if lv != reference]
        dcols = [tr * (per_code == lookup[str(lv)]).astype(float) if str(lv) in lookup else np.zeros(n)
                 for lv in others]
        dnames = [f"D[{lv}]" for lv in others]
    else:
        ps = _binary(frame, post)
        dcols = [tr * ps]
        dnames = ["D"]
        others = []
    for dc, nm in zip(dcols, dnames, strict=True):
        if np.ptp(dc) == 0:
            raise ValueError(f"no variation in {nm} (treated × post)")
    X = np.column_stack([*dcols, cov]) if covariates else np.column_stack(dcols)
    names = [*dnames, *covariates]
    fes = [ucode, pcode * per_labels.size + per_code]
    if cluster is None or cluster == pair:
        clu, clu_labels = _sorted_codes(pcode, pair_labels)
    else:
        clu, clu_labels = _sorted_codes(*_str_codes(frame[cluster]))
    des = _Design(frame, y, X, names, list(range(len(dnames))), fes, w, clu, clu_labels, spec, notes)
    des.periods = others
    des.unit_codes, des.pair_codes = ucode, pcode
    return des


# ------------------------------------------------------------------------------------------------
# result object
# ------------------------------------------------------------------------------------------------
class DiDResult(ResultBase):
    """Result of :func:`estimate`: one estimate per term, inference by several methods side by side.

    Attributes
    ----------
    fit
        The underlying :class:`~welfare_eval.did._linear.LinearFit` (transformed design).
    draws
        For ``wild`` and ``ri``: the per-term :class:`~welfare_eval.did._resample.DrawSet`.
    """

    title = "Difference-in-differences"

    def __init__(self, *, fit: LinearFit, design: _Design, table: pd.DataFrame, methods: list[str],
                 level: float, null: float, vcovs: dict[str, np.ndarray], draws: dict[tuple[str, str], DrawSet],
                 outcome: str, extra_notes: list[str]) -> None:
        self.fit = fit
        self.design = design
        self._table = table
        self.methods = methods
        self.level = level
        self.null = null
        self._vcovs = vcovs
        self.draws = draws
        self.outcome = outcome
        self._notes = extra_notes
        self.title = f"Difference-in-differences: {outcome} ({'matched pairs' if design.spec == 'pairs' else '2×2'})"

    @property
    def terms(self) -> list[str]:
        """Treatment terms (the effects)."""
        return [self.design.names[j] for j in self.design.treat_terms]

    @property
    def coef(self) -> pd.Series:
        """All coefficients (treatment terms and covariates)."""
        return pd.Series(self.fit.beta, index=self.design.names, name="estimate")

    @property
    def nobs(self) -> int:
        return self.fit.n

    @property
    def r2(self) -> float:
        """R² (2×2: usual centred R²; matched pairs: within R², after the fixed effects)."""
        w = self.design.weights
        e = self.fit.resid
        if self.design.spec == "2x2":
            yb = np.average(self.design.y, weights=w)
            tss = float(np.sum(w * (self.design.y - yb) ** 2))
        else:
            tss = float(self.fit.y @ self.fit.y)
        return 1.0 - float(e @ e) / tss

    def tidy(self, *, all_terms: bool = False) -> pd.DataFrame:
        """One row per term × method (treatment terms only unless ``all_terms``)."""
        if all_terms:
            return self._table.copy()
        return self._table[self._table["term"].isin(self.terms)].reset_index(drop=True)

    def vcov(self, method: str = "cr1") -> pd.DataFrame:
        """Variance-covariance matrix of all coefficients for an analytic method."""
        if method not in self._vcovs:
            raise ValueError(f"vcov({method!r}): available {sorted(self._vcovs)}")
        names = self.design.names
        return pd.DataFrame(self._vcovs[method], index=names, columns=names)

    def joint_test(self, terms: Sequence[str] | None = None, *, method: str = "cr2",
                   values: Sequence[float] | float | None = None) -> dict[str, float]:
        """Joint Wald test that ``terms`` (default: all treatment terms) equal ``values`` (default: null).

        ``cr2``: HTZ test (Pustejovsky & Tipton 2018, as clubSandwich ``Wald_test(test = "HTZ")``);
        ``cr1``: ``F = Q/q`` on ``(q, G - 1)`` df; ``iid``/``hc1``: ``F = Q/q`` on ``(q, N - K)`` df.
        """
        names = self.design.names
        terms = list(terms) if terms is not None else self.terms
        unknown = [t for t in terms if t not in names]
        if unknown:
            raise ValueError(f"joint_test: unknown term(s) {unknown}; terms are {names}")
        c = np.zeros((len(terms), len(names)))
        for i, t in enumerate(terms):
            c[i, names.index(t)] = 1.0
        if values is None:
            d = np.full(len(terms), self.null)
        else:
            d = np.broadcast_to(np.asarray(values, dtype=float), (len(terms),)).copy()
        if method == "cr2":
            return self.fit.wald_htz(c, d)
        if method not in ("cr1", "iid", "hc1"):
            raise ValueError(f"joint_test(method={method!r}): use 'cr2', 'cr1', 'iid' or 'hc1'")
        v = {"cr1": self.fit.vcov_cr1, "iid": self.fit.vcov_iid, "hc1": self.fit.vcov_hc1}[method]()
        diff = c @ self.fit.beta - d
        q = float(diff @ np.linalg.solve(c @ v @ c.T, diff))
        df2 = float(self.fit.n_clusters - 1) if method == "cr1" else float(self.fit.n - self.fit.k_total)
        f = q / len(terms)
        return {"F": f, "df_num": float(len(terms)), "df_denom": df2,
                "p_value": float(stats.f.sf(f, len(terms), df2)), "Q": q}

    def influence(self) -> pd.DataFrame:
        """Leave-one-cluster-out estimates of the treatment terms (one row per cluster × term)."""
        if self.design.cluster is None:
            raise ValueError("influence() needs clustered data")
        loo = self.fit.leave_one_out()
        rows = []
        labels = self.design.cluster_labels
        assert labels is not None
        for g, lab in enumerate(labels):
            for j in self.design.treat_terms:
                rows.append({"cluster": lab, "term": self.design.names[j], "estimate_without": loo[g, j],
                             "change": loo[g, j] - self.fit.beta[j]})
        return pd.DataFrame(rows)

    def notes(self) -> list[str]:
        out = list(self._notes)
        if self.fit.cluster is not None:
            out.append(f"{self.fit.n_clusters} clusters, N = {self.fit.n}; CR1 factor G/(G-1)·(N-1)/(N-K), K = {self.fit.k_ssc}")
        out.append(f"{int(self.level * 100)}% confidence intervals; tests of H0: effect = {self.null:g}")
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Coefficient plot: the estimate with each method's confidence interval."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.6 + 0.35 * len(self.tidy())))
        tab = self.tidy()
        ypos = np.arange(len(tab))[::-1]
        ax.errorbar(tab["estimate"], ypos,
                    xerr=[tab["estimate"] - tab["ci_low"], tab["ci_high"] - tab["estimate"]],
                    fmt="o", capsize=3, **kwargs)
        ax.set_yticks(ypos)
        ax.set_yticklabels([f"{t} · {m}" for t, m in zip(tab["term"], tab["method"], strict=True)])
        ax.axvline(self.null, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(f"effect on {self.outcome} ({int(self.level * 100)}% CI)")
        return ax


# ------------------------------------------------------------------------------------------------
# main entry point
# ------------------------------------------------------------------------------------------------
def _t_row(term: str, method: str, est: float, se: float, df: float, null: float, level: float) -> dict[str, Any]:
    stat = (est - null) / se
    p = 2 * stats.t.sf(abs(stat), df)
    q = stats.t.ppf(0.5 + level / 2, df)
    return {"term": term, "method": method, "estimate": est, "std_error": se, "df": df, "statistic": stat,
            "p_value": p, "ci_low": est - q * se, "ci_high": est + q * se}


@one_blas_thread
def estimate(
    data: pd.DataFrame,
    *,
    outcome: str,
    treated: str,
    post: str,
    unit: str | None = None,
    pair: str | None = None,
    weights: str | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    inference: Sequence[str] = DEFAULT_INFERENCE,
    draws: int = 2**18,
    null: float = 0.0,
    seed: int = 0,
    period: str | None = None,
    reference: Any = None,
    level: float = 0.95,
    wild_weights: str = "rademacher",
    dropna: bool = False,
    confint: bool = True,
) -> DiDResult:
    """Estimate a difference-in-differences effect with several inference methods side by side.

    Parameters
    ----------
    data
        One row per observation (household × wave, village × wave, or any repeated cross-section).
    outcome, treated, post
        Column names. ``treated`` is 0/1 (pilot); ``post`` is 0/1, or a period column (e.g. ``wave``)
        for effects by period (then ``reference`` defaults to its first level).
    unit, pair
        Matched-pair specification ``y ~ D | unit + pair×period`` (both given) or the classic 2×2
        ``y ~ treated + post + D`` (neither).
    weights
        Survey weights (> 0); the fit is weighted least squares.
    covariates
        Extra regressors (time-varying ones in the matched-pair specification).
    cluster
        Cluster column; default the pair (matched pairs) or none (2×2: iid and HC1 errors).
    inference
        Methods among ``iid, hc1, cr1, cr2, cr3, wild, ri``. The default ``("cr1", "cr2", "wild", "ri")``
        is trimmed to what the specification allows (2×2 without clusters: ``iid, hc1``; ``ri`` needs
        pairs); methods asked for explicitly must apply.
    draws
        Wild bootstrap draws / randomization assignments; full enumeration when ``2**G <= draws``.
    null
        Value of the effect tested by every method (statistic, p-value).
    seed
        Seed of the random draws (used only when not enumerating).
    period, reference
        Period column for the pair × period fixed effects when it differs from ``post`` (e.g. three waves
        with a 0/1 ``post``: pooled effect), and the reference period for effects by period.
    level
        Confidence level of the intervals.
    wild_weights
        ``"rademacher"`` (default) or ``"webb"``.
    dropna
        Drop rows with missing values in the columns used (reported in the notes) instead of raising.
    confint
        Compute the test-inversion intervals of ``wild`` and ``ri`` (set False in simulations that
        need only p-values).

    Returns
    -------
    DiDResult
    """
    design = _build_design(data, outcome=outcome, treated=treated, post=post, unit=unit, pair=pair,
                           weights=weights, covariates=covariates, cluster=cluster, period=period,
                           reference=reference, dropna=dropna)
    if not 0 < level < 1:
        raise ValueError(f"level={level}: must be in (0, 1)")
    if draws < 1:
        raise ValueError(f"draws={draws}: must be positive")
    absorber = Absorber(design.fes, design.weights)
    Xt = absorber.transform(design.X)
    yt = absorber.transform(design.y)
    # singular designs: a column wiped out by the fixed effects or collinear with the others
    norms = np.linalg.norm(Xt, axis=0)
    raw_norms = np.linalg.norm(design.X * absorber.sqrt_weights[:, None], axis=0)
    dead = [design.names[k] for k in range(Xt.shape[1]) if norms[k] <= 1e-9 * max(raw_norms[k], 1e-300)]
    if dead:
        raise ValueError(f"singular design: {dead} are collinear with the fixed effects (constant within units?)")
    sv = np.linalg.svd(Xt / norms, compute_uv=False)
    if sv.min() < 1e-8 * sv.max():
        raise ValueError(f"singular design: the regressors {design.names} are collinear")
    clu = design.cluster
    if clu is not None and clu.max() + 1 < 2:
        raise ValueError("fewer than 2 clusters: cluster-robust inference is impossible")
    fit = LinearFit(Xt, yt, design.names, absorber, clu.astype(np.intp) if clu is not None else None,
                    _raw=(design.X, design.y))

    # methods --------------------------------------------------------------------------------------
    is_default = inference is DEFAULT_INFERENCE
    methods = [inference] if isinstance(inference, str) else list(inference)
    unknown = [m for m in methods if m not in KNOWN_METHODS]
    if unknown:
        raise ValueError(f"inference: unknown method(s) {unknown}; choose from {KNOWN_METHODS}")
    notes = list(design.notes)
    clustered = {"cr1", "cr2", "cr3", "jackknife", "wild", "ri"}
    if clu is None:
        if is_default:
            methods = ["iid", "hc1"]
        elif clustered & set(methods):
            raise ValueError(f"inference {sorted(clustered & set(methods))} need cluster= (no clusters given)")
    if "ri" in methods and (design.spec != "pairs" or (cluster is not None and cluster != pair)):
        if is_default:
            methods.remove("ri")
        else:
            raise ValueError("inference 'ri' needs the matched-pair specification clustered by pair")

    rows: list[dict[str, Any]] = []
    vcovs: dict[str, np.ndarray] = {}
    drawsets: dict[tuple[str, str], DrawSet] = {}
    beta = fit.beta
    names = design.names
    G = fit.n_clusters
    rng = np.random.default_rng(seed)
    for m in methods:
        if m in ("iid", "hc1", "cr1", "cr2", "cr3", "jackknife"):
            v = {"iid": fit.vcov_iid, "hc1": fit.vcov_hc1, "cr1": fit.vcov_cr1, "cr2": fit.vcov_cr2,
                 "cr3": fit.vcov_cr3, "jackknife": fit.vcov_jackknife}[m]()
            vcovs[m] = v
            for j, nm in enumerate(names):
                if m in ("iid", "hc1"):
                    df = float(fit.n - fit.k_total)
                elif m == "cr2":
                    c = np.zeros(fit.p)
                    c[j] = 1.0
                    df = fit.cr2_df(c)
                else:
                    df = float(G - 1)
                rows.append(_t_row(nm, m, float(beta[j]), float(np.sqrt(v[j, j])), df, null, level))
        elif m == "wild":
            se1 = np.sqrt(np.diag(fit.vcov_cr1()))
            for j in design.treat_terms:
                ds = wild_bootstrap(fit, j, draws=draws, rng=rng, weights=wild_weights)
                drawsets[(names[j], "wild")] = ds
                lo, hi = (ds.confint(float(beta[j]), float(se1[j]), level, studentized=True) if confint
                          else (np.nan, np.nan))
                rows.append({"term": names[j], "method": "wild", "estimate": float(beta[j]), "std_error": np.nan,
                             "df": np.nan, "statistic": (beta[j] - null) / se1[j],
                             "p_value": ds.pvalue(null, studentized=True), "ci_low": lo, "ci_high": hi,
                             "draws": ds.n0.size * (2 if ds.enumerated else 1)})
        elif m == "ri":
            assert design.unit_codes is not None and design.pair_codes is not None
            arm_key = design.pair_codes * 2 + _binary(design.frame, treated).astype(np.intp)
            unit_arm = np.empty(int(design.unit_codes.max()) + 1, dtype=np.intp)
            unit_arm[design.unit_codes] = arm_key  # constant within units (checked in _build_design)
            n_units = np.bincount(unit_arm, minlength=2 * (int(design.pair_codes.max()) + 1))
            if (n_units != 1).any():
                notes.append("ri swaps the pilot label within each pair: valid when each pair is one pilot and "
                             "one comparison village (units here are finer than villages or sets are 1:k)")
            se1 = np.sqrt(np.diag(fit.vcov_cr1()))
            flip = list(design.treat_terms)
            single = len(flip) == 1
            # the terms share one set of assignments (the joint sharp null) and one refit per assignment
            for j, ds in zip(design.treat_terms, randomization_terms(fit, list(design.treat_terms), flip,
                                                                      draws=draws, rng=rng), strict=True):
                drawsets[(names[j], "ri")] = ds
                ndraw = ds.n0.size * (2 if ds.enumerated else 1)
                for label, stud in (("ri", False), ("ri_t", True)):
                    if single and confint:
                        lo, hi = ds.confint(float(beta[j]), float(se1[j]), level, studentized=stud)
                    else:
                        lo = hi = np.nan
                    stat = (beta[j] - null) / se1[j] if stud else beta[j] - null
                    rows.append({"term": names[j], "method": label, "estimate": float(beta[j]),
                                 "std_error": np.nan, "df": np.nan, "statistic": stat,
                                 "p_value": ds.pvalue(null, studentized=stud), "ci_low": lo, "ci_high": hi,
                                 "draws": ndraw})
            if not single:
                notes.append("ri: p-values test the sharp null that every period's effect equals the null; "
                             "no CI by inversion with several effects")
    table = pd.DataFrame(rows)
    table["null"] = null
    table["n_obs"] = fit.n
    table["n_clusters"] = G if clu is not None else np.nan
    if "draws" not in table:
        table["draws"] = np.nan
    table = table.reindex(columns=TIDY_COLUMNS)
    order = {nm: i for i, nm in enumerate(names)}
    table = table.sort_values("term", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return DiDResult(fit=fit, design=design, table=table, methods=methods, level=level, null=null,
                     vcovs=vcovs, draws=drawsets, outcome=outcome, extra_notes=notes)
