"""Tests of welfare_eval.simulate: determinism, frame, fieldwork, truth, raw exports, recovery."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import welfare_eval.reference as r
from welfare_eval.simulate import (
    RAW_FILES,
    DefectConfig,
    FieldworkConfig,
    FrameConfig,
    codebook,
    pilot_selection,
    simulate_fieldwork,
    simulate_frame,
    simulate_study,
    write_raw_exports,
    write_truth,
)
from welfare_eval.simulate.fieldwork import FACTOR_COEFFICIENTS, sample_village

ZWSP = "\u200b"


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study():
    return simulate_study(seed=2568)


@pytest.fixture(scope="module")
def raw_dir(study, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    write_raw_exports(study, d)
    return d


def _hand_study(frame: pd.DataFrame) -> pd.DataFrame:
    """A simple study table made without the matcher: pilot + first other eligible village."""
    e = frame[frame["eligible"] == 1]
    pil = e[e["pilot"] == 1]
    com = e[e["pilot"] == 0].groupby("region").head(1)
    out = pd.concat([pil.assign(arm="pilot"), com.assign(arm="comparison")])
    out["pair_id"] = out["region"]
    return out[["village_id", "arm", "pair_id"]]


def _check_digit(id12: str) -> int:
    """Independent implementation of the mod-11 rule (loop, not matrix product)."""
    s = 0
    for i, ch in enumerate(id12, start=1):
        s += int(ch) * (14 - i)
    return (11 - s % 11) % 10


def _read_raw_csv(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


# --------------------------------------------------------------------------------------------------
# determinism and stream independence
# --------------------------------------------------------------------------------------------------
def test_frame_deterministic_and_seed_dependent() -> None:
    a = simulate_frame(seed=11)
    b = simulate_frame(seed=11)
    c = simulate_frame(seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) != len(c) or not a["village_id"].equals(c["village_id"])


def test_streams_independent() -> None:
    """Changing the fieldwork configuration leaves the frame and the committee draws unchanged."""
    f = simulate_frame(seed=5)
    s = _hand_study(f)
    a = simulate_fieldwork(f, s, seed=5)
    b = simulate_fieldwork(f, s, seed=5, config=FieldworkConfig(nonresponse=0.2, attrition=0.3))
    pd.testing.assert_frame_equal(a.committee, b.committee)
    pd.testing.assert_frame_equal(a.admin, b.admin)
    pd.testing.assert_frame_equal(a.truth.effects, b.truth.effects)
    assert not a.households["status"].equals(b.households["status"])


def test_exports_byte_identical_same_seed_and_differ_other_seed(raw_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_raw_exports(simulate_study(seed=2568), again)
    for name in RAW_FILES:
        assert (raw_dir / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    write_raw_exports(simulate_study(seed=2569), other)
    for name in ("cdd_village_frame.csv", "household_survey_baseline.csv", "savings_group_records.xlsx"):
        assert (raw_dir / name).read_bytes() != (other / name).read_bytes(), name
    # the codebook depends only on the reference tables
    assert (raw_dir / "codebook.csv").read_bytes() == (other / "codebook.csv").read_bytes()


@pytest.mark.slow
def test_exports_identical_in_a_fresh_process(raw_dir: Path, tmp_path: Path) -> None:
    code = (
        "import sys, hashlib, pathlib\n"
        "from welfare_eval.simulate import simulate_study, write_raw_exports\n"
        "d = pathlib.Path(sys.argv[1])\n"
        "write_raw_exports(simulate_study(seed=2568), d)\n"
        "for p in sorted(q for q in d.rglob('*') if q.is_file()):\n"
        "    print(p.relative_to(d).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True, env=env, check=True
    )
    got = dict(line.split() for line in out.stdout.strip().splitlines())
    for name in RAW_FILES:
        assert got[name] == hashlib.sha256((raw_dir / name).read_bytes()).hexdigest(), name


# --------------------------------------------------------------------------------------------------
# frame
# --------------------------------------------------------------------------------------------------
def test_frame_properties(study) -> None:
    f = study.frame
    assert sorted(f["region"].unique()) == list(range(1, 19))
    per = f.groupby("region").size()
    assert per.between(30, 100).all()
    assert f["n_households"].between(80, 400).all()
    assert f["village_id"].is_unique
    assert all(r.is_valid_village_code(v) for v in f["village_id"])
    assert all(r.province_region(p) == g for p, g in zip(f["province_code"], f["region"], strict=True))
    assert (f["village_id"].str[:2] == f["province_code"]).all()
    pil = f[f["pilot"] == 1]
    assert pil.groupby("region").size().eq(1).all() and len(pil) == 18
    assert (pil["eligible"] == 1).all()
    elig = (
        f["has_savings_group"].astype(bool)
        & f["has_fund_institution"].astype(bool)
        & f["has_sufficiency"].astype(bool)
    )
    assert (f["eligible"] == elig.astype(int)).all()
    sub = f["village_id"].str[:6]
    assert not pd.DataFrame({"s": sub, "n": f["village_name"]}).duplicated().any()
    assert f["village_name"].str.startswith("บ้าน").all()
    nosg = f[f["has_savings_group"] == 0]
    assert (nosg[["sg_age", "sg_members", "sg_savings"]] == 0).all().all()


@pytest.mark.parametrize("seed", [2568, 7])
def test_naive_pilot_comparison_is_biased(seed: int) -> None:
    f = simulate_frame(seed=seed)
    e = f[f["eligible"] == 1]
    for col in ("sg_age", "sg_savings", "mean_income"):
        a, b = e.loc[e["pilot"] == 1, col], e.loc[e["pilot"] == 0, col]
        smd = (a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
        assert smd > 0.4, (col, smd)


def test_pilot_selection_probabilities(study) -> None:
    sel = pilot_selection(study.frame)
    tot = sel[sel["eligible"] == 1].groupby("region")["prob"].sum()
    np.testing.assert_allclose(tot.to_numpy(), 1.0, rtol=1e-12)
    assert (sel.loc[sel["eligible"] == 0, "prob"] == 0).all()
    # probabilities follow exp(score) within region: ratio check by hand for one region
    g = sel[(sel["region"] == 5) & (sel["eligible"] == 1)]
    np.testing.assert_allclose(g["prob"], np.exp(g["score"]) / np.exp(g["score"]).sum(), rtol=1e-10)
    assert study.truth.selection["coefficients"] == FrameConfig().selection


def test_frame_config_validation() -> None:
    with pytest.raises(ValueError, match="villages_per_region"):
        FrameConfig(villages_per_region=(10, 5))
    with pytest.raises(ValueError, match="seed"):
        simulate_frame(seed=-1)


# --------------------------------------------------------------------------------------------------
# fieldwork
# --------------------------------------------------------------------------------------------------
def test_study_villages_matched_within_region(study) -> None:
    sv = study.study_villages.merge(
        study.frame[["village_id", "region", "eligible", "pilot"]], on="village_id"
    )
    assert set(sv["arm"]) == {"pilot", "comparison"}
    g = sv.groupby("pair_id")
    assert g.size().eq(2).all()
    assert g["region"].nunique().eq(1).all()
    assert (sv.loc[sv["arm"] == "comparison", "pilot"] == 0).all()
    assert (sv["eligible"] == 1).all()


def test_design_weights_recover_population(study) -> None:
    h = study.fieldwork.households
    tot = h.groupby(["village_id", "wave"])["design_weight"].sum()
    n_pop = h.groupby(["village_id", "wave"])["n_population"].first()
    np.testing.assert_allclose(tot.to_numpy(), n_pop.to_numpy(), rtol=1e-12)
    v = study.fieldwork.villages.set_index("village_id")
    assert (n_pop.groupby(level=0).first() == v["n_households"]).all()
    assert h.groupby(["village_id", "wave"]).size().eq(30).all()
    assert not h.duplicated(["hh_id", "wave"]).any()


def test_attrition_replacement_and_nonresponse_rates() -> None:
    f = simulate_frame(seed=3)
    s = _hand_study(f)
    cfg = FieldworkConfig(n_per_village=60, attrition=0.10, nonresponse=0.05)
    h = simulate_fieldwork(f, s, seed=3, config=cfg).households
    waves = list(r.WAVES)
    lost = kept = 0
    for w0, w1 in itertools.pairwise(waves):
        a = set(h.loc[h["wave"] == w0, "hh_id"])
        b = h[h["wave"] == w1]
        stay = set(b["hh_id"]) & a
        lost += len(a) - len(stay)
        kept += len(a)
        # panel flag marks exactly the households sampled in the previous wave
        assert set(b.loc[b["panel"] == 1, "hh_id"]) == stay
        # replacements were never sampled before
        earlier = set(h.loc[h["wave"].isin(waves[: waves.index(w1)]), "hh_id"])
        assert not set(b.loc[b["panel"] == 0, "hh_id"]) & earlier
    rate = lost / kept
    assert abs(rate - 0.10) < 0.025, rate
    nr = (h["status"] != "interviewed").mean()
    assert abs(nr - 0.05) < 0.012, nr
    assert set(h["status"]) <= {"interviewed", "refused", "not_at_home", "moved"}


def test_inclusion_probability_is_n_over_N() -> None:
    """Brute force: every household of a village is in each wave's sample with probability n/N."""
    rs, rr = np.random.default_rng(1), np.random.default_rng(2)
    N, n, reps = 20, 5, 4000
    counts = np.zeros((3, N))
    for _ in range(reps):
        for t, (cur, panel, _status) in enumerate(
            sample_village(rs, rr, N, n, attrition=0.4, nonresponse=0.0, waves=3)
        ):
            assert np.unique(cur).size == n
            counts[t, cur] += 1
            if t == 0:
                assert not panel.any()
    p = counts / reps
    # expected 5/20 = 0.25 each; binomial SD sqrt(.25 * .75 / 4000) = 0.0068
    np.testing.assert_allclose(p.mean(axis=1), 0.25, atol=1e-12)
    assert np.abs(p - 0.25).max() < 0.03
    from scipy.stats import chisquare

    for t in range(3):
        assert chisquare(counts[t]).pvalue > 0.001


def test_pii_valid(study) -> None:
    h = study.fieldwork.households
    ok = h[h["interviewed"] == 1]
    ids = ok["national_id"].astype(str)
    assert ids.str.fullmatch(r"[1-8]\d{12}").all()
    assert all(int(x[12]) == _check_digit(x[:12]) for x in ids)
    assert ok.drop_duplicates("hh_id")["national_id"].is_unique
    assert ok["phone"].str.fullmatch(r"0[689]\d-\d{3}-\d{4}").all()
    assert ok["head_name"].str.match(r"^(นาย|นาง|นางสาว)\S+ \S+$").all()
    male = ok["head_sex"] == "male"
    assert ok.loc[male, "head_name"].str.startswith("นาย").all()
    assert ok.loc[~male, "head_name"].str.match(r"^นาง").all()
    # panel households keep their PII
    g = ok.groupby("hh_id")[["national_id", "head_name", "phone"]].nunique()
    assert (g == 1).all().all()


def test_outcomes_complete_and_in_range(study) -> None:
    h = study.fieldwork.households
    ok = h["interviewed"] == 1
    cols = ["savings", "debt", "qol_index", "member_welfare_fund", "received_illness", "hh_size", "head_age"]
    assert h.loc[ok, cols].notna().all().all()
    assert h.loc[~ok, [*cols, "head_name", "national_id"]].isna().all().all()
    items = [f"qol_{i}" for i in range(1, 6)] + [f"self_reliance_{i}" for i in range(1, 5)]
    assert h.loc[ok, items].stack().between(1, 5).all()
    assert (h.loc[ok, "coped"].isna() == (h.loc[ok, "had_health_shock"] == 0)).all()
    for code in r.welfare_types()["code"]:
        rec = h.loc[ok, f"received_{code}"]
        amt = h.loc[ok, f"amount_{code}"]
        assert ((rec == 0) == (amt == 0)).all()
    np.testing.assert_allclose(
        h.loc[ok, "welfare_amount"], h.loc[ok, [f"amount_{c}" for c in r.welfare_types()["code"]]].sum(axis=1)
    )
    assert h.loc[h["wave"] == "baseline", "welfare_satisfaction"].isna().all()
    b = study.fieldwork.benefits
    assert len(b) == ok.sum() * 9


def test_truth_effects(study) -> None:
    t = study.truth
    e = t.effects
    assert (e.loc[e["wave"] == "baseline", "effect"] == 0).all()
    for y in ("debt", "received_education", "amount_education", "member_village_fund"):
        assert t.effect(y, "endline") == 0 and t.effect(y, "midline") == 0
        assert bool(e.loc[(e["outcome"] == y) & (e["wave"] == "endline"), "zero_effect"].iloc[0])
    for y in ("member_welfare_fund", "savings", "qol_index", "received_illness", "any_welfare"):
        mid, end = t.effect(y, "midline"), t.effect(y, "endline")
        assert 0 < mid < end, y
    # stated scale: percentage points = 100 x data scale
    row = e[(e["outcome"] == "received_illness") & (e["wave"] == "endline")].iloc[0]
    assert row["unit"] == "percentage points" and row["effect"] == pytest.approx(
        100 * row["effect_data_scale"]
    )
    # effect modification by success factors is stored and consistent with the factor scores
    fs = t.factor_scores.set_index("village_id")
    ve = t.village_effects.set_index("village_id")
    m = 1 + sum(b * fs.loc[ve.index, k] for k, b in t.factor_coefficients.items())
    np.testing.assert_allclose(ve["multiplier"], np.maximum(m, 0), rtol=1e-12)
    assert set(t.factor_coefficients) == set(FACTOR_COEFFICIENTS) <= set(r.success_factors()["code"])
    # household-weighted mean of village effects equals the overall effect (savings is additive)
    pil = study.fieldwork.villages.set_index("village_id").loc[ve.index, "n_households"]
    np.testing.assert_allclose(
        np.average(ve["effect_savings"], weights=pil), t.effect("savings", "endline"), rtol=1e-9
    )
    # tidy / json
    td = t.tidy()
    assert {"source", "outcome", "wave", "unit", "effect"} <= set(td.columns)
    js = json.loads(t.to_json())
    assert js["seed"] == 2568 and js["factor_coefficients"] == FACTOR_COEFFICIENTS


def test_factor_scores_two_correlated_groups() -> None:
    """Latent factor scores: corr 0.49 within a group (loading 0.7), 0.7 * 0.7 * 0.4 = 0.196 between."""
    from welfare_eval.simulate.fieldwork import _factor_scores

    fs = _factor_scores(3, np.array([f"{i:08d}" for i in range(20_000)]))
    sf = r.success_factors()
    c = fs[list(sf["code"])].corr().to_numpy()
    grp = sf["group"].to_numpy()
    same = (grp[:, None] == grp[None, :]) & ~np.eye(len(grp), dtype=bool)
    diff = grp[:, None] != grp[None, :]
    assert abs(c[same].mean() - 0.49) < 0.02
    assert abs(c[diff].mean() - 0.196) < 0.02
    np.testing.assert_allclose(fs[list(sf["code"])].std(), 1.0, atol=0.03)


def test_committee(study) -> None:
    c = study.fieldwork.committee
    sizes = c.groupby("village_id")["member_no"].nunique()
    assert sizes.between(5, 15).all() and len(sizes) == len(study.study_villages)
    assert c["score"].between(1, 5).all()
    assert c.groupby(["village_id", "member_no"]).size().eq(36).all()
    wide = c.pivot_table(index=["village_id", "member_no"], columns="item", values="score")
    alphas = []
    for k in r.success_factors()["code"]:
        x = wide[[f"{k}_{i}" for i in (1, 2, 3)]].to_numpy(float)
        kk = x.shape[1]
        alpha = kk / (kk - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
        alphas.append(alpha)
    assert min(alphas) > 0.6, alphas
    # village means track the latent factor scores
    vm = c.groupby(["village_id", "factor"])["score"].mean().unstack()
    fs = study.truth.factor_scores.set_index("village_id")
    cors = [np.corrcoef(vm[k], fs.loc[vm.index, k])[0, 1] for k in r.success_factors()["code"]]
    assert np.mean(cors) > 0.7, cors


def test_admin_panel(study) -> None:
    a = study.fieldwork.admin
    start = study.truth.start_year
    assert a["year"].min() >= start - 8 and a["year"].max() == start + 2
    assert a.groupby("village_id")["year"].max().eq(start + 2).all()
    alloc = [f"alloc_{k}" for k in r.profit_allocation()["code"]]
    np.testing.assert_allclose(a[alloc].sum(axis=1), a["profit"], rtol=0, atol=1e-9)
    assert (a[alloc] >= 0).all().all()
    np.testing.assert_allclose(a["welfare_share"], 100 * a["alloc_welfare"] / a["profit"])


def test_study_validation(study) -> None:
    f = study.frame
    s = _hand_study(f)
    with pytest.raises(ValueError, match="arm"):
        simulate_fieldwork(f, s.assign(arm="treated"), seed=1)
    with pytest.raises(ValueError, match="not in the frame"):
        simulate_fieldwork(
            f,
            pd.concat([s, pd.DataFrame({"village_id": ["99999999"], "arm": ["pilot"], "pair_id": [1]})]),
            seed=1,
        )
    with pytest.raises(ValueError, match="lacks"):
        simulate_fieldwork(f, s.drop(columns="pair_id"), seed=1)


def test_village_without_savings_group_has_no_admin_rows() -> None:
    f = simulate_frame(seed=9)
    nosg = f[f["has_savings_group"] == 0].iloc[:2]["village_id"].tolist()
    s = pd.DataFrame({"village_id": nosg, "arm": ["pilot", "comparison"], "pair_id": [1, 1]})
    fw = simulate_fieldwork(f, s, seed=9, config=FieldworkConfig(n_per_village=5))
    assert fw.admin.empty and "alloc_welfare" in fw.admin.columns
    assert fw.households["village_id"].nunique() == 2


def test_any_study_size() -> None:
    f = simulate_frame(seed=9)
    s = _hand_study(f).iloc[[0, 1, 18, 19]]
    fw = simulate_fieldwork(f, s, seed=9, config=FieldworkConfig(n_per_village=10))
    assert fw.households["village_id"].nunique() == 4
    assert len(fw.households) == 4 * 10 * 3


# --------------------------------------------------------------------------------------------------
# raw exports
# --------------------------------------------------------------------------------------------------
def test_export_files_and_codebook(raw_dir: Path, study) -> None:
    assert sorted(p.relative_to(raw_dir).as_posix() for p in raw_dir.rglob("*") if p.is_file()) == sorted(RAW_FILES)
    cb = _read_raw_csv(raw_dir / "codebook.csv")
    assert list(cb.columns) == [
        "source", "raw_name", "name", "table", "type", "unit", "allowed", "min", "max",
        "missing_codes", "label_th", "label_en", "waves", "pii", "key",
    ]  # fmt: skip
    keys = cb.loc[cb["key"] == "yes"].groupby("source")["name"].agg(list).to_dict()
    assert keys["household_survey_*.csv"] == ["village_id", "hh_id"] and keys["study_villages.csv"] == ["village_id"]
    corr = _read_raw_csv(raw_dir / "corrections" / "corrections.csv")
    planted = study.truth.defects[study.truth.defects["defect"] == "changed_resubmission"]
    assert sorted(corr["submission"]) == sorted(planted["uuid"]) and set(corr["action"]) == {"keep"}
    pd.testing.assert_frame_equal(cb, codebook().astype(str), check_dtype=False)
    assert set(cb.loc[cb["pii"] == "yes", "name"]) == {"head_name", "national_id", "phone"}
    assert (raw_dir / "cdd_village_frame.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for w in r.WAVES:
        df = _read_raw_csv(raw_dir / f"household_survey_{w}.csv")
        expect = cb[(cb["source"] == "household_survey_*.csv") & cb["waves"].str.contains(w)]["raw_name"]
        assert list(df.columns) == list(expect)
    base = _read_raw_csv(raw_dir / "household_survey_baseline.csv")
    mid = _read_raw_csv(raw_dir / "household_survey_midline.csv")
    assert "welfare/satisfaction" not in base.columns and "welfare/satisfaction" in mid.columns
    fr = _read_raw_csv(raw_dir / "cdd_village_frame.csv", "utf-8-sig")
    assert list(fr.columns) == list(cb.loc[cb["source"] == "cdd_village_frame.csv", "raw_name"])
    assert len(fr) == len(study.frame)
    com = _read_raw_csv(raw_dir / "committee_ratings.csv", "cp874")
    assert list(com.columns) == list(cb.loc[cb["source"] == "committee_ratings.csv", "raw_name"])
    labels = set(r.likert_labels("level", "th").values())
    assert set(np.unique(com.iloc[:, 3:].to_numpy())) <= labels
    with pytest.raises(UnicodeDecodeError):
        (raw_dir / "committee_ratings.csv").read_bytes().decode("utf-8")
    sv = _read_raw_csv(raw_dir / "study_villages.csv")
    assert len(sv) == len(study.study_villages)


def test_export_refuses_overwrite(raw_dir: Path, study) -> None:
    with pytest.raises(FileExistsError, match="overwrite"):
        write_raw_exports(study, raw_dir)


def test_write_truth(study, tmp_path: Path) -> None:
    p = write_truth(study.truth, tmp_path / "truth" / "truth.json")
    js = json.loads(p.read_text("utf-8"))
    assert js["defect_counts"] and js["effects"]
    assert [x.name for x in p.parent.iterdir()] == ["truth.json"]


def _planted(study, file: str, defect: str) -> pd.DataFrame:
    d = study.truth.defects
    return d[(d["file"] == file) & (d["defect"] == defect)]


@pytest.mark.parametrize("wave", list(r.WAVES))
def test_household_defects_found_at_planted_counts(raw_dir: Path, study, wave: str) -> None:
    file = f"household_survey_{wave}.csv"
    df = _read_raw_csv(raw_dir / file)
    h = study.fieldwork.households
    hw = h[h["wave"] == wave]
    n_exact = len(_planted(study, file, "exact_duplicate"))
    n_changed = len(_planted(study, file, "changed_resubmission"))
    assert len(df) == len(hw) + n_exact + n_changed
    assert df["_index"].tolist() == [str(i) for i in range(1, len(df) + 1)]
    # exact duplicates: identical except _index
    assert df.drop(columns="_index").duplicated().sum() == n_exact
    dedup = df.drop_duplicates(subset=[c for c in df.columns if c != "_index"])
    # changed re-submissions: same household twice with different _uuid; the later one is the truth
    twice = dedup[dedup.duplicated("hh/hh_id", keep=False)]
    assert twice["hh/hh_id"].nunique() == n_changed
    latest = dedup.sort_values("_submission_time").drop_duplicates("hh/hh_id", keep="last")
    assert len(latest) == len(hw)
    # misspelt typed village names (the code is right)
    names = study.fieldwork.villages.set_index("village_id")["village_name"]
    typed = dedup.drop_duplicates("hh/hh_id", keep="last")
    wrong = typed["village/village_name"] != typed["village/village_code"].map(names)
    assert wrong.sum() == len(_planted(study, file, "misspelt_village_name"))
    # zero-width and stray spaces in names
    ok = latest[latest["consent/status"] == "สัมภาษณ์สำเร็จ"]
    assert ok["hh/head_name"].str.contains(ZWSP).sum() == len(_planted(study, file, "zero_width"))
    stray = ok["hh/head_name"].map(lambda s: s != s.strip() or "  " in s)
    assert stray.sum() == len(_planted(study, file, "stray_space"))
    # out-of-range values and missing codes
    age = pd.to_numeric(ok["hh/head_age"])
    size = pd.to_numeric(ok["hh/hh_size"])
    q = ok[[f"qol/q{i}" for i in range(1, 6)]].apply(pd.to_numeric)
    n_oor = (((age < 15) & (age != -9)) | (age > 100)).sum() + (
        (size < 1) | ((size > 20) & (size != 99))
    ).sum()
    n_oor += ((q < 1) | ((q > 5) & (q != 99))).sum().sum()
    assert n_oor == len(_planted(study, file, "out_of_range"))
    money = ok[["finance/savings", "finance/debt"]]
    n_miss = (money == "-9").sum().sum() + (ok["hh/head_age"] == "-9").sum()
    n_miss += (ok["hh/hh_size"] == "99").sum() + (ok[["qol/q1", "qol/q3"]] == "99").sum().sum()
    assert n_miss == len(_planted(study, file, "missing_code"))
    # after undoing the planted defects the clean values equal the tidy fieldwork data
    sav = pd.to_numeric(latest.set_index("hh/hh_id")["finance/savings"].replace({"-9": np.nan, "": np.nan}))
    truth = hw.set_index("hh_id")["savings"]
    both = sav.dropna().index
    np.testing.assert_allclose(sav[both].to_numpy(float), truth[both].to_numpy(float))


def test_workbook_defects_and_formats(raw_dir: Path, study) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(raw_dir / "savings_group_records.xlsx", read_only=True)
    cells = []
    years = set()
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        head = rows[0]
        yi = head.index("ปีบัญชี (พ.ศ.)")
        for row in rows[1:]:
            years.add(int(row[yi]))
            cells += [str(v) for v in row[3:-1]]
    start = study.truth.start_year
    assert max(years) == start + 2 + 543 and min(years) >= start - 8 + 543
    thai = sum(bool(re.search("[๐-๙]", c)) for c in cells)
    baht = sum(c.endswith(" บาท") for c in cells)
    plan = study.truth.defects
    assert thai == (plan["defect"] == "thai_digits").sum() > 0
    assert baht == (plan["defect"] == "baht_suffix").sum() > 0
    assert sum("," in c for c in cells) > 0.5 * len(cells)
    counts = study.truth.defect_counts()
    assert counts["n"].sum() == len(plan)


def test_defect_config_zero_rates(tmp_path: Path) -> None:
    zero = DefectConfig(**{k: 0.0 for k in DefectConfig().__dict__})
    s = simulate_study(seed=4, fieldwork_config=FieldworkConfig(defects=zero))
    assert s.truth.defects.empty
    write_raw_exports(s, tmp_path)
    df = _read_raw_csv(tmp_path / "household_survey_endline.csv")
    assert len(df) == (s.fieldwork.households["wave"] == "endline").sum()
    with pytest.raises(ValueError, match="rate"):
        DefectConfig(stray_space=1.5)


# --------------------------------------------------------------------------------------------------
# recovery of the planted truths
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def large_study():
    return simulate_study(seed=2568, fieldwork_config=FieldworkConfig(n_per_village=120))


def _did(h: pd.DataFrame, y: str, wave: str = "endline") -> tuple[float, float, float, float]:
    """Design-weighted DiD, village and pair x post fixed effects, CR1 SEs clustered by pair.

    Returns (estimate, CI low, CI high, SE). The design matrix is built with numpy (dummies) because a
    formula with 36 village levels is slow to build.
    """
    import statsmodels.api as sm

    d = h[(h["interviewed"] == 1) & h["wave"].isin(["baseline", wave]) & h[y].notna()]
    post = (d["wave"] == wave).to_numpy(dtype=float)
    vil = pd.get_dummies(d["village_id"].astype(str), dtype=float).to_numpy()
    pair = pd.get_dummies(d["pair_id"].astype(str), dtype=float).to_numpy() * post[:, None]
    tp = d["treated"].to_numpy(dtype=float) * post
    x = np.column_stack([vil, pair, tp])
    wls = sm.WLS(
        d[y].to_numpy(dtype=float), x, weights=d["design_weight"].to_numpy(dtype=float), hasconst=True
    )
    # one BLAS thread: on a shared 2-core machine the threaded QR is 30x slower than the serial one
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        m = wls.fit(method="qr", cov_type="cluster", cov_kwds={"groups": d["pair_id"].to_numpy()})
    lo, hi = m.conf_int()[-1]
    return float(m.params[-1]), float(lo), float(hi), float(m.bse[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "outcome",
    [
        "member_welfare_fund",
        "received_illness",
        "qol_index",
        "savings",
        "received_education",
        "member_village_fund",
    ],
)
def test_did_recovers_planted_effect(large_study, outcome: str) -> None:
    """At the default seed the 95% CI covers the planted population ATT (non-zero effects are detected).

    (Debt, the other zero-effect outcome, is checked over several seeds below: at seed 2568 its
    estimate lies 2.8 SE above 0, a chance event of the village x wave shocks.)
    """
    est, lo, hi, _ = _did(large_study.fieldwork.households, outcome)
    truth = large_study.truth.effect(outcome, "endline", data_scale=True)
    assert lo <= truth <= hi, (outcome, est, lo, hi, truth)
    if truth == 0:
        assert lo <= 0 <= hi
    else:
        assert lo > 0  # the real effects are detected with 120 households per village


@pytest.mark.slow
def test_did_calibrated_over_seeds() -> None:
    """Over 8 seeds the DiD z-scores (estimate - truth) / SE centre on 0: no bias in the DGP.

    With 8 seeds the SD of a mean z is about 0.4-0.5 (CR1 with 18 pairs is a little
    anti-conservative); a bias of 2 SE or more in any outcome would fail the |mean z| < 1.5 bound
    with high probability.
    """
    from welfare_eval.simulate import default_choose

    outcomes = [
        "debt",
        "received_education",
        "member_village_fund",
        "member_welfare_fund",
        "savings",
        "qol_index",
        "coped",
    ]
    z: dict[str, list[float]] = {y: [] for y in outcomes}
    cover: dict[str, int] = dict.fromkeys(outcomes, 0)
    for seed in range(11, 19):
        f = simulate_frame(seed=seed)
        fw = simulate_fieldwork(
            f, default_choose(f, seed), seed=seed, config=FieldworkConfig(n_per_village=120)
        )
        for y in outcomes:
            est, lo, hi, se = _did(fw.households, y)
            truth = fw.truth.effect(y, "endline", data_scale=True)
            z[y].append((est - truth) / se)
            cover[y] += int(lo <= truth <= hi)
    for y in outcomes:
        assert abs(np.mean(z[y])) < 1.5, (y, z[y])
        assert cover[y] >= 5, (y, z[y])


@pytest.mark.slow
def test_event_study_recovers_admin_effects() -> None:
    import statsmodels.formula.api as smf

    s = simulate_study(seed=2568)
    a = s.fieldwork.admin.copy()
    ev = s.truth.event_time_effects
    terms = {}
    for e in range(-8, 3):
        if e == -1:
            continue
        n = f"ev_{'m' if e < 0 else 'p'}{abs(e)}"
        a[n] = ((a["event_time"] == e) & (a["treated"] == 1)).astype(int)
        terms[e] = n
    for y in ("welfare_share", "welfare_payout_per_member"):
        a["y"] = a[y]
        m = smf.ols("y ~ C(village_id) + C(year) + " + " + ".join(terms.values()), data=a).fit(
            cov_type="cluster", cov_kwds={"groups": a["pair_id"].to_numpy()}
        )
        ci = m.conf_int()
        truth = ev[ev["outcome"] == y].set_index("event_time")["effect"]
        covered = [ci.loc[n, 0] <= truth[e] <= ci.loc[n, 1] for e, n in terms.items()]
        assert sum(covered) >= len(covered) - 1, (y, covered)  # 10 CIs: at most one miss
        for e in (0, 1, 2):  # post-period effects are all covered and detected
            assert ci.loc[terms[e], 0] <= truth[e] <= ci.loc[terms[e], 1]
            assert ci.loc[terms[e], 0] > 0


@pytest.mark.slow
def test_violated_parallel_trends_shows_pretrend() -> None:
    import statsmodels.formula.api as smf

    s = simulate_study(
        seed=2568, fieldwork_config=FieldworkConfig(violate_parallel_trends=True, pretrend_slope=1.0)
    )
    assert s.truth.pretrend_slope == 1.0
    a = s.fieldwork.admin.copy()
    a["trend_x_pilot"] = a["treated"] * a["event_time"] * (a["event_time"] < 0)
    pre = a[a["event_time"] < 0]
    m = smf.ols("welfare_share ~ C(village_id) + C(year) + trend_x_pilot", data=pre).fit(
        cov_type="cluster", cov_kwds={"groups": pre["pair_id"].to_numpy()}
    )
    lo, hi = m.conf_int().loc["trend_x_pilot"]
    assert lo <= 1.0 <= hi and lo > 0
