"""QCA: calibration, truth table, necessity and minimisation vs Lipset's data and hand computation."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from welfare_eval.factors import qca

CONDS = ["DEV", "URB", "LIT", "IND", "STB"]


@pytest.fixture(scope="module")
def lr(fixtures):
    return pd.read_csv(fixtures / "factors" / "LR.tab.gz", sep="\t")


@pytest.fixture(scope="module")
def lr_crisp(lr):
    c = pd.DataFrame(index=lr.index)
    c["DEV"] = qca.crisp(lr["DEV"], threshold=550)
    c["URB"] = qca.crisp(lr["URB"], threshold=50)
    c["LIT"] = qca.crisp(lr["LIT"], threshold=75)
    c["IND"] = qca.crisp(lr["IND"], threshold=30)
    c["STB"] = qca.crisp(lr["STB"], threshold=10, above=False, inclusive=False)
    c["SURV"] = qca.crisp(lr["SURV"], threshold=0, inclusive=False)
    return c


@pytest.fixture(scope="module")
def lr_tt(lr_crisp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", qca.LimitedDiversityWarning)
        return qca.truth_table(lr_crisp, outcome="SURV", conditions=CONDS)


def test_lr_data_copy(lr):
    assert lr.shape == (18, 6)
    assert lr.loc["AU", "DEV"] == 720


def test_lr_fuzzy_calibration_published(lr):
    dev = qca.calibrate(lr["DEV"], exclusion=400, crossover=550, inclusion=900)
    assert round(dev["AU"], 2) == 0.81
    # the anchors themselves
    v = qca.calibrate(np.array([400.0, 550.0, 900.0]), exclusion=400, crossover=550, inclusion=900)
    np.testing.assert_allclose(v, [0.05, 0.5, 0.95], rtol=1e-12)
    # by hand: log-odds ln(19) * 170/350 above the crossover, ln(19) * (x - 550)/150 below
    assert dev["AU"] == pytest.approx(1 / (1 + math.exp(-math.log(19) * 170 / 350)), rel=1e-12)
    assert dev["GR"] == pytest.approx(1 / (1 + math.exp(-math.log(19) * (390 - 550) / 150)), rel=1e-12)


def test_decreasing_calibration():
    v = qca.calibrate(np.array([20.0, 10.0, 5.0, 0.0]), exclusion=20, crossover=10, inclusion=0)
    np.testing.assert_allclose(v[[0, 1, 3]], [0.05, 0.5, 0.95], rtol=1e-12)
    assert 0.5 < v[2] < 0.95
    with pytest.raises(ValueError, match="strictly between"):
        qca.calibrate([1.0], exclusion=0, crossover=5, inclusion=4)


def test_lr_truth_table(lr_tt):
    t = lr_tt.table.set_index("row")
    positive = t[t["OUT"] == "1"]
    assert list(positive.index) == [22, 24, 32]
    assert positive.loc[32, "cases"] == "BE,CZ,NL,UK"
    assert lr_tt.n_remainders == 23
    assert t["n"].sum() == 18


def test_lr_limited_diversity_warns(lr_crisp):
    with pytest.warns(qca.LimitedDiversityWarning, match="23 of 32"):
        qca.truth_table(lr_crisp, outcome="SURV", conditions=CONDS)


def test_lr_conservative_and_parsimonious_published(lr_tt):
    cons = qca.minimize(lr_tt)
    assert len(cons.models) == 1
    got = {frozenset(t) for t in cons.models[0]}
    expect = {
        frozenset({("DEV", 1), ("LIT", 1), ("IND", 1), ("STB", 1)}),
        frozenset({("DEV", 1), ("URB", 0), ("LIT", 1), ("STB", 1)}),
    }
    assert got == expect
    assert cons.model_fit()["incl"] == 1.0 and cons.model_fit()["cov"] == 1.0
    pars = qca.minimize(lr_tt, include="?")
    assert pars.solution_strings() == ["DEV*STB"]
    fit = pars.model_fit()
    assert fit["incl"] == 1.0 and fit["cov"] == 1.0
    assert pars.remainders_used  # simplifying assumptions are reported


def test_lr_intermediate_by_hand(lr_tt):
    # Ragin-Sonnett with every expectation "present": DEV*LIT*IND*STB keeps LIT, IND (expected present);
    # DEV*~URB*LIT*STB drops ~URB (contrary to the expectation) -> DEV*LIT*STB, which contains the first.
    inter = qca.minimize(lr_tt, include="?", dir_exp="1,1,1,1,1")
    assert inter.solution_strings() == ["DEV*LIT*STB"]
    # with no expectations the intermediate solution is the conservative one
    none = qca.minimize(lr_tt, include="?", dir_exp={c: "-" for c in CONDS})
    assert {frozenset(t) for t in none.models[0]} == {frozenset(t) for t in qca.minimize(lr_tt).models[0]}
    with pytest.raises(ValueError, match="include='\\?'"):
        qca.minimize(lr_tt, dir_exp="1,1,1,1,1")


def _fuzzy_example():
    return pd.DataFrame(
        {"A": [0.9, 0.8, 0.3, 0.6, 0.1], "B": [0.7, 0.2, 0.9, 0.6, 0.4], "Y": [0.8, 0.6, 0.7, 0.4, 0.2]},
        index=["c1", "c2", "c3", "c4", "c5"],
    )


def test_consistency_coverage_pri_by_hand():
    d = _fuzzy_example()
    tt = qca.truth_table(d, outcome="Y", conditions=["A", "B"], incl_cut=0.8)
    row = tt.table.set_index("row").loc[4]  # A*B
    # A*B memberships: min(A,B) = .7 .2 .3 .6 .1 ; min(A*B, Y) = .7 .2 .3 .4 .1
    # min(A*B, Y, 1-Y) = .2 .2 .3 .4 .1
    assert row["incl"] == pytest.approx(1.7 / 1.9, rel=1e-12)
    assert row["PRI"] == pytest.approx((1.7 - 1.2) / (1.9 - 1.2), rel=1e-12)
    assert row["cov"] == pytest.approx(1.7 / 2.7, rel=1e-12)  # sum Y = 2.7
    assert row["cases"] == "c1,c4" and row["n"] == 2 and row["OUT"] == "1"
    nec = qca.necessity(d, outcome="Y", conditions=["A"]).tidy().set_index("condition")
    # min(A,Y) = .8 .6 .3 .4 .1 -> 2.2; sum Y = 2.7; sum A = 2.7; sum(1-A) = 2.3; sum(1 - min) = 2.8
    assert nec.loc["A", "inclN"] == pytest.approx(2.2 / 2.7)
    assert nec.loc["A", "covN"] == pytest.approx(2.2 / 2.7)
    assert nec.loc["A", "RoN"] == pytest.approx(2.3 / 2.8)
    # ~A: 1-A = .1 .2 .7 .4 .9; min(~A,Y) = .1 .2 .7 .4 .2 -> 1.6; sum ~A = 2.3; sum A = 2.7; 1 - min -> 3.4
    assert nec.loc["~A", "inclN"] == pytest.approx(1.6 / 2.7)
    assert nec.loc["~A", "covN"] == pytest.approx(1.6 / 2.3)
    assert nec.loc["~A", "RoN"] == pytest.approx(2.7 / 3.4)


def test_solution_coverage_by_hand():
    d = _fuzzy_example()
    tt = qca.truth_table(d, outcome="Y", conditions=["A", "B"], incl_cut=0.85)
    t = tt.table.set_index("row")
    # A*~B (row 3): c2 only; min(A,1-B) = .3 .8 .1 .4 .1; min(., Y) = .3 .6 .1 .4 .1 -> 1.5 / 1.7
    assert t.loc[3, "incl"] == pytest.approx(1.5 / 1.7)
    # ~A*B (row 2): min(1-A,B) = .1 .2 .7 .4 .4 -> 1.8; min(., Y) = .1 .2 .7 .4 .2 -> 1.6
    assert t.loc[2, "incl"] == pytest.approx(1.6 / 1.8)
    # ~A*~B (row 1): min = .1 .2 .1 .4 .6 -> 1.4; with Y -> 1.0: below the cut
    assert t.loc[1, "incl"] == pytest.approx(1.0 / 1.4)
    assert list(t["OUT"]) == ["0", "1", "1", "1"]
    sol = qca.minimize(tt)
    assert sol.solution_strings() == ["A + B"]
    terms = sol.tidy().set_index("term")
    # A: min(A,Y) -> 2.2, sum A 2.7; B: min(B,Y) = .7 .2 .7 .4 .2 -> 2.2, sum B 2.8; sum Y 2.7
    assert terms.loc["A", "incl"] == pytest.approx(2.2 / 2.7)
    assert terms.loc["B", "incl"] == pytest.approx(2.2 / 2.8)
    assert terms.loc["B", "cov_raw"] == pytest.approx(2.2 / 2.7)
    # solution max(A,B) = .9 .8 .9 .6 .4 -> 3.6; min(max, Y) = .8 .6 .7 .4 .2 -> 2.7
    assert terms.loc["A", "solution_incl"] == pytest.approx(2.7 / 3.6)
    assert terms.loc["A", "solution_cov"] == pytest.approx(1.0)
    assert terms.loc["A", "cov_unique"] == pytest.approx((2.7 - 2.2) / 2.7)
    assert terms.loc["B", "cov_unique"] == pytest.approx((2.7 - 2.2) / 2.7)


def _brute_min_sop(on, dc, k):
    """Brute force: all cubes, implicants, primes, and the minimum number of primes in a cover."""
    cubes = []
    for code in itertools.product((0, 1, None), repeat=k):
        pts = [m for m in range(2**k) if all(
            v is None or ((m >> (k - 1 - j)) & 1) == v for j, v in enumerate(code))]
        cubes.append((code, frozenset(pts)))
    allowed = set(on) | set(dc)
    impl = [(c, s) for c, s in cubes if s <= allowed and s & set(on)]
    primes = [(c, s) for c, s in impl if not any(s < s2 for _, s2 in impl)]
    for size in range(1, len(primes) + 1):
        for combo in itertools.combinations(primes, size):
            if set(on) <= frozenset().union(*(s for _, s in combo)):
                return size, {c for c, _ in primes}
    raise AssertionError


@pytest.mark.parametrize("seed", range(25))
def test_quine_mccluskey_vs_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = 4
    status = rng.choice(["1", "0", "?"], size=2**k, p=[0.35, 0.35, 0.3])
    if not (status == "1").any():
        status[0] = "1"
    rows = []
    for m in range(2**k):
        bits = [(m >> (k - 1 - j)) & 1 for j in range(k)]
        if status[m] == "?":
            continue
        rows.append({**{f"C{j}": b for j, b in enumerate(bits)}, "Y": 1 if status[m] == "1" else 0})
    d = pd.DataFrame(rows, index=[f"r{i}" for i in range(len(rows))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", qca.LimitedDiversityWarning)
        tt = qca.truth_table(d, outcome="Y", conditions=[f"C{j}" for j in range(k)])
    on = [m for m in range(2**k) if status[m] == "1"]
    dc = [m for m in range(2**k) if status[m] == "?"]
    for include, dcs in (("", []), ("?", dc)):
        sol = qca.minimize(tt, include=include)
        size, prime_codes = _brute_min_sop(on, dcs, k)
        for model in sol.models:
            assert len(model) == size
            for term in model:
                code = tuple(dict(term).get(f"C{j}") for j in range(k))
                assert code in prime_codes
            # the model is 1 on every positive row and 0 on every negative row
            for m in range(2**k):
                bits = {f"C{j}": (m >> (k - 1 - j)) & 1 for j in range(k)}
                val = any(all(bits[c] == v for c, v in t) for t in model)
                if status[m] == "1":
                    assert val
                elif status[m] == "0":
                    assert not val


def test_bad_memberships_rejected():
    with pytest.raises(ValueError, match="not a set membership"):
        qca.truth_table(pd.DataFrame({"A": [2.0], "Y": [1.0]}), outcome="Y", conditions=["A"])
    with pytest.raises(ValueError, match="missing"):
        qca.truth_table(pd.DataFrame({"A": [np.nan], "Y": [1.0]}), outcome="Y", conditions=["A"])


def test_solution_xy_plot(lr_tt):
    import matplotlib

    matplotlib.use("Agg")
    ax = qca.minimize(lr_tt, include="?").plot()
    assert ax.get_xlabel() == "DEV*STB"
    assert "incl 1.00" in ax.get_title()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=20),
    st.floats(1, 100),
    st.floats(1, 100),
)
def test_calibrate_properties(xs, lo_gap, hi_gap):
    x = np.sort(np.array(xs))
    v = qca.calibrate(x, exclusion=-lo_gap, crossover=0.0, inclusion=hi_gap)
    assert np.all((v >= 0) & (v <= 1))
    assert np.all(np.diff(v) >= -1e-15)  # monotone increasing
    w = qca.calibrate(x, exclusion=hi_gap, crossover=0.0, inclusion=-lo_gap)  # reversed anchors
    assert np.all(np.diff(w) <= 1e-15)
    np.testing.assert_allclose(qca.calibrate(x, exclusion=-lo_gap, crossover=0.0, inclusion=lo_gap)
                               + qca.calibrate(-x, exclusion=-lo_gap, crossover=0.0, inclusion=lo_gap), 1.0)


def test_negated_outcome(lr_crisp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", qca.LimitedDiversityWarning)
        tt = qca.truth_table(lr_crisp, outcome="SURV", conditions=CONDS, neg_out=True)
    assert tt.outcome == "~SURV"
    t = tt.table.set_index("row")
    assert set(t.index[t["OUT"] == "1"]) == {1, 2, 5, 6, 23, 31}  # the breakdown configurations
    sol = qca.minimize(tt)
    fit = sol.model_fit()
    assert fit["incl"] == 1.0 and fit["cov"] == 1.0
    assert "~SURV" in sol.title
