"""Wiring of the steps to folders: the only module that knows file names.

``simulate`` (demo only) → ``data/raw`` → ``clean`` → ``data/processed`` → ``analyze`` (the study's plan:
:mod:`welfare_eval.study`) → ``data/processed/results`` → ``report`` → ``reports/final_report.html``.

Monitoring: the provinces' filled quarterly forms in ``data/raw/monitoring/`` → ``monitor_import`` → the
monitoring store (``data/monitor.sqlite`` by default, or a PostgreSQL URL) → ``progress`` →
``reports/progress_<quarter>.html`` / ``.xlsx``; ``monitor_form`` writes blank forms to ``reports/forms/``.

The nationwide expansion has its own folder, ``data/scale`` (:attr:`Paths.scale`)::

    scaleup_simulate (demo only) → households/ (hive Parquet), villages.parquet [+ truth.json, generation.json]
    scaleup_estimate → cells.parquet (village × year cells, from DuckDB or Spark) → results/*.parquet + scaleup.json
    scaleup_report   → reports/scaleup_report.html

Every function takes a :class:`Paths` and returns what it made. What travels between the steps travels in
files this module reads and writes itself: the cleaning manifest carries the region scheme the data were
checked against; ``results/analysis.json`` carries the plan and seed of the analysis; the report gets all of
it as one data bundle passed as its ``report_data`` parameter (:func:`report_data`). No environment variable
and no process-wide setting connects the steps.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval._io import atomic_write_text, json_dumps, sha256_file, write_parquet
from welfare_eval.reference import RegionScheme, default_region_scheme, label

__all__ = [
    "MONITORING_DIR",
    "MONITOR_DB",
    "PLAN_FILE",
    "RESULTS_DIR",
    "MonitorImportError",
    "Paths",
    "analysis_record",
    "analyze",
    "clean",
    "load_processed",
    "load_results",
    "load_truth",
    "monitor_form",
    "monitor_import",
    "monitor_status",
    "open_store",
    "processed_manifest",
    "progress",
    "project_plan",
    "raw_exports",
    "region_scheme_of",
    "report",
    "report_data",
    "run",
    "scaleup_estimate",
    "scaleup_report",
    "scaleup_report_data",
    "scaleup_results",
    "scaleup_simulate",
    "scaleup_tables",
    "simulate",
    "simulation_record",
]

#: Sub-folder of the processed folder holding analysis results.
RESULTS_DIR = "results"
#: The project's analysis plan (optional; the packaged plan when absent).
PLAN_FILE = "analysis_plan.yaml"
#: Files in data/raw that are not exports.
_NOT_EXPORTS = {"README.md", ".gitkeep"}
_GENERATION = "generation.json"
_ANALYSIS = "analysis.json"
#: Report output file per language.
REPORT_FILES = {"th": "final_report.html", "en": "final_report.en.html"}
#: The monitoring store's default SQLite file in the project's data folder.
MONITOR_DB = "monitor.sqlite"
#: Sub-folder of the raw folder holding the provinces' filled quarterly forms (and their receipts.csv).
MONITORING_DIR = "monitoring"
_RECEIPTS = "receipts.csv"
_IMPORT_REPORT = "monitor_import.xlsx"
_FORMS_DIR = "forms"

Say = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _quiet(msg: str) -> None:
    del msg


@dataclass(frozen=True)
class Paths:
    """The project's folders (and, with ``quiet``, whether the steps print progress lines)."""

    root: Path
    raw: Path
    processed: Path
    reports: Path
    quiet: bool = False
    scale_dir: Path | None = None

    @property
    def scale(self) -> Path:
        """The national data of the expansion (``data/scale``): household Parquet, village table, cells, results."""
        return self.scale_dir if self.scale_dir is not None else self.root / "data" / "scale"

    @property
    def simulation(self) -> Path:
        """Where the demo's planted truth and generation record go (outside data/raw)."""
        return self.raw.parent / "simulation"

    @property
    def results(self) -> Path:
        return self.processed / RESULTS_DIR

    @property
    def report_source(self) -> Path:
        return self.reports / "final_report.qmd"

    @property
    def monitor_db(self) -> Path:
        """The monitoring store's default SQLite file (``data/monitor.sqlite``)."""
        return self.root / "data" / MONITOR_DB

    @property
    def monitoring(self) -> Path:
        """The folder of the provinces' filled quarterly forms (``data/raw/monitoring``)."""
        return self.raw / MONITORING_DIR

    @property
    def plan_file(self) -> Path:
        """The project's analysis plan file (``analysis_plan.yaml`` in the project folder)."""
        return self.root / PLAN_FILE

    def say(self, msg: str) -> None:
        """Print a progress line on standard error unless ``quiet``."""
        (_quiet if self.quiet else _stderr)(msg)

    @classmethod
    def from_root(
        cls,
        root: str | Path | None = None,
        *,
        raw: str | Path | None = None,
        processed: str | Path | None = None,
        reports: str | Path | None = None,
        quiet: bool = False,
        scale: str | Path | None = None,
    ) -> Paths:
        """Folders under ``root`` (default: :meth:`discover`), each overridable."""
        base = Path(root).resolve() if root is not None else cls.discover().root
        return cls(
            root=base,
            raw=Path(raw).resolve() if raw is not None else base / "data" / "raw",
            processed=Path(processed).resolve() if processed is not None else base / "data" / "processed",
            reports=Path(reports).resolve() if reports is not None else base / "reports",
            quiet=quiet,
            scale_dir=Path(scale).resolve() if scale is not None else None,
        )

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Paths:
        """The project folder: the nearest parent of ``start`` (default: the current folder) that has a
        ``data/`` folder and a ``reports/`` folder or ``pyproject.toml``, else ``start`` itself."""
        here = Path(start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / "data").is_dir() and ((d / "reports").is_dir() or (d / "pyproject.toml").is_file()):
                return cls.from_root(d)
        return cls.from_root(here)


def raw_exports(raw: Path) -> list[Path]:
    """The export files in the raw folder and its ``corrections/`` folder (everything but README/dotfiles)."""
    if not raw.is_dir():
        return []
    found = [p for p in raw.iterdir() if p.is_file() and p.name not in _NOT_EXPORTS and not p.name.startswith(".")]
    corr = raw / "corrections"
    if corr.is_dir():
        found += [p for p in corr.iterdir() if p.is_file() and p.name not in _NOT_EXPORTS and not p.name.startswith(".")]
    return sorted(found)


def _rel(raw: Path, p: Path) -> str:
    return p.relative_to(raw).as_posix()


# --------------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------------
def project_plan(paths: Paths, plan: str | Path | Any = None) -> Any:
    """The analysis plan: ``plan`` (an :class:`~welfare_eval.study.AnalysisPlan` or a YAML path), else the
    project's ``analysis_plan.yaml`` when it exists, else the packaged plan."""
    from welfare_eval.study import AnalysisPlan, load_plan

    if isinstance(plan, AnalysisPlan):
        return plan
    if plan is not None:
        return load_plan(plan)
    return load_plan(paths.plan_file if paths.plan_file.is_file() else None)


# --------------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------------
def simulate(
    paths: Paths,
    *,
    seed: int | None = None,
    force: bool = False,
    plan: Any = None,
    monitoring: bool = True,
) -> list[Path]:
    """Write the seeded demo study's raw exports into ``paths.raw``.

    Refuses when the folder already holds exports, unless ``force``; even then only files that
    welfare_eval generated before (same name and SHA-256 as recorded in
    ``data/simulation/generation.json``) are replaced, so a user's files are never touched.
    The planted truth goes to ``data/simulation/truth.json`` (outside ``data/raw``). The demo's comparison
    villages are matched on the plan's matching covariates; ``seed`` defaults to the plan's.
    With ``monitoring`` the pilots' filled quarterly forms (18 regions × 12 quarters, with the simulator's
    planted defects) and their ``receipts.csv`` go to ``data/raw/monitoring/`` (same rule for existing files).
    """
    from welfare_eval.simulate import simulate_study, write_raw_exports, write_truth

    the_plan = project_plan(paths, plan)
    seed = the_plan.seed if seed is None else int(seed)
    existing = raw_exports(paths.raw)
    if existing and not force:
        raise FileExistsError(
            f"{paths.raw} already holds {len(existing)} export file(s) (e.g. {existing[0].name}); "
            "the demo is only simulated into an empty folder (use `welfare-eval simulate --force` to "
            "regenerate files welfare_eval wrote itself)"
        )
    record = _read_generation(paths)
    if existing:
        for p in existing:
            if record.get(_rel(paths.raw, p)) != sha256_file(p):
                raise FileExistsError(
                    f"{p}: not a file welfare_eval generated (or it was changed since); refusing to "
                    "overwrite it. Move your own exports elsewhere or simulate into another --raw folder"
                )
    if monitoring:
        _check_generated_forms(paths)
    paths.say(f"simulating the demo study (seed {seed}) into {paths.raw} …")
    covariates = list(the_plan.matching.covariates)
    study = simulate_study(seed=seed, match_covariates=covariates)
    files = write_raw_exports(study, paths.raw, overwrite=bool(existing))
    paths.simulation.mkdir(parents=True, exist_ok=True)
    write_truth(study.truth, paths.simulation / "truth.json")
    gen: dict[str, Any] = {"seed": seed, "match_covariates": covariates,
                           "files": {_rel(paths.raw, p): sha256_file(p) for p in sorted(files)}}
    atomic_write_text(paths.simulation / _GENERATION, json_dumps(gen))
    paths.say(f"  wrote {len(files)} raw files")
    if monitoring:
        _write_demo_forms(paths, study)
    return files


def _generation(paths: Paths) -> dict[str, Any]:
    p = paths.simulation / _GENERATION
    if not p.is_file():
        return {}
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    return rec


def _monitoring_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")))


def _check_generated_forms(paths: Paths) -> None:
    """Refuse to write demo forms over files in data/raw/monitoring that welfare_eval did not write."""
    made = {str(k): str(v) for k, v in _generation(paths).get("monitoring", {}).items()}
    for p in _monitoring_files(paths.monitoring):
        if made.get(p.name) != sha256_file(p):
            raise FileExistsError(
                f"{p}: not a form welfare_eval generated (or it was changed since); refusing to write the demo's "
                f"forms into {paths.monitoring}. Move your forms elsewhere first"
            )


def _write_demo_forms(paths: Paths, study: Any) -> list[Path]:
    """The demo's filled quarterly forms and receipts.csv in data/raw/monitoring (recorded in generation.json)."""
    from welfare_eval.simulate.monitoring import simulate_monitoring, write_monitoring_forms

    _check_generated_forms(paths)
    gen = _generation(paths)
    folder = paths.monitoring
    paths.say(f"simulating the pilots' quarterly monitoring forms into {folder} …")
    mon = simulate_monitoring(study)
    written = write_monitoring_forms(mon, folder)
    made = {p.name: sha256_file(p) for p in [*written, folder / _RECEIPTS]}
    for old in gen.get("monitoring", {}):  # forms of an earlier demo that this one does not have
        if old not in made and (folder / old).is_file():
            (folder / old).unlink()
    gen["monitoring"] = dict(sorted(made.items()))
    atomic_write_text(paths.simulation / _GENERATION, json_dumps(gen))
    paths.say(f"  wrote {len(written)} quarterly forms (with the simulator's planted defects) and {_RECEIPTS}")
    return written


def _read_generation(paths: Paths) -> dict[str, str]:
    files = _generation(paths).get("files", {})
    return {str(k): str(v) for k, v in files.items()}


def simulation_record(paths: Paths) -> dict[str, Any] | None:
    """The demo's generation record (seed and raw-file hashes), or None for real data.

    The record describes ``data/raw`` only while every file it lists is there unchanged and ``data/raw``
    holds no other export.
    """
    p = paths.simulation / _GENERATION
    if not p.is_file():
        return None
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    files = rec.get("files", {})
    present = {_rel(paths.raw, q) for q in raw_exports(paths.raw)}
    if present != set(files):
        return None
    if any(sha256_file(paths.raw / n) != h for n, h in files.items()):
        return None
    return rec


def _scheme(regions: RegionScheme | str | Path | None) -> RegionScheme | None:
    if regions is None or isinstance(regions, RegionScheme):
        return regions
    return RegionScheme.from_csv(regions)


def _plan_name(paths: Paths, the_plan: Any) -> str:
    """The plan's source as results and reports name it: the project's plan by its file name, never a local path."""
    src = str(the_plan.source)
    if src == str(paths.plan_file):
        return PLAN_FILE
    return Path(src).name if ("/" in src or "\\" in src) else src


def clean(paths: Paths, *, regions: RegionScheme | str | Path | None = None, plan: Any = None) -> Any:
    """Clean ``paths.raw`` into ``paths.processed`` (see :func:`welfare_eval.clean.clean_all`).

    ``regions`` (a :class:`~welfare_eval.reference.RegionScheme` or the path of a province → region CSV)
    replaces the packaged 2017 inspection-region scheme; the scheme used is recorded in the manifest. The
    pairs of the analysis plan's ``sample.drop_pairs`` (``plan``, default the project's plan) are left out,
    with their reasons, as by a ``drop_pair`` correction.
    """
    from welfare_eval.clean import clean_all

    if not raw_exports(paths.raw):
        raise FileNotFoundError(
            f"{paths.raw} holds no raw exports; put the exports and their codebook.csv there, "
            "or run `welfare-eval simulate` for the demo study"
        )
    paths.say(f"cleaning {paths.raw} → {paths.processed} …")
    # the public demo key is allowed only when every raw file is, byte for byte, the simulator's output
    the_plan = project_plan(paths, plan)
    drop = {int(k): v for k, v in the_plan.sample.drop_pairs.items()}
    result = clean_all(paths.raw, paths.processed, regions=_scheme(regions), demo=simulation_record(paths) is not None,
                       drop_pairs=drop or None, drop_pairs_source=f"{_plan_name(paths, the_plan)} sample.drop_pairs")
    paths.say(result.summary())
    return result


def processed_manifest(paths: Paths) -> dict[str, Any]:
    """The cleaning manifest of ``paths.processed`` (one-line error when the folder was never cleaned)."""
    p = paths.processed / "manifest.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no cleaning manifest; run `welfare-eval clean` first")
    man: dict[str, Any] = json.loads(p.read_text("utf-8"))
    return man


def region_scheme_of(manifest: dict[str, Any]) -> RegionScheme:
    """The region scheme recorded in a cleaning manifest (the packaged scheme for old manifests)."""
    rs = manifest.get("region_scheme")
    if isinstance(rs, dict):
        return RegionScheme.from_dict(rs, origin="manifest.json region_scheme")
    return default_region_scheme()


def load_processed(paths: Paths | None = None) -> dict[str, pd.DataFrame]:
    """Read the processed tables the cleaning manifest lists (``<name>.parquet`` in ``paths.processed``).

    Only the manifest's outputs are read, so nothing else lying in the folder becomes an input.
    """
    paths = paths or Paths.discover()
    man = processed_manifest(paths)
    names = [str(o["file"])[: -len(".parquet")] for o in man.get("outputs", []) if str(o.get("file", "")).endswith(".parquet")]
    out = {}
    for n in names:
        f = paths.processed / f"{n}.parquet"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: processed table missing; run `welfare-eval clean` again")
        out[n] = pd.read_parquet(f)
    return out


def analysis_executor() -> Any:
    """A worker process that runs the analysis steps independent of impact and power (descriptives, factors,
    funds) beside them (:func:`welfare_eval.study.analyze_study`'s ``executor``); None on one core. The worker
    starts and imports the analysis at once (:func:`run` starts it before simulating and cleaning);
    ``shutdown()`` it when done."""
    import os

    from welfare_eval._worker import WorkerProcess

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        return None
    # no progress bars in the worker: this process draws the run's
    return WorkerProcess(["welfare_eval.study.analyze"], env={"WELFARE_EVAL_PROGRESS": "0"})


def analyze(paths: Paths, *, seed: int | None = None, plan: Any = None, executor: Any = None) -> dict[str, pd.DataFrame]:
    """Run the analysis plan on the processed tables and write ``processed/results/*.parquet``.

    ``results/analysis.json`` records the seed, the plan (as data, with its SHA-256 and source) and the
    region scheme, for the report's provenance. The steps independent of impact and power run in
    ``executor`` (default: a worker process of :func:`analysis_executor`, on two or more cores).
    """
    from welfare_eval.clean import verify_processed
    from welfare_eval.study import analyze_study

    verify_processed(paths.processed, paths.raw)  # refuses missing, changed or stale processed data
    the_plan = project_plan(paths, plan)
    if seed is not None:
        the_plan = the_plan.replace(seed=int(seed))
    man = processed_manifest(paths)
    scheme = region_scheme_of(man)
    tables = load_processed(paths)
    paths.say("analysing: matching and balance, survey weights, impact (DiD), success factors …")
    own = executor is None
    pool = analysis_executor() if own else executor
    try:
        results = analyze_study(tables, the_plan, provinces=scheme.provinces, executor=pool)
    finally:
        if own and pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    res_dir = paths.results
    if res_dir.is_dir():  # tables of an earlier run with another plan would mislead the report
        for old in res_dir.glob("*.parquet"):
            if old.stem not in results:
                old.unlink()
    for name, df in results.items():
        write_parquet(df, res_dir / f"{name}.parquet")
    meta = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": the_plan.seed,
        "plan": the_plan.to_dict(),
        "plan_sha256": the_plan.sha256(),
        "plan_source": _plan_name(paths, the_plan),
        "region_scheme": scheme.scheme,
        "manifest_sha256": sha256_file(paths.processed / "manifest.json"),
        "tables": sorted(results),
    }
    atomic_write_text(res_dir / _ANALYSIS, json_dumps(meta))
    paths.say(f"  wrote {len(results)} result tables to {res_dir}")
    return results


def load_results(paths: Paths | None = None) -> dict[str, pd.DataFrame]:
    """Read the analysis result tables written by :func:`analyze` (those ``analysis.json`` lists)."""
    paths = paths or Paths.discover()
    rec = analysis_record(paths)
    return {n: pd.read_parquet(paths.results / f"{n}.parquet") for n in rec["tables"]}


def analysis_record(paths: Paths) -> dict[str, Any]:
    """``results/analysis.json``: seed, plan, region scheme and table names of the last analysis."""
    p = paths.results / _ANALYSIS
    if not p.is_file():
        raise FileNotFoundError(f"{paths.results}: no analysis results; run `welfare-eval analyze` first")
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    return rec


def load_truth(paths: Paths | None = None) -> dict[str, Any] | None:
    """The demo's planted truth (``data/simulation/truth.json``) when data/raw holds the demo exports."""
    paths = paths or Paths.discover()
    if simulation_record(paths) is None:
        return None
    p = paths.simulation / "truth.json"
    return json.loads(p.read_text("utf-8")) if p.is_file() else None


# --------------------------------------------------------------------------------------------------
# Monitoring: the store, the forms, the progress report
# --------------------------------------------------------------------------------------------------
class MonitorImportError(ValueError):
    """Some filled forms were rejected (the message names the first one's sheet, row and column)."""


def _store_label(target: str | Path) -> str:
    text = str(target)
    if "://" not in text:
        return text
    import sqlalchemy as sa

    try:
        return str(sa.make_url(text).render_as_string(hide_password=True))
    except Exception:  # only for a message
        return text.split("://", 1)[0] + "://…"


def open_store(paths: Paths, db: str | Path | None = None) -> Any:
    """The monitoring store (:class:`welfare_eval.monitor.MonitorDB`), created or migrated to the newest schema.

    ``db`` is a SQLite file path or a database URL (``sqlite:///...``, ``postgresql+psycopg://user@host/name``);
    default the project's ``data/monitor.sqlite``.

    Raises
    ------
    ValueError
        The URL is not SQLite or PostgreSQL, or the database cannot be reached (one line; a password in the URL
        is never shown).
    """
    import sqlalchemy.exc as sa_exc

    from welfare_eval.monitor import MonitorDB

    target: str | Path = paths.monitor_db if db is None else db
    try:
        return MonitorDB.open(target)
    except (sa_exc.SQLAlchemyError, OSError, ModuleNotFoundError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot open the monitoring store {_store_label(target)}: {first}") from None


def _store_exists(paths: Paths, db: str | Path | None) -> bool:
    return db is not None or paths.monitor_db.is_file()


def _intake_rules(the_plan: Any) -> Any:
    from welfare_eval.monitor import IntakeRules

    m = the_plan.monitoring
    return IntakeRules(first_period=m.first_period, last_period=m.last_period, due_days=m.due_days)


def _thresholds(the_plan: Any) -> Any:
    from welfare_eval.monitor import Thresholds

    t = the_plan.monitoring.thresholds
    return Thresholds(**{f: getattr(t, f) for f in t.__dataclass_fields__})


def _register_pilots(paths: Paths, store: Any, the_plan: Any) -> int:
    """Register the study's pilot villages (processed ``villages`` table) as the villages that report."""
    man = processed_manifest(paths)
    names = {str(o.get("file", "")) for o in man.get("outputs", [])}
    if "villages.parquet" not in names:
        raise FileNotFoundError(f"{paths.processed}: no processed villages table; run `welfare-eval clean` first")
    v = pd.read_parquet(paths.processed / "villages.parquet")
    pilots = v[v["arm"].astype(str) == "pilot"]
    cols = [c for c in ("village_id", "region", "province_code", "village_name", "arm", "n_households") if c in v.columns]
    reg = pilots[cols].copy()
    reg["first_period"] = the_plan.monitoring.first_period
    return int(store.register_villages(reg))


def _demo_forms_if_missing(paths: Paths) -> None:
    """For the demo (data/raw holds the simulator's exports) with no forms yet: simulate them now."""
    if any(p.suffix.lower() == ".xlsx" for p in _monitoring_files(paths.monitoring)):
        return
    rec = simulation_record(paths)
    if rec is None:
        return
    from welfare_eval.simulate import simulate_study

    cov = rec.get("match_covariates") or list(project_plan(paths).matching.covariates)
    paths.say(f"{paths.monitoring} holds no forms and data/raw holds the seeded demo (seed {rec['seed']}): "
              "simulating the demo's forms first")
    _write_demo_forms(paths, simulate_study(seed=int(rec["seed"]), match_covariates=cov))


def _rejection_line(batch: Any) -> str:
    rej = batch.rejections()
    if rej.empty:
        return ""
    r = rej.iloc[0]
    where = []
    if str(r.get("sheet") or ""):
        where.append(f"sheet '{r['sheet']}'")
    if pd.notna(r.get("row")) and str(r.get("row")) != "":
        where.append(f"row {int(r['row'])}")
    if str(r.get("column") or ""):
        where.append(f"column {r['column']}")
    return f"{r['file']}: {' '.join(where)}{': ' if where else ''}{r['reason']}"


def monitor_import(
    paths: Paths,
    files: str | Path | list[str | Path] | None = None,
    *,
    db: str | Path | None = None,
    plan: Any = None,
    receipts: str | Path | None = None,
    received_on: str | None = None,
    report: str | Path | None = None,
    strict: bool = True,
) -> Any:
    """Import filled quarterly forms into the monitoring store; returns the :class:`~welfare_eval.monitor.ImportBatch`.

    Parameters
    ----------
    files : folder, file or list of files, optional
        Default ``data/raw/monitoring`` (its ``*.xlsx``). For the demo with no forms there yet, the demo's forms
        are simulated first.
    db : path or URL, optional
        The store (default ``data/monitor.sqlite``).
    receipts : path, optional
        Log of receipt dates (CSV ``file``, ``received_on``); default ``receipts.csv`` beside the forms when it
        exists, else ``received_on`` (one ISO date for every file), else today.
    report : path, optional
        The import report (sheets ``files``, ``rejections``, ``warnings``); default ``reports/monitor_import.xlsx``.
    strict : bool
        Raise :class:`MonitorImportError` when a file was rejected (after importing every other file).

    The pilot villages of the processed ``villages`` table are registered first (idempotent), with the plan's
    ``monitoring.first_period``. Importing the same file again changes nothing (the file's hash is stored).
    """
    import datetime as dt

    from welfare_eval import monitor

    the_plan = project_plan(paths, plan)
    if files is None:
        _demo_forms_if_missing(paths)
        files = paths.monitoring
    items = [Path(f) for f in files] if isinstance(files, list) else [Path(files)]
    for f in items:
        if not f.exists():
            raise FileNotFoundError(f"{f}: no such form or folder")
    forms = [q for f in items for q in (sorted(f.glob("*.xlsx")) if f.is_dir() else [f])
             if not q.name.startswith("~$")]
    if not forms:
        where = items[0] if len(items) == 1 else "the given paths"
        raise FileNotFoundError(f"{where}: no filled forms (*.xlsx) to import; put the provinces' forms there")
    when: Any = None
    rec_file = Path(receipts) if receipts is not None else None
    if rec_file is None and len(items) == 1:
        cand = (items[0] if items[0].is_dir() else items[0].parent) / _RECEIPTS
        rec_file = cand if cand.is_file() else None
    if rec_file is not None:
        when = monitor.read_receipts(rec_file)
        missing = [q.name for q in forms if q.name not in when]
        if missing and received_on is None:
            raise ValueError(f"{rec_file}: no date of receipt for {missing[0]} (add a row, or give --received-on)")
        if missing:
            fallback = dt.date.fromisoformat(str(received_on))
            when = {q.name: when.get(q.name, fallback) for q in forms}
    elif received_on is not None:
        try:
            when = dt.date.fromisoformat(str(received_on))
        except ValueError:
            raise ValueError(f"--received-on {received_on!r} is not a date (YYYY-MM-DD)") from None
    store = open_store(paths, db)
    try:
        added = _register_pilots(paths, store, the_plan)
        if added:
            paths.say(f"registered {added} pilot villages in the monitoring store")
        paths.say(f"importing {len(forms)} form(s) into {_store_label(paths.monitor_db if db is None else db)} …")
        batch = monitor.import_forms(store, forms, received_on=when, rules=_intake_rules(the_plan))
    finally:
        store.dispose()
    out = Path(report) if report is not None else paths.reports / _IMPORT_REPORT
    batch.write_report(out)
    from collections import Counter

    c = Counter(r.status for r in batch.results)  # (ImportBatch.counts() builds a frame per file: slow)
    parts = [f"{c[k]} {k.replace('_', ' ')}" for k in ("accepted", "correction", "duplicate_file",
                                                        "duplicate_content", "rejected") if c[k]]
    paths.say(f"  {len(forms)} form(s): {', '.join(parts)}; report: {out}")
    if c["rejected"]:
        line = _rejection_line(batch)
        msg = (f"{c['rejected']} of {len(forms)} form(s) rejected, nothing of them stored (the others were imported): "
               f"{line}; every reason in {out}")
        if strict:
            raise MonitorImportError(msg)
        paths.say("  " + msg)
    return batch


def monitor_form(
    paths: Paths,
    *,
    period: str,
    region: int | None = None,
    province: str | None = None,
    out: str | Path | None = None,
    db: str | Path | None = None,
    plan: Any = None,
) -> list[Path]:
    """Write blank quarterly forms for ``period`` (B.E. or C.E.): one per region, for one region, or for one
    province's villages; default folder ``reports/forms``. The villages are the store's registered ones (the
    study's pilots are registered from the processed ``villages`` table first, when it exists)."""
    from welfare_eval.monitor import write_form

    the_plan = project_plan(paths, plan)
    per = _quarter(period)
    store = open_store(paths, db)
    try:
        if (paths.processed / "manifest.json").is_file():
            _register_pilots(paths, store, the_plan)
        vill = store.villages()
    finally:
        store.dispose()
    vill = vill[vill["first_year"].notna()]
    if vill.empty:
        raise ValueError("the monitoring store has no village that reports; run `welfare-eval clean` (the study's "
                         "pilots are registered from data/processed/villages.parquet)")
    if province is not None:
        code = str(province).strip().zfill(2)
        vill = vill[vill["province_code"].astype(str) == code]
        if vill.empty:
            raise ValueError(f"--province {province}: no reporting village in province {code}")
    if region is not None:
        vill = vill[vill["region"].astype(int) == int(region)]
        if vill.empty:
            raise ValueError(f"--region {region}: no reporting village in region {region}")
    folder = Path(out) if out is not None else paths.reports / _FORMS_DIR
    written = []
    for reg, g in vill.groupby("region", sort=True):
        suffix = f"_p{str(province).zfill(2)}" if province is not None else ""
        path = folder / f"form_r{int(reg):02d}{suffix}_{per.label('be')}.xlsx"
        written.append(write_form(path, region=int(reg), villages=g[["village_id", "village_name"]], period=per))
    paths.say(f"wrote {len(written)} blank form(s) for {per.label('be')} ({per.label()}) to {folder}")
    return written


def _latest_period(store: Any) -> Any:
    import sqlalchemy as sa

    from welfare_eval.monitor import Period
    from welfare_eval.monitor import schema as S

    vp = S.village_period
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.max(vp.c.year * 4 + vp.c.quarter - 1))).first()
    if row is None or row[0] is None:
        return None
    return Period.from_index(int(row[0]))


def _quarter(period: Any) -> Any:
    from welfare_eval.monitor import PeriodError, parse_period

    try:
        return parse_period(period)
    except PeriodError as exc:
        raise ValueError(f"period: {exc}") from None


def _period_arg(store: Any, period: str | None) -> Any:
    if period is None or str(period).lower() == "latest":
        p = _latest_period(store)
        if p is None:
            raise ValueError("the monitoring store holds no reports yet; import forms with `welfare-eval monitor import`")
        return p
    return _quarter(period)


def monitor_status(
    paths: Paths,
    *,
    period: str | None = None,
    as_of: str | None = None,
    db: str | Path | None = None,
    plan: Any = None,
    everything: bool = False,
) -> pd.DataFrame:
    """Late, missing and resubmitted quarterly reports of every reporting village up to ``period`` (default: the
    latest period in the store), as of ``as_of`` (default: that period's report cut-off).

    One row per village-period (``everything``: also the on-time, single-version ones) with ``status``
    (``on_time``, ``late``, ``missing``, ``pending``), ``days_late`` and ``n_versions`` (2 or more: the report was
    resubmitted or corrected; the files that repeated a stored file byte for byte are in the import report).
    """
    from welfare_eval.monitor import resolve_as_of, submission_status

    the_plan = project_plan(paths, plan)
    if not _store_exists(paths, db):
        raise FileNotFoundError(f"{paths.monitor_db}: no monitoring store yet; import forms with "
                                "`welfare-eval monitor import`")
    store = open_store(paths, db)
    try:
        per = _period_arg(store, period)
        d = resolve_as_of(as_of if as_of is not None else per, cutoff_days=the_plan.monitoring.cutoff_days)
        st = submission_status(store, through=per, as_of=d, due_days=the_plan.monitoring.due_days)
    finally:
        store.dispose()
    if not everything:
        st = st[st["status"].isin(["late", "missing"]) | (st["n_versions"] > 1)]
    st = st.sort_values(["year", "quarter", "region", "village_id"], kind="mergesort").reset_index(drop=True)
    st.insert(list(st.columns).index("period") + 1, "period_be",
              [f"{int(y) + 543}Q{int(q)}" for y, q in zip(st["year"], st["quarter"], strict=True)])
    st.attrs["as_of"] = d.isoformat() if d is not None else ""
    st.attrs["through"] = per.label()
    return st


def progress(
    paths: Paths,
    *,
    period: str | None = None,
    as_of: str | None = None,
    db: str | Path | None = None,
    plan: Any = None,
) -> tuple[Path, Path]:
    """The Ministry's progress report of ``period`` (B.E. or C.E.; default the latest period in the store) from the
    monitoring store only: ``reports/progress_<B.E. quarter>.html`` (self-contained, Thai) and ``.xlsx``.

    The data are those received by the period's report cut-off (``monitoring.cutoff_days`` after the quarter) or
    ``as_of``, so rebuilding a past period's report later gives the same bytes.
    """
    from welfare_eval.monitor import build_progress_report

    the_plan = project_plan(paths, plan)
    if not _store_exists(paths, db):
        raise FileNotFoundError(f"{paths.monitor_db}: no monitoring store yet; import forms with "
                                "`welfare-eval monitor import`")
    store = open_store(paths, db)
    try:
        per = _period_arg(store, period)
        m = the_plan.monitoring
        paths.say(f"building the progress report of {per.label('be')} ({per.label()}) from the monitoring store …")
        rep = build_progress_report(store, per, as_of=as_of, thresholds=_thresholds(the_plan), due_days=m.due_days,
                                    cutoff_days=m.cutoff_days, first_period=m.first_period)
    finally:
        store.dispose()
    stem = paths.reports / f"progress_{per.label('be')}"
    html = rep.write_html(stem.with_suffix(".html"))
    xlsx = rep.write_xlsx(stem.with_suffix(".xlsx"))
    paths.say(f"  wrote {html} and {xlsx.name}")
    return html, xlsx


def _progress_tables(paths: Paths, db: str | Path | None, the_plan: Any) -> dict[str, pd.DataFrame]:
    """The latest period's progress tables for the final report (``progress_*``), or nothing without reports."""
    if not _store_exists(paths, db):
        return {}  # (checked before importing the monitoring package: SQLAlchemy and pandera cost 0.7 s)
    from welfare_eval.monitor import build_progress_report

    store = open_store(paths, db)
    try:
        per = _latest_period(store)
        if per is None:
            return {}
        m = the_plan.monitoring
        rep = build_progress_report(store, per, thresholds=_thresholds(the_plan), due_days=m.due_days,
                                    cutoff_days=m.cutoff_days, first_period=m.first_period)
    finally:
        store.dispose()
    where = (str(paths.monitor_db.relative_to(paths.root)) if db is None and paths.monitor_db.is_relative_to(paths.root)
             else _store_label(paths.monitor_db if db is None else db))
    info = pd.DataFrame([{"period": rep.period.label(), "period_be": rep.period.label("be"),
                          "as_of": rep.as_of.isoformat(), "store": where,
                          "due_days": m.due_days, "cutoff_days": m.cutoff_days,
                          **{f"threshold_{k}": v for k, v in the_plan.monitoring.thresholds.__dict__.items()}}])
    from welfare_eval._io import parquet_safe

    return {k: parquet_safe(v) for k, v in {"progress_villages": rep.villages, "progress_regions": rep.regions,
                                            "progress_trends": rep.trends, "progress_submissions": rep.submissions,
                                            "progress_info": info}.items()}


def _git_dir(d: Path) -> Path | None:
    """The git directory of a checkout at ``d``: ``.git`` itself, or where a worktree's ``.git`` file points."""
    g = d / ".git"
    if g.is_dir():
        return g
    if g.is_file():
        text = g.read_text("utf-8").strip()
        if text.startswith("gitdir:"):
            p = Path(text[len("gitdir:"):].strip())
            return p if p.is_absolute() else (d / p).resolve()
    return None


def _git_commit(root: Path) -> str | None:
    """The git commit of the package source (``None`` outside a git checkout); read from files, no git binary.

    Works in a linked worktree too (``.git`` is a file naming the worktree's git directory, whose ``commondir``
    holds the shared refs)."""
    src = Path(__file__).resolve().parents[1]
    for d in (src, root):
        gd = _git_dir(d)
        if gd is None or not (gd / "HEAD").is_file():
            continue
        ref = (gd / "HEAD").read_text("utf-8").strip()
        if not ref.startswith("ref: "):
            return ref
        common = gd
        if (gd / "commondir").is_file():
            cd = Path((gd / "commondir").read_text("utf-8").strip())
            common = cd if cd.is_absolute() else (gd / cd).resolve()
        for base in (gd, common):
            f = base / ref[5:]
            if f.is_file():
                return f.read_text("utf-8").strip()
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text("utf-8").splitlines():
                    if line.endswith(" " + ref[5:]):
                        return line.split(" ", 1)[0]
    return None


def report_data(paths: Paths, *, db: str | Path | None = None) -> Any:
    """Everything the report shows, as a :class:`~welfare_eval.report.data.ReportData`.

    Its ``results`` are the analysis result tables plus, when the monitoring store (``db``, default
    ``data/monitor.sqlite`` when it exists) holds reports, the progress tables of its latest quarter as of that
    quarter's cut-off (``progress_villages``, ``progress_regions``, ``progress_trends``, ``progress_submissions``,
    ``progress_info``), built from the store like ``welfare-eval progress``.
    """
    import welfare_eval
    from welfare_eval.report.data import ReportData
    from welfare_eval.report.fieldwork import fieldwork_table

    rec = analysis_record(paths)
    man = processed_manifest(paths)
    made_from = rec.get("manifest_sha256")
    if made_from and made_from != sha256_file(paths.processed / "manifest.json"):
        raise FileExistsError(
            f"{paths.results}: the analysis results were made from other processed data than "
            f"{paths.processed} holds now (cleaned again since); run `welfare-eval analyze` first"
        )
    hh_p = paths.processed / "households.parquet"
    listed = {str(o.get("file")) for o in man.get("outputs", []) if isinstance(o, dict)}
    fieldwork = fieldwork_table(pd.read_parquet(hh_p)) if "households.parquet" in listed and hh_p.is_file() else pd.DataFrame()
    ledger_p, checks_p = paths.processed / "ledger.csv", paths.processed / "checks.csv"
    lock = Path(__file__).resolve().parents[1] / "requirements.lock"
    results = load_results(paths)
    results.update(_progress_tables(paths, db, project_plan(paths)))
    return ReportData(
        results=results,
        manifest=man,
        ledger=pd.read_csv(ledger_p, dtype=str, keep_default_na=False) if ledger_p.is_file() else pd.DataFrame(),
        checks=pd.read_csv(checks_p, dtype=str, keep_default_na=False) if checks_p.is_file() else pd.DataFrame(),
        truth=load_truth(paths),
        simulation=simulation_record(paths),
        seed=rec.get("seed"),
        plan=rec.get("plan") or {},
        plan_sha256=str(rec.get("plan_sha256") or ""),
        plan_source=str(rec.get("plan_source") or ""),
        region_scheme=region_scheme_of(man).to_dict(),
        software={
            "package_version": welfare_eval.__version__,
            "git_commit": _git_commit(paths.root),
            "lock_sha256": sha256_file(lock) if lock.is_file() else None,
        },
        fieldwork=fieldwork,
        analysed_at=str(rec.get("created") or ""),
    )


def _report_editions(paths: Paths, lang: str, is_demo: bool) -> tuple[list[str], dict[str, Any]]:
    """Quarto profiles and metadata of the report's edition ``lang`` (demo data: banner and subtitle)."""
    # one source, two editions: the English edition is the Quarto profile "en" (_quarto-en.yml: language,
    # title, captions); simulated data add the profile "demo" (a banner style) and a demo subtitle
    profiles = (["en"] if lang == "en" else []) + (["demo"] if is_demo else [])
    metadata: dict[str, Any] = {}
    if is_demo:
        metadata["subtitle"] = label("report.subtitle_demo", lang)  # type: ignore[arg-type]
    return profiles, metadata


def _report_kernel(paths: Paths, engine: str, lang: str, *, demo: bool | None = None) -> Any:
    """The report's kernel started now (built-in engine), to render with once the analysis is done; None when
    Quarto renders or the kernel cannot start (the render then starts its own). ``demo``: whether the data will
    be the simulated demo (default: whether they are now); a kernel set up for another edition is not used."""
    if lang not in REPORT_FILES or not paths.report_source.is_file():
        return None
    if engine == "quarto" or (engine == "auto" and shutil.which("quarto")):
        return None
    from welfare_eval.report import start_kernel

    is_demo = simulation_record(paths) is not None if demo is None else demo
    profiles, metadata = _report_editions(paths, lang, is_demo)
    try:
        return start_kernel(paths.report_source, profile=profiles, metadata=metadata)
    except Exception:  # an optimisation only: the render starts a kernel of its own
        return None


def report(paths: Paths, *, engine: str = "auto", lang: str = "th", db: str | Path | None = None,
           kernel: Any = None) -> Path:
    """Render ``reports/final_report.qmd`` to ``reports/final_report.html`` (``lang="en"``:
    ``final_report.en.html``), one self-contained file.

    The report's data bundle (:func:`report_data`) is written to a temporary folder that is the report's
    ``report_data`` parameter, and removed afterwards. ``kernel``: a kernel started ahead
    (:func:`welfare_eval.report.start_kernel`; :func:`run` starts it before the analysis).
    """
    from welfare_eval.report import render

    if lang not in REPORT_FILES:
        raise ValueError(f"lang={lang!r}: the report is written in {', '.join(REPORT_FILES)}")
    src = paths.report_source
    if not src.is_file():
        raise FileNotFoundError(f"{src}: report source not found")
    from welfare_eval.clean import verify_processed

    data = report_data(paths, db=db)
    verify_processed(paths.processed, paths.raw)  # refuses missing, changed or stale processed data
    out = paths.reports / REPORT_FILES[lang]
    paths.say(f"rendering {src.name} ({lang}) …")
    profiles, edition = _report_editions(paths, lang, data.is_demo)
    metadata: dict[str, Any] = {"date": data.report_date} if data.report_date else {}
    metadata.update(edition)
    tmp = Path(tempfile.mkdtemp(prefix=".report-data-", dir=paths.reports))
    try:
        data.save(tmp, durable=False)  # read once by the render, then removed
        render(src, output=out, engine=engine, params={"report_data": str(tmp), "lang": lang},  # type: ignore[arg-type]
               profile=profiles, metadata=metadata, kernel=kernel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    paths.say(f"  wrote {out}")
    return out


def run(
    paths: Paths,
    *,
    seed: int | None = None,
    resimulate: bool = False,
    engine: str = "auto",
    regions: RegionScheme | str | Path | None = None,
    plan: Any = None,
    lang: str = "th",
    db: str | Path | None = None,
) -> Path:
    """The whole job: simulate the demo if ``data/raw`` is empty (or ``resimulate``), clean, monitoring, analyse,
    report.

    Monitoring: when ``data/raw/monitoring`` holds filled forms, the new ones are imported into the store (files
    imported before are recognised by their hash and skipped; a rejected form is reported, not fatal) and the
    progress report of the latest quarter is built; with neither forms nor a store the step is skipped. The demo
    simulated here writes no forms, to keep ``run`` fast; ``welfare-eval simulate`` or ``welfare-eval monitor
    import`` write them.
    """
    t0 = time.perf_counter()
    the_plan = project_plan(paths, plan)
    simulating = resimulate or not raw_exports(paths.raw)
    # on the other core, while this process simulates and cleans: the analysis worker and the report's kernel
    # start and import what they need
    pool = analysis_executor()
    kernel = _report_kernel(paths, engine, lang, demo=True if simulating else None)
    try:
        if simulating:
            simulate(paths, seed=seed, force=resimulate, plan=the_plan, monitoring=False)
        else:
            paths.say(f"using the exports already in {paths.raw} (no simulation)")
        clean(paths, regions=regions, plan=the_plan)
        has_forms = any(p.suffix.lower() == ".xlsx" for p in _monitoring_files(paths.monitoring))
        if has_forms:
            monitor_import(paths, db=db, plan=the_plan, strict=False)
        if has_forms or _store_exists(paths, db):
            store = open_store(paths, db)
            try:
                latest = _latest_period(store)
            finally:
                store.dispose()
            if latest is not None:
                progress(paths, period=latest.label(), db=db, plan=the_plan)
        analyze(paths, seed=seed, plan=the_plan, executor=pool)
        out = report(paths, engine=engine, lang=lang, db=db, kernel=kernel)
    finally:
        if kernel is not None:
            kernel.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    paths.say(f"done in {time.perf_counter() - t0:.1f} s → {out}")
    return out


# --------------------------------------------------------------------------------------------------
# The nationwide expansion (scale-up): data/scale
# --------------------------------------------------------------------------------------------------
#: Files and folders of the expansion's data folder (:attr:`Paths.scale`).
SCALE_HOUSEHOLDS = "households"
SCALE_VILLAGES = "villages.parquet"
SCALE_CELLS = "cells.parquet"
SCALE_RESULTS = "results"
SCALE_RECORD = "scaleup.json"
SCALE_GENERATION = "generation.json"
SCALE_TRUTH = "truth.json"
#: Files the national simulator writes beside the data (removed with the data when resimulating).
_SCALE_SIM_FILES = ("truth.json", "truth_villages.parquet", "manifest.json")
SCALEUP_REPORT = "scaleup_report"


def _hash_files(files: list[Path], root: Path, desc: str) -> list[tuple[str, int, str]]:
    """(relative path, size, SHA-256) of ``files``, hashed on two threads (hashlib releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from welfare_eval._progress import progress

    with ThreadPoolExecutor(max_workers=2) as pool:
        hashes = list(progress(pool.map(sha256_file, files), desc=desc, total=len(files)))
    return [(f.relative_to(root).as_posix(), f.stat().st_size, h) for f, h in zip(files, hashes, strict=True)]


def dataset_fingerprint(folder: Path, *, desc: str = "hashing the household files") -> dict[str, Any]:
    """Fingerprint of a (hive-partitioned) Parquet data set: the SHA-256 of every file, combined.

    Returns ``{"files": n, "bytes": total, "sha256": digest}``, where ``digest`` is the SHA-256 of the lines
    ``<relative path>\t<size>\t<sha256>`` in path order: any change to any byte of any file, a file added,
    removed or moved to another partition changes it.
    """
    import hashlib

    from welfare_eval.scale import parquet_files

    _root, files, _keys = parquet_files(folder)
    rows = _hash_files(files, folder, desc)
    text = "".join(f"{r}\t{n}\t{h}\n" for r, n, h in sorted(rows))
    return {"files": len(rows), "bytes": int(sum(n for _r, n, _h in rows)),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _scale_inputs(paths: Paths) -> tuple[Path, Path]:
    hh, vil = paths.scale / SCALE_HOUSEHOLDS, paths.scale / SCALE_VILLAGES
    if not hh.exists() or not vil.is_file():
        missing = hh if not hh.exists() else vil
        raise FileNotFoundError(
            f"{missing}: not found; the expansion needs {SCALE_HOUSEHOLDS}/ (household rows, hive Parquet) and "
            f"{SCALE_VILLAGES} (the village table) in {paths.scale}, or run `welfare-eval scaleup simulate` for the demo"
        )
    return hh, vil


def _scale_generation(paths: Paths) -> dict[str, Any] | None:
    p = paths.scale / SCALE_GENERATION
    if not p.is_file():
        return None
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    return rec


def _scale_data_record(paths: Paths) -> dict[str, Any]:
    """Fingerprints of the expansion's inputs (household files and village table)."""
    hh, vil = _scale_inputs(paths)
    return {"households": dataset_fingerprint(hh), "villages_sha256": sha256_file(vil)}


def _is_generated(gen: dict[str, Any] | None, data: dict[str, Any]) -> bool:
    return gen is not None and gen.get("households") == data["households"] and gen.get("villages_sha256") == data["villages_sha256"]


def scaleup_simulate(
    paths: Paths,
    *,
    scale: float = 1.0,
    seed: int | None = None,
    workers: int = 1,
    force: bool = False,
    plan: Any = None,
) -> dict[str, Any]:
    """Simulate the national demo data of the expansion into :attr:`Paths.scale`.

    ``welfare_eval.simulate.national.simulate_national``: ``scale`` × 75,000 villages, ≈ 12 million
    households a year at ``scale=1`` (2025–2030), staggered adoption in 2027–2030, household rows streamed
    to hive Parquet by ``workers`` processes. Refuses a folder that already holds household data unless
    ``force``, and even then replaces only data this function wrote (same fingerprint as recorded in
    ``generation.json``). Earlier cells and results of the folder are removed with the data they came from.
    ``seed`` defaults to the plan's. Returns the generation record.
    """
    from welfare_eval.simulate.national import simulate_national, simulate_national_frame

    the_plan = project_plan(paths, plan)
    seed = the_plan.seed if seed is None else int(seed)
    simulate_national_frame(seed=seed, scale=scale)  # a bad scale fails before anything is touched
    root = paths.scale
    hh, vil = root / SCALE_HOUSEHOLDS, root / SCALE_VILLAGES
    if hh.exists() or vil.exists():
        if not force:
            raise FileExistsError(
                f"{root} already holds national data ({SCALE_HOUSEHOLDS}/ or {SCALE_VILLAGES}); the demo is only "
                "simulated into an empty folder (`welfare-eval scaleup simulate --force` replaces data it simulated)"
            )
        gen = _scale_generation(paths)
        if not hh.exists() or not vil.is_file() or not _is_generated(gen, _scale_data_record(paths)):
            raise FileExistsError(
                f"{root}: the national data there are not data welfare_eval simulated (or were changed since); "
                "refusing to replace them. Move them elsewhere or simulate into another --data folder"
            )
    for old in [root / SCALE_CELLS, root / SCALE_GENERATION]:
        old.unlink(missing_ok=True)
    if (root / SCALE_RESULTS).is_dir():
        shutil.rmtree(root / SCALE_RESULTS)
    paths.say(f"simulating the national data (seed {seed}, scale {scale:g}, {workers} worker(s)) into {root} …")
    t0 = time.perf_counter()
    nat = simulate_national(root, seed=seed, scale=scale, workers=workers, overwrite=True)
    sim_s = time.perf_counter() - t0
    data = _scale_data_record(paths)
    gen = {
        "seed": seed,
        "scale": float(scale),
        "n_villages": len(nat.villages),
        "n_adopters": int((nat.villages["cohort"] > 0).sum()),
        "n_rows": nat.n_rows,
        **data,
        "truth_sha256": sha256_file(root / SCALE_TRUTH),
        "seconds": round(sim_s, 1),
    }
    atomic_write_text(root / SCALE_GENERATION, json_dumps(gen))
    paths.say(f"  wrote {nat.n_rows:,} household rows of {len(nat.villages):,} villages "
              f"({gen['n_adopters']:,} adopters) in {sim_s:.1f} s")
    return gen


def scaleup_tables(
    households: Any,
    villages: pd.DataFrame,
    plan: Any,
    *,
    engine: Any = "duckdb",
    seed: int | None = None,
    outcomes: Any = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, float]]:
    """The expansion's estimation: household rows → village × year cells in the engine → result tables.

    Parameters
    ----------
    households : path or Ibis table
        The household rows: a Parquet file or hive-partitioned folder (a partition key named like the plan's
        ``scaleup.time`` is read as an integer), or a table of ``engine``.
    villages : DataFrame
        The village table.
    plan : AnalysisPlan
    engine : {"duckdb", "spark"} or Engine
        Engine name (connected and closed here) or a connected :class:`welfare_eval.scale.Engine`.
    seed, outcomes
        See :func:`welfare_eval.study.scaleup.analyze_scaleup`.

    Returns
    -------
    (cells, results, seconds)
        ``seconds``: ``reduce`` and ``analyze`` wall times.
    """
    from welfare_eval.scale import Engine, connect, parquet_files, reduce_cells
    from welfare_eval.study.scaleup import analyze_scaleup

    su = plan.scaleup
    t0 = time.perf_counter()
    eng = engine if isinstance(engine, Engine) else connect(engine)
    try:
        if isinstance(households, str | Path):
            _root, _files, keys = parquet_files(households)
            table = eng.read_parquet(households, partition_types={su.time: "int64"} if su.time in keys else None)
        else:
            table = households
        carry = [su.province] if su.province in table.columns and su.province not in (su.unit, su.time) else []
        cells = reduce_cells(table, keys=[su.unit, su.time], variables=list(su.reduced_variables), weights=su.weights,
                             carry=carry, engine=eng)
    finally:
        if not isinstance(engine, Engine):
            eng.close()
    t1 = time.perf_counter()
    results = analyze_scaleup(cells, villages, plan, seed=seed, outcomes=outcomes)
    t2 = time.perf_counter()
    return cells, results, {"reduce": t1 - t0, "analyze": t2 - t1}


def scaleup_estimate(
    paths: Paths, *, engine: str | None = None, seed: int | None = None, plan: Any = None
) -> dict[str, pd.DataFrame]:
    """Estimate the expansion's effects from :attr:`Paths.scale` and write ``cells.parquet`` and ``results/``.

    ``engine`` (default the plan's ``scaleup.engine``, DuckDB) reduces the household rows to cells;
    :func:`welfare_eval.study.scaleup.analyze_scaleup` does the rest. ``results/scaleup.json`` records the plan
    (with its SHA-256), the seed, the engine, the fingerprints of the inputs, whether they are the simulated
    demo, sizes and wall times.
    """
    import welfare_eval
    from welfare_eval._io import write_parquet

    the_plan = project_plan(paths, plan)
    if seed is not None:
        the_plan = the_plan.replace(scaleup={"seed": int(seed)})
    su = the_plan.scaleup
    eng_name = engine or su.engine
    hh, vil = _scale_inputs(paths)
    t0 = time.perf_counter()
    data = _scale_data_record(paths)
    fp_s = time.perf_counter() - t0
    gen = _scale_generation(paths)
    demo = _is_generated(gen, data)
    villages = pd.read_parquet(vil)
    paths.say(f"estimating the expansion: {data['households']['files']} household files → cells ({eng_name}) → "
              f"ATT(g,t) of {', '.join(su.outcomes)} …")
    cells, results, secs = scaleup_tables(hh, villages, the_plan, engine=eng_name)
    write_parquet(cells, paths.scale / SCALE_CELLS)
    res_dir = paths.scale / SCALE_RESULTS
    if res_dir.is_dir():
        for old in res_dir.glob("*.parquet"):
            if old.stem not in results:
                old.unlink()
    for name, df in results.items():
        write_parquet(df, res_dir / f"{name}.parquet")
    from welfare_eval.report.provenance import package_versions

    rec = {
        "seed": int(su.seed if su.seed is not None else the_plan.seed),
        "plan": the_plan.to_dict(),
        "plan_sha256": the_plan.sha256(),
        "plan_source": _plan_name(paths, the_plan),
        "engine": eng_name,
        "data": data,
        "cells_sha256": sha256_file(paths.scale / SCALE_CELLS),
        "demo": demo,
        "simulation": gen if demo else None,
        "n_rows": int(cells["n_rows"].sum()),
        "n_cells": len(cells),
        "seconds": {"fingerprint": round(fp_s, 2), **{k: round(v, 2) for k, v in secs.items()}},
        "versions": {"welfare_eval": welfare_eval.__version__,
                     **package_versions(["duckdb", "ibis-framework", "pyspark", "numpy", "pandas", "scipy", "pyarrow"])},
        "tables": sorted(results),
    }
    atomic_write_text(res_dir / SCALE_RECORD, json_dumps(rec))
    paths.say(f"  {rec['n_rows']:,} household rows → {len(cells):,} cells in {secs['reduce']:.1f} s; estimation "
              f"{secs['analyze']:.1f} s; wrote {len(results)} result tables to {res_dir}")
    return results


def scaleup_results(paths: Paths) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The record (``results/scaleup.json``) and result tables of the last :func:`scaleup_estimate`."""
    p = paths.scale / SCALE_RESULTS / SCALE_RECORD
    if not p.is_file():
        raise FileNotFoundError(f"{paths.scale / SCALE_RESULTS}: no scale-up results; run `welfare-eval scaleup "
                                "estimate` first")
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    tables = {n: pd.read_parquet(p.parent / f"{n}.parquet") for n in rec["tables"]}
    return rec, tables


def scaleup_report_data(paths: Paths) -> Any:
    """The scale-up report's data bundle (:class:`~welfare_eval.report.data.ReportData`): the result tables,
    the estimate record as ``manifest``, and the planted truth only when the estimate ran on the simulator's
    data and ``truth.json`` is the one it wrote."""
    import welfare_eval
    from welfare_eval.report.data import ReportData

    rec, tables = scaleup_results(paths)
    gen = rec.get("simulation") if rec.get("demo") else None
    truth = None
    tp = paths.scale / SCALE_TRUTH
    if gen and tp.is_file() and sha256_file(tp) == gen.get("truth_sha256"):
        truth = json.loads(tp.read_text("utf-8"))
    lock = Path(__file__).resolve().parents[1] / "requirements.lock"
    return ReportData(
        results=tables,
        manifest={k: v for k, v in rec.items() if k not in ("plan", "tables")},
        truth=truth,
        simulation=gen if truth is not None else None,
        seed=rec.get("seed"),
        plan=rec.get("plan") or {},
        plan_sha256=str(rec.get("plan_sha256") or ""),
        plan_source=str(rec.get("plan_source") or ""),
        region_scheme=default_region_scheme().to_dict(),
        software={
            "package_version": welfare_eval.__version__,
            "git_commit": _git_commit(paths.root),
            "lock_sha256": sha256_file(lock) if lock.is_file() else None,
        },
    )


def scaleup_report(paths: Paths, *, renderer: str = "auto") -> Path:
    """Render ``reports/scaleup_report.qmd`` to ``reports/scaleup_report.html`` (one self-contained file).

    The data bundle (:func:`scaleup_report_data`) goes to a temporary folder passed as the report's
    ``report_data`` parameter and is removed afterwards.
    """
    from welfare_eval.report import render

    data = scaleup_report_data(paths)
    src = paths.reports / f"{SCALEUP_REPORT}.qmd"
    if not src.is_file():
        raise FileNotFoundError(f"{src}: report source not found")
    out = paths.reports / f"{SCALEUP_REPORT}.html"
    paths.say(f"rendering {src.name} …")
    tmp = Path(tempfile.mkdtemp(prefix=".report-data-", dir=paths.reports))
    try:
        data.save(tmp, durable=False)  # read once by the render, then removed
        render(src, output=out, engine=renderer, params={"report_data": str(tmp), "lang": "th"})  # type: ignore[arg-type]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    paths.say(f"  wrote {out}")
    return out
