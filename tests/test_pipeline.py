"""End-to-end tests of the pipeline and the CLI on the demo study."""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from welfare_eval import pipeline
from welfare_eval.cli import main
from welfare_eval.report import check_self_contained
from welfare_eval.report._typeset import WJ, ZWSP

NATIONAL_ID = re.compile(r"(?<!\d)\d{13}(?!\d)")
PHONE = re.compile(r"(?<!\d)0[689]\d[- ]?\d{3}[- ]?\d{4}(?!\d)")


def _page(p: Path) -> str:
    """A rendered report without the Thai word-break characters (U+200B between words, U+2060 inside them)."""
    return p.read_text("utf-8").replace("\u200b", "").replace("\u2060", "")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_run_produces_self_contained_thai_report(demo_project: Path) -> None:
    html_path = demo_project / "reports" / "final_report.html"
    assert html_path.is_file()
    assert check_self_contained(html_path) == []
    html = _page(html_path)
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
        assert not re.search(r"""(?:src|href)\s*=\s*["']?https?://""", tag), tag
    assert "การประเมินผลโครงการชุมชนสวัสดิการ" in html
    assert "data:image/png;base64" in html
    assert "<math" in html
    assert '<h2 id="sec-impact">ผลการประเมิน</h2>' in html
    assert "ปัจจัยแห่งความสำเร็จ" in html


def test_processed_tables_and_results_exist(demo_project: Path) -> None:
    paths = pipeline.Paths.from_root(demo_project)
    tabs = pipeline.load_processed(paths)
    assert set(tabs) == {"frame", "villages", "households", "benefits", "admin", "committee"}
    assert len(tabs["villages"]) == 36
    assert tabs["villages"]["pair_id"].nunique() == 18
    res = pipeline.load_results(paths)
    did = res["did_preliminary"]
    assert set(did["method"]) >= {"cr1", "cr2", "wild", "ri"}
    assert (did["n_clusters"] == 18).all()
    pairs = res["pairs"]
    assert len(pairs) == 18 and pairs["surveyed"].all()  # re-matching reproduces the fieldwork design
    # results are not inputs: nothing the analysis writes lands among the processed tables
    assert not (paths.processed / "pairs.parquet").exists()
    sizes = res["sample_sizes"]
    assert set(sizes["wave"]) == {"baseline", "midline", "endline"}
    assert (sizes["n_villages"] == 18).all()


def test_no_pii_in_processed_or_reports(demo_project: Path) -> None:
    files = [p for p in (demo_project / "data" / "processed").rglob("*") if p.is_file()]
    files += [p for p in (demo_project / "reports").rglob("*.html")]
    assert files
    for p in files:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
            for col in df.columns:
                num = pd.to_numeric(df[col], errors="coerce") if df[col].dtype.kind in "iuf" else None
                if num is not None:  # a 13-digit whole number stored as a number
                    big = num[(num >= 1e12) & (num < 1e13) & (num == num.round())]
                    assert big.empty, f"13-digit number in {p.name}:{col}"
            text = df.select_dtypes(exclude="number").astype(str).to_csv(index=False)
        else:
            text = p.read_text("utf-8", errors="replace")
        if p.suffix == ".html":  # base64 images can contain digit runs by chance
            text = re.sub(r"data:[^\"')]+", "", text)
        assert not NATIONAL_ID.search(text), f"13-digit number in {p.name}"
        assert not PHONE.search(text), f"phone number in {p.name}"


def test_demo_recovers_planted_effects_within_wide_ci(demo_project: Path) -> None:
    """The wild-bootstrap CI of the preliminary DiD covers the planted endline effect."""
    paths = pipeline.Paths.from_root(demo_project)
    truth = pipeline.load_truth(paths)
    assert truth is not None
    eff = pd.DataFrame(truth["effects"])
    did = pipeline.load_results(paths)["did_preliminary"]
    checked = 0
    for y in did["outcome"].unique():
        hit = eff[(eff["outcome"] == y) & (eff["wave"] == "endline")]
        if hit.empty:
            continue
        tv = float(hit["effect_data_scale"].iloc[0])
        row = did[(did["outcome"] == y) & (did["method"] == "wild")].iloc[0]
        assert row["ci_low"] <= tv <= row["ci_high"], (y, tv, row["ci_low"], row["ci_high"])
        checked += 1
    assert checked >= 2


def test_run_never_overwrites_user_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    mine = raw / "my_export.csv"
    mine.write_text("a,b\n1,2\n", encoding="utf-8")
    before = _sha(mine)
    rc = main(["simulate", "--root", str(tmp_path), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "Traceback" not in err
    rc = main(["simulate", "--root", str(tmp_path), "--quiet", "--force"])
    assert rc == 2
    assert "my_export.csv" in capsys.readouterr().err
    assert _sha(mine) == before


def test_simulate_force_regenerates_own_files_identically(tmp_path: Path) -> None:
    assert main(["simulate", "--root", str(tmp_path), "--quiet", "--no-monitoring"]) == 0
    raw = tmp_path / "data" / "raw"
    first = {p.relative_to(raw).as_posix(): _sha(p) for p in raw.rglob("*") if p.is_file()}
    assert "codebook.csv" in first and not (raw / "monitoring").exists()
    assert main(["simulate", "--root", str(tmp_path), "--quiet", "--force", "--no-monitoring"]) == 0
    assert {p.relative_to(raw).as_posix(): _sha(p) for p in raw.rglob("*") if p.is_file()} == first
    rec = json.loads((tmp_path / "data" / "simulation" / "generation.json").read_text("utf-8"))
    assert rec["files"] == first


def test_clean_on_empty_raw_gives_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data" / "raw").mkdir(parents=True)
    assert main(["clean", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("welfare-eval: error:") and "no raw exports" in err[0]


def test_report_without_results_gives_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "final_report.qmd").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    assert main(["report", "--root", str(tmp_path)]) == 2
    assert "run `welfare-eval analyze` first" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# The plan and the region scheme travel with the data (no process-wide state)
# --------------------------------------------------------------------------------------------------
def test_user_region_mapping_reaches_the_report(custom_project: Path, demo_project: Path) -> None:
    paths = pipeline.Paths.from_root(custom_project)
    man = pipeline.processed_manifest(paths)
    assert man["region_scheme"]["scheme"] == "regions_2569"
    assert pipeline.analysis_record(paths)["region_scheme"] == "regions_2569"
    html = _page(custom_project / "reports" / "final_report.html")
    assert "User mapping of the 2569 order" in html
    demo_html = _page(demo_project / "reports" / "final_report.html")
    assert "User mapping of the 2569 order" not in demo_html
    # the process-wide default was never touched
    from welfare_eval.reference import region_scheme

    assert region_scheme().scheme != "regions_2569"


def test_plan_yaml_changes_the_report_without_code_edits(custom_project: Path, demo_project: Path) -> None:
    coped = "(ครัวเรือนที่มีผู้เจ็บป่วย) (จุดร้อยละ)"  # the coped outcome's row label in the impact tables
    demo_html = _page(demo_project / "reports" / "final_report.html")
    html = _page(custom_project / "reports" / "final_report.html")
    assert coped in demo_html and coped not in html
    paths = pipeline.Paths.from_root(custom_project)
    rec = pipeline.analysis_record(paths)
    assert rec["plan_source"] == "analysis_plan.yaml"
    assert "coped" not in rec["plan"]["impact"]["outcomes"]
    eff = pipeline.load_results(paths)["impact_effects"]
    assert "coped" not in set(eff["outcome"])
    assert set(eff.loc[eff["method"] == "wild", "draws"]) == {999.0, 199.0}
    assert rec["plan_sha256"] in html and rec["plan_sha256"] not in demo_html


def test_bad_plan_gives_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "analysis_plan.yaml").write_text("impact:\n  headlines: [savings]\n", encoding="utf-8")
    assert main(["plan", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "unknown setting impact.headlines" in err[0] and "analysis_plan.yaml" in err[0]


def test_plan_command_prints_the_packaged_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from welfare_eval.study import default_plan_text, load_plan

    (tmp_path / "data").mkdir()
    assert main(["plan", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out == default_plan_text()
    p = tmp_path / "analysis_plan.yaml"
    p.write_text(out, encoding="utf-8")
    assert load_plan(p) == load_plan(None)


def test_report_refuses_results_of_older_processed_data(demo_project: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Results are tied to the processed data they were made from (analysis.json records the manifest hash)."""
    import shutil

    root = tmp_path / "p"
    shutil.copytree(demo_project / "data", root / "data")
    shutil.copytree(demo_project / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html"))
    rec = root / "data" / "processed" / "results" / "analysis.json"
    meta = json.loads(rec.read_text("utf-8"))
    meta["manifest_sha256"] = "0" * 64
    rec.write_text(json.dumps(meta), encoding="utf-8")
    assert main(["report", "--root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "run `welfare-eval analyze` first" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------------
# A pair dropped through a corrections file (the custom project, tests/conftest.py), in both editions
# (here, beside the other custom-project tests: one worker builds the project once)
# --------------------------------------------------------------------------------------------------
def _dropped_text(page: str) -> str:
    body = page.split("<body", 1)[1].split(">", 1)[1]
    body = re.sub(r"<(script|style|math|code|pre)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"</?(?:span|wbr|a)\b[^>]*>", "", body)  # inline markup (Thai line-break spans, links)
    body = re.sub(r"<[^>]+>", " ", body)
    text = htmllib.unescape(body).replace(ZWSP, "").replace(WJ, "").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


@pytest.mark.e2e
def test_report_names_the_dropped_pair_in_both_editions(custom_project: Path) -> None:
    """The custom project (tests/conftest.py) drops pair 1 through data/raw/corrections/drop.csv."""
    paths = pipeline.Paths.from_root(custom_project)
    man = pipeline.processed_manifest(paths)
    assert [(e["pair_id"], e["decided_in"]) for e in man["dropped_pairs"]] == [(1, "drop.csv row 2")]
    villages = man["dropped_pairs"][0]["villages"]
    n = int(pipeline.load_results(paths)["design"].shape[0])
    assert n == 17
    for name, lang in (("final_report.html", "th"), ("final_report.en.html", "en")):
        page = (custom_project / "reports" / name).read_text("utf-8")
        text = _dropped_text(page)
        # the appendix table: numbered, referred to by number, with the pair, its villages, reason and source
        m = re.search(r'<div id="tbl-dropped-pairs" class="table-float">(.*?)</table>', page, re.S)
        assert m, lang
        table = _dropped_text("<body>" + m.group(1))
        assert "no endline interviews (flood)" in table and ", ".join(villages) in table
        assert ("drop.csv แถวที่ 2" if lang == "th" else "drop.csv, row 2") in table
        num = re.match(r"\s*(?:ตารางที่|Table) (\d+):", table)
        assert num, table[:80]
        refs = [_dropped_text("<body>" + r) for r in re.findall(r'<a href="#tbl-dropped-pairs">(.*?)</a>', page, re.S)]
        assert len(refs) >= 2 and all(r.strip().endswith(f" {num.group(1)}") for r in refs), refs
        floats = set(re.findall(r'<(?:figure|div) id="((?:fig|tbl)-[\w-]+)"', page))
        assert floats - set(re.findall(r'<a href="#((?:fig|tbl)-[\w-]+)"', page)) == set()  # all referred to
        # the design section and the summary's caveat name the pair and the reason
        pair = "คู่ที่ 1" if lang == "th" else "pair 1"
        design = _dropped_text("<body>" + page.split('id="sec-design"', 1)[1].split('id="sec-spillover"', 1)[0])
        assert ("การวิเคราะห์ใช้ 17 คู่จาก 18 คู่" if lang == "th" else "The analysis has 17 of the 18 planned pairs") in design
        assert f"{pair} (“no endline interviews (flood)”)" in design
        summary = text.split("ข้อควรระวัง" if lang == "th" else "Caveats")[1][:3000]
        assert ("คู่ที่ถูกตัดออก" if lang == "th" else "A pair left out") in summary and pair in summary
        # the dropped villages appear nowhere else (the design table lists the 17 remaining pairs)
        design_tab = re.search(r'<div id="tbl-design" class="table-float">(.*?)</table>', page, re.S)
        assert design_tab and not any(v in design_tab.group(1) for v in villages)
        assert design_tab.group(1).count("<tr") == 1 + 17
