"""Monitoring store of the programme's quarterly progress: schema, intake of Excel forms, queries, reports.

A general library (it knows nothing of a particular study):

* **Store** — one schema in SQLAlchemy 2 Core (:mod:`~welfare_eval.monitor.schema`) with Alembic
  migrations packaged in ``welfare_eval/monitor/migrations`` and run by :func:`upgrade`; a SQLite
  file by default (a path), PostgreSQL by URL (psycopg 3). Records are append-only (database
  triggers refuse UPDATE and DELETE): a correction is a new submission whose rows supersede the old
  ones, and every figure keeps its submission and spreadsheet row.
* **Periods** — calendar quarters written in the B.E. (``2569Q3``) or the C.E. (``2026Q3``), C.E.
  stored (:func:`parse_period`).
* **Form** — :func:`write_form` writes the bilingual quarterly form (one sheet per section,
  drop-down lists); :func:`read_form` validates a filled one cell by cell.
* **Intake** — :func:`import_form` / :func:`import_forms`: all-or-nothing per file (one transaction),
  idempotent (file hash + content hash), rejection report naming sheet, row, column and reason.
* **Queries** — :func:`current` (state "as of" a date or a period's cut-off), :func:`history`,
  :func:`trace`, :func:`submission_status` (on time / late / missing), :func:`panel`.
* **Progress report** — :func:`build_progress_report` → self-contained Thai HTML and XLSX.
* **Privacy** — :func:`scrub_text` masks national IDs, phone numbers and detectable names in free text
  before it is stored.

Examples
--------
>>> from welfare_eval import monitor
>>> db = monitor.MonitorDB.open("data/monitor.sqlite")          # doctest: +SKIP
>>> db.register_villages(villages)                               # doctest: +SKIP
>>> batch = monitor.import_forms(db, "data/raw/monitoring")     # doctest: +SKIP
>>> batch.write_report("rejections.xlsx")                       # doctest: +SKIP
>>> monitor.build_progress_report(db, "2569Q3").write_html("progress_2569Q3.html")  # doctest: +SKIP
"""

from __future__ import annotations

from welfare_eval.monitor.db import MonitorDB, current_revision, open_engine, upgrade
from welfare_eval.monitor.form import FormContent, FormRules, blank_content, read_form, write_form
from welfare_eval.monitor.intake import (
    ImportBatch,
    ImportResult,
    IntakeRules,
    import_form,
    import_forms,
    read_receipts,
)
from welfare_eval.monitor.periods import Period, PeriodError, parse_period, period_range
from welfare_eval.monitor.pii import find_pii, scrub_text
from welfare_eval.monitor.progress import ProgressReport, Thresholds, build_progress_report
from welfare_eval.monitor.queries import (
    current,
    cutoff,
    history,
    panel,
    resolve_as_of,
    submission_status,
    submissions,
    trace,
)

__all__ = [
    "FormContent",
    "FormRules",
    "ImportBatch",
    "ImportResult",
    "IntakeRules",
    "MonitorDB",
    "Period",
    "PeriodError",
    "ProgressReport",
    "Thresholds",
    "blank_content",
    "build_progress_report",
    "current",
    "current_revision",
    "cutoff",
    "find_pii",
    "history",
    "import_form",
    "import_forms",
    "open_engine",
    "panel",
    "parse_period",
    "period_range",
    "read_form",
    "read_receipts",
    "resolve_as_of",
    "scrub_text",
    "submission_status",
    "submissions",
    "trace",
    "upgrade",
    "write_form",
]
