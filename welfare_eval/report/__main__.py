"""Command line: ``python -m welfare_eval.report REPORT.qmd [-o OUT.html] [--engine ...] [-P key=value]
[--profile en] [-M key=value]``.

Renders the report, checks that the HTML is self-contained and prints where it was written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from welfare_eval.report._render import RenderError, render
from welfare_eval.report._selfcontained import check_self_contained


def _param(text: str) -> tuple[str, object]:
    if "=" in text:
        key, val = text.split("=", 1)
    elif ":" in text:
        key, val = text.split(":", 1)
    else:
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like key=value")
    return key.strip(), yaml.safe_load(val)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 1 render failure, 2 not self-contained)."""
    ap = argparse.ArgumentParser(
        prog="python -m welfare_eval.report", description="Render a Quarto report to one HTML file."
    )
    ap.add_argument("qmd", type=Path, help="the .qmd report source")
    ap.add_argument(
        "-o", "--output", type=Path, default=None, help="HTML file to write (default: project output-dir)"
    )
    ap.add_argument("--engine", choices=["auto", "quarto", "builtin"], default="auto")
    ap.add_argument("--execute-dir", type=Path, default=None, help="working directory of the code cells")
    ap.add_argument(
        "-P", "--param", type=_param, action="append", default=[], help="parameter key=value (YAML value)"
    )
    ap.add_argument(
        "--profile", default=None,
        help="Quarto project profile(s), comma-separated (e.g. en: the English edition, _quarto-en.yml)",
    )
    ap.add_argument(
        "-M", "--metadata", type=_param, action="append", default=[],
        help="metadata key=value overriding the project and front matter (Quarto -M)",
    )
    ap.add_argument(
        "--timeout", type=int, default=600, help="seconds per cell (built-in) or per render (Quarto)"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        out = render(
            args.qmd,
            output=args.output,
            engine=args.engine,
            execute_dir=args.execute_dir,
            params=dict(args.param) or None,
            profile=args.profile,
            metadata=dict(args.metadata) or None,
            timeout=args.timeout,
            check=False,
        )
    except (RenderError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bad = check_self_contained(out)
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.2f} MB) in {time.perf_counter() - t0:.1f} s")
    if bad:
        print(f"error: {out} loads {len(bad)} remote resource(s): {', '.join(bad[:5])}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
