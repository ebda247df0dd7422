"""Bad input gets one-line ValueErrors naming the column, unit or cell; honest notes for what is dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval._results import check_vocabulary
from welfare_eval.did import att_gt
from welfare_eval.did.cells import reduce_cells


def panel(seed: int = 0, units: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 2021, 2022], size=units)
    g[:3] = 0
    rows = [{"id": f"u{i}", "year": t, "g": g[i], "y": rng.normal() + (0.5 if g[i] and t >= g[i] else 0.0),
             "w": 1.0 + i % 3, "x": rng.normal()}
            for i in range(units) for t in range(2019, 2024)]
    return pd.DataFrame(rows)


KW = {"outcome": "y", "unit": "id", "time": "year", "cohort": "g", "draws": 49}


def test_cohort_changes_within_unit() -> None:
    d = panel()
    d.loc[(d["id"] == "u5") & (d["year"] == 2023), "g"] = 2023
    with pytest.raises(ValueError, match=r"cohort 'g' changes over time within unit 'u5'"):
        att_gt(d, **KW)


def test_missing_outcome_named() -> None:
    d = panel()
    d.loc[7, "y"] = np.nan
    with pytest.raises(ValueError, match=r"column 'y' is missing in 1 row\(s\).*row 7"):
        att_gt(d, **KW)


def test_unbalanced_panel_refused_then_supported() -> None:
    d = panel().drop(index=12).reset_index(drop=True)
    with pytest.raises(ValueError, match=r"unbalanced panel: unit 'u2' has no row in period 2021.*panel=False"):
        att_gt(d, **KW)
    res = att_gt(d, panel=False, **KW)  # repeated cross-sections clustered by unit
    assert res.n_clusters == 30
    assert "repeated cross-sections" in res.notes()[0]


def test_duplicate_rows_and_varying_weights() -> None:
    d = panel()
    with pytest.raises(ValueError, match=r"unit 'u0' has more than one row in period 2019.*unit=None and cluster="):
        att_gt(pd.concat([d, d.iloc[[0]]], ignore_index=True), panel=False, **KW)
    with pytest.raises(ValueError, match=r"unit 'u0' has 2 rows in period 2019"):
        att_gt(pd.concat([d, d.iloc[[0]]], ignore_index=True), **KW)
    d2 = d.assign(w=d["w"] + (d["year"] == 2022))
    with pytest.raises(ValueError, match=r"weights 'w' vary over time within unit"):
        att_gt(d2, weights="w", **KW)
    att_gt(d2, weights="w", panel=False, **KW)  # fine as repeated cross-sections


def test_no_never_treated_for_never_control() -> None:
    d = panel()
    d = d[d["g"] > 0]
    with pytest.raises(ValueError, match=r"no never-treated units.*control='not_yet'"):
        att_gt(d, **KW)
    res = att_gt(d, control="not_yet", **KW)
    assert any("no never-treated units" in n for n in res.notes())
    assert set(res.tidy()["cohort"]) == {2021}


def test_treated_in_first_period_dropped_with_note_and_late_cohort_never() -> None:
    d = panel()
    d.loc[d["id"].isin(["u0", "u1"]), "g"] = 2019
    d.loc[d["id"] == "u2", "g"] = 2030
    with pytest.warns(UserWarning, match=r"dropped 2 unit\(s\) of cohort\(s\) 2019"):
        res = att_gt(d, **KW)
    notes = " ".join(res.notes())
    assert "dropped 2 unit(s)" in notes and "2030 first treated after the last period" in notes
    assert 2019 not in set(res.tidy()["cohort"])


def test_no_comparison_observations_for_a_cell() -> None:
    d = panel()
    d = d[~((d["g"] == 0) & (d["year"] == 2022))]  # never-treated units absent in 2022
    with pytest.raises(ValueError, match=r"no never-treated comparison observations in period 2022 for "
                                         r"ATT\(g=2021, t=2022\)"):
        att_gt(d, panel=False, **KW)


def test_bad_arguments() -> None:
    d = panel()
    for kw, msg in [({"method": "ols"}, "method='ols'"), ({"control": "all"}, "control='all'"),
                    ({"base_period": "fixed"}, "base_period='fixed'"), ({"anticipation": -1}, "anticipation"),
                    ({"std_errors": "cr2"}, "std_errors"), ({"level": 95}, "level")]:
        with pytest.raises(ValueError, match=msg):
            att_gt(d, **{**KW, **kw})
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] not in the data"):
        att_gt(d, **{**KW, "covariates": ["nope"]})
    with pytest.raises(ValueError, match="time column 'year' must be numeric"):
        att_gt(d.assign(year=d["year"].astype(str) + "x"), **KW)
    with pytest.raises(ValueError, match="panel=True needs unit"):
        att_gt(d, **{**KW, "unit": None, "panel": True})
    res = att_gt(d, **KW)
    with pytest.raises(ValueError, match="type='weekly'"):
        res.aggregate("weekly")
    with pytest.raises(ValueError, match="no event time"):
        res.aggregate("dynamic", min_e=10)


def test_cells_errors() -> None:
    d = panel()
    cells = reduce_cells(d, keys=["id", "year"], variables=["y", "x"], carry=["g"])
    with pytest.raises(ValueError, match="more than one cell for id='u0'"):
        att_gt(pd.concat([cells, cells.iloc[[0]]]), cells=True, **KW)
    with pytest.raises(ValueError, match="drop panel=True"):
        att_gt(cells, cells=True, panel=True, **KW)
    with pytest.raises(ValueError, match="needs unit="):
        att_gt(cells, cells=True, **{**KW, "unit": None})


def test_tidy_tables_use_the_vocabulary_and_notes_describe() -> None:
    res = att_gt(panel(), **KW)
    tab = res.tidy()
    check_vocabulary(tab)
    assert {"cohort", "time", "estimate", "std_error", "ci_low", "ci_high", "band_low", "band_high", "n_obs",
            "n_clusters"} <= set(tab.columns)
    for typ in ("simple", "dynamic", "group", "calendar"):
        agg = res.aggregate(typ).tidy()
        check_vocabulary(agg)
        assert agg["term"].iloc[-1] == "overall" and list(agg.columns) == list(res.aggregate("group").tidy().columns)
    assert "pre-trend test" in " ".join(res.notes())
    assert "ATT(g,t)" in res.summary() and "<table" in res._repr_html_()
