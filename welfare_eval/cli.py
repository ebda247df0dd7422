"""The ``welfare-eval`` command.

::

    welfare-eval run                 # simulate the demo (only if data/raw is empty), clean, analyse, report
    welfare-eval simulate [--force]  # write the seeded demo study's raw exports
    welfare-eval clean [--raw DIR] [--out DIR]
    welfare-eval analyze
    welfare-eval report [--engine auto|quarto|builtin]

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

DEFAULT_SEED = 2568


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
    common.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    common.add_argument("--regions", type=Path, default=None, help="CSV mapping provinces to inspection regions")
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
    sub.add_parser("clean", parents=[common], help="raw exports → validated, de-identified processed tables")
    sub.add_parser("analyze", parents=[common], help="matching, balance, weights and effect estimates")
    r = sub.add_parser("report", parents=[common], help="render reports/final_report.qmd to HTML")
    r.add_argument("--engine", choices=("auto", "quarto", "builtin"), default="auto")
    run = sub.add_parser("run", parents=[common], help="the whole job: [simulate] → clean → analyze → report")
    run.add_argument("--resimulate", action="store_true", help="regenerate the demo raw data first")
    run.add_argument("--engine", choices=("auto", "quarto", "builtin"), default="auto")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``welfare-eval`` console script."""
    args = build_parser().parse_args(argv)
    import os

    saved = {k: os.environ.get(k) for k in ("WELFARE_EVAL_PROGRESS", "WELFARE_EVAL_QUIET")}
    if args.quiet:
        os.environ["WELFARE_EVAL_PROGRESS"] = "0"
        os.environ["WELFARE_EVAL_QUIET"] = "1"
    try:
        from welfare_eval import pipeline
        from welfare_eval.reference import set_region_scheme

        if args.regions is not None:
            set_region_scheme(args.regions)
        paths = pipeline.Paths.from_root(
            args.root, raw=args.raw, processed=args.processed, reports=args.reports
        )
        if args.command == "simulate":
            pipeline.simulate(paths, seed=args.seed, force=args.force)
        elif args.command == "clean":
            pipeline.clean(paths)
        elif args.command == "analyze":
            pipeline.analyze(paths, seed=args.seed)
        elif args.command == "report":
            pipeline.report(paths, engine=args.engine)
        elif args.command == "run":
            pipeline.run(paths, seed=args.seed, resimulate=args.resimulate, engine=args.engine)
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
