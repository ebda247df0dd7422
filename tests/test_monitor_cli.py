"""The monitoring commands end to end on a temporary project: `welfare-eval monitor form|import|status` and
`welfare-eval progress` on SQLite (and PostgreSQL when a server is available), with the simulator's forms of 2025
for four regions (the planted defects among them): import, re-import as a no-op, a bad form rejected with a
one-line error naming sheet, row and column (exit 2), the progress report byte-identical when rebuilt, and the
progress tables the final report shows."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pg_cluster  # tests/pg_cluster.py (tests/ is on sys.path)
import pytest
import sqlalchemy as sa

from welfare_eval import monitor as M
from welfare_eval import pipeline
from welfare_eval.cli import main
from welfare_eval.monitor import schema as S

PLAN = "monitoring: {first_period: 2568Q1}\n"  # the project reports from 2025Q1 (B.E. 2568)


@pytest.fixture(scope="module")
def project(clean_demo: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The cleaned demo in a project folder, with the 2025 forms of regions 1, 2 and the planted pilots' regions."""
    from welfare_eval.simulate.monitoring import MonitoringConfig, simulate_monitoring, write_monitoring_forms

    root = tmp_path_factory.mktemp("monitor_project")
    shutil.copytree(clean_demo.processed, root / "data" / "processed")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "reports").mkdir()
    (root / "analysis_plan.yaml").write_text(PLAN, encoding="utf-8")
    study = clean_demo.study
    planted = study.truth.funds.loc[study.truth.funds["planted_exhaustion"], "village_id"].astype(str).tolist()
    reg = study.fieldwork.villages.set_index("village_id")["region"].astype(int)
    regions = tuple(sorted({int(reg[v]) for v in planted} | {1, 2}))
    mon = simulate_monitoring(study, config=MonitoringConfig(first_year=2025, last_year=2025, regions=regions))
    paths = pipeline.Paths.from_root(root, quiet=True)
    write_monitoring_forms(mon, paths.monitoring)
    return {"root": root, "paths": paths, "mon": mon, "regions": regions, "planted": planted}


def _counts(db_target: Any) -> dict[str, int]:
    db = M.MonitorDB.open(db_target)
    try:
        with db.engine.connect() as c:
            return {t: int(c.execute(sa.select(sa.func.count()).select_from(S.metadata.tables[t])).scalar_one())
                    for t in S.APPEND_ONLY_TABLES}
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def imported(project: dict[str, Any]) -> dict[str, Any]:
    """`welfare-eval monitor import` once (the planted rejected form makes it exit 2)."""
    root = project["root"]
    rc = main(["monitor", "import", "--root", str(root), "-q"])
    return {"rc": rc, "counts": _counts(project["paths"].monitor_db)}


def test_import_stores_the_forms_and_names_the_rejected_one(project: dict[str, Any], imported: dict[str, Any],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert imported["rc"] == 2  # the simulator's planted form that breaks the fund identity
    counts = imported["counts"]
    mon = project["mon"]
    accepted = mon.deliveries[~mon.deliveries["kind"].isin(["rejected", "duplicate"])]
    assert counts["submission"] == len(accepted)
    report = pd.read_excel(project["root"] / "reports" / "monitor_import.xlsx", sheet_name=None)
    files = report["files"].set_index("file")["status"]
    rejected = mon.deliveries.loc[mon.deliveries["kind"] == "rejected", "file"].tolist()
    assert [f for f, s in files.items() if s == "rejected"] == rejected
    assert files[mon.deliveries.loc[mon.deliveries["kind"] == "duplicate", "file"].iloc[0]] == "duplicate_file"
    rej = report["rejections"]
    assert set(rej["file"]) == set(rejected) and rej["sheet"].str.startswith("9 ").all()


def test_reimport_is_a_no_op(project: dict[str, Any], imported: dict[str, Any],
                             capsys: pytest.CaptureFixture[str]) -> None:
    root = project["root"]
    capsys.readouterr()
    rc = main(["monitor", "import", "--root", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and _counts(project["paths"].monitor_db) == imported["counts"]
    assert any("duplicate file" in line and "0 accepted" not in line and "accepted" not in line for line in err)
    first = next(line for line in err if line.startswith("welfare-eval: error:"))
    assert "rejected" in first and "sheet '9 " in first and " row " in first and " column E (closing)" in first


def test_a_bad_form_is_rejected_whole_with_sheet_row_and_column(project: dict[str, Any], imported: dict[str, Any],
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from openpyxl import load_workbook

    paths = project["paths"]
    good = next(p for p in sorted(paths.monitoring.glob("form_r*_2025Q4.xlsx")))
    wb = load_workbook(good)
    ws = next(w for w in wb.worksheets if w.title.startswith("6 "))  # payouts by welfare type
    ws["D5"] = "สามพัน"  # an amount that is not a number
    bad = tmp_path / "form_bad.xlsx"
    wb.save(bad)
    before = _counts(paths.monitor_db)
    capsys.readouterr()
    rc = main(["monitor", "import", str(bad), "--root", str(project["root"]), "--received-on", "2026-01-10",
               "--report", str(tmp_path / "bad.csv"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and _counts(paths.monitor_db) == before
    assert len(err) == 2 and err[1].startswith("(run again with --debug")
    assert err[0].startswith("welfare-eval: error: 1 of 1 form(s) rejected")
    assert f"form_bad.xlsx: sheet '{ws.title}' row 5 column D" in err[0]
    rej = pd.read_csv(tmp_path / "bad.csv")
    assert list(rej["row"]) == [5] and rej["column"].iloc[0].startswith("D")


def test_progress_report_is_byte_identical_when_rebuilt(project: dict[str, Any], imported: dict[str, Any]) -> None:
    root, reports = project["root"], project["root"] / "reports"
    assert main(["progress", "--root", str(root), "--period", "2568Q4", "-q"]) == 0
    html, xlsx = reports / "progress_2568Q4.html", reports / "progress_2568Q4.xlsx"
    first = html.read_bytes(), xlsx.read_bytes()
    html.unlink()
    assert main(["progress", "--root", str(root), "--period", "2025Q4", "-q"]) == 0  # C.E. spelling, same quarter
    assert (html.read_bytes(), xlsx.read_bytes()) == first
    text = first[0].decode("utf-8")
    assert "2568" in text and "<script src=" not in text
    assert main(["progress", "--root", str(root), "--period", "2568Q5", "-q"]) == 2


def test_status_lists_late_missing_and_resubmitted(project: dict[str, Any], imported: dict[str, Any],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    save = project["root"] / "status.csv"
    assert main(["monitor", "status", "--root", str(project["root"]), "--save", str(save)]) == 0  # latest: 2568Q4
    out = capsys.readouterr().out
    assert out.startswith("reports up to 2025Q4 received by 2026-02-14")
    st = pd.read_csv(save, dtype={"village_id": str})
    regions = set(project["regions"])
    # pilots of the regions without forms are missing every quarter; the planted missing form too
    others = st[~st["region"].isin(regions)]
    assert (others["status"] == "missing").all() and len(others) == (18 - len(regions)) * 4
    truth = project["mon"].truth
    for r in truth[truth["defect"] == "missing"].to_dict("records"):
        row = st[(st["region"] == r["region"]) & (st["period"] == r["period"])]
        assert list(row["status"]) == ["missing"]
    fixed = truth[truth["defect"].isin(["corrected_resubmission"])]
    for r in fixed.to_dict("records"):
        assert (st[(st["region"] == r["region"]) & (st["period"] == r["period"])]["n_versions"] == 2).all()
    assert "missing" in out and "2568Q4" in out


def test_blank_form_for_a_province(project: dict[str, Any], imported: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    vill = pd.read_parquet(project["paths"].processed / "villages.parquet")
    pilot = vill[vill["arm"] == "pilot"].iloc[0]
    dest = project["root"] / "forms"
    assert main(["monitor", "form", "--root", str(project["root"]), "--period", "2569Q3",
                 "--province", str(pilot["province_code"]), "--dest", str(dest), "-q"]) == 0
    (f,) = sorted(dest.glob("*.xlsx"))
    assert f.name == f"form_r{int(pilot['region']):02d}_p{pilot['province_code']}_2569Q3.xlsx"
    wb = load_workbook(f, read_only=True)
    lists = [r[0] for r in wb["lists"].iter_rows(min_row=2, max_col=1, values_only=True) if r[0]]
    assert any(str(x).startswith(str(pilot["village_id"])) for x in lists)
    assert main(["monitor", "form", "--root", str(project["root"]), "--period", "2569Q3", "--province", "99"]) == 2


def test_progress_tables_reach_the_report_content(project: dict[str, Any], imported: dict[str, Any]) -> None:
    from welfare_eval.report import funds_content as FU
    from welfare_eval.report.data import ReportData

    paths = project["paths"]
    tabs = pipeline._progress_tables(paths, None, pipeline.project_plan(paths))
    assert set(tabs) == {"progress_villages", "progress_regions", "progress_trends", "progress_submissions",
                         "progress_info"}
    d = ReportData(results=tabs)
    text = FU.progress_markdown(d, "th")
    assert "2568Q4" in text and "data/monitor.sqlite" in text
    assert len(FU.progress_regions_display(d, "th")) == 18
    late = FU.progress_late_display(d, "en")
    assert len(late) and set(late.columns) >= {"Quarter", "Status"}
    assert "no quarterly reports" in FU.progress_markdown(ReportData(results={}), "en")


def test_demo_forms_never_overwrite_a_users_files(tmp_path: Path) -> None:
    paths = pipeline.Paths.from_root(tmp_path, quiet=True)
    paths.monitoring.mkdir(parents=True)
    (paths.monitoring / "form_r01_2025Q1.xlsx").write_bytes(b"a province's form")
    with pytest.raises(FileExistsError, match="not a form welfare_eval generated"):
        pipeline.simulate(paths)


# --------------------------------------------------------------------------------------------------
# PostgreSQL: the same commands by URL give the same progress report
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    cl, reason = pg_cluster.start()
    if cl is None:
        pytest.skip(f"PostgreSQL case skipped: {reason} (set WELFARE_EVAL_TEST_PG_URL or install postgresql)")
    name = f"wecli_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(cl.url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    eng.dispose()
    yield sa.make_url(cl.url).set(database=name).render_as_string(hide_password=False)
    cl.stop()


def test_postgresql_store_by_url_gives_the_same_report(project: dict[str, Any], imported: dict[str, Any],
                                                       pg_url: str, tmp_path: Path) -> None:
    root = project["root"]
    assert main(["monitor", "import", "--root", str(root), "--db", pg_url, "-q",
                 "--report", str(tmp_path / "pg_import.xlsx")]) == 2  # the same planted rejection
    assert _counts(pg_url) == imported["counts"]
    sqlite_html = (root / "reports" / "progress_2568Q4.html")
    if not sqlite_html.is_file():
        assert main(["progress", "--root", str(root), "--period", "2568Q4", "-q"]) == 0
    want = sqlite_html.read_bytes()
    pg_reports = tmp_path / "pg_reports"
    assert main(["progress", "--root", str(root), "--reports", str(pg_reports), "--db", pg_url, "--period", "2568Q4",
                 "-q"]) == 0
    assert (pg_reports / "progress_2568Q4.html").read_bytes() == want
