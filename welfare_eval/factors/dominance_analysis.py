"""Dominance analysis of R² (Budescu 1993; Azen & Budescu 2003) with bootstrap intervals.

For p predictors the R² of all 2^p OLS sub-models (each with an intercept) is computed from the correlation
matrix, ``R²_S = r_S' R_SS⁻¹ r_S``, batched by subset size. From these:

* conditional dominance ``C_i(k)``: mean increase in R² when predictor i is added to the models with k - 1
  other predictors (``k = 1`` is its R² alone);
* general dominance ``G_i = mean_k C_i(k)``; it equals the Shapley-value decomposition of the full-model R²
  (the G_i add up to the full R²);
* complete dominance of i over j: i adds more than j to every model that holds neither (including the
  empty model).

Bootstrap intervals resample cases (or whole clusters, e.g. matched pairs) and report percentile intervals
of ``general`` and ``share`` and how often each complete-dominance relation reproduces (Azen & Budescu's
reproducibility). Hand-written because no maintained Python library gives all three dominance levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.reference import label

__all__ = ["DominanceResult", "all_subsets_r2", "dominance", "dominance_statistics"]

MAX_PREDICTORS = 16


def _popcount(masks: np.ndarray) -> np.ndarray:
    m = masks.astype(np.int64)
    out = np.zeros_like(m)
    while np.any(m):
        out += m & 1
        m >>= 1
    return out


def all_subsets_r2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R² of the OLS regression of ``y`` on every subset of the columns of ``x`` (with intercept).

    Returns an array of length ``2**p`` indexed by the bit mask of the subset (bit j = column j);
    element 0 (the empty model) is 0. Near-singular sub-models are solved by pseudo-inverse.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    _, p = x.shape
    if p > MAX_PREDICTORS:
        raise ValueError(f"all-subsets R² with {p} predictors is too large (at most {MAX_PREDICTORS})")
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    sxx = xc.T @ xc
    sxy = xc.T @ yc
    syy = float(yc @ yc)
    if syy <= 0:
        raise ValueError("dominance: the outcome has no variance")
    out = np.zeros(2**p)
    for k in range(1, p + 1):
        subsets = np.array(list(combinations(range(p), k)), dtype=np.int64)
        a = sxx[subsets[:, :, None], subsets[:, None, :]]
        b = sxy[subsets]
        try:
            beta = np.linalg.solve(a, b[..., None])[..., 0]
            if not np.all(np.isfinite(beta)):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            beta = np.einsum("mij,mj->mi", np.linalg.pinv(a, hermitian=True), b)
        masks = (1 << subsets).sum(axis=1)
        out[masks] = np.einsum("mi,mi->m", beta, b) / syy
    return out


def dominance_statistics(r2: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """General, conditional and complete dominance from all-subsets R².

    Returns
    -------
    general : (p,) array
    conditional : (p, p) array, ``[i, k-1]`` = mean contribution of i to models with k - 1 others
    complete : (p, p) int array, 1 if i completely dominates j, -1 if j dominates i, 0 otherwise
    """
    masks = np.arange(2**p, dtype=np.int64)
    pc = _popcount(masks)
    cond = np.zeros((p, p))
    for i in range(p):
        bit = 1 << i
        sel = masks[(masks & bit) == 0]
        inc = r2[sel | bit] - r2[sel]
        cond[i] = np.bincount(pc[sel], weights=inc, minlength=p) / np.bincount(pc[sel], minlength=p)
    general = cond.mean(axis=1)
    comp = np.zeros((p, p), dtype=int)
    for i, j in combinations(range(p), 2):
        bi, bj = 1 << i, 1 << j
        sel = masks[(masks & (bi | bj)) == 0]
        d = r2[sel | bi] - r2[sel | bj]
        if np.all(d > 0):
            comp[i, j], comp[j, i] = 1, -1
        elif np.all(d < 0):
            comp[i, j], comp[j, i] = -1, 1
    return general, cond, comp


def _factor_label(name: str, lang: str) -> str:
    return label(f"factor.{name}", "en" if lang == "en" else "th", default=name)


@dataclass(repr=False)
class DominanceResult(ResultBase):
    """Dominance analysis of R².

    Attributes
    ----------
    predictors : list of str
    r2_full : float
        R² of the model with every predictor (= sum of ``general``).
    general, share : ndarray
        General dominance (Shapley R² share in R² units) and as a share of ``r2_full``.
    conditional : ndarray (p, p)
        Conditional dominance, column k-1 = models with k predictors after adding.
    complete : DataFrame (p, p)
        1 where the row predictor completely dominates the column one, -1 the reverse, 0 undetermined.
    boot : DataFrame or None
        Bootstrap replicates of ``general`` (one row per replicate).
    reproducibility : DataFrame or None
        Share of replicates in which the row predictor completely dominates the column one.
    """

    outcome: str
    predictors: list[str]
    r2_full: float
    general: np.ndarray
    conditional: np.ndarray
    complete: pd.DataFrame
    n: int
    n_dropped: int
    subsets_r2: np.ndarray
    boot: pd.DataFrame | None = None
    reproducibility: pd.DataFrame | None = None
    conf_level: float = 0.95
    cluster: str | None = None
    title: str = field(default="Dominance analysis", init=False)

    @property
    def share(self) -> np.ndarray:
        return self.general / self.r2_full if self.r2_full > 0 else np.full_like(self.general, np.nan)

    def tidy(self) -> pd.DataFrame:
        """One row per predictor, ordered by general dominance."""
        p = len(self.predictors)
        df = pd.DataFrame({"predictor": self.predictors, "general": self.general, "share": self.share})
        for k in range(p):
            df[f"cond_{k + 1}"] = self.conditional[:, k]
        comp = self.complete.to_numpy()
        df["completely_dominates"] = [
            ", ".join(self.predictors[j] for j in range(p) if comp[i, j] == 1) for i in range(p)
        ]
        df["completely_dominated_by"] = [
            ", ".join(self.predictors[j] for j in range(p) if comp[i, j] == -1) for i in range(p)
        ]
        if self.boot is not None:
            a = (1 - self.conf_level) / 2
            g = self.boot[self.predictors]
            df["general_lower"] = g.quantile(a).to_numpy()
            df["general_upper"] = g.quantile(1 - a).to_numpy()
            sh = g.div(g.sum(axis=1), axis=0)
            df["share_lower"] = sh.quantile(a).to_numpy()
            df["share_upper"] = sh.quantile(1 - a).to_numpy()
            ranks = g.rank(axis=1, ascending=False, method="average")
            df["rank_lower"] = ranks.quantile(a).to_numpy()
            df["rank_upper"] = ranks.quantile(1 - a).to_numpy()
        df.insert(3, "rank", df["general"].rank(ascending=False, method="min").astype(int))
        return df.sort_values("general", ascending=False, kind="mergesort").reset_index(drop=True)

    def notes(self) -> list[str]:
        out = [
            f"outcome {self.outcome}; n = {self.n}; full-model R² = {self.r2_full:.4f} = sum of general dominance "
            "(the Shapley R² decomposition)",
            "cond_k: mean R² increase when the predictor enters models with k - 1 others; complete dominance: "
            "larger increase in every model without both predictors",
        ]
        if self.boot is not None:
            unit = f"clusters ({self.cluster})" if self.cluster else "cases"
            out.append(
                f"{round(100 * self.conf_level)}% percentile intervals from {len(self.boot)} bootstrap resamples "
                f"of {unit}"
            )
        if self.n_dropped:
            out.append(f"{self.n_dropped} row(s) with a missing value were left out (complete cases)")
        if self.n < 10 * len(self.predictors):
            out.append(
                f"only {self.n} cases for {len(self.predictors)} predictors: R² is optimistic and the ordering "
                "uncertain; read the bootstrap intervals"
            )
        return out

    def plot(self, ax: Any = None, *, lang: str = "en", **kwargs: Any) -> Any:
        """Horizontal bar chart of general dominance with bootstrap intervals (if any)."""
        import matplotlib.pyplot as plt

        t = self.tidy().iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.35 * len(t) + 1.2))
        names = [_factor_label(str(n), lang) for n in t["predictor"]]
        err = None
        if "general_lower" in t.columns:
            err = np.vstack(
                [
                    np.clip(t["general"] - t["general_lower"], 0, None),
                    np.clip(t["general_upper"] - t["general"], 0, None),
                ]
            )
        ax.barh(names, t["general"], xerr=err, capsize=3, **kwargs)
        ax.set_xlabel("general dominance (share of R²)" if lang == "en" else "อิทธิพลโดยรวม (ส่วนของ R²)")
        ax.set_title(f"{self.outcome}: R² = {self.r2_full:.2f}")
        return ax


def dominance(
    data: pd.DataFrame,
    *,
    outcome: str,
    predictors: list[str],
    n_boot: int = 0,
    cluster: str | None = None,
    conf_level: float = 0.95,
    seed: int | None = 0,
) -> DominanceResult:
    """Dominance analysis of the OLS R² of ``outcome`` on ``predictors``.

    Parameters
    ----------
    data : DataFrame
        One row per unit (village); rows with a missing value in the model are left out and counted.
    outcome, predictors : str, list of str
        Column names (at most 16 predictors).
    n_boot : int
        Bootstrap resamples for intervals and reproducibility (0 = none).
    cluster : str, optional
        Resample whole clusters (e.g. ``"pair_id"``) instead of rows.
    conf_level : float
        Level of the percentile intervals.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    """
    predictors = list(predictors)
    cols = [outcome, *predictors] + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"dominance: column(s) {missing} not found in data")
    if len(set(predictors)) != len(predictors) or outcome in predictors:
        raise ValueError("dominance: predictors must be distinct and must not include the outcome")
    if len(predictors) < 2:
        raise ValueError("dominance needs at least 2 predictors")
    d = data[cols].dropna()
    n_dropped = len(data) - len(d)
    x = d[predictors].to_numpy(dtype=float)
    y = d[outcome].to_numpy(dtype=float)
    p = len(predictors)
    if len(d) <= p + 1:
        raise ValueError(f"dominance: {len(d)} complete rows are too few for {p} predictors (need > p + 1)")
    r2 = all_subsets_r2(x, y)
    general, cond, comp = dominance_statistics(r2, p)
    boot = rep = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        if cluster:
            labels = d[cluster].to_numpy()
            uniq = np.unique(labels)
            idx_of = {u: np.flatnonzero(labels == u) for u in uniq}
        draws = []
        dom_count = np.zeros((p, p))
        for _ in progress(range(n_boot), desc="dominance bootstrap", total=n_boot):
            if cluster:
                pick = rng.choice(len(uniq), size=len(uniq), replace=True)
                idx = np.concatenate([idx_of[uniq[c]] for c in pick])
            else:
                idx = rng.integers(0, len(d), size=len(d))
            yb = y[idx]
            if np.var(yb) == 0:
                continue
            g_b, _, c_b = dominance_statistics(all_subsets_r2(x[idx], yb), p)
            draws.append(g_b)
            dom_count += c_b == 1
        boot = pd.DataFrame(draws, columns=predictors)
        rep = pd.DataFrame(dom_count / max(len(draws), 1), index=predictors, columns=predictors)
    return DominanceResult(
        outcome=outcome,
        predictors=predictors,
        r2_full=float(r2[-1]),
        general=general,
        conditional=cond,
        complete=pd.DataFrame(comp, index=predictors, columns=predictors),
        n=len(d),
        n_dropped=n_dropped,
        subsets_r2=r2,
        boot=boot,
        reproducibility=rep,
        conf_level=conf_level,
        cluster=cluster,
    )
