"""Analytic MDE / power / sample size (welfare_eval.power): PowerUp!, R pwr, brute force, identities, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from welfare_eval import power as pw
from welfare_eval.power.analytic import Design, build_design, power_from_ncp


# ------------------------------------------------------------------------------------------------
# PowerUp! published numbers
# ------------------------------------------------------------------------------------------------
def _powerup_kwargs(row: pd.Series) -> dict:
    kw: dict = {"design": row["design"], "alpha": float(row["alpha"]), "two_sided": bool(row["two_tailed"]),
                "method": "powerup", "treated_share": float(row["p"])}
    if not pd.isna(row["g"]) and row["g"]:
        kw["covariates"] = int(row["g"])
    if not pd.isna(row["r21"]):
        kw["r2_individual"] = float(row["r21"])
    if row["design"] == "individual_rct":
        if not pd.isna(row["n"]):
            kw["n"] = int(row["n"])
        return kw
    kw.update(icc=float(row["rho2"]), r2_cluster=float(row["r22"]), per_cluster=int(row["n"]))
    if not pd.isna(row["J"]):
        kw["clusters"] = int(row["J"])
    return kw


def test_powerup_published(fixtures):
    tab = pd.read_csv(fixtures / "power" / "powerup_published.csv")
    mdes = {}
    checked = 0
    for _, row in tab.iterrows():
        kw = _powerup_kwargs(row)
        q = row["quantity"]
        es = float(row["es"]) if not pd.isna(row["es"]) else (mdes[row["es_from"]] if not pd.isna(row["es_from"]) else None)
        if q in ("mdes", "mdes_lcl", "mdes_ucl", "std_error", "df"):
            r = pw.mde(power=float(row["power"]), **kw)
            got = {"mdes": r.estimate, "mdes_lcl": r.interval()[0], "mdes_ucl": r.interval()[1],
                   "std_error": r.std_error, "df": r.df}[q]
            if q == "mdes":
                mdes[row["case"]] = r.estimate
        elif q == "power":
            got = pw.power(effect=es, **kw).estimate
        else:  # J or n: minimum required sample size
            r = pw.sample_size(effect=es, power=float(row["power"]), **kw)
            got = r.estimate
        d = int(row["decimals"])
        assert round(got, d) == pytest.approx(float(row["published"]), abs=1e-12), (row["case"], got)
        checked += 1
    assert checked == len(tab) == 16


def test_powerup_formula_cra2():
    """CRA2_2r by hand: SE² = ρ(1−R²₂)/(p(1−p)J) + (1−ρ)(1−R²₁)/(p(1−p)Jn), df = J − g − 2, M = T1 + T2."""
    rho, r1, r2, p, n, J, g = 0.12, 0.3, 0.6, 0.4, 25, 30, 2
    se = math.sqrt(rho * (1 - r2) / (p * (1 - p) * J) + (1 - rho) * (1 - r1) / (p * (1 - p) * J * n))
    df = J - g - 2
    for two in (True, False):
        t1 = stats.t.ppf(1 - (0.05 / 2 if two else 0.05), df)
        want = (t1 + stats.t.ppf(0.9, df)) * se
        r = pw.mde(design="cluster_rct", clusters=J, per_cluster=n, icc=rho, r2_cluster=r2, r2_individual=r1,
                   treated_share=p, covariates=g, power=0.9, two_sided=two, method="powerup")
        assert r.estimate == pytest.approx(want, rel=1e-13)
        assert r.std_error == pytest.approx(se, rel=1e-14)
        assert r.df == df


# ------------------------------------------------------------------------------------------------
# R pwr
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pwr_table(fixtures) -> pd.DataFrame:
    return pd.read_csv(fixtures / "power" / "pwr.csv")


def test_pwr_power(pwr_table):
    rows = pwr_table[pwr_table["case"].isin(["power", "power_t2n"])]
    assert len(rows) == 72
    for _, r in rows.iterrows():
        n1, n2 = int(r["n1"]), int(r["n2"])
        got = pw.power(design="individual_rct", n=n1 + n2, treated_share=n1 / (n1 + n2), effect=float(r["d"]),
                       alpha=float(r["alpha"]), two_sided=r["alternative"] == "two.sided").estimate
        assert got == pytest.approx(float(r["power"]), rel=1e-6, abs=1e-12), dict(r)


def test_pwr_sample_size(pwr_table):
    rows = pwr_table[pwr_table["case"] == "n"]
    assert len(rows) == 12
    for _, r in rows.iterrows():
        res = pw.sample_size(design="individual_rct", effect=float(r["d"]), power=float(r["power"]),
                             two_sided=r["alternative"] == "two.sided")
        # pwr's n is per group; ours is the total of two equal groups
        assert res.exact / 2 == pytest.approx(float(r["n_tight"]), rel=1e-6)
        assert res.exact / 2 == pytest.approx(float(r["n_pwr"]), rel=2e-4)  # pwr's own uniroot tolerance
        assert res.estimate == math.ceil(2 * float(r["n_tight"]))
        assert res.power >= float(r["power"])


def test_pwr_effect_size(pwr_table):
    rows = pwr_table[pwr_table["case"] == "d"]
    assert len(rows) == 12
    for _, r in rows.iterrows():
        res = pw.mde(design="individual_rct", n=2 * int(r["n1"]), power=float(r["power"]),
                     two_sided=r["alternative"] == "two.sided")
        assert res.estimate == pytest.approx(float(r["d_tight"]), rel=1e-6)
        assert res.estimate == pytest.approx(float(r["d_pwr"]), rel=1e-3)


# ------------------------------------------------------------------------------------------------
# brute force: the noncentral t and the DiD variance
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("df,ncp,alpha,two", [(3, 2.0, 0.05, True), (17, 2.9, 0.05, True), (17, 2.5, 0.01, False),
                                               (250, 1.3, 0.1, True), (8, -0.7, 0.05, True)])
def test_noncentral_t_by_integration(df, ncp, alpha, two):
    """P(T > c) = ∫ P(Z > c √(v/df) − λ) f_χ²(v) dv (T = (Z + λ)/√(V/df)), by quadrature."""
    c = stats.t.ppf(1 - (alpha / 2 if two else alpha), df)

    def upper(cc: float) -> float:
        f = lambda v: stats.norm.sf(cc * math.sqrt(v / df) - ncp) * stats.chi2.pdf(v, df)  # noqa: E731
        return integrate.quad(f, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    want = upper(c) + ((1 - upper(-c)) if two else 0.0)
    assert power_from_ncp(ncp, df, alpha, two) == pytest.approx(want, rel=1e-8, abs=1e-12)


def test_power_by_monte_carlo():
    """Rejection rate of scipy's two-sample t test on normal data = analytic power (within 4 MC SE)."""
    rng = np.random.default_rng(11)
    reps, n, d = 20000, 12, 0.9
    x = rng.normal(d, 1.0, (reps, n))
    y = rng.normal(0.0, 1.0, (reps, n))
    p = stats.ttest_ind(x, y, axis=1).pvalue
    sim = float(np.mean(p < 0.05))
    an = pw.power(design="individual_rct", n=2 * n, effect=d).estimate
    assert abs(sim - an) < 4 * math.sqrt(an * (1 - an) / reps)


def test_mde_inverts_power_exactly():
    for kw in (dict(design="cluster_rct", clusters=14, per_cluster=9, icc=0.2),
               dict(design="matched_pair_did", clusters=5, per_cluster=20, icc=0.1, waves=3, attrition=0.2,
                    autocorr_cluster=0.4, autocorr_individual=0.6, pair_correlation=0.5),
               dict(design="individual_rct", n=31, treated_share=0.3)):
        for two in (True, False):
            m = pw.mde(power=0.85, two_sided=two, **kw)
            assert pw.power(effect=m.estimate, two_sided=two, **kw).estimate == pytest.approx(0.85, abs=1e-10)
            # PowerUp!'s central-t multiplier is close but not exact (slightly larger with these df)
            mp = pw.mde(power=0.85, two_sided=two, method="powerup", **kw)
            assert abs(mp.estimate / m.estimate - 1) < 0.05


def _ols_did_variance(*, pairs: int, comparisons: int, m: int, waves: int, pre: int, rho: float, phic: float,
                      pi: float, phih: float, attrition: float, replace: bool, panel: bool, paired: bool) -> float:
    """Exact variance a'Σa of the OLS DiD coefficient (cluster + pair × wave dummies) under the components.

    Households are retained deterministically so that the overlaps equal their expectations
    (attrition 0 or 0.5: every second household stays).
    """
    obs = []
    hid = 0
    for p in range(pairs):
        for j in range(1 + comparisons):
            cur = list(range(hid, hid + m))
            hid += m
            for t in range(waves):
                if t > 0:
                    if not panel:
                        cur = list(range(hid, hid + m))
                        hid += m
                    else:
                        stay = cur[::2] if attrition == 0.5 else list(cur)
                        if replace:
                            new = list(range(hid, hid + m - len(stay)))
                            hid += len(new)
                            cur = stay + new
                        else:
                            cur = stay
                for i in cur:
                    obs.append((p if paired else 0, p * 10 + j, int(j == 0), i, t))
    o = np.array(obs)
    pr, vi, tr, hh, tt = o.T

    def same(x: np.ndarray) -> np.ndarray:
        return (x[:, None] == x[None, :]).astype(float)

    S = (rho * phic * same(vi) + rho * (1 - phic) * pi * same(pr) * same(tt)
         + rho * (1 - phic) * (1 - pi) * same(vi) * same(tt)
         + (1 - rho) * phih * same(hh) + (1 - rho) * (1 - phih) * same(hh) * same(tt))
    D = tr * (tt >= pre)
    V = (vi[:, None] == np.unique(vi)[None, :]).astype(float)
    pw_ = pr * 100 + tt
    PW = (pw_[:, None] == np.unique(pw_)[None, :]).astype(float)
    a = np.linalg.pinv(np.column_stack([D, V, PW]))[0]
    return float(a @ S @ a)


@pytest.mark.parametrize("case", [
    dict(),
    dict(comparisons=2),
    dict(waves=2),
    dict(attrition=0.0),
    dict(waves=4, pre=2),
    dict(waves=4, pre=1, comparisons=3),
    dict(replace=False),
    dict(panel=False),
    dict(panel=False, paired=False, pi=0.0, phih=0.0),
])
def test_did_variance_equals_ols_brute_force(case):
    kw = dict(pairs=3, comparisons=1, m=8, waves=3, pre=1, rho=0.2, phic=0.4, pi=0.3, phih=0.6, attrition=0.5,
              replace=True, panel=True, paired=True)
    kw.update(case)
    want = _ols_did_variance(**kw)
    if kw["paired"]:
        k = kw["comparisons"]
        clusters = kw["pairs"]
    else:
        k = 1
        clusters = kw["pairs"] * 2
    design = "matched_pair_did" if kw["panel"] else "repeated_cross_section"
    extra = {} if kw["panel"] else {"paired": kw["paired"]}
    if kw["panel"]:
        extra.update(autocorr_individual=kw["phih"], attrition=kw["attrition"], replace=kw["replace"])
    if kw["paired"]:
        extra.update(pair_correlation=kw["pi"], comparisons_per_pair=k)
    des = build_design(design=design, clusters=clusters, per_cluster=kw["m"], icc=kw["rho"],
                       autocorr_cluster=kw["phic"], waves=kw["waves"], pre_waves=kw["pre"], **extra)
    assert des.variance() == pytest.approx(want, rel=1e-10)


# ------------------------------------------------------------------------------------------------
# identities and behaviour
# ------------------------------------------------------------------------------------------------
def test_did_without_persistence_doubles_the_post_only_variance():
    """Two waves, no autocorrelation: the DiD contrast has twice the variance of the post-only comparison."""
    did = build_design(design="repeated_cross_section", clusters=40, per_cluster=12, icc=0.15)
    crt = build_design(design="cluster_rct", clusters=40, per_cluster=12, icc=0.15)
    assert did.variance() == pytest.approx(2 * crt.variance(), rel=1e-14)
    assert did.df() == crt.df() == 38
    paired = build_design(design="matched_pair_did", clusters=20, per_cluster=12, icc=0.15)
    assert paired.variance() == pytest.approx(did.variance(), rel=1e-14)
    assert paired.df() == 19


def test_design_effects():
    base = build_design(design="cluster_rct", clusters=30, per_cluster=20, icc=0.08)
    unequal = base.with_(cv_cluster_size=0.6)
    ratio = pw.deff_cluster_size(per_cluster=20, icc=0.08, cv_cluster_size=0.6) / pw.deff_cluster_size(
        per_cluster=20, icc=0.08)
    assert unequal.variance() / base.variance() == pytest.approx(ratio, rel=1e-14)  # Eldridge et al. 2006
    # Kish's deff multiplies the household (within-cluster) term only
    p = base.treated_share
    want = (base.cluster_term() + 1.7 * base.household_term()) / (p * (1 - p) * 30)
    assert base.with_(deff_weights=1.7).variance() == pytest.approx(want, rel=1e-14)
    ind = build_design(design="individual_rct", n=200, deff_weights=1.7)
    assert ind.variance() == pytest.approx(1.7 / (0.25 * 200), rel=1e-14)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_paired_size_factors_match_gamma_expectations(k):
    """f_c, f_h of paired designs = ratio of Monte Carlo expectations under gamma cluster sizes."""
    cv, m = 0.6, 20.0
    a = 1 / cv**2
    rng = np.random.default_rng(5)
    draws = 400_000
    mt = rng.gamma(a, m / a, draws)
    mc = rng.gamma(a, m / a, (draws, k))
    sc = mc.sum(axis=1)
    h = mt * sc / (mt + sc)
    q = (mc**2).sum(axis=1) / sc**2
    des = Design(design="matched_pair_did", clusters=10, per_cluster=m, icc=0.2, treated_share=1 / (1 + k),
                 cv_cluster_size=cv, paired=True)
    f_c, f_h = des.size_factors()
    h_eq = k * m / (k + 1)
    assert f_h == pytest.approx(h_eq / h.mean(), rel=3e-3)
    assert f_c == pytest.approx(np.mean(h**2 * (1 + q)) / (h.mean() ** 2 * (1 + 1 / k)), rel=6e-3)


def test_sample_size_is_smallest_integer():
    kw = dict(design="matched_pair_did", per_cluster=25, icc=0.12, waves=3, autocorr_cluster=0.5,
              autocorr_individual=0.4, attrition=0.1)
    r = pw.sample_size(effect=0.25, **kw)
    assert r.power >= 0.8
    assert pw.power(effect=0.25, clusters=r.estimate - 1, **kw).estimate < 0.8
    assert r.estimate - 1 < r.exact <= r.estimate
    # the same through per_cluster
    r2 = pw.sample_size(effect=0.3, solve_for="per_cluster", clusters=40, **{k: v for k, v in kw.items()
                                                                                if k != "per_cluster"})
    assert r2.power >= 0.8
    assert pw.power(effect=0.3, clusters=40, per_cluster=r2.estimate - 1,
                    **{k: v for k, v in kw.items() if k != "per_cluster"}).estimate < 0.8 or r2.estimate == 1
    t = r2.tidy()
    assert t.loc[0, "term"] == "per_cluster" and t.loc[0, "estimate"] == r2.estimate


def test_sample_size_powerup_rule_and_individual():
    r = pw.sample_size(design="cluster_rct", per_cluster=15, icc=0.17, effect=0.5, method="powerup")
    assert pw.mde(design="cluster_rct", clusters=r.estimate, per_cluster=15, icc=0.17,
                  method="powerup").estimate <= 0.5
    assert pw.mde(design="cluster_rct", clusters=r.estimate - 1, per_cluster=15, icc=0.17,
                  method="powerup").estimate > 0.5


def test_per_cluster_cannot_reach_target():
    with pytest.raises(ValueError, match="infinitely many per cluster"):
        pw.sample_size(design="cluster_rct", clusters=6, icc=0.3, effect=0.3, solve_for="per_cluster")


def test_monotone_and_one_sided():
    base = dict(design="matched_pair_did", per_cluster=30, icc=0.1, waves=3, autocorr_cluster=0.5)
    m = [pw.mde(clusters=j, **base).estimate for j in (6, 12, 18, 36, 72)]
    assert all(a > b for a, b in itertools.pairwise(m))
    assert pw.mde(clusters=18, two_sided=False, **base).estimate < pw.mde(clusters=18, **base).estimate
    # one-sided power for a negative effect is below alpha
    assert pw.power(clusters=18, effect=-0.2, two_sided=False, **base).estimate < 0.05
    # two-sided power is symmetric in the effect's sign
    assert pw.power(clusters=18, effect=-0.2, **base).estimate == pytest.approx(
        pw.power(clusters=18, effect=0.2, **base).estimate, rel=1e-12)
    # more waves after, more correlation, pair correlation: all lower the MDE
    assert pw.mde(clusters=18, **{**base, "pair_correlation": 0.5}).estimate < m[2]
    assert pw.mde(clusters=18, **{**base, "autocorr_cluster": 0.8}).estimate < m[2]


def test_planning_table_matches_single_calls():
    kw = dict(design="matched_pair_did", icc=0.1, waves=3, autocorr_cluster=0.5, autocorr_individual=0.3)
    t = pw.planning_table(clusters=[10, 18, 40], per_cluster=[20, 30], **kw)
    tab = t.tidy()
    assert len(tab) == 6 and set(tab.columns) >= {"clusters", "per_cluster", "mde", "std_error", "df", "n_obs"}
    for _, r in tab.iterrows():
        assert r["mde"] == pytest.approx(pw.mde(clusters=int(r["clusters"]), per_cluster=int(r["per_cluster"]),
                                                **kw).estimate, rel=1e-12)
    assert t.wide().shape == (3, 2)
    p = pw.planning_table(clusters=[10, 18], per_cluster=[30], effect=0.3, **kw).tidy()
    assert p["power"].iloc[1] == pytest.approx(pw.power(clusters=18, per_cluster=30, effect=0.3, **kw).estimate)


def test_tidy_vocabulary_and_notes():
    from welfare_eval._results import check_vocabulary

    r = pw.mde(design="matched_pair_did", clusters=18, per_cluster=30, icc=0.1, waves=3, cv_cluster_size=0.3,
               deff_weights=1.4)
    t = r.tidy()
    check_vocabulary(t)
    assert {"term", "estimate", "std_error", "df", "method", "n_clusters", "n_obs"} <= set(t.columns)
    assert t.loc[0, "n_clusters"] == 36 and t.loc[0, "n_obs"] == 36 * 30 * 3
    text = r.summary()
    assert "Minimum detectable effect" in text and "Kish" in text and "pairs − g − 1 = 17" in text


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
GOOD = dict(design="matched_pair_did", clusters=18, per_cluster=30, icc=0.1)


@pytest.mark.parametrize("change,match", [
    (dict(icc=1.0), r"icc=1.0: must be in \[0, 1\)"),
    (dict(icc=-0.1), r"icc=-0.1: must be in \[0, 1\)"),
    (dict(icc=None), "needs icc="),
    (dict(clusters=1), "need at least 2 pairs"),
    (dict(clusters=18.5), "must be a whole number"),
    (dict(clusters=True), "must be a whole number"),
    (dict(per_cluster=0), "per_cluster=0: must be at least 1"),
    (dict(per_cluster="30"), "must be a whole number"),
    (dict(power=1.0), r"power=1.0: must be in \(0, 1\)"),
    (dict(power=0.0), r"power=0.0: must be in \(0, 1\)"),
    (dict(alpha=0.0), r"alpha=0.0: must be in \(0, 1\)"),
    (dict(power=0.04), "must exceed alpha"),
    (dict(r2_cluster=1.0), r"r2_cluster=1.0: must be in \[0, 1\)"),
    (dict(r2_individual=-0.2), r"r2_individual=-0.2"),
    (dict(design="stepped_wedge"), "design='stepped_wedge': choose one of"),
    (dict(attrition=1.0), r"attrition=1.0: must be in \[0, 1\)"),
    (dict(waves=2, pre_waves=2), "pre_waves=2 must be smaller than waves=2"),
    (dict(waves=1), "waves=1: must be at least 2"),
    (dict(treated_share=0.7), "treated share is 1/"),
    (dict(treated_share=0.4, comparisons_per_pair=2), "contradicts comparisons_per_pair=2"),
    (dict(autocorr_cluster=1.5), r"autocorr_cluster=1.5: must be a correlation"),
    (dict(pair_correlation=1.2), r"pair_correlation=1.2"),
    (dict(cv_cluster_size=-1), "cv_cluster_size=-1"),
    (dict(deff_weights=0.9), "deff_weights=0.9: must be a number ≥ 1"),
    (dict(n=100), "n=100 does not apply to design='matched_pair_did'"),
    (dict(method="exact"), "method='exact': choose one of"),
    (dict(covariates=-1), "covariates=-1"),
    (dict(clusters=2, covariates=1), r"df = pairs − g − 1 = 0 < 1"),
])
def test_bad_input_mde(change, match):
    kw = {**GOOD, **change}
    with pytest.raises(ValueError, match=match) as exc:
        pw.mde(**kw)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("kw,match", [
    (dict(design="cluster_rct", clusters=2, per_cluster=10, icc=0.1), r"df = clusters − g − 2 = 0 < 1"),
    (dict(design="cluster_rct", clusters=10, per_cluster=10, icc=0.1, autocorr_individual=0.5),
     "autocorr_individual=0.5 does not apply to design='cluster_rct'"),
    (dict(design="cluster_rct", clusters=10, per_cluster=10, icc=0.1, pair_correlation=0.5), "pair_correlation"),
    (dict(design="repeated_cross_section", clusters=10, per_cluster=10, icc=0.1, pair_correlation=0.5),
     "pair_correlation applies to paired designs"),
    (dict(design="repeated_cross_section", clusters=10, per_cluster=10, icc=0.1, attrition=0.1),
     "attrition=0.1 does not apply"),
    (dict(design="individual_rct"), "needs n="),
    (dict(design="individual_rct", n=2), r"df = n − g − 2 = 0 < 1"),
    (dict(design="individual_rct", n=50, icc=0.1), "icc=0.1 does not apply"),
])
def test_bad_input_designs(kw, match):
    with pytest.raises(ValueError, match=match):
        pw.mde(**kw)


def test_bad_input_power_and_sample_size():
    with pytest.raises(ValueError, match="effect='big'"):
        pw.power(effect="big", **GOOD)
    with pytest.raises(ValueError, match="must be a positive finite number"):
        pw.sample_size(design="cluster_rct", per_cluster=10, icc=0.1, effect=0.0)
    with pytest.raises(ValueError, match="leave clusters= out"):
        pw.sample_size(effect=0.3, **GOOD)
    with pytest.raises(ValueError, match="can solve for clusters, per_cluster"):
        pw.sample_size(design="cluster_rct", per_cluster=10, icc=0.1, effect=0.3, solve_for="n")
    with pytest.raises(ValueError, match="needs per_cluster="):
        pw.sample_size(design="cluster_rct", icc=0.1, effect=0.3)
    with pytest.raises(ValueError, match="is not a whole number"):
        pw.planning_table(design="cluster_rct", clusters=[10, 12.5], per_cluster=[10], icc=0.1)
