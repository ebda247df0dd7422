"""Result objects of welfare_eval.power: tidy vocabulary, summaries, exports, plots with Thai/English labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from welfare_eval import power as pw
from welfare_eval._results import check_vocabulary
from welfare_eval.reference import label

STUDY = dict(design="matched_pair_did", icc=0.1, waves=3, autocorr_cluster=0.5, autocorr_individual=0.4,
             attrition=0.1)


@pytest.fixture(scope="module")
def results():
    sim = pw.simulate_power(clusters=4, per_cluster=3, effect=[0.0, 0.8], inference=("cr1",), n_sims=3, seed=0,
                            **STUDY)
    return {
        "mde": pw.mde(clusters=18, per_cluster=30, **STUDY),
        "power": pw.power(clusters=18, per_cluster=30, effect=0.3, **STUDY),
        "size": pw.sample_size(per_cluster=30, effect=0.3, **STUDY),
        "plan": pw.planning_table(clusters=[10, 20, 40], per_cluster=[15, 30], **STUDY),
        "plan_power": pw.planning_table(clusters=[10, 20], per_cluster=[30], effect=0.3, **STUDY),
        "sim": sim,
    }


def test_tidy_vocabulary_and_exports(results, tmp_path):
    for name, r in results.items():
        t = r.tidy()
        assert isinstance(t, pd.DataFrame) and len(t)
        check_vocabulary(t, where=name)
        assert r.title in r.summary()
        assert "<div>" in r._repr_html_()
        out = r.to_csv(tmp_path / f"{name}.csv")
        assert out.exists()
    r = results["size"]
    assert r.tidy().loc[0, "term"] == "clusters" and float(r.estimate).is_integer()
    r.to_excel(tmp_path / "size.xlsx")
    assert (tmp_path / "size.xlsx").stat().st_size > 0


@pytest.mark.parametrize("lang", ["th", "en"])
def test_plots_use_reference_labels(results, lang):
    ax = results["mde"].plot(lang=lang)
    assert ax.get_xlabel() == label("power.effect", lang)
    assert ax.get_ylabel() == label("power.power", lang)
    assert ax.get_title() == label("power.title_curve", lang)
    ax = results["plan"].plot(lang=lang)
    assert ax.get_xlabel() == label("power.pairs", lang)
    assert ax.get_ylabel() == label("power.mde", lang)
    assert len(ax.get_lines()) == 2
    ax = results["plan_power"].plot(lang=lang)
    assert ax.get_ylabel() == label("power.power", lang)
    ax = results["sim"].plot(lang=lang)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert label("method.cr1", lang) in legend and label("power.analytic", lang) in legend
    plt.close("all")


def test_plot_bad_lang(results):
    with pytest.raises(ValueError, match="lang='fr'"):
        results["mde"].plot(lang="fr")
    plt.close("all")


def test_wide_planning_table(results):
    w = results["plan"].wide()
    assert list(w.index) == [10, 20, 40] and list(w.columns) == [15, 30]
    assert (w.diff().dropna() < 0).all().all()  # more pairs, smaller MDE
    assert any("pairs" in n for n in results["plan"].notes())
