"""The ``welfare-eval`` command.

::

    welfare-eval run                 # simulate the demo (only if data/raw is empty), clean, analyse, report
    welfare-eval simulate [--force]  # write the seeded demo study's raw exports (and its quarterly forms)
    welfare-eval clean [--raw DIR] [--out DIR] [--regions MAPPING.csv]
    welfare-eval analyze [--plan analysis_plan.yaml]
    welfare-eval report [--engine auto|quarto|builtin] [--lang th|en]
    welfare-eval plan                # print the analysis plan in force (YAML), to copy and edit

    welfare-eval monitor form --period 2569Q3 [--province 40 | --region 5]   # blank quarterly form(s)
    welfare-eval monitor import [FORMS ...] [--receipts receipts.csv]          # filled forms → the store
    welfare-eval monitor status [--period 2569Q3] [--all]                      # late / missing / resubmitted
    welfare-eval progress --period 2569Q3                                      # the Ministry's progress report

The monitoring store is ``data/monitor.sqlite`` (SQLite, created on first use) unless ``--db`` names another
file or a database URL (``postgresql+psycopg://user@host/dbname``). Periods are quarters in the Buddhist Era
(``2569Q3``) or the Common Era (``2026Q3``).

::

    welfare-eval scaleup simulate [--scale 1.0] [--workers N] [--force]   # national demo data → data/scale
    welfare-eval scaleup estimate [--engine duckdb|spark]                 # cells in the engine → ATT(g,t)
    welfare-eval scaleup report [--renderer auto|quarto|builtin]          # → reports/scaleup_report.html

User mistakes (a missing file, a bad codebook, an unknown option) end with a one-line error and exit
status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from welfare_eval import __version__

__all__ = ["build_parser", "main"]



def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``welfare-eval``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=Path.cwd(), help="project folder (default: current folder)")
    common.add_argument("--raw", type=Path, default=None, help="raw exports folder (default: ROOT/data/raw)")
    common.add_argument(
        "--out", "--processed", dest="processed", type=Path, default=None,
        help="processed tables folder (default: ROOT/data/processed)",
    )
    common.add_argument("--reports", type=Path, default=None, help="reports folder (default: ROOT/reports)")
    common.add_argument("--seed", type=int, default=None, help="random seed (default: the analysis plan's, 2568)")
    common.add_argument(
        "--plan", type=Path, default=None,
        help="analysis plan YAML (default: ROOT/analysis_plan.yaml when it exists, else the packaged plan)",
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    common.add_argument("--debug", action="store_true", help="show tracebacks")

    p = argparse.ArgumentParser(
        prog="welfare-eval",
        description="Evaluation of the Community Welfare pilot (โครงการชุมชนสวัสดิการ). "
        "Options such as --seed and --root go after the command: welfare-eval run --seed 1",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("simulate", parents=[common], help="write the seeded demo study's raw exports")
    s.add_argument(
        "--force", action="store_true",
        help="regenerate demo files welfare_eval wrote before (never touches files a user put there)",
    )
    s.add_argument(
        "--no-monitoring", dest="monitoring", action="store_false",
        help="skip the pilots' quarterly monitoring forms (data/raw/monitoring; ~10 s of the demo's time)",
    )
    c = sub.add_parser("clean", parents=[common], help="raw exports → validated, de-identified processed tables")
    sub.add_parser("analyze", parents=[common], help="matching, balance, weights and effect estimates")
    r = sub.add_parser("report", parents=[common], help="render reports/final_report.qmd to HTML")
    run = sub.add_parser("run", parents=[common], help="the whole job: [simulate] → clean → analyze → report")
    run.add_argument("--resimulate", action="store_true", help="regenerate the demo raw data first")
    for q in (c, run):
        q.add_argument(
            "--regions", type=Path, default=None,
            help="CSV mapping provinces to inspection regions (default: the packaged 2017 scheme); "
            "recorded in the manifest and used by every later step",
        )
    for q in (r, run):
        q.add_argument("--engine", choices=("auto", "quarto", "builtin"), default="auto")
        q.add_argument("--lang", choices=("th", "en"), default="th", help="report edition (default th)")
    sub.add_parser("plan", parents=[common], help="print the analysis plan in force (YAML)")

    db_help = ("monitoring store: a SQLite file or a database URL such as postgresql+psycopg://user@host/dbname "
               "(default: ROOT/data/monitor.sqlite)")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--db", default=None, metavar="PATH_OR_URL", help=db_help)
    for q in (r, run):  # the report shows the store's latest progress tables
        q.add_argument("--db", default=None, metavar="PATH_OR_URL", help=db_help)
    mon = sub.add_parser("monitor", help="quarterly monitoring forms and the monitoring store")
    msub = mon.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    f = msub.add_parser("form", parents=[common, store], help="write blank quarterly form(s) for a period")
    f.add_argument("--period", required=True, help="quarter, e.g. 2569Q3 (B.E.) or 2026Q3 (C.E.)")
    where = f.add_mutually_exclusive_group()
    where.add_argument("--province", default=None, help="only the reporting villages of this province (2-digit code)")
    where.add_argument("--region", type=int, default=None, help="only this inspection region")
    f.add_argument("--dest", type=Path, default=None, help="folder for the forms (default: ROOT/reports/forms)")
    i = msub.add_parser("import", parents=[common, store], help="import filled forms (a folder or files)")
    i.add_argument("forms", nargs="*", type=Path,
                   help="forms or folders of forms (default: ROOT/data/raw/monitoring)")
    i.add_argument("--receipts", type=Path, default=None,
                   help="CSV of receipt dates (file, received_on); default receipts.csv beside the forms")
    i.add_argument("--received-on", default=None, help="date of receipt of the files without one (YYYY-MM-DD)")
    i.add_argument("--report", type=Path, default=None,
                   help="import report (.xlsx or .csv; default ROOT/reports/monitor_import.xlsx)")
    st = msub.add_parser("status", parents=[common, store], help="list late, missing and resubmitted reports")
    st.add_argument("--period", default=None, help="last quarter considered (default: the latest in the store)")
    st.add_argument("--as-of", default=None, help="count what was received by this date (default: the cut-off)")
    st.add_argument("--all", action="store_true", help="also list the reports received on time")
    st.add_argument("--save", type=Path, default=None, help="also write the list to this .csv or .xlsx file")
    pr = sub.add_parser("progress", parents=[common, store],
                        help="the Ministry's progress report of a quarter (Thai HTML + XLSX) from the store")
    pr.add_argument("--period", default="latest", help="quarter, e.g. 2569Q3 or 2026Q3 (default: latest)")
    pr.add_argument("--as-of", default=None, help="data cut-off date (default: the quarter's report cut-off)")
    _scaleup_parser(sub)
    return p


def _monitor(pipeline: Any, paths: Any, args: argparse.Namespace) -> None:
    if args.monitor_command == "form":
        pipeline.monitor_form(paths, period=args.period, region=args.region, province=args.province, out=args.dest,
                              db=args.db, plan=args.plan)
    elif args.monitor_command == "import":
        forms = list(args.forms) if args.forms else None
        pipeline.monitor_import(paths, forms, db=args.db, plan=args.plan, receipts=args.receipts,
                                received_on=args.received_on, report=args.report)
    elif args.monitor_command == "status":
        st = pipeline.monitor_status(paths, period=args.period, as_of=args.as_of, db=args.db, plan=args.plan,
                                     everything=args.all)
        if args.save is not None:
            from welfare_eval._io import write_csv, write_excel

            if args.save.suffix.lower() == ".xlsx":
                write_excel({"status": st}, args.save)
            elif args.save.suffix.lower() == ".csv":
                write_csv(st, args.save)
            else:
                raise ValueError(f"--save {args.save}: write the list as .csv or .xlsx")
        cols = ["period_be", "period", "region", "province_code", "village_id", "status", "due_on",
                "first_received_on", "days_late", "n_versions"]
        head = f"reports up to {st.attrs.get('through')} received by {st.attrs.get('as_of')}"
        if st.empty:
            sys.stdout.write(f"{head}: none late, missing or resubmitted\n")
        else:
            counts = st["status"].value_counts()
            summary = ", ".join(f"{counts[k]} {k}" for k in ("late", "missing", "pending", "on_time") if k in counts)
            resub = int((st["n_versions"] > 1).sum())
            sys.stdout.write(f"{head}: {summary}; {resub} resubmitted or corrected (n_versions > 1)\n")
            sys.stdout.write(st[cols].to_string(index=False) + "\n")


def _scaleup_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``welfare-eval scaleup simulate|estimate|report``: the nationwide expansion (data in ROOT/data/scale)."""
    su = sub.add_parser(
        "scaleup", help="the nationwide expansion: staggered adoption on the national household data",
        description="The nationwide expansion (ขยายผล): household rows of the yearly survey (hive Parquet) and the "
        "village table in ROOT/data/scale, reduced to village × year cells by DuckDB or Spark; group-time effects "
        "ATT(g,t) with uniform bands; a Thai HTML report. Options go after the sub-command.",
    )
    ss = su.add_subparsers(dest="scaleup_command", required=True, metavar="STEP")
    scommon = argparse.ArgumentParser(add_help=False)
    scommon.add_argument("--root", type=Path, default=Path.cwd(), help="project folder (default: current folder)")
    scommon.add_argument("--data", type=Path, default=None, help="national data folder (default: ROOT/data/scale)")
    scommon.add_argument("--reports", type=Path, default=None, help="reports folder (default: ROOT/reports)")
    scommon.add_argument("--seed", type=int, default=None,
                         help="simulate: seed of the national data; estimate: seed of the bootstrap (default: the plan's)")
    scommon.add_argument("--plan", type=Path, default=None,
                         help="analysis plan YAML (default: ROOT/analysis_plan.yaml when it exists, else the packaged plan)")
    scommon.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    scommon.add_argument("--debug", action="store_true", help="show tracebacks")
    sim = ss.add_parser("simulate", parents=[scommon], help="simulate the national demo data (≈ 12 M households a year at --scale 1)")
    sim.add_argument("--scale", type=float, default=1.0,
                     help="1.0 = national (75,000 villages, ≈ 72 M household rows, ≈ 1.3 GB); 0.01 = 750 villages")
    sim.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                     help="processes writing household partitions (the data do not depend on it; default: cores, at most 4)")
    sim.add_argument("--force", action="store_true", help="replace national data welfare_eval simulated before")
    est = ss.add_parser("estimate", parents=[scommon], help="reduce to cells in the engine, estimate, write results")
    est.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                     help="data engine of the reduction (default: the plan's scaleup.engine, duckdb)")
    rep = ss.add_parser("report", parents=[scommon], help="render reports/scaleup_report.qmd to HTML")
    rep.add_argument("--renderer", choices=("auto", "quarto", "builtin"), default="auto",
                     help="report renderer (auto: Quarto when installed, else the built-in one)")


def _run_scaleup(args: argparse.Namespace) -> None:
    from welfare_eval import pipeline

    paths = pipeline.Paths.from_root(args.root, reports=args.reports, quiet=args.quiet, scale=args.data)
    if args.scaleup_command == "simulate":
        if args.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {args.workers}")
        pipeline.scaleup_simulate(paths, scale=args.scale, seed=args.seed, workers=args.workers, force=args.force,
                                  plan=args.plan)
    elif args.scaleup_command == "estimate":
        pipeline.scaleup_estimate(paths, engine=args.engine, seed=args.seed, plan=args.plan)
    else:
        pipeline.scaleup_report(paths, renderer=args.renderer)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's to fix: one line on standard error, exit status 2."""
    from welfare_eval.scale import EngineUnavailableError

    return (ValueError, FileNotFoundError, FileExistsError, KeyError, PermissionError, EngineUnavailableError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``welfare-eval`` console script."""
    args = build_parser().parse_args(argv)

    saved = {k: os.environ.get(k) for k in ("WELFARE_EVAL_PROGRESS",)}
    if args.quiet:
        os.environ["WELFARE_EVAL_PROGRESS"] = "0"
    try:
        from welfare_eval import pipeline

        if args.command == "scaleup":
            _run_scaleup(args)
            return 0

        paths = pipeline.Paths.from_root(
            args.root, raw=args.raw, processed=args.processed, reports=args.reports, quiet=args.quiet
        )
        if args.command == "simulate":
            pipeline.simulate(paths, seed=args.seed, force=args.force, plan=args.plan, monitoring=args.monitoring)
        elif args.command == "clean":
            pipeline.clean(paths, regions=args.regions, plan=args.plan)
        elif args.command == "analyze":
            pipeline.analyze(paths, seed=args.seed, plan=args.plan)
        elif args.command == "report":
            pipeline.report(paths, engine=args.engine, lang=args.lang, db=args.db)
        elif args.command == "run":
            pipeline.run(paths, seed=args.seed, resimulate=args.resimulate, engine=args.engine,
                         regions=args.regions, plan=args.plan, lang=args.lang, db=args.db)
        elif args.command == "monitor":
            _monitor(pipeline, paths, args)
        elif args.command == "progress":
            pipeline.progress(paths, period=args.period, as_of=args.as_of, db=args.db, plan=args.plan)
        elif args.command == "plan":
            from welfare_eval.study import default_plan_text

            the_plan = pipeline.project_plan(paths, args.plan)
            if the_plan.source == "package default plan":
                sys.stdout.write(default_plan_text())
            else:
                sys.stdout.write(f"# analysis plan from {the_plan.source}\n" + the_plan.to_yaml())
    except KeyboardInterrupt:  # pragma: no cover
        print("welfare-eval: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        if args.debug:
            raise
        msg = str(exc).strip()
        if isinstance(exc, KeyError) and len(msg) >= 2 and msg[0] == msg[-1] and msg[0] in "'\"":
            msg = msg[1:-1]  # str(KeyError) quotes its message
        msg = msg or type(exc).__name__
        print(f"welfare-eval: error: {msg}", file=sys.stderr)
        print("(run again with --debug for the full traceback)", file=sys.stderr)
        return 2
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
