"""Monitoring store on SQLite and PostgreSQL: migrations, append-only records, intake of simulated forms,
corrections and "as of" queries, submission status, kill safety, identical results on both databases,
the progress report and the planted welfare-fund truths.

PostgreSQL: the server in ``WELFARE_EVAL_TEST_PG_URL`` (``.ci/start_postgres.sh``), else a throw-away
cluster started from ``/usr/lib/postgresql/*/bin``; the PostgreSQL cases skip only when neither exists.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pg_cluster  # tests/pg_cluster.py (tests/ is on sys.path)
import pytest
import sqlalchemy as sa

from welfare_eval import monitor as M
from welfare_eval.monitor import queries as Q
from welfare_eval.monitor import schema as S

BACKENDS = ("sqlite", "postgresql")


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------
_PG_REASON: list[str] = []


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg_cluster.Cluster | None]:
    cl, reason = pg_cluster.start()
    if cl is None:
        _PG_REASON.append(reason)
        yield None
        return
    yield cl
    cl.stop()


def _skip_pg() -> None:
    why = _PG_REASON[0] if _PG_REASON else "no PostgreSQL server"
    pytest.skip(f"PostgreSQL case skipped: {why} (set WELFARE_EVAL_TEST_PG_URL or install postgresql)")


def _new_url(backend: str, folder: Path, server: pg_cluster.Cluster | None) -> str:
    if backend == "sqlite":
        return str(folder / f"monitor_{uuid.uuid4().hex[:8]}.sqlite")
    if server is None:
        _skip_pg()
    name = f"wetest_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(server.url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    eng.dispose()
    return sa.make_url(server.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def demo(clean_demo: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Forms of 2025 for six regions (the two planted pilots' among them), written once."""
    from welfare_eval.simulate.monitoring import MonitoringConfig, simulate_monitoring, write_monitoring_forms

    study = clean_demo.study
    fw = study.fieldwork
    planted = study.truth.funds.loc[study.truth.funds["planted_exhaustion"], "village_id"].astype(str).tolist()
    reg = fw.villages.set_index("village_id")["region"].astype(int)
    regions = sorted({int(reg[v]) for v in planted} | {1, 2, 3, 4})
    cfg = MonitoringConfig(first_year=2025, last_year=2025, regions=tuple(regions), share_rounding=1)
    mon = simulate_monitoring(study, config=cfg)
    folder = tmp_path_factory.mktemp("forms")
    paths = write_monitoring_forms(mon, folder)
    return {"study": study, "mon": mon, "folder": folder, "paths": paths, "planted": planted, "regions": regions}


RULES = M.IntakeRules(first_period="2566Q1", last_period="2570Q4")


@pytest.fixture(scope="module")
def stores(demo: dict[str, Any], pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same forms imported into a SQLite file and into PostgreSQL (when available)."""
    out: dict[str, Any] = {}
    folder = tmp_path_factory.mktemp("stores")
    for backend in BACKENDS:
        if backend == "postgresql" and pg_server is None:
            continue
        url = _new_url(backend, folder, pg_server)
        db = M.MonitorDB.open(url)
        db.register_villages(demo["mon"].villages)
        receipts = M.read_receipts(demo["folder"] / "receipts.csv")
        assert receipts == demo["mon"].received_on()
        batch = M.import_forms(db, demo["folder"], received_on=receipts, rules=RULES)
        out[backend] = {"db": db, "url": url, "batch": batch}
    return out


def _store(stores: dict[str, Any], backend: str) -> dict[str, Any]:
    if backend not in stores:
        _skip_pg()
    return stores[backend]  # type: ignore[no-any-return]


def _counts(db: M.MonitorDB) -> dict[str, int]:
    with db.engine.connect() as c:
        return {t: int(c.execute(sa.select(sa.func.count()).select_from(S.metadata.tables[t])).scalar_one())
                for t in S.APPEND_ONLY_TABLES}


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_schema_module(backend: str, stores: dict[str, Any]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = _store(stores, backend)["db"]
    assert M.current_revision(db.engine) == "0001"
    with db.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"version_table": S.VERSION_TABLE}), S.metadata)
    assert diff == []
    M.upgrade(db.engine)  # idempotent
    assert M.current_revision(db.engine) == "0001"


@pytest.mark.parametrize("backend", BACKENDS)
def test_records_are_append_only(backend: str, stores: dict[str, Any]) -> None:
    db = _store(stores, backend)["db"]
    before = _counts(db)
    for stmt in ("UPDATE payout SET amount = 0", "DELETE FROM fund_balance", "UPDATE village SET region = 99",
                 "DELETE FROM submission"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.engine.begin() as c:
            c.execute(sa.text(stmt))
    assert _counts(db) == before


# --------------------------------------------------------------------------------------------------
# Intake
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_statuses_follow_the_planted_deliveries(backend: str, stores: dict[str, Any], demo: dict[str, Any]) -> None:
    batch = _store(stores, backend)["batch"]
    dl = demo["mon"].deliveries
    t = batch.tidy().merge(dl[["file", "kind"]], on="file", validate="1:1")
    want = {"original": "accepted", "fixed": "accepted", "correction": "correction", "duplicate": "duplicate_file",
            "rejected": "rejected"}
    assert (t["status"] == t["kind"].map(want)).all(), t[["file", "kind", "status"]]
    rej = batch.rejections()
    assert len(rej) == 1
    r = rej.iloc[0]
    assert r["sheet"].startswith("9 ") and r["row"] == 5 and r["column"] == "E (closing)"
    assert "not the closing balance" in r["reason"]
    w = batch.warnings()
    assert w["reason"].str.contains("99.8%").sum() == 1
    assert set(batch.duplicates()["file"]) == set(dl.loc[dl["kind"] == "duplicate", "file"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_reimport_changes_nothing(backend: str, stores: dict[str, Any], demo: dict[str, Any], tmp_path: Path) -> None:
    db = _store(stores, backend)["db"]
    before = _counts(db)
    first = demo["paths"][0]
    assert M.import_form(db, first, received_on=dt.date(2026, 6, 1), rules=RULES).status == "duplicate_file"
    # the same content in a different file (re-saved, another submitter) is a duplicate too
    c = demo["mon"].content(first.name)
    c2 = M.FormContent(dict(c.header, office="another office", submitted_on=dt.date(2026, 5, 1)), c.sections)
    vil = demo["mon"].villages
    p = M.write_form(tmp_path / "resaved.xlsx", region=c.header["region"],
                     villages=vil[vil["region"] == c.header["region"]], content=c2)
    res = M.import_form(db, p, received_on=dt.date(2026, 6, 1), rules=RULES)
    assert res.status == "duplicate_content" and res.submission_id is not None
    assert _counts(db) == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_bad_cell_rejects_the_whole_form(backend: str, stores: dict[str, Any], demo: dict[str, Any],
                                             tmp_path: Path) -> None:
    from openpyxl import load_workbook

    db = _store(stores, backend)["db"]
    before = _counts(db)
    src = next(p for p in demo["paths"] if p.name.endswith("Q3.xlsx"))
    p = tmp_path / "bad.xlsx"
    shutil.copy(src, p)
    wb = load_workbook(p)
    ws = next(w for w in wb.worksheets if w.title.startswith("5 "))
    ws["C6"] = -3  # members of the second organisation
    wb.save(p)
    res = M.import_form(db, p, received_on=dt.date(2026, 6, 1), rules=RULES)
    assert res.status == "rejected" and res.submission_id is None
    r = res.rejections.iloc[0]
    assert (r["sheet"].split(" ")[0], r["row"], r["column"]) == ("5", 6, "C (members)")
    assert _counts(db) == before
    back = pd.read_csv(res.write_report(tmp_path / "rej.csv"), encoding="utf-8-sig")
    assert list(back.columns) == ["file", "sheet", "row", "column", "value", "reason"] and len(back) == 1
    assert res.write_report(tmp_path / "rej.xlsx").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_level_checks(backend: str, stores: dict[str, Any], demo: dict[str, Any], tmp_path: Path) -> None:
    db = _store(stores, backend)["db"]
    before = _counts(db)
    vil = demo["mon"].villages
    c = demo["mon"].content(demo["paths"][0].name)
    reg = int(c.header["region"])
    write = lambda name, content: M.write_form(tmp_path / name, region=reg, villages=vil[vil["region"] == reg],  # noqa: E731
                                               content=content)
    # a changed version (so that it is not a duplicate)
    c3 = M.FormContent(dict(c.header), {k: v.copy() for k, v in c.sections.items()})
    c3.sections["members"].loc[c3.sections["members"].index[0], "members"] += 1
    p3 = write("changed.xlsx", c3)
    # period outside the monitored range
    res = M.import_form(db, p3, received_on=dt.date(2026, 6, 1), rules=M.IntakeRules(first_period="2569Q1"))
    assert res.status == "rejected" and "before the first monitored period" in res.rejections["reason"].iloc[0]
    assert res.rejections["sheet"].iloc[0].startswith("1 ")
    # received before the quarter began
    res = M.import_form(db, p3, received_on=c.period.start - dt.timedelta(days=1), rules=RULES)
    assert any("had not begun" in x for x in res.rejections["reason"])
    # received before the version already stored
    res = M.import_form(db, p3, received_on=c.period.end + dt.timedelta(days=1), rules=RULES)
    assert res.status == "rejected" and any("received later" in x for x in res.rejections["reason"])
    # a village of another region
    other = vil[vil["region"] != reg].iloc[0]
    c4 = M.FormContent(dict(c.header), {k: v.copy() for k, v in c.sections.items()})
    for k, df in c4.sections.items():
        if "village" in df.columns:
            c4.sections[k] = df.assign(village=str(other["village_id"]))
    p = M.write_form(tmp_path / "other.xlsx", region=reg, villages=vil, content=c4)
    res = M.import_form(db, p, received_on=dt.date(2026, 6, 1), rules=RULES)
    assert res.status == "rejected" and f"is in region {other['region']}" in res.rejections["reason"].iloc[0]
    assert _counts(db) == before


# --------------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_correction_supersedes_and_as_of_reproduces_the_past(backend: str, stores: dict[str, Any],
                                                             demo: dict[str, Any]) -> None:
    db = _store(stores, backend)["db"]
    dl = demo["mon"].deliveries
    corr = dl[dl["kind"] == "correction"].iloc[0]
    orig = dl[(dl["region"] == corr["region"]) & (dl["period"] == corr["period"]) & (dl["kind"] == "original")].iloc[0]
    v = demo["mon"].villages.set_index("region").loc[int(corr["region"]), "village_id"]
    wrong = demo["mon"].content(orig["file"]).sections["payouts"]
    right = demo["mon"].content(corr["file"]).sections["payouts"]
    before = Q.current(db, "payout", as_of=orig["received_on"], village=v, period=corr["period"])
    after = Q.current(db, "payout", as_of=corr["received_on"], village=v, period=corr["period"])
    latest = Q.current(db, "payout", village=v, period=corr["period"])
    assert sorted(before["amount"]) == sorted(wrong["amount"])
    assert sorted(after["amount"]) == sorted(right["amount"]) == sorted(latest["amount"])
    assert after["supersedes_id"].notna().all() and set(after["supersedes_id"]) == set(before["id"])
    h = Q.history(db, "payout", village=v, period=corr["period"])
    assert h["superseded"].sum() == len(before) and (~h["superseded"]).sum() == len(after)
    tr = Q.trace(db, "payout", int(after["id"].iloc[0]))
    assert tr["file_name"] == corr["file"] and tr["received_on"] == corr["received_on"]
    assert Q.current(db, "payout", as_of=orig["received_on"] - dt.timedelta(days=1), village=v,
                     period=corr["period"]).empty


@pytest.mark.parametrize("backend", BACKENDS)
def test_submission_status_lists_late_and_missing(backend: str, stores: dict[str, Any], demo: dict[str, Any]) -> None:
    db = _store(stores, backend)["db"]
    st = Q.submission_status(db, through="2025Q4", as_of="2026-06-30")
    truth = demo["mon"].truth
    late = set(truth.loc[truth["defect"] == "late_province", "region"])
    missing = {(int(r), p) for r, p in zip(truth.loc[truth["defect"] == "missing", "region"],
                                          truth.loc[truth["defect"] == "missing", "period"], strict=True)}
    got_missing = {(int(r), p) for r, p in zip(st.loc[st["status"] == "missing", "region"],
                                              st.loc[st["status"] == "missing", "period"], strict=True)}
    assert got_missing == missing
    lr = st[st["region"].isin(late) & (st["status"] != "missing")]
    assert len(lr) and (lr["status"] == "late").all() and (lr["days_late"] > 0).all()
    other = st[~st["region"].isin(late) & (st["status"] != "missing")]
    assert (other["status"] == "on_time").all()
    corr = demo["mon"].deliveries.query("kind == 'correction'").iloc[0]
    row = st[(st["region"] == corr["region"]) & (st["period"] == corr["period"])].iloc[0]
    assert row["n_versions"] == 2
    # before the due date nothing is missing yet
    early = Q.submission_status(db, through="2025Q4", as_of="2026-01-05")
    q4 = early[early["period"] == "2025Q4"]
    assert set(q4["status"]) <= {"pending", "on_time"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_fund_identity_holds_for_every_village_quarter(backend: str, stores: dict[str, Any],
                                                       demo: dict[str, Any]) -> None:
    import welfare_eval.funds as F

    db = _store(stores, backend)["db"]
    f = Q.current(db, "fund_balance")
    assert len(f) > 0
    assert F.check_identity(f, time="period", opening="opening", income="income", payouts="payouts",
                            closing="closing", tolerance=0.005).empty
    # the four quarters add up to the savings-group panel's year
    a = demo["study"].fieldwork.admin
    yr = f.groupby(["village_id", "year"]).agg(payouts=("payouts", "sum"), income=("income", "sum"), n=("period", "size"))
    yr = yr[yr["n"] == 4].reset_index().merge(a, on=["village_id", "year"])
    assert len(yr) >= 3
    np.testing.assert_allclose(yr["payouts"], yr["welfare_payout"], atol=0.01)
    np.testing.assert_allclose(yr["income"], yr["fund_income"], atol=0.01)
    # narratives were scrubbed before storage
    n = Q.current(db, "narrative")
    assert not n["text"].str.contains(r"\d{3}[ -]?\d{3}[ -]?\d{4}").any()


def test_sqlite_and_postgresql_give_identical_results(stores: dict[str, Any]) -> None:
    a, b = _store(stores, "sqlite")["db"], _store(stores, "postgresql")["db"]
    for t in ("village_period", *S.FIGURE_TABLES):
        for as_of in (None, "2025Q2", dt.date(2026, 2, 10)):
            pd.testing.assert_frame_equal(Q.current(a, t, as_of=as_of), Q.current(b, t, as_of=as_of), obj=f"{t} {as_of}")
        pd.testing.assert_frame_equal(Q.history(a, t), Q.history(b, t), obj=f"history {t}")
    pd.testing.assert_frame_equal(Q.submissions(a), Q.submissions(b))
    pd.testing.assert_frame_equal(Q.submission_status(a, through="2025Q4"), Q.submission_status(b, through="2025Q4"))
    pd.testing.assert_frame_equal(Q.panel(a), Q.panel(b))
    pd.testing.assert_frame_equal(a.villages(), b.villages())
    assert M.build_progress_report(a, "2568Q4").html() == M.build_progress_report(b, "2568Q4").html()


# --------------------------------------------------------------------------------------------------
# Kill safety
# --------------------------------------------------------------------------------------------------
_KILL_SCRIPT = textwrap.dedent(
    """
    import datetime as dt, sys, time
    import sqlalchemy as sa
    from welfare_eval.monitor import MonitorDB, import_form
    db = MonitorDB.open(sys.argv[1])

    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def _pause(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO FUND_BALANCE"):
            open(sys.argv[3], "w").write("inserting")
            time.sleep(120)

    import_form(db, sys.argv[2], received_on=dt.date(2026, 6, 1))
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_half_written_after_a_kill(backend: str, demo: dict[str, Any], pg_server: Any, tmp_path: Path) -> None:
    url = _new_url(backend, tmp_path, pg_server)
    db = M.MonitorDB.open(url)
    db.register_villages(demo["mon"].villages)
    form = demo["paths"][0]
    before = _counts(db)
    marker = tmp_path / "marker"
    script = tmp_path / "kill_me.py"
    script.write_text(_KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, str(script), url, str(form), str(marker)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"import finished before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the import never reached the fund_balance insert")
        time.sleep(0.05)
    proc.kill()  # SIGKILL in the middle of the transaction (village_period and payouts already inserted)
    proc.wait(timeout=30)
    db.dispose()
    db = M.MonitorDB.open(url)
    assert _counts(db) == before
    if backend == "sqlite":
        with db.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    res = M.import_form(db, form, received_on=dt.date(2026, 6, 1), rules=RULES)
    assert res.status == "accepted"
    after = _counts(db)
    assert after["submission"] == before["submission"] + 1 and after["fund_balance"] == before["fund_balance"] + 1
    db.dispose()


# --------------------------------------------------------------------------------------------------
# Progress report
# --------------------------------------------------------------------------------------------------
def test_progress_report(stores: dict[str, Any], demo: dict[str, Any], tmp_path: Path) -> None:
    db = _store(stores, "sqlite")["db"]
    rep = M.build_progress_report(db, "2568Q4")
    assert rep.period == M.Period(2025, 4) and rep.as_of == dt.date(2026, 2, 14)
    rep_ce = M.build_progress_report(db, "2025Q4")  # B.E. and C.E. are the same report
    assert rep_ce.html() == rep.html()
    v = rep.tidy()
    assert len(v) == len(demo["regions"]) and v["overall"].isin(["green", "amber", "red", "grey"]).all()
    planted = v[v["village_id"].isin(demo["planted"])]
    assert (planted["light_reserve"] != "green").all()  # both planted funds are running down
    f = Q.current(db, "fund_balance", through="2025Q4").set_index(["village_id", "period"])
    for p in demo["planted"]:
        assert f.loc[(p, "2025Q4"), "closing"] < f.loc[(p, "2025Q1"), "opening"]
    truth = demo["mon"].truth
    late = set(truth.loc[truth["defect"] == "late_province", "region"])
    assert set(rep.submissions.loc[rep.submissions["status"] == "late", "region"]) == late
    html = rep.html()
    assert html.startswith("<!DOCTYPE html>") and "รายงานความก้าวหน้า" in html and "<svg" in html
    for ext in ('src="http', "src='http", 'href="http', "url(http", "@import", "<script", "<link"):
        assert ext not in html, ext
    p1 = rep.write_html(tmp_path / "a.html")
    x1 = rep.write_xlsx(tmp_path / "a.xlsx")
    assert x1.read_bytes() == rep_ce.write_xlsx(tmp_path / "b.xlsx").read_bytes()
    assert p1.read_bytes() == (tmp_path / "a.html").read_bytes()


def test_report_of_a_past_period_is_byte_identical_later(stores: dict[str, Any], demo: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """Rebuilt after a correction arrives later (and after a village with a hostile name is added), the
    report on a past period is the same bytes; user text is escaped."""
    first = M.build_progress_report(_store(stores, "sqlite")["db"], "2568Q2").html()
    shutil.copy(_store(stores, "sqlite")["url"], tmp_path / "m.sqlite")  # a copy of the store to change
    db = M.MonitorDB.open(tmp_path / "m.sqlite")
    mon = demo["mon"]
    assert M.build_progress_report(db, "2568Q2").html() == first
    # a correction of 2025Q2 received after the report's cut-off
    c = mon.content(next(f for f in mon.deliveries["file"] if "2025Q2" in f and "_" not in f.split("2025Q2")[1][:1]))
    c2 = M.FormContent(dict(c.header), {k: v.copy() for k, v in c.sections.items()})
    c2.sections["members"].loc[c2.sections["members"].index[0], "members"] += 7
    reg = int(c.header["region"])
    p = M.write_form(tmp_path / "late_fix.xlsx", region=reg, villages=mon.villages[mon.villages["region"] == reg],
                     content=c2)
    assert M.import_form(db, p, received_on=dt.date(2025, 12, 1), rules=RULES).status == "correction"
    # and after a village with a hostile name is registered from a later period on
    code = str(mon.villages.loc[mon.villages["region"] == reg, "village_id"].iloc[0])[:6] + "99"
    db.register_villages(pd.DataFrame({"village_id": [code], "region": [reg], "province_code": [code[:2]],
                                       "village_name": ["<script>alert('x')</script>"], "first_period": ["2568Q3"]}))
    assert M.build_progress_report(db, "2568Q2").html() == first
    # with a later cut-off the correction counts
    v = str(c.sections["villages"]["village"].iloc[0])
    org = str(c2.sections["members"]["organisation"].iloc[0])

    def m(as_of: str) -> int:
        cur = Q.current(db, "membership", as_of=as_of, village=v, period="2568Q2")
        return int(cur.loc[cur["organisation"] == org, "members"].iloc[0])

    assert m("2025-12-31") == m("2568Q2") + 7
    # user text is HTML-escaped
    html = M.build_progress_report(db, "2568Q3").html()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


# --------------------------------------------------------------------------------------------------
# Planted welfare-fund truths
# --------------------------------------------------------------------------------------------------
def test_planted_exhausting_villages_are_flagged_from_the_store(stores: dict[str, Any], demo: dict[str, Any]) -> None:
    """From the monitoring store alone: balance, profit and allocation (Q4), other income, and demand =
    the cases and amounts paid in the last four quarters for the welfare types in force → the two
    planted pilots are the funds expected to be exhausted."""
    import welfare_eval.funds as F

    db = _store(stores, "sqlite")["db"]
    fund = Q.current(db, "fund_balance", through="2025Q4")
    last = fund.sort_values(["village_id", "year", "quarter"]).groupby("village_id").tail(1).set_index("village_id")
    alloc = Q.current(db, "allocation", through="2025Q4")
    prof = Q.current(db, "profit", through="2025Q4").groupby("village_id").tail(1).set_index("village_id")
    wel = alloc[alloc["category"] == "welfare"].groupby("village_id").tail(1).set_index("village_id")
    inc = fund[fund["year"] == 2025].groupby("village_id")["income"].sum()
    funds = pd.DataFrame({
        "village_id": last.index,
        "balance": last["closing"].to_numpy(),
        "profit": prof.loc[last.index, "profit"].to_numpy(),
        "welfare_share": wel.loc[last.index, "share_pct"].to_numpy(),
        "other_income": (inc.loc[last.index] - wel.loc[last.index, "amount"]).to_numpy(),
    })
    pay = Q.current(db, "payout", through="2025Q4")
    pay = pay[pay["year"] == 2025]
    rules = Q.current(db, "welfare_rule", period="2025Q4").rename(columns={"benefit_amount": "amount",
                                                                           "benefit_basis": "basis"})
    demand = F.demand_from_history(pay, rules=rules, amount="paid")
    proj = F.project_funds(funds, demand, draws=1000, seed=1,
                           scenario=F.Scenario(profit_growth=0.03, member_growth=0.03))
    t = proj.tidy().set_index("village_id")
    # the planted pilots, and only they, are expected to run dry; a fund whose 2025 payouts about equal
    # its income with about a year of reserve may be "at risk" (one year of data is noisy)
    assert sorted(t.index[t["status"] == "exhausted"]) == sorted(demo["planted"])
    assert (t["p_exhausted"].drop(demo["planted"]) < 0.5).all()
    assert (t.loc[demo["planted"], "sustainable_scale"] < 1).all()


def test_forms_of_years_before_the_start_are_valid(demo: dict[str, Any], tmp_path: Path) -> None:
    """The simulator's forms of a year before the pilot start (phase 'before') pass every check."""
    from welfare_eval.simulate.monitoring import MonitoringConfig, simulate_monitoring, write_monitoring_forms

    start = int(demo["study"].truth.start_year)
    cfg = MonitoringConfig(first_year=start - 2, last_year=start - 2, regions=(1,), corrected=0, duplicates=0,
                           rejected=0, missing=0, share_rounding=0, late_regions=0)
    mon = simulate_monitoring(demo["study"], config=cfg)
    write_monitoring_forms(mon, tmp_path)
    db = M.MonitorDB.open(tmp_path / "m.sqlite")
    db.register_villages(mon.villages)
    b = M.import_forms(db, tmp_path, received_on=M.read_receipts(tmp_path / "receipts.csv"),
                       rules=M.IntakeRules(first_period=f"{start - 2}Q1"))
    assert b.counts()["accepted"] == 4, b.rejections().to_string()
    assert set(Q.current(db, "village_period")["phase"]) == {"before"}
