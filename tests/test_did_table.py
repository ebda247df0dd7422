"""did.model_table: several models side by side; the numbers are the models' own tidy() rows."""

from __future__ import annotations

import numpy as np
import pytest

from welfare_eval import did
from welfare_eval._results import ResultBase
from welfare_eval.did._testing import matched_pair_panel

SPEC = dict(treated="treated", unit="hh_id", pair="pair_id", weights="weight",
            inference=("cr1", "cr2", "wild", "ri"), draws=2**10)


@pytest.fixture(scope="module")
def models():
    d = matched_pair_panel(pairs=6, households=3, seed=4, effect=0.5)
    a = did.estimate(d, outcome="y", post="post", period="wave", **SPEC)
    b = did.estimate(d, outcome="x1", post="post", period="wave", **SPEC)
    c = did.estimate(d, outcome="y", post="wave", **SPEC)  # by wave: D[midline], D[endline]
    return a, b, c


def test_values_are_the_models_tidy_rows(models):
    a, b, _ = models
    tab = did.model_table([a, b], methods=("cr1", "cr2", "wild", "ri"), digits=4)
    assert isinstance(tab, ResultBase)
    long = tab.tidy()
    for label, m in zip(["(1) y", "(2) x1"], [a, b], strict=True):
        ref = m.tidy().set_index("method")
        mine = long[long["model"] == label].set_index("method")
        for method in ("cr1", "cr2", "wild", "ri"):
            for col in ("estimate", "std_error", "p_value", "ci_low", "ci_high", "n_obs", "n_clusters"):
                x, y = mine.loc[method, col], ref.loc[method, col]
                assert (np.isnan(x) and np.isnan(y)) or x == y
    frame = tab.to_frame()
    assert list(frame.columns) == ["(1) y", "(2) x1"]
    r = a.tidy().set_index("method")
    assert frame.loc[("D", "estimate"), "(1) y"] == f"{r.loc['cr2', 'estimate']:.4f}"
    assert frame.loc[("D", "cr2 SE"), "(1) y"] == f"({r.loc['cr2', 'std_error']:.4f})"
    assert frame.loc[("D", "wild 95% CI"), "(1) y"] == f"[{r.loc['wild', 'ci_low']:.4f}, {r.loc['wild', 'ci_high']:.4f}]"
    assert frame.loc[("D", "ri p"), "(1) y"] == f"{r.loc['ri', 'p_value']:.4f}"
    assert ("D", "wild SE") not in frame.index  # no analytic SE for the bootstrap
    assert frame.loc[("", "N"), "(2) x1"] == f"{b.nobs:,}"
    assert frame.loc[("", "clusters"), "(2) x1"] == "6"


def test_html_and_summary(models):
    a, b, _ = models
    tab = did.model_table({"savings": a, "placebo": b}, methods=("cr2",))
    html = tab._repr_html_()
    assert "<table" in html and "savings" in html and "placebo" in html
    assert tab.to_html() in html
    assert "cr2 p" in tab.summary()


def test_stars_follow_first_method(models):
    a, b, _ = models
    tab = did.model_table([a, b], methods=("cr2", "wild"), stars=True)
    for lb, m in zip(tab.to_frame().columns, [a, b], strict=True):
        p = float(m.tidy().set_index("method").loc["cr2", "p_value"])
        cell = tab.to_frame().loc[("D", "estimate"), lb]
        n = len(cell) - len(cell.rstrip("*"))
        assert n == (3 if p < 0.01 else 2 if p < 0.05 else 1 if p < 0.1 else 0)


def test_by_wave_terms_and_terms_argument(models):
    a, _, c = models
    tab = did.model_table([c, c], methods=("cr2",), labels=["A", "B"])
    assert [t for t in tab.to_frame().index.get_level_values("term").unique() if t] == ["D[midline]", "D[endline]"]
    with pytest.raises(ValueError, match="different terms"):
        did.model_table([a, c])
    mixed = did.model_table([a, c], methods=("cr2",), terms=["D", "D[endline]"])
    frame = mixed.to_frame()
    assert frame.loc[("D", "estimate"), "(2) y"] == ""
    assert frame.loc[("D[endline]", "estimate"), "(2) y"] != ""


def test_errors(models):
    a, b, _ = models
    with pytest.raises(ValueError, match="no models"):
        did.model_table([])
    with pytest.raises(ValueError, match="none of the models"):
        did.model_table([a, b], terms=["nope"])
    with pytest.raises(ValueError, match="labels"):
        did.model_table([a, b], labels=["x"])
    with pytest.raises(ValueError, match="unique"):
        did.model_table([a, b], labels=["x", "x"])
    with pytest.raises(ValueError, match="no \\['cr3'\\]"):
        did.model_table([a, b], methods=("cr3",))
    with pytest.raises(TypeError):
        did.model_table([object()])
