"""Replicate-weight variance against R survey 4.1.1 (tests/reference/survey/make_replicate.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import Design, DesignError, calibrate, poststratify, rake, replicate_factors

RTOL = 1e-6
FIX = Path(__file__).resolve().parent / "reference" / "survey"


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(FIX / "replicate.csv").fillna({"domain": ""})


@pytest.fixture(scope="module")
def popn() -> pd.DataFrame:
    return pd.read_csv(FIX / "calibration_population.csv")


def _margins(popn: pd.DataFrame, population: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m in ("stype", "sch.wide"):
        sub = popn[(popn.population == population) & (popn.margin == m)]
        out[m] = dict(zip(sub.level, sub["count"].astype(float), strict=True))
    return out


def clus1() -> Design:
    return Design(pd.read_csv(FIX / "apiclus1.csv"), weights="pw", psu="dnum", fpc="fpc")


def strat() -> Design:
    return Design(pd.read_csv(FIX / "apistrat.csv"), weights="pw", strata="stype", fpc="fpc")


def twostage() -> Design:
    ts = pd.read_csv(FIX / "twostage.csv")
    return Design(ts, weights="pw", strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2")


def check(d: Design, name: str, ref: pd.DataFrame, *, enroll: bool = True, only_totals: bool = False) -> None:
    r = ref[ref.design == name]
    assert len(r) > 0, name

    def one(stat: str, term: str, got: pd.Series, domain: str = "") -> None:
        want = r[(r.stat == stat) & (r.term == term) & (r.domain == domain)].iloc[0]
        np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=RTOL)
        np.testing.assert_allclose(got["std_error"], want["se"], rtol=RTOL)

    one("total", "api00", d.total("api00").tidy().iloc[0])
    if enroll:
        one("total", "enroll", d.total("enroll").tidy().iloc[0])
    if only_totals:
        return
    one("mean", "api00", d.mean("api00").tidy().iloc[0])
    for _, row in d.mean("api00", by="sch.wide").tidy().iterrows():
        one("mean_by", "api00", row, row["sch.wide"])
    one("ratio", "api00/api99", d.ratio("api00", "api99").tidy().iloc[0])
    for _, row in d.glm("api00 ~ ell + meals").tidy().iterrows():
        one("glm_gaussian", "(Intercept)" if row["term"] == "Intercept" else row["term"], row)


@pytest.mark.parametrize("mse", [False, True])
def test_jk1_jkn(mse: bool, ref: pd.DataFrame) -> None:
    sfx = "_mse" if mse else ""
    check(clus1().replicate("jk1", mse=mse), f"clus1_jk1{sfx}", ref)
    check(strat().replicate("jkn", mse=mse), f"strat_jkn{sfx}", ref)
    check(twostage().replicate("jkn", mse=mse), f"ts_jkn{sfx}", ref, enroll=False)


def test_adjustments_reapplied_on_replicates(ref: pd.DataFrame, popn: pd.DataFrame) -> None:
    m = _margins(popn, "apipop")
    jk = clus1().replicate("jk1")
    check(poststratify(jk, "stype", m["stype"]), "clus1_jk1_ps", ref)
    check(rake(jk, m), "clus1_jk1_rake", ref)
    # the same result when the raking comes first and the replicates re-apply it
    check(rake(clus1(), m).replicate("jk1", reapply=True), "clus1_jk1_rake", ref)
    pop4 = {"Intercept": 6194.0, "stype[T.H]": 755.0, "stype[T.M]": 1018.0}
    pop4["api99"] = float(popn.loc[popn.margin == "api99", "count"].iloc[0])
    check(calibrate(jk, "~ stype + api99", pop4, calfun="logit", bounds=(0.2, 3)), "clus1_jk1_logit", ref)
    m2 = _margins(popn, "apipop_dnum")
    check(rake(twostage(), m2).replicate("jkn"), "ts_jkn_rake", ref, enroll=False)


def test_reapply_false_keeps_final_weights_fixed(popn: pd.DataFrame) -> None:
    m = _margins(popn, "apipop")
    d = rake(clus1(), m)
    fixed = d.replicate("jk1", reapply=False)
    again = d.replicate("jk1", reapply=True)
    np.testing.assert_allclose(fixed.mean("api00").estimate, again.mean("api00").estimate)
    # re-raking each replicate removes the margin variance: SE of the total of a margin is 0
    assert again.total("stype").std_error.max() < 1e-6 * 6194
    assert fixed.total("stype").std_error.max() > 1.0


def test_brr_and_fay(ref: pd.DataFrame) -> None:
    ts = pd.read_csv(FIX / "twostage_pairs.csv")
    d = Design(ts, weights="pw", strata="pair", psu="dnum")
    check(d, "pairs_taylor", ref, enroll=False)
    # BRR/Fay variances of totals do not depend on the Hadamard matrix chosen (full orthogonal balance)
    check(d.replicate("brr"), "pairs_brr", ref, enroll=False, only_totals=True)
    check(d.replicate("fay", fay_rho=0.5), "pairs_fay", ref, enroll=False, only_totals=True)
    # and BRR equals the Taylor with-replacement variance for totals with 2 PSUs per stratum
    np.testing.assert_allclose(
        d.replicate("brr").total("api00").std_error, d.total("api00").std_error, rtol=1e-10
    )
    with pytest.raises(DesignError, match="exactly 2 PSUs"):
        twostage().replicate("brr")


def test_user_replicate_weights_bootstrap(ref: pd.DataFrame, popn: pd.DataFrame) -> None:
    W = pd.read_csv(FIX / "replicate_boot_weights.csv").to_numpy()
    scale = float(pd.read_csv(FIX / "replicate_boot_scale.csv")["scale"].iloc[0])
    d = clus1().with_replicate_weights(W, scale=scale, type="bootstrap")
    check(d, "clus1_subboot", ref)
    check(rake(d, _margins(popn, "apipop")), "clus1_subboot_rake", ref)


def test_rao_wu_bootstrap_is_unbiased_for_totals() -> None:
    """E[v_boot] equals the Taylor variance for a linear statistic (checked on the replicate factors)."""
    d = twostage()
    F, scale, _ = replicate_factors(d, "bootstrap", replicates=4000, seed=3)
    # for a total, v_boot = scale * sum_r (sum_i a_i (F_ir - 1))^2 up to centring; compare via many replicates
    b = d.replicate("bootstrap", replicates=4000, seed=3)
    v_boot = b.total("api00").std_error[0] ** 2
    # Taylor with first-stage fpc only (replicates use the first stage only)
    ts = pd.read_csv(FIX / "twostage.csv")
    v_t = Design(ts, weights="pw", strata="stratum", psu="dnum", fpc="fpc1").total("api00").std_error[0] ** 2
    assert abs(v_boot / v_t - 1) < 0.08
    assert F.shape == (d.n_psu, 4000) and scale == pytest.approx(1 / 3999)
    assert (F >= 0).all()


def test_jk1_needs_unstratified() -> None:
    with pytest.raises(DesignError, match="use method='jkn'"):
        strat().replicate("jk1")


def test_quantile_on_replicate_design_and_df(ref: pd.DataFrame) -> None:
    jk = clus1().replicate("jk1")
    r = ref[ref.design == "clus1_jk1"]
    for _, row in jk.quantile("api00", [0.25, 0.5]).tidy().iterrows():
        term = f"q{row['q']:g}"

        def val(stat: str, term: str = term) -> float:
            return float(r[(r.stat == stat) & (r.term == term)]["estimate"].iloc[0])

        np.testing.assert_allclose(row["estimate"], val("quantile"), rtol=RTOL)
        np.testing.assert_allclose(row["ci_low"], val("quantile_ci_low"), rtol=RTOL)
        np.testing.assert_allclose(row["ci_high"], val("quantile_ci_high"), rtol=RTOL)
        want_se = float(r[(r.stat == "quantile") & (r.term == term)]["se"].iloc[0])
        np.testing.assert_allclose(row["std_error"], want_se, rtol=RTOL)
    assert jk.df == float(r[r.stat == "degf"]["estimate"].iloc[0])
    assert strat().replicate("jkn").df == float(
        ref[(ref.design == "strat_jkn") & (ref.stat == "degf")]["estimate"].iloc[0]
    )


def test_replicate_deff(ref: pd.DataFrame) -> None:
    jk = clus1().replicate("jk1")
    r = ref[ref.design == "clus1_jk1"].set_index("stat")
    np.testing.assert_allclose(
        jk.mean("api00").tidy()["deff"].iloc[0], r.loc["deff_mean", "estimate"], rtol=RTOL
    )
    np.testing.assert_allclose(
        jk.total("enroll").tidy()["deff"].iloc[0], r.loc["deff_total", "estimate"], rtol=RTOL
    )


def test_certainty_psus_jackknife_their_households(ref: pd.DataFrame) -> None:
    ts = pd.read_csv(FIX / "twostage.csv")
    d = Design(
        ts,
        weights="pw",
        strata="stratum",
        psu="dnum",
        ssu="snum",
        fpc="fpc1",
        fpc_ssu="fpc2",
        certainty="cert",
    )
    check(d.replicate("jkn"), "ts_cert_jkn", ref, enroll=False, only_totals=False)
    b = d.replicate("bootstrap", replicates=3000, seed=1)
    # the bootstrap also carries the within-certainty-PSU variance (no first-stage variance there)
    only = ts[ts.cert].reset_index(drop=True)
    dc = Design(
        only, weights="pw", strata="stratum", psu="dnum", fpc="fpc1", fpc_ssu="fpc2", certainty="cert"
    )
    ratio = (
        dc.replicate("bootstrap", replicates=3000, seed=2).total("api00").std_error[0]
        / dc.total("api00").std_error[0]
    )
    assert abs(ratio - 1) < 0.1
    assert b.total("api00").std_error[0] > 0
