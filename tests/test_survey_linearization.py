"""Brute-force checks of the linearisation: influence values equal finite-difference derivatives.

For an adjusted total ``T(d) = sum_i w_i(d) y_i`` the Taylor influence value of unit i must be
``d_i ∂T/∂d_i``. The derivative is computed by replaying the design's weighting steps on perturbed
base weights (central differences).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from welfare_eval.survey import Design, adjust_nonresponse, calibrate, poststratify, rake

FIX = Path(__file__).resolve().parent / "reference" / "survey"


def _replay(design: Design, base: np.ndarray) -> np.ndarray:
    w = base.copy()
    for op in design._ops:
        w = op.fn(w)[0]
    return w


def _fd_influence(design: Design, y: np.ndarray) -> np.ndarray:
    base = design.weights_base
    out = np.zeros(len(base))
    for i in range(len(base)):
        h = 1e-3 * base[i]  # central differences; smaller steps lose digits to rounding
        up, dn = base.copy(), base.copy()
        up[i] += h
        dn[i] -= h
        out[i] = (_replay(design, up) @ y - _replay(design, dn) @ y) / (2 * h) * base[i]
    return out


def _assert_influence(design: Design, y: np.ndarray) -> None:
    z = design._residualize((design.weights * y)[:, None])[:, 0]
    fd = _fd_influence(design, y)
    np.testing.assert_allclose(z, fd, atol=1e-6 * np.abs(fd).max())


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 120
    df = pd.DataFrame(
        {
            "stratum": np.repeat([1, 2, 3], 40),
            "psu": np.repeat(np.arange(24), 5),
            "cls": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["f", "m"], n),
            "x": rng.gamma(2.0, 2.0, n),
            "w": rng.uniform(20, 60, n),
        }
    )
    df["y"] = 3 + 2 * df["x"] + rng.normal(0, 2, n) + (df["cls"] == "a") * 4
    p = 1 / (1 + np.exp(-(0.3 + 0.4 * df["x"] - 1.0 * (df["cls"] == "a"))))
    df["resp"] = rng.uniform(size=n) < p
    return df


def test_nonresponse_classes(sample: pd.DataFrame) -> None:
    d = Design(sample, weights="w", strata="stratum", psu="psu")
    _assert_influence(adjust_nonresponse(d, "resp", classes="cls"), sample["y"].to_numpy())


def test_nonresponse_inverse_propensity(sample: pd.DataFrame) -> None:
    d = Design(sample, weights="w", strata="stratum", psu="psu")
    a = adjust_nonresponse(d, "resp", propensity="~ x + C(cls)", n_classes=None)
    _assert_influence(a, sample["y"].to_numpy())


def test_nonresponse_then_poststratify_then_calibrate(sample: pd.DataFrame) -> None:
    d = Design(sample, weights="w", strata="stratum", psu="psu")
    d = adjust_nonresponse(d, "resp", classes="cls")
    d = poststratify(d, "sex", {"f": 2600.0, "m": 2400.0})
    d = calibrate(d, "~ x", {"Intercept": 5000.0, "x": 21000.0})
    _assert_influence(d, sample["y"].to_numpy())


def test_chain_rule_on_api(fixtures: Path) -> None:
    c = pd.read_csv(fixtures / "survey" / "apiclus1.csv")
    d = Design(c, weights="pw", psu="dnum", fpc="fpc")
    d = poststratify(d, "stype", {"E": 4421.0, "H": 755.0, "M": 1018.0})
    d = calibrate(d, "~ api99", {"Intercept": 6194.0, "api99": 3914069.0})
    _assert_influence(d, c["api00"].to_numpy(dtype=float))


def test_nonresponse_taylor_close_to_reapplied_jackknife(sample: pd.DataFrame) -> None:
    d = Design(sample, weights="w", strata="stratum", psu="psu")
    a = rake(adjust_nonresponse(d, "resp", classes="cls"), {"sex": {"f": 2600.0, "m": 2400.0}})
    se_t = a.mean("y").std_error[0]
    se_j = a.replicate("jkn").mean("y").std_error[0]
    assert abs(se_t / se_j - 1) < 0.1
