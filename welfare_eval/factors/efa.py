"""Exploratory factor analysis of the success-factor items at respondent level.

Sampling adequacy (Kaiser-Meyer-Olkin), Bartlett's test of sphericity (both via factor_analyzer), Horn's
parallel analysis for the number of factors (hand-written below: simulated normal data of the same size,
95th percentile of the eigenvalues), and a rotated solution (factor_analyzer minres + oblimin by default).
:func:`efa` also tabulates whether the items of the internal and the external factors load on separate
factors (the internal/external split of the project document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import numpy as np
import pandas as pd
from factor_analyzer.factor_analyzer import calculate_bartlett_sphericity, calculate_kmo
from factor_analyzer.rotator import Rotator
from scipy import optimize

from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.reference import success_factor_items, success_factors

__all__ = ["EFAResult", "ParallelAnalysis", "efa", "minres", "parallel_analysis", "split_check"]


def minres(r: np.ndarray, n_factors: int) -> np.ndarray:
    """Unrotated minimum-residual (ULS) loadings of ``n_factors`` factors of a correlation matrix.

    Minimises ``Σ_{i<j} (r_ij - (LL')_ij)²`` over the loadings (the fit function of
    ``psych::fa(fm = "minres")``) with Levenberg-Marquardt at tight tolerance, then returns the
    loadings in principal-axis orientation (``L = V D^½`` from the eigen-decomposition of ``LL'``) with
    each column's sum positive. Hand-written because ``factor_analyzer.FactorAnalyzer.fit`` fails with the
    installed scikit-learn (``check_array(force_all_finite=...)`` was removed) and stops at a looser
    tolerance; no Heywood-case bounds (a communality above 1 is reported, not clipped).
    """
    r = np.asarray(r, dtype=float)
    p = r.shape[0]
    m = int(n_factors)
    if m < 1 or m >= p:
        raise ValueError(f"minres: n_factors must be between 1 and {p - 1} (got {m})")
    iu = np.triu_indices(p, 1)
    rr = r.copy()
    np.fill_diagonal(rr, 1.0 - 1.0 / np.diag(np.linalg.pinv(r)))
    w, v = np.linalg.eigh(rr)
    w, v = w[::-1][:m], v[:, ::-1][:, :m]
    start = v * np.sqrt(np.clip(w, 1e-3, None))

    def resid(flat: np.ndarray) -> np.ndarray:
        lo = flat.reshape(p, m)
        return (r - lo @ lo.T)[iu]

    sol = optimize.least_squares(resid, start.ravel(), xtol=1e-15, ftol=1e-15, gtol=1e-15, method="lm",
                                 max_nfev=20000)
    lo = sol.x.reshape(p, m)
    w2, v2 = np.linalg.eigh(lo @ lo.T)
    w2, v2 = w2[::-1][:m], v2[:, ::-1][:, :m]
    out = v2 * np.sqrt(np.clip(w2, 0, None))
    signs = np.sign(out.sum(axis=0))
    signs[signs == 0] = 1
    return out * signs


@dataclass(repr=False)
class ParallelAnalysis(ResultBase):
    """Horn's parallel analysis: observed vs simulated eigenvalues."""

    table: pd.DataFrame
    n_factors: int
    n_factors_fa: int
    n_iter: int
    quantile: float
    title: str = field(default="Parallel analysis", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def notes(self) -> list[str]:
        return [
            f"{self.n_iter} simulated normal data sets of the same size; threshold = {self.quantile:.0%} quantile "
            f"of the simulated eigenvalues; factors retained: {self.n_factors} (components of R), "
            f"{self.n_factors_fa} (reduced R with squared multiple correlations)"
        ]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Scree plot with the simulated thresholds."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self.table
        ax.plot(t["number"], t["eigen_pc"], "o-", label="observed (PC)")
        ax.plot(t["number"], t["threshold_pc"], "--", label="simulated (PC)")
        ax.plot(t["number"], t["eigen_fa"], "s-", label="observed (FA)")
        ax.plot(t["number"], t["threshold_fa"], ":", label="simulated (FA)")
        ax.set_xlabel("factor")
        ax.set_ylabel("eigenvalue")
        ax.legend()
        return ax


def _reduced_eigen(r: np.ndarray) -> np.ndarray:
    rr = r.copy()
    np.fill_diagonal(rr, 1.0 - 1.0 / np.diag(np.linalg.pinv(r)))
    return np.sort(np.linalg.eigvalsh(rr))[::-1]


def _leading_above(obs: np.ndarray, thr: np.ndarray) -> int:
    above = obs > thr
    return int(np.argmin(above)) if not above.all() else len(obs)


def parallel_analysis(
    data: pd.DataFrame, *, n_iter: int = 200, quantile: float = 0.95, seed: int | None = 0
) -> ParallelAnalysis:
    """Horn's (1965) parallel analysis with Glorfeld's quantile criterion.

    Factors are retained while the observed eigenvalue exceeds the ``quantile`` of the eigenvalues of
    ``n_iter`` normal data sets of the same size (complete cases). Both the component eigenvalues of R and
    the eigenvalues of the reduced R (squared multiple correlations on the diagonal) are compared.
    """
    x = data.dropna().to_numpy(dtype=float)
    n, p = x.shape
    if n <= p:
        raise ValueError(f"parallel_analysis: {n} complete rows for {p} variables; need more rows than variables")
    r = np.corrcoef(x, rowvar=False)
    obs_pc = np.sort(np.linalg.eigvalsh(r))[::-1]
    obs_fa = _reduced_eigen(r)
    rng = np.random.default_rng(seed)
    sim_pc = np.empty((n_iter, p))
    sim_fa = np.empty((n_iter, p))
    for b in progress(range(n_iter), desc="parallel analysis", total=n_iter):
        rs = np.asarray(np.corrcoef(rng.standard_normal((n, p)), rowvar=False))
        sim_pc[b] = np.sort(np.linalg.eigvalsh(rs))[::-1]
        sim_fa[b] = _reduced_eigen(rs)
    thr_pc = np.quantile(sim_pc, quantile, axis=0)
    thr_fa = np.quantile(sim_fa, quantile, axis=0)
    table = pd.DataFrame(
        {
            "number": np.arange(1, p + 1),
            "eigen_pc": obs_pc,
            "threshold_pc": thr_pc,
            "mean_pc": sim_pc.mean(axis=0),
            "eigen_fa": obs_fa,
            "threshold_fa": thr_fa,
            "mean_fa": sim_fa.mean(axis=0),
        }
    )
    return ParallelAnalysis(table, _leading_above(obs_pc, thr_pc), _leading_above(obs_fa, thr_fa), n_iter, quantile)


def split_check(loadings: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Cross-tabulate each item's group (internal/external) with the factor it loads on most.

    Returns a table with one row per group and one column per factor (counts of items), plus
    ``agreement``: the share of items on the factor matched to their group by the best one-to-one
    assignment of factors to groups.
    """
    dom = loadings.abs().idxmax(axis=1)
    tab = pd.crosstab(groups.reindex(loadings.index), dom)
    gs, fs = list(tab.index), list(tab.columns)
    best = 0
    for perm in permutations(fs, min(len(fs), len(gs))):
        best = max(best, sum(int(tab.loc[g, f]) for g, f in zip(gs, perm, strict=False)))
    tab["agreement"] = best / len(loadings)
    return tab


def _rotated(
    r: np.ndarray, m: int, rotation: str | None, items: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Minres loadings rotated by factor_analyzer's Rotator, signed and ordered by variance."""
    raw = minres(r, m)
    ph_raw: np.ndarray | None = None
    if rotation is not None and m > 1:
        # Gradient-projection rotations (oblimin, quartimin, geomin) stop when the projected gradient's norm
        # falls below `tol`. In double precision that norm cannot be pushed much under ~1e-8 (the line search
        # then sees no measurable improvement and runs all `max_iter` steps: 0.7 s for 36 items, 2 factors,
        # where 1e-6 converges in 2 ms). 1e-6 is reached for every size tried (up to 300 items, 8 factors)
        # and leaves the loadings within ~1e-6 of the optimum; GPArotation, which psych calls, stops at 1e-5.
        rotator = Rotator(method=rotation, tol=1e-6, max_iter=5000)
        raw = rotator.fit_transform(raw)
        ph_raw = getattr(rotator, "phi_", None)
    cols = [f"F{j + 1}" for j in range(m)]
    signs = np.sign(raw.sum(axis=0))
    signs[signs == 0] = 1
    raw = raw * signs
    order = np.argsort(-(raw**2).sum(axis=0), kind="stable")
    lo = pd.DataFrame(raw[:, order], index=items, columns=cols)
    if ph_raw is None:
        return lo, None
    ph = (np.asarray(ph_raw) * np.outer(signs, signs))[np.ix_(order, order)]
    return lo, pd.DataFrame(ph, index=cols, columns=cols)


@dataclass(repr=False)
class EFAResult(ResultBase):
    """Exploratory factor analysis.

    Attributes
    ----------
    loadings : DataFrame
        Pattern loadings (items × factors) after rotation.
    phi : DataFrame or None
        Factor correlations (oblique rotations).
    kmo, kmo_items : float, Series
        Kaiser-Meyer-Olkin measure of sampling adequacy, overall and per item.
    bartlett : dict
        ``chisq``, ``df``, ``p_value`` of Bartlett's test of sphericity.
    parallel : ParallelAnalysis
    split : DataFrame or None
        Internal/external split check (see :func:`split_check`) when items carry a group, from a solution
        with as many factors as groups (refitted when ``n_factors`` differs).
    """

    loadings: pd.DataFrame
    communality: pd.Series
    phi: pd.DataFrame | None
    kmo: float
    kmo_items: pd.Series
    bartlett: dict[str, float]
    parallel: ParallelAnalysis
    n_factors: int
    n: int
    rotation: str
    method: str
    groups: pd.Series | None
    split: pd.DataFrame | None
    n_dropped: int = 0
    title: str = field(default="Exploratory factor analysis", init=False)

    def tidy(self) -> pd.DataFrame:
        """One row per item: loadings, communality, uniqueness, dominant factor, KMO of the item."""
        t = self.loadings.copy()
        t.insert(0, "item", t.index)
        if self.groups is not None:
            t.insert(1, "group", self.groups.reindex(self.loadings.index).to_numpy())
        t["communality"] = self.communality.to_numpy()
        t["uniqueness"] = 1 - t["communality"]
        t["dominant"] = self.loadings.abs().idxmax(axis=1).to_numpy()
        t["kmo"] = self.kmo_items.reindex(self.loadings.index).to_numpy()
        return t.reset_index(drop=True)

    def notes(self) -> list[str]:
        out = [
            f"n = {self.n}; KMO = {self.kmo:.3f}; Bartlett chi2 = {self.bartlett['chisq']:.1f} "
            f"(df {int(self.bartlett['df'])}, p = {self.bartlett['p_value']:.3g})",
            f"{self.n_factors} factor(s), {self.method} extraction, {self.rotation} rotation; parallel analysis "
            f"suggests {self.parallel.n_factors} (PC) / {self.parallel.n_factors_fa} (FA)",
        ]
        if self.split is not None:
            k = len(self.split.columns) - 1
            out.append(
                f"internal/external split: in a {k}-factor solution {self.split['agreement'].iloc[0]:.0%} of items "
                "load most on the factor matched to their group"
            )
        if self.n_dropped:
            out.append(f"{self.n_dropped} respondent(s) with a missing item were left out (complete cases)")
        if (self.communality > 1).any():
            out.append(
                "Heywood case: communality above 1 for "
                + ", ".join(map(str, self.communality.index[self.communality > 1]))
                + "; too many factors or too few respondents"
            )
        if self.kmo < 0.6:
            out.append("KMO below 0.6: the items share little common variance; factor analysis is doubtful")
        return out


def efa(
    responses: pd.DataFrame,
    *,
    items: list[str] | None = None,
    groups: pd.Series | dict[str, str] | None = None,
    n_factors: int | None = None,
    rotation: str | None = "oblimin",
    n_iter: int = 200,
    seed: int | None = 0,
) -> EFAResult:
    """Exploratory factor analysis of item responses (one row per respondent).

    Parameters
    ----------
    responses : DataFrame
        Item columns (other columns are ignored when ``items`` is given).
    items : list of str, optional
        Item columns; default the 36 success-factor items present in ``responses``.
    groups : Series or dict, optional
        Item → group (e.g. internal/external) for the split check; default from the reference tables for
        success-factor items.
    n_factors : int, optional
        Number of factors; default the parallel-analysis (PC) number (at least 1).
    rotation : str or None
        Rotation of the minres loadings by ``factor_analyzer.rotator.Rotator`` (``"oblimin"``,
        ``"promax"``, ``"varimax"``, ...; None for unrotated).
    n_iter, seed
        Parallel-analysis simulations.

    Respondents with a missing item are left out (complete cases); the count is in ``n``.
    """
    ref = success_factor_items()
    if items is None:
        items = [i for i in ref["item"] if i in responses.columns]
        if not items:
            raise ValueError("efa: no success-factor item columns found; pass items=[...]")
    missing = [i for i in items if i not in responses.columns]
    if missing:
        raise ValueError(f"efa: item column(s) {missing} not found")
    # float64 (not nullable Int64, as the processed committee table has): factor_analyzer needs plain floats
    x = responses[items].apply(pd.to_numeric, errors="coerce").astype("float64").dropna()
    if len(x) <= len(items):
        raise ValueError(f"efa: {len(x)} complete respondents for {len(items)} items; need more respondents")
    if groups is None:
        fac_group = success_factors().set_index("code")["group"]
        g = ref.set_index("item")["factor"].map(fac_group)
        groups_s: pd.Series | None = g.reindex(items) if g.reindex(items).notna().all() else None
    else:
        groups_s = pd.Series(groups).reindex(items)
    chisq, pval = calculate_bartlett_sphericity(x.to_numpy())
    kmo_i, kmo = calculate_kmo(x.to_numpy())
    pa = parallel_analysis(x, n_iter=n_iter, seed=seed)
    m = max(1, pa.n_factors) if n_factors is None else int(n_factors)
    rot = rotation if m > 1 else None
    r = np.asarray(np.corrcoef(x.to_numpy(dtype=float), rowvar=False))
    lo, phi = _rotated(r, m, rot, items)
    if phi is not None:
        comm = pd.Series(np.einsum("ij,jk,ik->i", lo.to_numpy(), phi.to_numpy(), lo.to_numpy()), index=items)
    else:
        comm = pd.Series((lo**2).sum(axis=1).to_numpy(), index=items)
    split = None
    if groups_s is not None:
        n_groups = int(groups_s.nunique())
        if 1 < n_groups < len(items):
            lo_g = lo if n_groups == m else _rotated(r, n_groups, rotation, items)[0]
            split = split_check(lo_g, groups_s)
    p = len(items)
    return EFAResult(
        loadings=lo,
        communality=comm,
        phi=phi,
        kmo=float(kmo),
        kmo_items=pd.Series(np.asarray(kmo_i, dtype=float), index=items),
        bartlett={"chisq": float(chisq), "df": p * (p - 1) / 2, "p_value": float(pval)},
        parallel=pa,
        n_factors=m,
        n=len(x),
        rotation=str(rot),
        method="minres",
        groups=groups_s,
        split=split,
        n_dropped=len(responses) - len(x),
    )
