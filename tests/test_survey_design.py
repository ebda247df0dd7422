"""Design object: construction errors, invariances, result objects, proportions (R svyciprop)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import Design, DesignError, SurveyEstimate

FIX = Path(__file__).resolve().parent / "reference" / "survey"


@pytest.fixture(scope="module")
def clus1() -> pd.DataFrame:
    return pd.read_csv(FIX / "apiclus1.csv")


@pytest.fixture(scope="module")
def ts() -> pd.DataFrame:
    return pd.read_csv(FIX / "twostage.csv")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(FIX / "api_taylor.csv").fillna({"domain": ""})


def test_construction_errors(clus1: pd.DataFrame) -> None:
    with pytest.raises(DesignError, match="no such column"):
        Design(clus1, weights="nope")
    with pytest.raises(DesignError, match="either weights= or probs="):
        Design(clus1, weights="pw", probs="pw")
    with pytest.raises(DesignError, match="lonely_psu"):
        Design(clus1, weights="pw", lonely_psu="drop")  # type: ignore[arg-type]
    bad = clus1.assign(pw=clus1["pw"].where(clus1.index != 3))
    with pytest.raises(DesignError, match="missing values"):
        Design(bad, weights="pw")
    mixed = clus1.assign(f=np.where(clus1.stype == "E", 0.5, 757.0))
    with pytest.raises(DesignError, match="all population counts"):
        Design(mixed, weights="pw", strata="stype", fpc="f")
    with pytest.raises(DesignError, match="varies within stratum"):
        Design(clus1.assign(f=np.arange(len(clus1)) + 1000.0), weights="pw", fpc="f")
    with pytest.raises(DesignError, match="more than 100% sampling"):
        Design(clus1.assign(f=3.0), weights="pw", psu="dnum", fpc="f")
    # PSU ids repeated across strata must be nested explicitly
    df = pd.DataFrame({"s": [1, 1, 2, 2], "p": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DesignError, match="nest=True"):
        Design(df, strata="s", psu="p")
    d = Design(df, strata="s", psu="p", nest=True)
    assert d.n_psu == 4 and d.df == 2


def test_probs_and_fpc_derived_weights(ts: pd.DataFrame) -> None:
    a = Design(ts.assign(p=1 / ts["pw"]), probs="p", strata="stratum", psu="dnum")
    b = Design(ts, weights="pw", strata="stratum", psu="dnum")
    np.testing.assert_allclose(a.mean("api00").estimate, b.mean("api00").estimate)
    # with counts at both stages and no weights, weights are N_h/n_h * M_i/m_i
    c = Design(ts, strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2")
    np.testing.assert_allclose(c.weights, ts["pw"], rtol=1e-12)


def test_row_order_invariance(ts: pd.DataFrame) -> None:
    kw = {
        "weights": "pw",
        "strata": "stratum",
        "psu": "dnum",
        "ssu": "snum",
        "fpc": "fpc1",
        "fpc_ssu": "fpc2",
    }
    a = Design(ts, **kw).mean("api00", by="stype").tidy()
    b = Design(ts.sample(frac=1.0, random_state=3), **kw).mean("api00", by="stype").tidy()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_domain_is_not_subsetting(clus1: pd.DataFrame) -> None:
    d = Design(clus1, weights="pw", psu="dnum", fpc="fpc")
    dom = d.mean("api00", by="stype").tidy().set_index("stype")
    naive = (
        Design(clus1[clus1.stype == "H"], weights="pw", psu="dnum", fpc="fpc").mean("api00").tidy().iloc[0]
    )
    # same point estimate, different SE: the domain keeps all PSUs (zero contributions) of the design
    assert dom.loc["H", "estimate"] == pytest.approx(naive["estimate"])
    assert dom.loc["H", "std_error"] != pytest.approx(naive["std_error"], rel=1e-3)
    assert dom.loc["H", "df"] == d.df


def test_na_handling(clus1: pd.DataFrame) -> None:
    df = clus1.assign(y=clus1["api00"].where(clus1.index % 10 != 0))
    d = Design(df, weights="pw", psu="dnum", fpc="fpc")
    with pytest.raises(DesignError, match="na_rm=True"):
        d.mean("y")
    got = d.mean("y", na_rm=True).tidy().iloc[0]
    ok = df["y"].notna()
    by = d.mean("api00", by=None)  # unaffected
    assert np.isfinite(by.estimate[0])
    dom = Design(df.assign(k=ok), weights="pw", psu="dnum", fpc="fpc").mean("api00", by="k").tidy()
    want = dom[dom["k"]].iloc[0]
    assert got["estimate"] == pytest.approx(want["estimate"])
    assert got["std_error"] == pytest.approx(want["std_error"])


@pytest.mark.parametrize("name", ["dclus1", "twostage"])
def test_proportion_logit_ci_matches_svyciprop(
    name: str, clus1: pd.DataFrame, ts: pd.DataFrame, ref: pd.DataFrame
) -> None:
    if name == "dclus1":
        d = Design(clus1.assign(sw=clus1["sch.wide"] == "Yes"), weights="pw", psu="dnum", fpc="fpc")
    else:
        d = Design(
            ts.assign(sw=ts["sch.wide"] == "Yes"),
            weights="pw",
            strata="stratum",
            psu="dnum",
            ssu="snum",
            fpc="fpc1",
            fpc_ssu="fpc2",
        )
    row = d.proportion("sw", method="logit").tidy().iloc[0]
    r = ref[(ref.design == name) & (ref.term == "sch.wide")].set_index("stat")
    assert row["estimate"] == pytest.approx(r.loc["ciprop_logit", "estimate"], rel=1e-6)
    assert row["std_error"] == pytest.approx(r.loc["ciprop_logit", "se"], rel=1e-6)
    assert row["ci_low"] == pytest.approx(r.loc["ciprop_logit_low", "estimate"], rel=1e-6)
    assert row["ci_high"] == pytest.approx(r.loc["ciprop_logit_high", "estimate"], rel=1e-6)
    with pytest.raises(DesignError, match="not 0/1"):
        d.proportion("api00")


def test_result_object(clus1: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    d = Design(clus1, weights="pw", psu="dnum", fpc="fpc")
    res = d.mean(["api00", "api99"], by="stype")
    assert isinstance(res, SurveyEstimate)
    tab = res.tidy()
    assert list(tab.columns[:2]) == ["stype", "term"]
    for col in ("estimate", "std_error", "df", "ci_low", "ci_high", "deff"):
        assert col in tab.columns
    assert res.vcov.shape == (6, 6)
    assert "design df = 14" in res.summary()
    assert "<table" in res._repr_html_()
    assert res.plot() is not None
    # CI is t-based with the design df
    from scipy import stats

    row = tab.iloc[0]
    half = stats.t.ppf(0.975, 14) * row["std_error"]
    assert row["ci_high"] - row["estimate"] == pytest.approx(half)
    assert "Design" in repr(d) and "df=14" in repr(d)


def test_ratio_by_domain_and_errors(clus1: pd.DataFrame) -> None:
    d = Design(clus1, weights="pw", psu="dnum", fpc="fpc")
    r = d.ratio("api00", "api99", by="stype").tidy()
    assert len(r) == 3
    with pytest.raises(DesignError, match="weighted total of 'z' is zero"):
        Design(clus1.assign(z=0.0), weights="pw", psu="dnum").ratio("api00", "z")


def test_certainty_psus_alone_need_a_second_stage(ts: pd.DataFrame) -> None:
    # certainty PSUs: no first-stage variance; households are the variance units inside them
    d = Design(ts, weights="pw", strata="stratum", psu="dnum", certainty="cert")
    assert d.df == 18 - 2 - 3
    only = ts[ts.cert]
    dc = Design(only, weights="pw", strata="stratum", psu="dnum", certainty="cert")
    assert dc.mean("api00").std_error[0] > 0


def test_structure_and_auto_replicates(ts: pd.DataFrame, clus1: pd.DataFrame) -> None:
    d = Design(ts, weights="pw", strata="stratum", psu="dnum", ssu="snum", fpc="fpc1", fpc_ssu="fpc2")
    st = d.structure()
    assert list(st["n_psu"]) == [6, 6, 6]
    assert st["sum_weights"].sum() == pytest.approx(ts["pw"].sum())
    assert d.replicate().variance_method == "jkn"
    assert Design(clus1, weights="pw", psu="dnum").replicate().variance_method == "jk1"


def test_user_replicate_weights_without_psus_use_rank_df(clus1: pd.DataFrame) -> None:
    d = Design(clus1, weights="pw", psu="dnum")
    jk = d.replicate("jk1")
    bare = Design(clus1, weights="pw").with_replicate_weights(jk.replicate_weights, scale=14 / 15)
    assert bare.df == 14.0  # rank of the 15 JK1 replicates minus 1, as R's degf
    np.testing.assert_allclose(bare.mean("api00").std_error, jk.mean("api00").std_error)


def test_qrule_math_brute_force() -> None:
    from welfare_eval.survey import qrule_math

    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        x = rng.integers(0, 6, n).astype(float)
        w = rng.integers(1, 4, n).astype(float)
        p = float(rng.choice([0.1, 0.25, 0.5, 0.75, 0.9, 1 / 3]))
        # brute force: smallest value v with sum(w[x <= v]) >= p * sum(w)
        want = min(v for v in np.unique(x) if w[x <= v].sum() >= p * w.sum() - 1e-12)
        assert qrule_math(x, w, p) == want
