"""The ``welfare-eval`` command.

::

    welfare-eval run                 # simulate the demo (only if data/raw is empty), clean, analyse, report
    welfare-eval simulate [--force]  # write the seeded demo study's raw exports
    welfare-eval clean [--raw DIR] [--out DIR] [--regions MAPPING.csv]
    welfare-eval analyze [--plan analysis_plan.yaml]
    welfare-eval report [--engine auto|quarto|builtin] [--lang th|en]
    welfare-eval plan                # print the analysis plan in force (YAML), to copy and edit

User mistakes (a missing file, a bad codebook, an unknown option) end with a one-line error and exit
status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``welfare-eval`` console script."""
    args = build_parser().parse_args(argv)
    import os

    saved = {k: os.environ.get(k) for k in ("WELFARE_EVAL_PROGRESS",)}
    if args.quiet:
        os.environ["WELFARE_EVAL_PROGRESS"] = "0"
    try:
        from welfare_eval import pipeline

        paths = pipeline.Paths.from_root(
            args.root, raw=args.raw, processed=args.processed, reports=args.reports, quiet=args.quiet
        )
        if args.command == "simulate":
            pipeline.simulate(paths, seed=args.seed, force=args.force, plan=args.plan)
        elif args.command == "clean":
            pipeline.clean(paths, regions=args.regions)
        elif args.command == "analyze":
            pipeline.analyze(paths, seed=args.seed, plan=args.plan)
        elif args.command == "report":
            pipeline.report(paths, engine=args.engine, lang=args.lang)
        elif args.command == "run":
            pipeline.run(paths, seed=args.seed, resimulate=args.resimulate, engine=args.engine,
                         regions=args.regions, plan=args.plan, lang=args.lang)
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
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, PermissionError) as exc:
        if args.debug:
            raise
        msg = str(exc).strip().strip("'\"") or type(exc).__name__
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
