"""Event study on a yearly panel (e.g. savings groups × year): leads and lags of the start of the pilot.

Model::

    y_it = Σ_{k ≠ ref} β_k 1[t - start_i = k] + α_i + λ_{pair × t} (or λ_t) + x_it'γ + ε_it

Units never treated (``start`` missing) have every event-time dummy 0. Relative times outside
``[-leads, lags]`` are binned into the end points (``bin_endpoints=True``, the usual choice) so the end
coefficients are averages over the binned years. Fixed effects are absorbed exactly
(:mod:`welfare_eval.did._absorb`); clustering by pair when ``pair`` is given, else by unit.

Inference per coefficient: CR1, CR2 (+ Satterthwaite df) and the restricted wild cluster bootstrap;
joint pre-trend tests (HTZ with CR2, and the CR1 Wald F); simultaneous sup-t bands; the power of the
pre-test against linear violations (Roth 2022); Rambachan & Roth (2023) sensitivity: optimal
fixed-length CIs under smoothness restrictions Δ^SD(M) (:meth:`EventStudyResult.flci`) and a
conservative projection interval under relative magnitudes Δ^RM(M̄)
(:meth:`EventStudyResult.sensitivity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._results import ResultBase
from ._absorb import Absorber
from ._linear import LinearFit
from ._resample import wild_bootstrap

__all__ = ["EventStudyResult", "event_study"]

_COVARIATE = 10**6  # rel value marking covariates (neither pre nor post terms)


class EventStudyResult(ResultBase):
    """Event-study coefficients with pointwise and simultaneous inference."""

    title = "Event study"

    def __init__(self, *, fit: LinearFit, names: list[str], rel: list[int], reference: int, table: pd.DataFrame,
                 level: float, null: float, outcome: str, seed: int, notes: list[str]) -> None:
        self.fit = fit
        self.names = names
        self.rel = rel
        self.reference = reference
        self._table = table
        self.level = level
        self.null = null
        self.outcome = outcome
        self.seed = seed
        self._notes = notes
        self.title = f"Event study: {outcome}"

    # -- accessors ---------------------------------------------------------------------------------
    @property
    def pre_terms(self) -> list[str]:
        return [n for n, k in zip(self.names, self.rel, strict=True) if k < self.reference]

    @property
    def post_terms(self) -> list[str]:
        return [n for n, k in zip(self.names, self.rel, strict=True) if 0 <= k < _COVARIATE]

    @property
    def event_terms(self) -> list[str]:
        return [n for n, k in zip(self.names, self.rel, strict=True) if k < _COVARIATE]

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def notes(self) -> list[str]:
        out = list(self._notes)
        out.append(f"reference period k = {self.reference}; {self.fit.n_clusters} clusters, N = {self.fit.n}")
        if self.pre_terms:
            pt = self.pretrend_test()
            out.append(f"pre-trend test (HTZ, CR2): F = {pt['F']:.3f} on ({pt['df_num']:.0f}, "
                       f"{pt['df_denom']:.2f}) df, p = {pt['p_value']:.4f}")
        return out

    def _contrasts(self, terms: Sequence[str]) -> np.ndarray:
        c = np.zeros((len(terms), self.fit.p))
        for i, t in enumerate(terms):
            c[i, self.names.index(t)] = 1.0
        return c

    def pretrend_test(self, *, method: str = "cr2") -> dict[str, float]:
        """Joint test that all lead coefficients are zero (``cr2``: HTZ; ``cr1``: F on (q, G-1) df)."""
        terms = self.pre_terms
        if not terms:
            raise ValueError("no pre-period coefficients to test (leads=0?)")
        c = self._contrasts(terms)
        if method == "cr2":
            return self.fit.wald_htz(c)
        if method != "cr1":
            raise ValueError(f"method={method!r}: use 'cr2' or 'cr1'")
        b = c @ self.fit.beta
        q = float(b @ np.linalg.solve(c @ self.fit.vcov_cr1() @ c.T, b))
        df2 = float(self.fit.n_clusters - 1)
        f = q / len(terms)
        return {"F": f, "df_num": float(len(terms)), "df_denom": df2,
                "p_value": float(stats.f.sf(f, len(terms), df2)), "Q": q}

    def sup_t_critical(self, *, draws: int = 200_000) -> float:
        """Critical value of the simultaneous band over all event-time coefficients.

        ``c`` with ``P(max_k |T_k| ≤ c) = level`` for ``T`` multivariate t with ``G - 1`` df and the
        correlation of the CR1 variance (Montiel Olea & Plagborg-Møller 2019 sup-t band; the t rather
        than normal reference acknowledges few clusters). Seeded simulation.
        """
        cache = self.__dict__.setdefault("_crit_cache", {})
        if draws in cache:
            return float(cache[draws])
        idx = [self.names.index(t) for t in self.event_terms]
        v = self.fit.vcov_cr1()[np.ix_(idx, idx)]
        sd = np.sqrt(np.diag(v))
        corr = v / np.outer(sd, sd)
        rng = np.random.default_rng(self.seed)
        z = rng.multivariate_normal(np.zeros(len(sd)), corr, size=draws, method="eigh")
        chi = rng.chisquare(self.fit.n_clusters - 1, size=draws) / (self.fit.n_clusters - 1)
        mx = np.max(np.abs(z), axis=1) / np.sqrt(chi)
        cache[draws] = float(np.quantile(mx, self.level))
        return float(cache[draws])

    def pretrend_power(self, power: Sequence[float] = (0.5, 0.8), *, alpha: float = 0.05,
                       draws: int = 100_000) -> pd.DataFrame:
        """Linear pre-trend slopes that the pre-test would detect with the given power (Roth 2022).

        Violation ``δ_k = γ (k - ref)``; the pre-test rejects when any lead has ``|β̂_k / se_k| >
        t_{1-α/2, G-1}`` (CR1), as in Roth's ``pretrends``. Power is computed by seeded simulation of
        the leads from ``N(δ_pre, V_pre)``. For each power: the slope ``γ`` and the implied bias
        ``γ (k - ref)`` of each post-period coefficient.
        """
        pre = self.pre_terms
        if not pre:
            raise ValueError("no pre-period coefficients (leads=0?)")
        idx = [self.names.index(t) for t in pre]
        v = self.fit.vcov_cr1()[np.ix_(idx, idx)]
        se = np.sqrt(np.diag(v))
        k_pre = np.array([self.rel[i] - self.reference for i in idx], dtype=float)
        crit = stats.t.ppf(1 - alpha / 2, self.fit.n_clusters - 1)
        rng = np.random.default_rng(self.seed)
        z = rng.multivariate_normal(np.zeros(len(idx)), v, size=draws, method="eigh")

        def pw(gamma: float) -> float:
            return float(np.mean(np.any(np.abs((z + gamma * k_pre) / se) > crit, axis=1)))

        scale = float(np.max(se / np.maximum(np.abs(k_pre), 1e-12)))
        rows = []
        for target in power:
            hi = scale
            while pw(hi) < target:
                hi *= 2.0
            gamma = optimize.brentq(lambda g, t=target: pw(g) - t, 0.0, hi, xtol=1e-10 * scale)
            row: dict[str, Any] = {"power": target, "slope": gamma}
            for t in self.post_terms:
                row[f"bias {t}"] = gamma * (self.rel[self.names.index(t)] - self.reference)
            rows.append(row)
        return pd.DataFrame(rows)

    def sensitivity(self, mbar: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0)) -> pd.DataFrame:
        """Relative-magnitudes sensitivity (the restriction Δ^RM(M̄) of Rambachan & Roth 2023).

        Post-period violations may change from one period to the next by at most ``M̄`` times the
        largest change between consecutive pre-periods, so ``|δ_k| ≤ (k + 1) M̄ Δ`` for ``k ≥ 0`` with
        ``Δ = max_j |δ_j - δ_{j-1}|`` over the pre-periods (``δ_ref = 0``). Reported per post term and
        ``M̄``: the identified set at the estimates and a *projection* confidence set: the union of the
        identified sets over the simultaneous sup-t box of all coefficients (valid, conservative; it is
        not HonestDiD's conditional/hybrid ARP interval for Δ^RM, which this package does not implement;
        for smoothness restrictions see :meth:`flci`).
        """
        from ._honest import relative_magnitudes

        if not self.pre_terms:
            raise ValueError("no pre-period coefficients (leads=0?)")
        beta = self.fit.beta
        se = np.sqrt(np.diag(self.fit.vcov_cr1()))
        crit = self.sup_t_critical()  # box over the event-time coefficients only
        pre = [self.names.index(t) for t in self.pre_terms]
        post = [self.names.index(t) for t in self.post_terms]
        return relative_magnitudes(beta_pre=beta[pre], beta_post=beta[post], se_pre=se[pre], se_post=se[post],
                                   crit=crit, k_pre=[self.rel[i] for i in pre], k_post=[self.rel[i] for i in post],
                                   reference=self.reference, terms=list(self.post_terms), mbar=mbar)

    def flci(self, m: Sequence[float] = (0.0, 0.01, 0.02, 0.05, 0.1), *, l_vec: Sequence[float] | None = None,
             vcov: str = "cr2", alpha: float = 0.05) -> pd.DataFrame:
        """Fixed-length CIs under smoothness restrictions Δ^SD(M) (Rambachan & Roth 2023's FLCI).

        ``θ = l'τ_post`` (default: the first post period, k = 0); the violation of parallel trends may
        change slope by at most ``M`` per period. Uses the event-time coefficients (needs
        ``reference = -1`` and at least one lead) with the ``vcov`` variance and normal critical values,
        as HonestDiD; see :func:`welfare_eval.did._honest.flci_smoothness`. With binned end points the
        end coefficients average several years, which the smoothness restriction does not model.
        """
        from ._honest import flci_smoothness

        if self.reference != -1:
            raise ValueError("flci() needs reference=-1 (pre periods, reference, post periods contiguous)")
        pre = sorted(self.pre_terms, key=lambda t: self.rel[self.names.index(t)])
        post = sorted(self.post_terms, key=lambda t: self.rel[self.names.index(t)])
        if not pre:
            raise ValueError("flci() needs at least one pre-period coefficient (leads >= 2)")
        idx = [self.names.index(t) for t in pre + post]
        v = {"cr2": self.fit.vcov_cr2, "cr1": self.fit.vcov_cr1}[vcov]()[np.ix_(idx, idx)]
        b = self.fit.beta[idx]
        lv = None if l_vec is None else np.asarray(l_vec, dtype=float)
        rows = []
        for mm in m:
            r = flci_smoothness(b, v, len(pre), len(post), float(mm), lv, alpha)
            rows.append({"M": mm, "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "half_length": r["half_length"], "max_bias": r["max_bias"]})
        return pd.DataFrame(rows)

    def plot(self, ax: Any = None, *, method: str = "cr2", **kwargs: Any) -> Any:
        """Coefficients by relative time with pointwise (``method``) and sup-t intervals."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 3.8))
        tab = self._table
        pt = tab[tab["method"] == method]
        band = tab[tab["method"] == "sup_t"]
        ax.fill_between(band["rel_time"], band["ci_low"], band["ci_high"], alpha=0.15, step=None,
                        label=f"sup-t band ({int(self.level * 100)}%)")
        ax.errorbar(pt["rel_time"], pt["estimate"], yerr=[pt["estimate"] - pt["ci_low"], pt["ci_high"] - pt["estimate"]],
                    fmt="o", capsize=3, label=f"{method} ({int(self.level * 100)}%)", **kwargs)
        ax.plot([self.reference], [0.0], marker="o", mfc="white", color="grey")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(self.reference + 0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("years relative to start")
        ax.set_ylabel(self.outcome)
        ax.legend(frameon=False, fontsize="small")
        return ax


def event_study(
    panel: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    start: str,
    pair: str | None = None,
    weights: str | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    leads: int = 3,
    lags: int = 3,
    reference: int = -1,
    bin_endpoints: bool = True,
    inference: Sequence[str] = ("cr1", "cr2", "wild"),
    draws: int = 2**18,
    null: float = 0.0,
    seed: int = 0,
    level: float = 0.95,
) -> EventStudyResult:
    """Estimate an event study with leads and lags of the pilot's start.

    Parameters
    ----------
    panel
        One row per unit × time (e.g. savings group × year, CE years).
    outcome, unit, time, start
        Columns; ``start`` is the first treated time of the unit (missing for never-treated units).
    pair
        Matched-pair column: fixed effects ``pair × time`` instead of ``time`` and clustering by pair.
    weights, covariates, cluster
        As in :func:`~welfare_eval.did.estimate` (cluster default: pair, else unit).
    leads, lags, reference, bin_endpoints
        Event window ``[-leads, lags]``, the omitted relative time, and whether relative times outside
        the window are binned into its end points (otherwise such rows are an error).
    inference
        Among ``cr1``, ``cr2``, ``wild``.
    draws, null, seed, level
        Wild bootstrap draws, tested value, seed, confidence level.
    """
    cols = [outcome, unit, time, start, *(covariates or [])]
    cols += [c for c in (pair, weights, cluster) if c is not None]
    missing = [c for c in dict.fromkeys(cols) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel has no column(s) {missing}")
    df = panel[list(dict.fromkeys(cols))].reset_index(drop=True)
    need = [c for c in dict.fromkeys(cols) if c != start]
    if df[need].isna().any().any():
        bad = df[need].isna().sum()
        raise ValueError(f"missing values in {bad[bad > 0].to_dict()}; drop them explicitly")
    if not (leads >= 0 and lags >= 0 and -leads <= reference <= lags):
        raise ValueError(f"window [-{leads}, {lags}] must contain reference={reference}")
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    s = pd.to_numeric(df[start], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(t).all():
        raise ValueError(f"time column {time!r} must be numeric")
    st_unit = pd.DataFrame({"u": df[unit].astype(str), "s": s}).groupby("u")["s"].nunique(dropna=False)
    if (st_unit > 1).any():
        raise ValueError(f"{start!r} varies within unit(s) {st_unit.index[st_unit > 1][:5].tolist()}")
    rel = t - s  # NaN for never treated
    treated_rows = np.isfinite(rel)
    if not treated_rows.any():
        raise ValueError(f"no treated unit ({start!r} is missing everywhere)")
    outside = treated_rows & ((rel < -leads) | (rel > lags))
    if outside.any() and not bin_endpoints:
        raise ValueError(f"{int(outside.sum())} treated rows outside the window [-{leads}, {lags}]; "
                         "widen it or pass bin_endpoints=True")
    relb = np.where(treated_rows, np.clip(rel, -leads, lags), np.nan)
    ks = [k for k in range(-leads, lags + 1) if k != reference]
    dummies, names, rel_kept = [], [], []
    for k in ks:
        col = (relb == k).astype(float)
        if col.sum() == 0:
            raise ValueError(f"no treated observation at relative time {k}; shrink the window")
        dummies.append(col)
        names.append(f"k={k}")
        rel_kept.append(k)
    cov = [pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in (covariates or [])]
    X = np.column_stack(dummies + cov)
    all_names = names + list(covariates or [])
    w = np.ones(len(df)) if weights is None else pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError(f"weights {weights!r} must be finite and > 0")
    unit_codes = pd.factorize(df[unit].astype(str))[0]
    if pair is not None:
        per = pd.factorize(df[pair].astype(str) + "×" + df[time].astype(str))[0]
    else:
        per = pd.factorize(df[time].astype(str))[0]
    absorber = Absorber([unit_codes, per], w)
    Xt = absorber.transform(X)
    y_raw = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float)
    yt = absorber.transform(y_raw)
    norms = np.linalg.norm(Xt, axis=0)
    sv = np.linalg.svd(Xt / np.where(norms > 0, norms, 1.0), compute_uv=False)
    if (norms <= 1e-9 * np.linalg.norm(X * absorber.sqrt_weights[:, None], axis=0)).any() or sv.min() < 1e-8 * sv.max():
        raise ValueError("singular design: event-time dummies or covariates are collinear with the fixed effects "
                         "(e.g. all units start in the same year without never-treated units)")
    cl_col = cluster if cluster is not None else (pair if pair is not None else unit)
    clu = pd.factorize(df[cl_col].astype(str), sort=True)[0]
    if clu.max() + 1 < 2:
        raise ValueError("fewer than 2 clusters")
    fit = LinearFit(Xt, yt, all_names, absorber, clu.astype(np.intp), _raw=(X, y_raw))
    g = fit.n_clusters
    rows: list[dict[str, Any]] = []
    unknown = [m for m in inference if m not in ("cr1", "cr2", "wild")]
    if unknown:
        raise ValueError(f"inference: unknown method(s) {unknown}; event_study offers cr1, cr2, wild")
    v1 = fit.vcov_cr1()
    se1 = np.sqrt(np.diag(v1))
    rng = np.random.default_rng(seed)
    for m in inference:
        if m in ("cr1", "cr2"):
            v = v1 if m == "cr1" else fit.vcov_cr2()
            for j, (nm, k) in enumerate(zip(names, rel_kept, strict=True)):
                se = float(np.sqrt(v[j, j]))
                if m == "cr1":
                    dfree = float(g - 1)
                else:
                    c = np.zeros(fit.p)
                    c[j] = 1.0
                    dfree = fit.cr2_df(c)
                stat = (fit.beta[j] - null) / se
                q = stats.t.ppf(0.5 + level / 2, dfree)
                rows.append({"term": nm, "rel_time": k, "method": m, "estimate": fit.beta[j], "std_error": se,
                             "df": dfree, "statistic": stat, "p_value": 2 * stats.t.sf(abs(stat), dfree),
                             "ci_low": fit.beta[j] - q * se, "ci_high": fit.beta[j] + q * se})
        else:
            for j, (nm, k) in enumerate(zip(names, rel_kept, strict=True)):
                ds = wild_bootstrap(fit, j, draws=draws, rng=rng)
                lo, hi = ds.confint(float(fit.beta[j]), float(se1[j]), level, studentized=True)
                rows.append({"term": nm, "rel_time": k, "method": "wild", "estimate": fit.beta[j],
                             "std_error": np.nan, "df": np.nan, "statistic": (fit.beta[j] - null) / se1[j],
                             "p_value": ds.pvalue(null, studentized=True), "ci_low": lo, "ci_high": hi})
    notes = [f"event window [-{leads}, {lags}]" + (", end points binned" if bin_endpoints else "")]
    res = EventStudyResult(fit=fit, names=all_names, rel=rel_kept + [_COVARIATE] * len(cov), reference=reference,
                           table=pd.DataFrame(), level=level, null=null, outcome=outcome, seed=seed, notes=notes)
    crit = res.sup_t_critical()
    for j, (nm, k) in enumerate(zip(names, rel_kept, strict=True)):
        rows.append({"term": nm, "rel_time": k, "method": "sup_t", "estimate": fit.beta[j], "std_error": se1[j],
                     "df": float(g - 1), "statistic": np.nan, "p_value": np.nan,
                     "ci_low": fit.beta[j] - crit * se1[j], "ci_high": fit.beta[j] + crit * se1[j]})
    table = pd.DataFrame(rows)
    table["n_obs"] = fit.n
    table["n_clusters"] = g
    table = table.sort_values(["rel_time"], kind="stable").reset_index(drop=True)
    res._table = table
    return res
