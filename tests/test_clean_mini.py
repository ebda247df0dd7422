"""clean_all on a tiny hand-made raw folder (tests/reference/clean/mini_raw) with hand-derived answers.

Independent of the simulator. The raw files (made by make_mini_raw.py) hold, row by row (spreadsheet
row numbers, header = 1):

survey_baseline.csv (cp874, CRLF)
  2  14010101-001 interviewed, savings "๑,๕๐๐ บาท" (Thai digits + baht word) → 1500, illness 500
  3  14010101-002 refused (no answers; the visit date is metadata)
  4  exact copy of row 2                                   → merged into 2
  5  village 99999999 (province 99 unknown)                → rejected
  6  16020301-001 savings -9 (missing code)                → merged into 7 (same household, different cid/savings;
                                                              no submission time: the last row is kept)
  7  16020301-001 national ID with a wrong check digit    → ID set missing, flagged; savings "2,500"
  8  14010102-001 typed village name misspelt, double space in the name, illness amount 300 but not received
  9  16020302-001 savings "1,50" (bad thousands group)     → missing, flagged; date in ISO form with a B.E. year
survey_endline.csv (UTF-8 with BOM; the savings column is renamed savings_el: harmonised by the codebook)
  2  14010101-001 (panel household) savings "2,000"
  3  14010102-009 zero-width space in the name, savings "฿750.50"
  4  16020301-001 (panel household) savings "3,000"
  5  16020302-001 (panel household) savings 500
corrections/corrections.csv
  2  keep baseline row 7 (the resubmission of rows 6/7 is settled by a person: conflicting duplicates
     are never resolved silently), guarded by the row's key
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from welfare_eval.clean import CleanResult, clean_all, load_key, pseudonymize


@pytest.fixture(scope="module")
def mini(fixtures: Path) -> CleanResult:
    return clean_all(fixtures / "clean" / "mini_raw", None, key="demo")


def test_mini_ledger(mini: CleanResult) -> None:
    t = mini.totals().set_index("file")
    want = {
        "frame.csv": (5, 5, 0, 0),
        "villages.csv": (4, 4, 0, 0),
        "survey_baseline.csv": (8, 5, 2, 1),
        "survey_endline.csv": (4, 4, 0, 0),
    }
    got = {f: tuple(int(x) for x in t.loc[f, ["read", "kept", "merged", "rejected"]]) for f in t.index}
    assert got == want
    led = mini.ledger.set_index(["file", "row"])
    assert led.loc[("survey_baseline.csv", 4), "merged_into"] == 2
    assert led.loc[("survey_baseline.csv", 6), "merged_into"] == 7
    assert led.loc[("survey_baseline.csv", 5), "reason"] == "missing or invalid village code"
    enc = {i["file"]: i["encoding"] for i in mini.manifest["inputs"]}
    assert enc == {"frame.csv": "utf-8", "villages.csv": "utf-8", "survey_baseline.csv": "cp874", "survey_endline.csv": "utf-8-sig"}


def test_mini_checks(mini: CleanResult) -> None:
    c = mini.checks
    got = sorted(zip(c["file"], c["row"], c["rule"], strict=True))
    want = sorted(
        [
            ("survey_baseline.csv", 0, "sample_size"),  # 16020301: 1 household kept, n = 2
            ("survey_baseline.csv", 2, "currency_text"),
            ("survey_baseline.csv", 2, "thai_digits"),
            ("survey_baseline.csv", 4, "duplicate_exact"),
            ("survey_baseline.csv", 5, "village_code"),  # the cell ...
            ("survey_baseline.csv", 5, "village_code"),  # ... and the row rejection
            ("survey_baseline.csv", 6, "duplicate_conflict"),
            ("survey_baseline.csv", 7, "national_id"),
            ("survey_baseline.csv", 8, "consistency"),
            ("survey_baseline.csv", 8, "village_name"),
            ("survey_baseline.csv", 8, "whitespace"),
            ("survey_baseline.csv", 9, "type"),
            ("survey_endline.csv", 0, "sample_size"),  # 14010101: 1 of 2
            ("survey_endline.csv", 0, "sample_size"),  # 16020301: 1 of 2
            ("survey_endline.csv", 3, "currency_text"),
            ("survey_endline.csv", 3, "zero_width"),
        ]
    )
    assert got == want
    conflict = c[c["rule"] == "duplicate_conflict"].iloc[0]
    assert conflict["column"] == "cid,savings_bl" and "corrections.csv row 2" in conflict["message"]
    assert (c.loc[c["column"].isin(["cid", "name"]), "value"] == "<pii>").all()
    assert sorted(c.loc[c["rule"] == "village_code", "action"]) == ["rejected", "set_missing"]


def test_mini_tables(mini: CleanResult) -> None:
    key = load_key("demo")
    ids = ["14010101-001", "14010101-002", "16020301-001", "14010102-001", "16020302-001", "14010102-009"]
    pid = dict(zip(ids, pseudonymize(ids, key), strict=True))
    h = mini.tables["households"].assign(wave=lambda d: d["wave"].astype(str)).set_index(["hh_id", "wave"])
    assert len(h) == 9
    sav = {
        ("14010101-001", "baseline"): 1500.0,
        ("14010101-002", "baseline"): None,
        ("16020301-001", "baseline"): 2500.0,
        ("14010102-001", "baseline"): 800.0,
        ("16020302-001", "baseline"): None,
        ("14010101-001", "endline"): 2000.0,
        ("14010102-009", "endline"): 750.5,
        ("16020301-001", "endline"): 3000.0,
        ("16020302-001", "endline"): 500.0,
    }
    for (raw_id, w), x in sav.items():
        v = h.loc[(pid[raw_id], w), "savings"]
        assert (pd.isna(v) if x is None else v == x), (raw_id, w)
    assert h.loc[(pid["14010101-001"], "endline"), "panel"] == 1
    assert h.loc[(pid["14010102-009"], "endline"), "panel"] == 0
    assert h.loc[(pid["16020302-001"], "endline"), "panel"] == 1
    assert h.loc[(pid["14010101-002"], "baseline"), "status"] == "refused"
    assert h.loc[(pid["14010101-001"], "baseline"), "interview_date"] == pd.Timestamp("2023-01-15")
    assert h.loc[(pid["14010102-001"], "baseline"), "interview_date"] == pd.Timestamp("2023-01-18")
    assert h.loc[(pid["16020302-001"], "baseline"), "interview_date"] == pd.Timestamp("2023-01-19")
    assert h.loc[(pid["14010101-001"], "endline"), "interview_date"] == pd.Timestamp("2024-01-15")
    assert h.xs("baseline", level="wave")["year"].eq(2023).all() and h.xs("endline", level="wave")["year"].eq(2024).all()
    titles = {r: h.loc[(pid[r], w), "head_title"] for r, w in [("14010101-001", "baseline"), ("16020301-001", "baseline"),
                                                                 ("16020302-001", "baseline"), ("14010102-009", "endline")]}
    assert titles == {"14010101-001": "mr", "16020301-001": "mrs", "16020302-001": "miss", "14010102-009": "mrs"}
    assert h.loc[(pid["14010101-001"], "baseline"), "treated"] == 1
    assert h.loc[(pid["16020301-001"], "baseline"), ["arm", "pair_id", "n_population", "n_sampled"]].tolist() == [
        "comparison", 1, 150, 2]
    assert {"head_name", "national_id", "phone", "village_name"}.isdisjoint(h.columns)
    b = mini.tables["benefits"]
    assert len(b) == 8 and set(b["welfare_type"]) == {"illness"}
    amt = dict(zip(zip(b["hh_id"], b["wave"].astype(str), strict=True), b["amount"], strict=True))
    assert amt[(pid["14010102-001"], "baseline")] == 300.0  # inconsistent with "not received": flagged, kept
    assert amt[(pid["14010102-009"], "endline")] == 1000.0
    aw = h["any_welfare"].dropna().astype(int).to_dict()
    assert sum(aw.values()) == 3


def test_mini_missing_tidy_name(fixtures: Path, tmp_path: Path) -> None:
    import shutil

    from welfare_eval.clean import CleaningError

    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    cb = raw / "codebook.csv"
    cb.write_text(cb.read_text(encoding="utf-8").replace(",status,status,", ",status,state,"), encoding="utf-8")
    with pytest.raises(CleaningError, match=r"survey_baseline\.csv: table 'households' needs tidy column\(s\) \['status'\]"):
        clean_all(raw, tmp_path / "out", key="demo")
    assert not (tmp_path / "out").exists()


def test_mini_codebook_as_xlsx(fixtures: Path, tmp_path: Path) -> None:
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    cb = pd.read_csv(raw / "codebook.csv", dtype=str, keep_default_na=False)
    (raw / "codebook.csv").unlink()
    cb.to_excel(raw / "codebook.xlsx", index=False)
    ref = clean_all(fixtures / "clean" / "mini_raw", None, key="demo")
    got = clean_all(raw, None, key="demo")
    for name, df in ref.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], df)


def test_mini_pii_dropped_from_every_table(fixtures: Path, tmp_path: Path) -> None:
    import shutil

    from welfare_eval.clean import find_pii

    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    v = pd.read_csv(raw / "villages.csv", dtype=str, keep_default_na=False)
    v["contact"] = ["081-111-2222", "082-333-4444", "", "0855556666"]
    v["headman"] = ["นายหนึ่ง ใจดี", "นางสอง ดีใจ", "", "นายสาม สุข"]
    v.to_csv(raw / "villages.csv", index=False)
    with open(raw / "codebook.csv", "a", encoding="utf-8") as fh:
        fh.write("villages.csv,contact,contact_phone,villages,phone,,,,,,โทรศัพท์,Contact phone,,yes\n")
        fh.write("villages.csv,headman,headman_name,villages,person_name,,,,,,ผู้ใหญ่บ้าน,Village headman,,no\n")
    res = clean_all(raw, tmp_path / "out", key="demo")
    vil = res.tables["villages"]
    assert "contact_phone" not in vil.columns and "headman_name" not in vil.columns
    for t in res.tables.values():
        assert find_pii(t) == []
    assert find_pii(pd.DataFrame({"x": ["a 081-111-2222 b"]})) == ["x"]
    assert find_pii(pd.DataFrame({"x": ["1234567890121"]})) == ["x"]
    assert find_pii(pd.DataFrame({"x": pd.array([1234567890121], dtype="Int64")})) == ["x"]
    assert find_pii(pd.DataFrame({"x": ["Hacdpbbkdmmnfeagh", "12010601"]})) == []


def test_mini_header_only_file(fixtures: Path, tmp_path: Path) -> None:
    import shutil

    from welfare_eval.clean import CleaningError

    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    head = (raw / "villages.csv").read_text(encoding="utf-8").splitlines()[0]
    (raw / "villages.csv").write_text(head + "\n", encoding="utf-8")
    with pytest.raises(CleaningError, match=r"^villages\.csv: no data rows"):
        clean_all(raw, None, key="demo")


def test_plan_drops_a_pair_and_the_manifest_says_where(fixtures: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``sample.drop_pairs`` of the analysis plan: cleaning rejects the pair's villages with the reason, and the
    manifest records the pair, its villages, the reason and that the plan decided it."""
    import shutil

    from welfare_eval import pipeline
    from welfare_eval.study import PlanError

    shutil.copytree(fixtures / "clean" / "mini_raw", tmp_path / "data" / "raw")
    plan = tmp_path / "analysis_plan.yaml"
    plan.write_text('sample:\n  drop_pairs: {2: "no endline interviews (flood)"}\n', encoding="utf-8")
    monkeypatch.setenv("WELFARE_EVAL_PSEUDONYM_KEY", "mini-plan-test-key-0123456789abcdef")
    paths = pipeline.Paths.from_root(tmp_path, quiet=True)
    res = pipeline.clean(paths)
    (entry,) = pipeline.processed_manifest(paths)["dropped_pairs"]
    assert entry["pair_id"] == 2 and entry["reason"] == "no endline interviews (flood)"
    assert entry["decided_in"] == "analysis_plan.yaml sample.drop_pairs"
    assert sorted(entry["villages"]) == ["14010102", "16020302"]
    kept = res.tables["villages"]["village_id"].astype(str)
    assert set(kept) == {"14010101", "16020301"}
    led = res.ledger[res.ledger["file"] == "villages.csv"]
    assert (led["reason"].astype(str).str.contains("no endline interviews").sum()) == 2
    for bad, msg in (('{x: "why"}', "is not a pair id"), ('{3: ""}', "give the reason")):
        plan.write_text(f"sample:\n  drop_pairs: {bad}\n", encoding="utf-8")
        with pytest.raises(PlanError, match=msg):
            pipeline.clean(paths)
