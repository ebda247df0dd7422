"""Reporting: Thai-capable figures, publication tables with disclosure control, report rendering.

* :func:`render` turns ``reports/*.qmd`` into one self-contained HTML file, with Quarto when it is
  installed and otherwise with the built-in Jupyter (``nbclient``) + pandoc (``pypandoc-binary``) path;
* :func:`check_self_contained` lists remote URLs a report would fetch;
* :mod:`~welfare_eval.report.figures` (Thai font, style), :mod:`~welfare_eval.report.tables`
  (small-cell suppression, formatting), :mod:`~welfare_eval.report.provenance` (versions, hashes).

Command line: ``python -m welfare_eval.report reports/final_report.qmd``.
"""

from __future__ import annotations

from welfare_eval.report import figures, provenance, tables
from welfare_eval.report._render import RenderError, ReportKernel, default_output, render, start_kernel
from welfare_eval.report._selfcontained import check_self_contained

__all__ = [
    "RenderError",
    "ReportKernel",
    "check_self_contained",
    "default_output",
    "figures",
    "provenance",
    "render",
    "start_kernel",
    "tables",
]
