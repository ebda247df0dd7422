"""Benchmark: monitoring intake and progress report, SQLite and PostgreSQL.

Simulates the demo study (seed 2568), writes the quarterly forms of 18 regions × 4 quarters × 5 years
(the pilot's start year − 2 to + 2; 360 forms plus the planted resubmissions), then for each database
times: the import of all forms (one transaction per form), re-importing them all (every file a
duplicate: the idempotency check), the progress report of the last quarter (tables + figures + HTML),
and its XLSX. PostgreSQL: ``WELFARE_EVAL_TEST_PG_URL`` or a throw-away cluster from
``/usr/lib/postgresql/*/bin`` (skipped with a message when neither exists).

Usage: .venv/bin/python benchmarks/bench_monitor.py [--years 5] [--regions 18] [--backends sqlite,postgresql]
Speed is measured here, never in unit tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import sqlalchemy as sa  # noqa: E402

from welfare_eval import monitor as M  # noqa: E402
from welfare_eval.simulate import simulate_study  # noqa: E402
from welfare_eval.simulate.monitoring import MonitoringConfig, simulate_monitoring, write_monitoring_forms  # noqa: E402


def _pg_url() -> tuple[str | None, object | None]:
    import pg_cluster

    cl, reason = pg_cluster.start()
    if cl is None:
        print(f"  postgresql: skipped ({reason})")
        return None, None
    name = f"bench_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(cl.url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    eng.dispose()
    return sa.make_url(cl.url).set(database=name).render_as_string(hide_password=False), cl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--regions", type=int, default=18)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    t0 = time.perf_counter()
    study = simulate_study(seed=2568)
    start = int(study.truth.start_year)
    y0 = start + 2 - (args.years - 1)
    cfg = MonitoringConfig(first_year=y0, last_year=start + 2, regions=tuple(range(1, args.regions + 1)))
    mon = simulate_monitoring(study, config=cfg)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        forms = Path(tmp) / "forms"
        t0 = time.perf_counter()
        paths = write_monitoring_forms(mon, forms)
        t_write = time.perf_counter() - t0
        n = len(paths)
        print(f"{args.regions} regions × 4 quarters × {args.years} years: {n} files "
              f"({len(mon.forms)} region-quarters + resubmissions/duplicates/rejected, 1 missing)")
        print(f"  simulate study + forms content   {t_sim:8.2f} s")
        print(f"  write forms (openpyxl)           {t_write:8.2f} s   ({1000 * t_write / n:.0f} ms/form)")
        rules = M.IntakeRules(first_period=f"{y0}Q1", last_period=f"{start + 2}Q4")
        last = f"{start + 2}Q4"
        for backend in args.backends.split(","):
            cluster = None
            if backend == "sqlite":
                url: str | None = str(Path(tmp) / "monitor.sqlite")
            else:
                url, cluster = _pg_url()
                if url is None:
                    continue
            try:
                db = M.MonitorDB.open(url)
                db.register_villages(mon.villages)
                t0 = time.perf_counter()
                batch = M.import_forms(db, forms, received_on=mon.received_on(), rules=rules)
                t_imp = time.perf_counter() - t0
                t0 = time.perf_counter()
                again = M.import_forms(db, forms, received_on=mon.received_on(), rules=rules)
                t_again = time.perf_counter() - t0
                t0 = time.perf_counter()
                rep = M.build_progress_report(db, last)
                html = rep.html()
                t_rep = time.perf_counter() - t0
                t0 = time.perf_counter()
                rep.write_xlsx(Path(tmp) / f"progress_{backend}.xlsx")
                t_xlsx = time.perf_counter() - t0
                c = batch.counts()
                assert set(again.counts()) and again.counts()["accepted"] == 0
                print(f"  {backend}:")
                print(f"    import {n} files                {t_imp:8.2f} s   ({1000 * t_imp / n:.0f} ms/file; "
                      f"{c['accepted']} accepted, {c['correction']} correction, {c['duplicate_file']} duplicate, "
                      f"{c['rejected']} rejected)")
                print(f"    re-import (all duplicates)     {t_again:8.2f} s")
                print(f"    progress report {last} (HTML)  {t_rep:8.2f} s   ({len(html) / 1e3:.0f} kB)")
                print(f"    progress report XLSX           {t_xlsx:8.2f} s")
                db.dispose()
            finally:
                if cluster is not None:
                    cluster.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
