"""clean_all on the simulator's demo exports: ledger, planted defects, values against the truth, privacy,
idempotence, encodings and errors.

The simulator (welfare_eval.simulate) is the independent reference: its tidy fieldwork tables are
what the raw exports were made from, and ``truth.defects`` lists every defect planted in them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

simulate = pytest.importorskip("welfare_eval.simulate")

from welfare_eval.clean import CleaningError, clean_all, load_key, pseudonymize, validate_table  # noqa: E402
from welfare_eval.simulate import DefectConfig, FieldworkConfig, FrameConfig  # noqa: E402

SEED = 2568
#: planted defect → rule of the checks report that must find it
DEFECT_RULE = {
    "exact_duplicate": "duplicate_exact",
    "changed_resubmission": "duplicate_conflict",
    "out_of_range": "range",
    "missing_code": "missing_code",
    "stray_space": "whitespace",
    "zero_width": "zero_width",
    "misspelt_village_name": "village_name",
    "thai_digits": "thai_digits",
    "baht_suffix": "currency_text",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("demo")
    study = simulate.simulate_study(seed=SEED)
    raw = base / "raw"
    simulate.write_raw_exports(study, raw)
    before = {p.relative_to(raw): (p.read_bytes(), p.stat().st_mtime_ns) for p in raw.rglob("*") if p.is_file()}
    res = clean_all(raw, base / "processed", key="demo")
    return {"study": study, "raw": raw, "out": base / "processed", "res": res, "before": before}


def _csv_rows(path: Path, encoding: str) -> int:
    with open(path, encoding=encoding, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def test_ledger_accounts_for_every_row(demo: dict[str, Any]) -> None:
    res, raw = demo["res"], demo["raw"]
    tot = res.totals().set_index("file")
    assert (tot["kept"] + tot["merged"] + tot["rejected"] == tot["read"]).all()
    # rows read, counted independently of the cleaner
    from openpyxl import load_workbook

    for f in tot.index:
        p = raw / f
        if p.suffix == ".xlsx":
            wb = load_workbook(p, read_only=True)
            n = sum(ws.max_row - 1 for ws in wb.worksheets)
            wb.close()
        else:
            enc = {"committee_ratings.csv": "cp874", "cdd_village_frame.csv": "utf-8-sig"}.get(f, "utf-8")
            n = _csv_rows(p, enc)
        assert tot.loc[f, "read"] == n, f
    # every ledger row is a raw row exactly once
    led = res.ledger
    assert not led.duplicated(["file", "sheet", "row"]).any()
    merged = led[led["status"] == "merged"]
    kept = set(zip(led["file"], led["sheet"], led["row"], strict=True))
    assert all((f, s, int(i)) in kept for f, s, i in zip(merged["file"], merged["sheet"], merged["merged_into"], strict=True))
    # the ledger file beside the tables says the same
    disk = pd.read_csv(demo["out"] / "ledger.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(disk) == len(led)


def _rows_by_uuid(raw: Path, file: str) -> dict[str, list[int]]:
    df = pd.read_csv(raw / file, dtype=str, keep_default_na=False)
    out: dict[str, list[int]] = {}
    for i, u in enumerate(df["_uuid"]):
        out.setdefault(u, []).append(i + 2)
    return out


def test_planted_defects_found_at_planted_counts(demo: dict[str, Any]) -> None:
    res, study, raw = demo["res"], demo["study"], demo["raw"]
    plan = study.truth.defects
    checks = res.checks
    counts = plan.groupby(["file", "defect"]).size()
    for (file, defect), n in counts.items():
        rule = DEFECT_RULE[defect]
        got = checks[(checks["file"] == file) & (checks["rule"] == rule)]
        assert len(got) == n, (file, defect, len(got), n)
    # and at the planted rows: household defects by submission uuid
    for file in sorted(set(plan["file"]) - {"savings_group_records.xlsx"}):
        rows = _rows_by_uuid(raw, file)
        for defect, g in plan[plan["file"] == file].groupby("defect"):
            got = set(checks.loc[(checks["file"] == file) & (checks["rule"] == DEFECT_RULE[defect]), "row"])
            if defect == "exact_duplicate":
                want = {rows[u][1] for u in g["uuid"]}  # the second copy is merged
            elif defect == "changed_resubmission":
                want = {rows[u][0] for u in g["new_uuid"]}  # the earlier, wrong submission is merged
            else:
                want = {rows[u][0] for u in g["uuid"]}
            assert got == want, (file, defect)
    # savings-group workbook: by village, B.E. year and column
    wb = plan[plan["file"] == "savings_group_records.xlsx"]
    sheets = pd.read_excel(raw / "savings_group_records.xlsx", sheet_name=None, dtype=str)
    where = {}
    for sh, df in sheets.items():
        for i, (v, y) in enumerate(zip(df.iloc[:, 0], df.iloc[:, 2], strict=True)):
            where[f"{v}:{y}"] = (sh, i + 2)
    for defect, g in wb.groupby("defect"):
        want = {(*where[k], c) for k, c in zip(g["uuid"], g["column"], strict=True)}
        c = checks[(checks["file"] == "savings_group_records.xlsx") & (checks["rule"] == DEFECT_RULE[defect])]
        assert set(zip(c["sheet"], c["row"], c["column"], strict=True)) == want


def test_no_unplanted_errors(demo: dict[str, Any]) -> None:
    """Apart from the planted defects, the demo data raise no error-level check (no false alarms)."""
    c = demo["res"].checks
    other = c[~c["rule"].isin(set(DEFECT_RULE.values())) & (c["severity"] == "error")]
    assert other.empty, other.head().to_string()
    assert (demo["res"].ledger["status"] != "rejected").all()


def _truth_households(study: Any) -> pd.DataFrame:
    h = study.fieldwork.households.copy()
    h["hh_id"] = pseudonymize(h["hh_id"].astype(str).tolist(), load_key("demo"))
    h["wave"] = h["wave"].astype(str)
    return h


def _eq(a: pd.Series, b: pd.Series) -> pd.Series:
    if a.dtype.kind in "biufc" or str(a.dtype) in ("Int64", "Float64"):
        x, y = a.astype("Float64"), b.astype("Float64")
        same = ((x - y).abs() <= 1e-9 * (1 + y.abs())).fillna(False)
    else:
        same = (a.astype(str) == b.astype(str)).fillna(False)
    return same | (a.isna() & b.isna())


def test_households_equal_truth_except_planted_cells(demo: dict[str, Any]) -> None:
    res, study = demo["res"], demo["study"]
    h = res.tables["households"].assign(wave=lambda d: d["wave"].astype(str))
    t = _truth_households(study)
    m = h.merge(t, on=["hh_id", "wave"], suffixes=("", "_t"), how="outer", indicator=True, validate="1:1")
    assert (m["_merge"] == "both").all()
    plan = study.truth.defects
    bad_cells = plan[plan["defect"].isin(["out_of_range", "missing_code"])]
    col_of = {"hh/head_age": "head_age", "hh/hh_size": "hh_size", "finance/savings": "savings", "finance/debt": "debt"}
    col_of |= {f"qol/q{i}": f"qol_{i}" for i in range(1, 6)}
    uuid_key = study.fieldwork.households.assign(hh_id=t["hh_id"])[["submission_uuid", "hh_id", "wave"]]
    uuid_key = uuid_key.assign(wave=uuid_key["wave"].astype(str)).set_index("submission_uuid")
    planted = {(uuid_key.loc[u, "hh_id"], uuid_key.loc[u, "wave"], col_of[c]) for u, c in zip(bad_cells["uuid"], bad_cells["column"], strict=True)}
    cols = ["status", "panel", "n_population", "n_sampled", "region", "pair_id", "arm", "treated", "year",
            "head_age", "hh_size", "farm", "head_sex", "savings", "debt", "had_health_shock", "coped",
            "any_welfare", "n_welfare_types", "welfare_amount", "self_reliance_index", "welfare_satisfaction",
            "member_savings_group", "member_welfare_fund", "member_village_fund"]
    cols += [f"qol_{i}" for i in range(1, 6)] + [f"self_reliance_{i}" for i in range(1, 5)]
    for c in cols:
        same = _eq(m[c], m[c + "_t"])
        diff = {(a, b, c) for a, b in zip(m.loc[~same, "hh_id"], m.loc[~same, "wave"], strict=True)}
        assert diff <= planted, (c, sorted(diff - planted)[:3])
        # planted cells are missing, never a wrong value
        for hid, w, col in planted:
            if col == c:
                assert pd.isna(m.loc[(m["hh_id"] == hid) & (m["wave"] == w), c]).all()
    # qol_index: the mean of the five items where all are valid
    ok = m[["qol_1", "qol_2", "qol_3", "qol_4", "qol_5"]].notna().all(axis=1) & (m["interviewed"] == 1)
    np.testing.assert_allclose(m.loc[ok, "qol_index"], m.loc[ok, "qol_index_t"].astype(float), rtol=1e-12)
    # design weights N/n recoverable and equal to the simulator's
    np.testing.assert_allclose(m["n_population"] / m["n_sampled"], m["design_weight"].astype(float), rtol=1e-12)
    # the resubmitted interviews keep the later (true) savings answer
    cr = plan[plan["defect"] == "changed_resubmission"]
    for u, orig in zip(cr["uuid"], cr["original"], strict=True):
        hid, w = uuid_key.loc[u, "hh_id"], uuid_key.loc[u, "wave"]
        assert m.loc[(m["hh_id"] == hid) & (m["wave"] == w), "savings"].item() == float(orig)
    # the title split from the name agrees with the simulated name
    titles = m["head_title"].dropna()
    assert titles.isin(["mr", "mrs", "miss"]).all() and len(titles) == int((m["interviewed"] == 1).sum())


def test_benefits_equal_truth(demo: dict[str, Any]) -> None:
    b = demo["res"].tables["benefits"].assign(wave=lambda d: d["wave"].astype(str))
    t = demo["study"].fieldwork.benefits.copy()
    t["hh_id"] = pseudonymize(t["hh_id"].astype(str).tolist(), load_key("demo"))
    t["wave"] = t["wave"].astype(str)
    m = b.merge(t, on=["hh_id", "wave", "welfare_type"], suffixes=("", "_t"), how="outer", indicator=True, validate="1:1")
    assert (m["_merge"] == "both").all()
    assert _eq(m["received"], m["received_t"]).all()
    assert _eq(m["amount"], m["amount_t"]).all()


def test_admin_committee_frame_villages_equal_truth(demo: dict[str, Any]) -> None:
    res, study = demo["res"], demo["study"]
    fw = study.fieldwork
    a = res.tables["admin"].merge(fw.admin, on=["village_id", "year"], suffixes=("", "_t"), how="outer", indicator=True)
    assert (a["_merge"] == "both").all()
    for c in ["members", "savings", "loans", "profit", "welfare_payout", "welfare_share", "welfare_payout_per_member",
              "fund_opening", "fund_income_other", "fund_income", "fund_closing"]:
        assert _eq(a[c], a[c + "_t"]).all(), c
    for c in [c for c in fw.admin.columns if c.startswith("alloc_")]:
        assert _eq(a[c], a[c + "_t"]).all(), c
    assert a["year"].between(2000, 2100).all()  # C.E.
    c = res.tables["committee"].merge(fw.committee, on=["village_id", "member_no", "item"], suffixes=("", "_t"), how="outer", indicator=True)
    assert (c["_merge"] == "both").all()
    assert _eq(c["score"], c["score_t"]).all() and _eq(c["role"], c["role_t"]).all() and _eq(c["factor"], c["factor_t"]).all()
    f = res.tables["frame"].merge(study.frame, on="village_id", suffixes=("", "_t"), how="outer", indicator=True)
    assert (f["_merge"] == "both").all()
    for col in study.frame.columns:
        if col != "village_id":
            assert _eq(f[col], f[col + "_t"]).all(), col
    v = res.tables["villages"].merge(fw.villages, on="village_id", suffixes=("", "_t"), how="outer", indicator=True)
    assert (v["_merge"] == "both").all()
    for col in ["region", "arm", "treated", "pair_id", "n_households", "n_sampled", "mean_income"]:
        assert _eq(v[col], v[col + "_t"]).all(), col


def test_schemas_and_parquet(demo: dict[str, Any]) -> None:
    res, out = demo["res"], demo["out"]
    for name, df in res.tables.items():
        validate_table(name, df)
        disk = pd.read_parquet(out / f"{name}.parquet")
        assert list(disk.columns) == list(df.columns)
        assert len(disk) == len(df)
    # the processed codebook lists every column with Thai and English labels
    var = pd.read_csv(out / "variables.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    want = {(t, c) for t, df in res.tables.items() for c in df.columns}
    assert set(zip(var["table"], var["column"], strict=True)) == want and len(var) == len(want)
    assert (var["label_th"] != "").all() and (var["label_en"] != "").all()
    hh = res.tables["households"]
    assert hh["village_id"].str.fullmatch(r"\d{8}").all()
    assert set(hh["wave"].astype(str)) == {"baseline", "midline", "endline"}
    assert set(hh["arm"]) == {"pilot", "comparison"} and set(hh["treated"]) == {0, 1}
    # a broken table fails its schema with a one-line CleaningError
    with pytest.raises(CleaningError, match=r"households.*treated"):
        validate_table("households", hh.assign(treated=2))


_ID13 = re.compile(rb"(?<!\d)\d{13}(?!\d)")
#: money columns that may legitimately hold 9+ digit whole numbers (baht)
_BIG_NUMBERS = {"savings", "loans", "sg_savings", "debt", "profit"}
_PHONE = re.compile(rb"(?<!\d)0\d{1,2}-?\d{3}-?\d{4}(?!\d)")


def test_no_pii_in_processed(demo: dict[str, Any]) -> None:
    out, study = demo["out"], demo["study"]
    h = study.fieldwork.households
    ids = set(h["national_id"].dropna().astype(str))
    phones = set(h["phone"].dropna().astype(str))
    names = {n.split(" ", 1)[1] if " " in n else n for n in h["head_name"].dropna().astype(str)}  # "given surname"
    names = {n for n in names if len(n) > 6}
    files = sorted(out.iterdir())
    assert {p.name for p in files} >= {f"{t}.parquet" for t in demo["res"].tables} | {"ledger.csv", "checks.csv", "manifest.json"}
    for p in files:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
            num = df.select_dtypes("number")
            # a 13-digit national ID or a phone number stored as a number
            for c in num.columns:
                x = num[c].dropna().astype(float)
                assert not ((x >= 1e8) & (x < 1e13) & (x == x.round())).any() or c in _BIG_NUMBERS, (p.name, c)
            text = df.select_dtypes(exclude="number").astype(str).to_csv(index=False).encode("utf-8")
        else:
            text = p.read_bytes()
            if p.suffix == ".json":  # sha256 and key fingerprints are hex, not identifiers
                text = re.sub(rb'"[0-9a-f]{12,64}"', b'""', text)
        assert not _ID13.search(text), p.name
        assert not _PHONE.search(text), p.name
        assert not any(i.encode() in text for i in ids)
        assert not any(ph.encode() in text or ph.replace("-", "").encode() in text for ph in phones)
        decoded = text.decode("utf-8", errors="ignore")
        names_given = {n.split(" ")[0][-4:] + " " + n.split(" ")[-1] for n in names}
        assert not any(s in decoded for s in names_given), p.name
    for t in demo["res"].tables.values():
        assert not {"head_name", "national_id", "phone"} & set(t.columns)
    assert (demo["res"].checks.loc[demo["res"].checks["column"] == "hh/head_name", "value"] == "<pii>").all()


def test_raw_dir_untouched_and_manifest(demo: dict[str, Any]) -> None:
    raw, before = demo["raw"], demo["before"]
    now = {p.relative_to(raw): (p.read_bytes(), p.stat().st_mtime_ns) for p in raw.rglob("*") if p.is_file()}
    assert now == before
    m = demo["res"].manifest
    enc = {i["file"]: i["encoding"] for i in m["inputs"]}
    assert enc["cdd_village_frame.csv"] == "utf-8-sig"
    assert enc["committee_ratings.csv"] == "cp874"
    assert enc["household_survey_baseline.csv"] == "utf-8"
    assert enc["savings_group_records.xlsx"] == "xlsx"
    for i in m["inputs"]:
        assert i["sha256"] == hashlib.sha256((raw / i["file"]).read_bytes()).hexdigest()
    for o in m["outputs"]:
        assert o["sha256"] == hashlib.sha256((demo["out"] / o["file"]).read_bytes()).hexdigest()
    assert m["demo_key"] is True and "demo" in demo["res"].summary().lower()
    with pytest.raises(CleaningError, match="inside the raw data folder"):
        clean_all(raw, raw / "out", key="demo")


def test_summary_text(demo: dict[str, Any]) -> None:
    s = demo["res"].summary()
    assert "household_survey_baseline.csv" in s and "duplicate_exact" in s and "rejected" in s


# --------------------------------------------------------------------------------------------------
# a small study: idempotence, cp874 re-encoding, all-or-nothing writing and one-line errors
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("small")
    study = simulate.simulate_study(
        seed=7,
        frame_config=FrameConfig(villages_per_region=(3, 5)),
        # zero-width spaces cannot be written in cp874; everything else as in the demo
        fieldwork_config=FieldworkConfig(n_per_village=8, defects=DefectConfig(zero_width=0.0, exact_duplicate=0.05,
                                                                                changed_resubmission=0.05)),
    )
    raw = base / "raw"
    simulate.write_raw_exports(study, raw)
    return raw


def _copy(raw: Path, dst: Path) -> Path:
    shutil.copytree(raw, dst)
    return dst


def test_idempotent_byte_identical(small: Path, tmp_path: Path) -> None:
    a = clean_all(small, tmp_path / "a", key="demo")
    b = clean_all(small, tmp_path / "b", key="demo")
    clean_all(small, tmp_path / "a", key="demo")  # rerun into the same folder
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert a.manifest == b.manifest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_cp874_survey_gives_identical_tables(small: Path, tmp_path: Path) -> None:
    ref = clean_all(small, None, key="demo")
    raw = _copy(small, tmp_path / "raw874")
    for w in ("baseline", "midline", "endline"):
        p = raw / f"household_survey_{w}.csv"
        p.write_bytes(p.read_text(encoding="utf-8").encode("cp874"))
    got = clean_all(raw, None, key="demo")
    assert {i["file"]: i["encoding"] for i in got.manifest["inputs"]}["household_survey_midline.csv"] == "cp874"
    for name, df in ref.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], df, check_exact=True)
    pd.testing.assert_frame_equal(got.ledger, ref.ledger)
    pd.testing.assert_frame_equal(got.checks, ref.checks)


def test_key_changes_ids_only(small: Path) -> None:
    a = clean_all(small, None, key="demo")
    b = clean_all(small, None, key=b"another-key-of-32-bytes-length!!")
    ha, hb = a.tables["households"], b.tables["households"]
    assert not set(ha["hh_id"]) & set(hb["hh_id"])
    by = ["wave", "village_id", "submitted_at", "interview_time", "status"]
    ra = ha.drop(columns="hh_id").sort_values(by, kind="mergesort").reset_index(drop=True)
    rb = hb.drop(columns="hh_id").sort_values(by, kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(ra, rb)
    # stable across waves: each panel household keeps its id
    prev = set(ha.loc[ha["wave"] == "baseline", "hh_id"])
    mid = ha[ha["wave"] == "midline"]
    assert (mid["panel"] == mid["hh_id"].isin(prev).astype(int)).all() and mid["panel"].sum() > 0


@pytest.mark.parametrize(
    ("damage", "msg"),
    [
        ("drop_column", r"household_survey_endline\.csv: column\(s\) \['finance/debt'\] listed in the codebook"),
        ("empty", r"committee_ratings\.csv: file is empty"),
        ("latin1", r"committee_ratings\.csv: unknown encoding"),
        ("no_codebook", r"no codebook\.csv"),
        ("bad_codebook", r"codebook\.csv row \d+: unknown type"),
        ("missing_file", r"no raw file matches codebook source 'study_villages\.csv'"),
    ],
)
def test_errors_are_one_line_and_write_nothing(small: Path, tmp_path: Path, damage: str, msg: str) -> None:
    raw = _copy(small, tmp_path / "raw")
    if damage == "drop_column":
        p = raw / "household_survey_endline.csv"
        pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns="finance/debt").to_csv(p, index=False)
    elif damage == "empty":
        (raw / "committee_ratings.csv").write_bytes(b"")
    elif damage == "latin1":
        (raw / "committee_ratings.csv").write_bytes("village,naïve\n1,café\n".encode("latin-1"))
    elif damage == "no_codebook":
        (raw / "codebook.csv").unlink()
    elif damage == "bad_codebook":
        p = raw / "codebook.csv"
        p.write_text(p.read_text(encoding="utf-8").replace(",money,", ",monie,", 1), encoding="utf-8")
    elif damage == "missing_file":
        (raw / "study_villages.csv").unlink()
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    with pytest.raises(CleaningError, match=msg) as exc:
        clean_all(raw, out, key="demo")
    assert "\n" not in str(exc.value)
    assert isinstance(exc.value, ValueError)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_no_key_for_real_data(small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WELFARE_EVAL_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    raw = _copy(small, tmp_path / "raw")
    # not the demo file set: no committee file (and no codebook rows for it)
    (raw / "committee_ratings.csv").unlink()
    cb = raw / "codebook.csv"
    lines = cb.read_text(encoding="utf-8").splitlines(keepends=True)
    cb.write_text("".join(x for x in lines if not x.startswith("committee_ratings.csv")), encoding="utf-8")
    with pytest.raises(CleaningError, match="no pseudonym key"):
        clean_all(raw, None)
    with pytest.raises(CleaningError, match="no pseudonym key"):  # the demo's files, without proof: fail closed
        clean_all(small, None)
    assert clean_all(small, None, demo=True).manifest["demo_key"] is True
    monkeypatch.setenv("WELFARE_EVAL_PSEUDONYM_KEY", "k" * 40)
    res = clean_all(raw, None)
    assert res.manifest["demo_key"] is False and "environment" in res.manifest["key_source"]
    assert "committee" not in res.tables and "DEMO" not in res.summary()


def test_bad_rows_rejected_with_reason(small: Path, tmp_path: Path) -> None:
    raw = _copy(small, tmp_path / "raw")
    p = raw / "household_survey_midline.csv"
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    df.loc[0, "village/village_code"] = "99999999"  # not a study village (and province 99 unknown)
    df.loc[1, "hh/hh_id"] = ""
    df.loc[2, "consent/status"] = "???"
    df.loc[3, "hh/national_id"] = df.loc[3, "hh/national_id"][:-1] + str((int(df.loc[3, "hh/national_id"][-1]) + 1) % 10) if df.loc[3, "hh/national_id"] else ""
    ok = df.index[df["consent/status"] == df.loc[10:, "consent/status"].mode().iloc[0]]  # interviewed rows
    ok = [i for i in ok if i > 10]
    i_out, i_cons, i_skip = ok[0], ok[1], int(df.index[(df["consent/status"] != df.loc[ok[0], "consent/status"]) & (df.index > 10)][0])
    df.loc[i_out, "finance/savings"] = "4900000"  # within the codebook range but far from the rest
    df.loc[i_cons, "welfare/illness_received"] = df.loc[i_cons, "welfare/childbirth_received"]
    rec_no = df.loc[df["welfare/illness_amount"] == "0", "welfare/illness_received"].iloc[0]
    df.loc[i_cons, "welfare/illness_received"] = rec_no
    df.loc[i_cons, "welfare/illness_amount"] = "1,500"
    df.loc[i_skip, "hh/head_age"] = "40"  # an answer for a household that was not interviewed
    df.to_csv(p, index=False)
    res = clean_all(raw, None, key="demo")
    cm = res.checks[res.checks["file"] == "household_survey_midline.csv"]
    assert set(cm.loc[cm["rule"] == "outlier", "row"]) >= {i_out + 2}
    assert set(cm.loc[cm["rule"] == "consistency", "row"]) == {i_cons + 2}
    assert set(cm.loc[cm["rule"] == "skip_pattern", "row"]) == {i_skip + 2}
    hh = res.tables["households"]
    assert (hh["savings"] == 4900000).sum() == 1  # flagged, not deleted
    led = res.ledger[res.ledger["file"] == "household_survey_midline.csv"].set_index("row")
    assert led.loc[2, "status"] == "rejected" and "village code" in led.loc[2, "reason"]
    assert led.loc[3, "status"] == "rejected" and "household id" in led.loc[3, "reason"]
    assert led.loc[4, "status"] == "rejected" and "status" in led.loc[4, "reason"]
    tot = res.totals().set_index("file").loc["household_survey_midline.csv"]
    assert tot["read"] == tot["kept"] + tot["merged"] + tot["rejected"] and tot["rejected"] == 3
    c = res.checks
    if df.loc[3, "hh/national_id"]:
        nid = c[(c["rule"] == "national_id") & (c["file"] == "household_survey_midline.csv")]
        assert list(nid["row"]) == [5] and (nid["value"] == "<pii>").all()
    assert "rejected" in set(c.loc[c["file"] == "household_survey_midline.csv", "action"])
    # household table: rows of the midline = read - merged - rejected
    hh = res.tables["households"]
    assert int((hh["wave"] == "midline").sum()) == int(tot["kept"])


def test_sample_file_reads(small: Path) -> None:
    # the codebook written by the simulator is read by our reader (format of docs/conventions.md)
    from welfare_eval.clean import read_codebook

    cb = read_codebook(small / "codebook.csv")
    assert set(cb.entries["table"]) == {"frame", "villages", "households", "benefits", "admin", "committee"}
    text = io.StringIO((small / "study_villages.csv").read_text(encoding="utf-8"))
    assert len(pd.read_csv(text)) >= 2
