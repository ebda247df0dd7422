"""The nationwide expansion end to end: plan section, `welfare-eval scaleup simulate → estimate → report`,
cells = household rows through the pipeline, errors, and the coverage of the planted effects (Monte Carlo).

One tiny national simulation (seed 2568, scale 0.004: 300 villages, 8 adopters, ≈ 270,000 household rows in
456 hive partitions) goes through the CLI once per module (fixture ``project``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from welfare_eval import pipeline
from welfare_eval.cli import main
from welfare_eval.did import att_gt
from welfare_eval.report import check_self_contained
from welfare_eval.study import PlanError, default_plan, default_plan_text, load_plan
from welfare_eval.study.plan import covariate_spec
from welfare_eval.study.scaleup import RESULT_TABLES, analyze_scaleup, prepare_scaleup

ROOT = Path(__file__).resolve().parents[1]
# few adopters per cohort at this scale: outcome regression (a propensity score needs more treated villages)
PLAN = "scaleup:\n  method: reg\n  draws: 199\n"
SCALE = "0.004"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scaleup")
    (root / "data").mkdir()
    (root / "reports").mkdir()
    for f in ("_quarto.yml", "references.bib", "scaleup_report.qmd"):
        shutil.copy(ROOT / "reports" / f, root / "reports" / f)
    shutil.copytree(ROOT / "reports" / "assets", root / "reports" / "assets")
    (root / "analysis_plan.yaml").write_text(PLAN, encoding="utf-8")
    base = ["--root", str(root), "--quiet"]
    assert main(["scaleup", "simulate", *base, "--scale", SCALE, "--workers", "1"]) == 0
    assert main(["scaleup", "estimate", *base]) == 0
    assert main(["scaleup", "report", *base, "--renderer", "builtin"]) == 0
    return root


def _paths(root: Path) -> pipeline.Paths:
    return pipeline.Paths.from_root(root, quiet=True)


# ------------------------------------------------------------------------------------------------ plan
def test_plan_has_a_validated_scaleup_section(tmp_path: Path) -> None:
    plan = default_plan()
    su = plan.scaleup
    assert su.outcomes == ("income", "welfare_receipt", "savings") and su.headline == "income"
    assert su.engine == "duckdb" and su.method == "dr" and su.draws == 999
    assert su.reduced_variables == su.outcomes
    assert "scaleup:" in default_plan_text()
    again = tmp_path / "p.yaml"
    again.write_text(plan.to_yaml(), encoding="utf-8")
    assert load_plan(again) == plan
    changed = plan.replace(scaleup={"method": "reg", "household_covariates": ["hh_size"], "matching": {"ratio": 2}})
    assert changed.scaleup.reduced_variables == ("income", "welfare_receipt", "savings", "hh_size")
    assert changed.scaleup.matching.ratio == 2 and changed.scaleup.matching.exact == "province_code"
    assert changed.sha256() != plan.sha256()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"methd": "reg"}, r"unknown setting scaleup\.methd"),
        ({"matching": {"radius": 1}}, r"unknown setting scaleup\.matching\.radius"),
        ({"method": "ols"}, r"scaleup\.method must be one of dr, reg, ipw"),
        ({"control": "later"}, r"scaleup\.control"),
        ({"base_period": "fixed"}, r"scaleup\.base_period"),
        ({"engine": "polars"}, r"scaleup\.engine must be one of duckdb, spark"),
        ({"headline": "debt"}, r"scaleup\.headline 'debt' is not in scaleup\.outcomes"),
        ({"outcomes": []}, r"scaleup\.outcomes is empty"),
        ({"outcomes": ["income", "income"], "headline": "income"}, r"lists 'income' twice"),
        ({"household_covariates": ["hh_size"]}, r"household_covariates need method 'reg'"),
        ({"covariates": ["sqrt(mean_income)"]}, r"unknown transform 'sqrt'"),
        ({"covariates": ["log(mean income)"]}, r"not a column name"),
        ({"covariates": ["pre(debt)"]}, r"needs 'debt' among scaleup\.outcomes"),
        ({"covariates": ["share_farm", "share_farm"]}, r"give the same column 'share_farm'"),
        ({"covariates": ["income"]}, r"would replace the column 'income'"),
        ({"aggregations": ["dynamic", "weekly"]}, r"unknown 'weekly'"),
        ({"compare": ["did2s"]}, r"unknown estimator 'did2s'"),
        ({"draws": 10}, r"scaleup\.draws must be at least 99"),
        ({"level": 1.5}, r"scaleup\.level"),
        ({"anticipation": -1}, r"scaleup\.anticipation"),
        ({"min_e": 2, "max_e": 1}, r"min_e \(2\) is above scaleup\.max_e \(1\)"),
        ({"matching": {"ratio": 0}}, r"scaleup\.matching\.ratio"),
        ({"weights": 3}, r"scaleup\.weights must be text"),
        ({"outcomes": ["income", "weight"], "headline": "income"}, r"'weight' is a key, cohort or weight column"),
    ],
)
def test_plan_errors_name_the_setting(change: dict, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        default_plan().replace(scaleup=change)


def test_plan_file_error_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "analysis_plan.yaml"
    p.write_text("scaleup:\n  engine: spark\n  draw: 99\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"analysis_plan\.yaml: unknown setting scaleup\.draw"):
        load_plan(p)


def test_plan_file_that_is_not_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "analysis_plan.yaml"
    p.write_text("impact:\n  draws: [1,\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"analysis_plan\.yaml: not valid YAML \(line 3\)"):
        load_plan(p)


def test_packaged_plan_reads_the_same_with_either_yaml_loader() -> None:
    import yaml

    from welfare_eval.study.plan import default_plan_text

    text = default_plan_text()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)


def test_covariate_spec() -> None:
    assert covariate_spec("share_farm") == ("", "share_farm", "share_farm")
    assert covariate_spec(" log( mean_income ) ") == ("log", "mean_income", "log_mean_income")
    assert covariate_spec("log1p(sg_savings)") == ("log1p", "sg_savings", "log1p_sg_savings")
    assert covariate_spec("pre(income)") == ("pre", "income", "pre_income")
    for bad in ("log(log(x))", "2x", "", "log()"):
        with pytest.raises(PlanError):
            covariate_spec(bad)


# ------------------------------------------------------------------------------------------------ CLI round trip
def test_cli_round_trip_writes_results_and_a_self_contained_report(project: Path) -> None:
    scale = project / "data" / "scale"
    rec = json.loads((scale / "results" / "scaleup.json").read_text("utf-8"))
    gen = json.loads((scale / "generation.json").read_text("utf-8"))
    assert rec["engine"] == "duckdb" and rec["demo"] is True and rec["plan_source"] == "analysis_plan.yaml"
    assert rec["plan"]["scaleup"]["method"] == "reg" and rec["seed"] == 2568
    assert rec["data"]["households"] == gen["households"] and gen["households"]["files"] == 6 * 76
    assert rec["n_rows"] == gen["n_rows"] and rec["n_cells"] == 300 * 6
    assert sorted(rec["tables"]) == sorted(RESULT_TABLES)
    _, tables = pipeline.scaleup_results(_paths(project))
    for name in RESULT_TABLES:
        if name != "scaleup_unmatched":
            assert len(tables[name]), name
    att = tables["scaleup_att_gt"]
    assert set(att["outcome"]) == {"income", "welfare_receipt", "savings"}
    assert {"estimate", "std_error", "ci_low", "ci_high", "band_low", "band_high", "p_value"} <= set(att.columns)
    assert ((att["band_high"] - att["band_low"]) >= (att["ci_high"] - att["ci_low"]) - 1e-9).all()
    agg = tables["scaleup_aggregates"]
    assert set(agg["type"]) == {"simple", "dynamic", "group", "calendar"}
    assert (agg.groupby(["outcome", "type"])["term"].last() == "overall").all()
    cmp_ = tables["scaleup_compare"]
    assert set(cmp_["estimator"]) == {"cs_cells", "cs_panel", "cs_matched", "sunab", "imputation", "twfe",
                                      "twfe_unadjusted"}
    # the Bacon decomposition reproduces the unadjusted TWFE coefficient
    b = tables["scaleup_bacon"]
    tw = cmp_.loc[cmp_["estimator"] == "twfe_unadjusted", "estimate"].iloc[0]
    assert b["weight"].sum() == pytest.approx(1.0, abs=1e-9)
    assert (b["weight"] * b["estimate"]).sum() == pytest.approx(tw, rel=1e-9)
    # the report: one self-contained Thai file with the demo banner and every section
    html_p = project / "reports" / "scaleup_report.html"
    assert check_self_contained(html_p) == []
    html = html_p.read_text("utf-8")
    for text in ("การประเมินผลการขยายผล", "ข้อมูลจำลอง", "Goodman-Bacon", "sup-t", "DuckDB", gen["households"]["sha256"]):
        assert text in html, text
    assert "Traceback" not in html and "Error" not in html
    assert html.count("<img") >= 5  # trends, heat map, event study, estimators, Bacon
    sens = tables["scaleup_sensitivity"]
    assert set(sens["restriction"]) == {"relative_magnitudes"} and set(sens["bound"]) == {0.0, 0.5, 1.0, 1.5, 2.0}
    for _e, s in sens.groupby("event_time"):
        s = s.sort_values("bound")
        assert (s["id_low"] <= s["estimate"] + 1e-9).all() and (s["estimate"] <= s["id_high"] + 1e-9).all()
        assert s["ci_low"].is_monotonic_decreasing and s["ci_high"].is_monotonic_increasing


def test_cells_equal_household_rows_through_the_pipeline(project: Path) -> None:
    """The pipeline's ATT(g,t) (DuckDB cells) = att_gt on the household rows (repeated cross-sections,
    households clustered by village, the same village covariates), bands included."""
    scale = project / "data" / "scale"
    part = ds.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    rows = ds.dataset(scale / "households", partitioning=part).to_table(
        columns=["village_id", "year", "weight", "income"]).to_pandas()
    v = pd.read_parquet(scale / "villages.parquet")
    cov = pd.DataFrame({"village_id": v["village_id"].astype(str), "cohort": v["cohort"],
                        "log_mean_income": np.log(v["mean_income"]), "share_farm": v["share_farm"],
                        "log1p_sg_savings": np.log1p(v["sg_savings"])})
    rows = rows.assign(village_id=rows["village_id"].astype(str)).merge(cov, on="village_id", validate="many_to_one")
    res = att_gt(rows, outcome="income", unit=None, panel=False, time="year", cohort="cohort", weights="weight",
                 cluster="village_id", covariates=["log_mean_income", "share_farm", "log1p_sg_savings"], method="reg",
                 draws=199, seed=2568)
    want = res.tidy()
    got = pd.read_parquet(scale / "results" / "scaleup_att_gt.parquet")
    got = got[got["outcome"] == "income"].reset_index(drop=True)
    assert list(got["term"]) == list(want["term"])
    for c in ("estimate", "std_error", "ci_low", "ci_high", "band_low", "band_high"):
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-9, atol=1e-6, err_msg=c)
    dyn = res.aggregate("dynamic").tidy()
    agg = pd.read_parquet(scale / "results" / "scaleup_aggregates.parquet")
    agg = agg[(agg["outcome"] == "income") & (agg["type"] == "dynamic")]
    np.testing.assert_allclose(agg["estimate"].to_numpy(float), dyn["estimate"].to_numpy(float), rtol=1e-9)
    np.testing.assert_allclose(agg["std_error"].to_numpy(float), dyn["std_error"].to_numpy(float), rtol=1e-9)


def test_in_memory_households_equal_the_files(project: Path) -> None:
    from welfare_eval.simulate.national import simulate_households, simulate_national_frame

    scale = project / "data" / "scale"
    tab, truth = simulate_households(simulate_national_frame(seed=2568, scale=float(SCALE)), years=[2026, 2029])
    part = ds.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    files = ds.dataset(scale / "households", partitioning=part).to_table(filter=ds.field("year").isin([2026, 2029]))
    key = [("year", "ascending"), ("village_id", "ascending"), ("hh_no", "ascending")]
    a = tab.sort_by(key).to_pandas()
    b = files.select(tab.column_names).sort_by(key).to_pandas()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    eff = pd.DataFrame(json.loads((scale / "truth.json").read_text("utf-8"))["effects"])
    eff = eff[eff["year"].isin([2026, 2029])].reset_index(drop=True)
    np.testing.assert_allclose(truth.effects["att"].to_numpy(float), eff["att"].to_numpy(float), rtol=1e-12)


def test_truth_only_for_the_simulators_data(project: Path, tmp_path: Path) -> None:
    d = pipeline.scaleup_report_data(_paths(project))
    assert d.truth is not None and d.simulation is not None
    copy = tmp_path / "p"
    shutil.copytree(project / "data", copy / "data")
    (copy / "data" / "scale" / "truth.json").write_text('{"effects": []}', encoding="utf-8")
    d2 = pipeline.scaleup_report_data(_paths(copy))
    assert d2.truth is None and d2.simulation is None
    # the fingerprint sees a changed byte and a file moved to another partition
    hh = copy / "data" / "scale" / "households"
    fp = pipeline.dataset_fingerprint(hh)
    f = next(iter(sorted(hh.rglob("*.parquet"))))
    moved = hh / "year=2040" / f.parent.name
    moved.mkdir(parents=True)
    shutil.move(str(f), moved / f.name)
    assert pipeline.dataset_fingerprint(hh)["sha256"] != fp["sha256"]


# ------------------------------------------------------------------------------------------------ errors
def _err(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("welfare-eval: error: ") and "--debug" in err[1]
    return err[0]


def test_cli_errors_are_one_line(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = ["--root", str(tmp_path), "--quiet"]
    assert "scaleup simulate" in _err(capsys, ["scaleup", "estimate", *empty])
    assert "scaleup estimate" in _err(capsys, ["scaleup", "report", *empty])
    assert "fewer than the 76 provinces" in _err(capsys, ["scaleup", "simulate", *empty, "--scale", "0.0001"])
    assert "--workers" in _err(capsys, ["scaleup", "simulate", *empty, "--workers", "0"])
    assert "already holds national data" in _err(capsys, ["scaleup", "simulate", "--root", str(project), "--quiet"])
    # a user's data are never replaced, --force or not
    user = tmp_path / "user" / "data" / "scale"
    (user / "households" / "year=2027").mkdir(parents=True)
    hh = pd.DataFrame({"village_id": ["10010101", "10010102", "10010101"], "weight": [1.0, 1.0, 2.0],
                       "income": [1.0, 2.0, 3.0], "welfare_receipt": [0, 1, 0], "savings": [5.0, 6.0, 7.0]})
    hh.to_parquet(user / "households" / "year=2027" / "part-0.parquet")
    pd.DataFrame({"village_id": ["10010101"], "cohort": [0]}).to_parquet(user / "villages.parquet")
    uroot = ["--root", str(tmp_path / "user"), "--quiet"]
    assert "not data welfare_eval simulated" in _err(capsys, ["scaleup", "simulate", *uroot, "--force"])
    assert (user / "households" / "year=2027" / "part-0.parquet").is_file()
    # a household village missing from the village table is named
    msg = _err(capsys, ["scaleup", "estimate", *uroot])
    assert "not in the village table (first '10010102')" in msg
    (tmp_path / "user" / "analysis_plan.yaml").write_text("scaleup:\n  enigne: spark\n", encoding="utf-8")
    assert "unknown setting scaleup.enigne" in _err(capsys, ["scaleup", "estimate", *uroot])


def test_study_step_errors(project: Path) -> None:
    scale = project / "data" / "scale"
    cells = pd.read_parquet(scale / "cells.parquet")
    v = pd.read_parquet(scale / "villages.parquet")
    plan = default_plan().replace(scaleup={"method": "reg", "compare": [], "matching": {"covariates": []}})
    with pytest.raises(ValueError, match=r"village '\d{8}' appears more than once"):
        prepare_scaleup(cells, pd.concat([v, v.iloc[:1]]), plan)
    bad = v.assign(mean_income=v["mean_income"].where(v.index != 5, 0.0))
    with pytest.raises(ValueError, match=rf"'log\(mean_income\)' needs 'mean_income' > 0; village '{v['village_id'][5]}'"):
        prepare_scaleup(cells, bad, plan)
    with pytest.raises(ValueError, match=r"covariate 'share_farm' is missing for 1 village"):
        prepare_scaleup(cells, v.assign(share_farm=v["share_farm"].where(v.index != 7)), plan)
    with pytest.raises(ValueError, match=r"cohort 'soon' of village"):
        prepare_scaleup(cells, v.astype({"cohort": object}).assign(cohort=["soon", *v["cohort"][1:]]), plan)
    with pytest.raises(ValueError, match=r"column\(s\) \['sum_w__savings'\] missing"):
        prepare_scaleup(cells.drop(columns="sum_w__savings"), v, plan)
    with pytest.raises(ValueError, match=r"more than one cell"):
        prepare_scaleup(pd.concat([cells, cells.iloc[:1]]), v, plan)
    # pre(...) covariates: village means before the first cohort (2027), equal to the cells' weighted means
    p2 = plan.replace(scaleup={"covariates": ["pre(income)", "share_farm"]})
    data = prepare_scaleup(cells, v, p2)
    pre = cells[cells["year"] < 2027].groupby("village_id")[["sum_w", "sum_w__income"]].sum()
    got = data.villages.set_index("village_id")["pre_income"]
    np.testing.assert_allclose(got.loc[pre.index], pre["sum_w__income"] / pre["sum_w"], rtol=1e-12)
    with pytest.raises(ValueError, match=r"outcome 'debt' is not in scaleup\.outcomes"):
        analyze_scaleup(cells, v, plan, outcomes=["debt"])


def test_sensitivity_needs_a_universal_base_and_widens_with_the_bound(project: Path) -> None:
    scale = project / "data" / "scale"
    cells = pd.read_parquet(scale / "cells.parquet")
    v = pd.read_parquet(scale / "villages.parquet")
    plan = default_plan().replace(scaleup={"method": "reg", "compare": [], "matching": {"covariates": []},
                                           "aggregations": ["dynamic"], "sensitivity_mbar": [0.0, 1.0],
                                           "sensitivity_m": [0.0, 500.0, 2000.0]})
    res = analyze_scaleup(cells, v, plan, outcomes=["income"])
    sens = res["scaleup_sensitivity"]
    sm = sens[sens["restriction"] == "smoothness"].sort_values("bound")
    assert list(sm["bound"]) == [0.0, 500.0, 2000.0] and (sm["term"] == "e=0").all()
    width = (sm["ci_high"] - sm["ci_low"]).to_numpy()
    assert np.all(np.diff(width) >= -1e-9)
    # the relative-magnitudes rows refit with base_period universal: at M̄ = 0 the identified set is the estimate
    rm = sens[(sens["restriction"] == "relative_magnitudes") & (sens["bound"] == 0.0)]
    np.testing.assert_allclose(rm["id_low"], rm["estimate"], rtol=1e-12)
    assert any("base_period universal" in n for n in res["scaleup_notes"]["note"])


# ------------------------------------------------------------------------------------------------ Monte Carlo
@pytest.mark.slow
def test_planted_effects_inside_uniform_bands_monte_carlo() -> None:
    """Seeds of a small national simulation through the pipeline's estimation step (DuckDB reduction of the
    household rows → cells → the packaged plan's att_gt: doubly robust, three village covariates, 999-draw
    bands): the planted ATT(g,t) of each outcome (0 before adoption) lie inside the 95% uniform band at the
    nominal rate.

    750 villages, 240 adopters (48–72 per cohort: with ~16 per cohort the influence-function SEs run small),
    20 households per village, six years, three outcomes: 6 seeds × 3 outcomes = 18 bands of 20 ATT(g,t).
    Binomial(18, 0.95): P(≥ 15) = 0.989 (0.97 at a true 0.93), while bands no wider than pointwise CIs (joint
    coverage ≈ 0.5) pass with probability 0.004. Pooled over the 360 ATT(g,t): pointwise CI coverage near 0.95,
    standardised errors (estimate − truth) / SE with SD near 1 and mean near 0, and band critical values between
    the pointwise 1.96 and about Bonferroni's 3.02. (100 seeds, offline: joint coverage 0.93, pointwise 0.947,
    SD 1.01–1.05.)
    """
    from welfare_eval.scale import connect
    from welfare_eval.simulate.national import NationalConfig, simulate_households, simulate_national_frame

    cfg = NationalConfig(n_adopters=24_000, households_median=20)
    plan = default_plan().replace(scaleup={"compare": [], "matching": {"covariates": []}, "aggregations": ["dynamic"],
                                           "sensitivity_mbar": []})
    inside, z, ci, crit = [], [], [], []
    with connect("duckdb") as eng:
        for seed in range(1000, 1006):
            nf = simulate_national_frame(seed=seed, scale=0.01, config=cfg)
            hh, truth = simulate_households(nf)
            _cells, res, _ = pipeline.scaleup_tables(eng.from_pandas(hh), nf.villages, plan, engine=eng)
            att = res["scaleup_att_gt"]
            tr = truth.effects.rename(columns={"year": "time"})[["outcome", "cohort", "time", "att"]]
            m = att.merge(tr, on=["outcome", "cohort", "time"], how="left", validate="one_to_one")
            m["att"] = np.where(m["time"] < m["cohort"], 0.0, m["att"])
            assert len(m) == 60 and m["att"].notna().all() and m["std_error"].notna().all()
            for _o, s in m.groupby("outcome"):
                inside.append(bool(((s["band_low"] <= s["att"]) & (s["att"] <= s["band_high"])).all()))
            z.extend(((m["estimate"] - m["att"]) / m["std_error"]).tolist())
            ci.extend(((m["ci_low"] <= m["att"]) & (m["att"] <= m["ci_high"])).tolist())
            crit.extend(((m["band_high"] - m["estimate"]) / m["std_error"]).tolist())
    assert len(inside) == 18
    assert sum(inside) >= 15, f"planted effects inside the 95% uniform band in {sum(inside)} of 18"
    assert 0.91 <= float(np.mean(ci)) <= 0.985
    assert 0.85 <= float(np.std(z)) <= 1.15 and abs(float(np.mean(z))) < 0.15
    # sup-t critical values: above the pointwise 1.96, about Bonferroni's 3.02 at most (+ the Monte Carlo error
    # of a 97.5% quantile from 999 multiplier draws)
    assert 1.96 < float(np.min(crit)) and float(np.max(crit)) < 3.02 + 0.2
