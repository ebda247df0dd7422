"""Wiring of the steps to folders: the only module that knows file names.

``simulate`` (demo only) → ``data/raw`` → ``clean`` → ``data/processed`` → ``analyze`` (the study's plan:
:mod:`welfare_eval.study`) → ``data/processed/results`` → ``report`` → ``reports/final_report.html``.

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
    "PLAN_FILE",
    "RESULTS_DIR",
    "Paths",
    "analysis_record",
    "analyze",
    "clean",
    "load_processed",
    "load_results",
    "load_truth",
    "processed_manifest",
    "project_plan",
    "raw_exports",
    "region_scheme_of",
    "report",
    "report_data",
    "run",
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
    ) -> Paths:
        """Folders under ``root`` (default: :meth:`discover`), each overridable."""
        base = Path(root).resolve() if root is not None else cls.discover().root
        return cls(
            root=base,
            raw=Path(raw).resolve() if raw is not None else base / "data" / "raw",
            processed=Path(processed).resolve() if processed is not None else base / "data" / "processed",
            reports=Path(reports).resolve() if reports is not None else base / "reports",
            quiet=quiet,
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
    """The export files in the raw folder (everything but README/dotfiles; sub-folders are not exports)."""
    if not raw.is_dir():
        return []
    return sorted(
        p for p in raw.iterdir() if p.is_file() and p.name not in _NOT_EXPORTS and not p.name.startswith(".")
    )


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
def simulate(paths: Paths, *, seed: int | None = None, force: bool = False, plan: Any = None) -> list[Path]:
    """Write the seeded demo study's raw exports into ``paths.raw``.

    Refuses when the folder already holds exports, unless ``force``; even then only files that
    welfare_eval generated before (same name and SHA-256 as recorded in
    ``data/simulation/generation.json``) are replaced, so a user's files are never touched.
    The planted truth goes to ``data/simulation/truth.json`` (outside ``data/raw``). The demo's comparison
    villages are matched on the plan's matching covariates; ``seed`` defaults to the plan's.
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
    if existing:
        record = _read_generation(paths)
        for p in existing:
            if record.get(p.name) != sha256_file(p):
                raise FileExistsError(
                    f"{p}: not a file welfare_eval generated (or it was changed since); refusing to "
                    "overwrite it. Move your own exports elsewhere or simulate into another --raw folder"
                )
    paths.say(f"simulating the demo study (seed {seed}) into {paths.raw} …")
    study = simulate_study(seed=seed, match_covariates=the_plan.matching.covariates)
    files = write_raw_exports(study, paths.raw, overwrite=bool(existing))
    paths.simulation.mkdir(parents=True, exist_ok=True)
    write_truth(study.truth, paths.simulation / "truth.json")
    gen = {"seed": seed, "files": {p.name: sha256_file(p) for p in sorted(files)}}
    atomic_write_text(paths.simulation / _GENERATION, json_dumps(gen))
    paths.say(f"  wrote {len(files)} raw files")
    return files


def _read_generation(paths: Paths) -> dict[str, str]:
    p = paths.simulation / _GENERATION
    if not p.is_file():
        return {}
    files = json.loads(p.read_text("utf-8")).get("files", {})
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
    present = {q.name for q in raw_exports(paths.raw)}
    if present != set(files):
        return None
    if any(sha256_file(paths.raw / n) != h for n, h in files.items()):
        return None
    return rec


def _scheme(regions: RegionScheme | str | Path | None) -> RegionScheme | None:
    if regions is None or isinstance(regions, RegionScheme):
        return regions
    return RegionScheme.from_csv(regions)


def clean(paths: Paths, *, regions: RegionScheme | str | Path | None = None) -> Any:
    """Clean ``paths.raw`` into ``paths.processed`` (see :func:`welfare_eval.clean.clean_all`).

    ``regions`` (a :class:`~welfare_eval.reference.RegionScheme` or the path of a province → region CSV)
    replaces the packaged 2017 inspection-region scheme; the scheme used is recorded in the manifest.
    """
    from welfare_eval.clean import clean_all

    if not raw_exports(paths.raw):
        raise FileNotFoundError(
            f"{paths.raw} holds no raw exports; put the exports and their codebook.csv there, "
            "or run `welfare-eval simulate` for the demo study"
        )
    paths.say(f"cleaning {paths.raw} → {paths.processed} …")
    # the public demo key is allowed only when every raw file is, byte for byte, the simulator's output
    result = clean_all(paths.raw, paths.processed, regions=_scheme(regions), demo=simulation_record(paths) is not None)
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


def analyze(paths: Paths, *, seed: int | None = None, plan: Any = None) -> dict[str, pd.DataFrame]:
    """Run the analysis plan on the processed tables and write ``processed/results/*.parquet``.

    ``results/analysis.json`` records the seed, the plan (as data, with its SHA-256 and source) and the
    region scheme, for the report's provenance.
    """
    from welfare_eval.study import analyze_study

    the_plan = project_plan(paths, plan)
    if seed is not None:
        the_plan = the_plan.replace(seed=int(seed))
    man = processed_manifest(paths)
    scheme = region_scheme_of(man)
    tables = load_processed(paths)
    paths.say("analysing: matching and balance, survey weights, impact (DiD), success factors …")
    results = analyze_study(tables, the_plan, provinces=scheme.provinces)
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
        "plan_source": the_plan.source if the_plan.source != str(paths.plan_file) else PLAN_FILE,
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


def report_data(paths: Paths) -> Any:
    """Everything the report shows, as a :class:`~welfare_eval.report.data.ReportData`."""
    import welfare_eval
    from welfare_eval.report.data import ReportData
    from welfare_eval.report.fieldwork import fieldwork_table

    rec = analysis_record(paths)
    man = processed_manifest(paths)
    hh_p = paths.processed / "households.parquet"
    listed = {str(o.get("file")) for o in man.get("outputs", []) if isinstance(o, dict)}
    fieldwork = fieldwork_table(pd.read_parquet(hh_p)) if "households.parquet" in listed and hh_p.is_file() else pd.DataFrame()
    ledger_p, checks_p = paths.processed / "ledger.csv", paths.processed / "checks.csv"
    lock = Path(__file__).resolve().parents[1] / "requirements.lock"
    return ReportData(
        results=load_results(paths),
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


def report(paths: Paths, *, engine: str = "auto", lang: str = "th") -> Path:
    """Render ``reports/final_report.qmd`` to ``reports/final_report.html`` (``lang="en"``:
    ``final_report.en.html``), one self-contained file.

    The report's data bundle (:func:`report_data`) is written to a temporary folder that is the report's
    ``report_data`` parameter, and removed afterwards.
    """
    from welfare_eval.report import render

    if lang not in REPORT_FILES:
        raise ValueError(f"lang={lang!r}: the report is written in {', '.join(REPORT_FILES)}")
    src = paths.report_source
    if not src.is_file():
        raise FileNotFoundError(f"{src}: report source not found")
    data = report_data(paths)
    out = paths.reports / REPORT_FILES[lang]
    paths.say(f"rendering {src.name} ({lang}) …")
    # one source, two editions: the English edition is the Quarto profile "en" (_quarto-en.yml: language,
    # title, captions); simulated data add the profile "demo" (a banner style) and a demo subtitle
    profiles = (["en"] if lang == "en" else []) + (["demo"] if data.is_demo else [])
    metadata: dict[str, Any] = {"date": data.report_date} if data.report_date else {}
    if data.is_demo:
        metadata["subtitle"] = label("report.subtitle_demo", lang)  # type: ignore[arg-type]
    tmp = Path(tempfile.mkdtemp(prefix=".report-data-", dir=paths.reports))
    try:
        data.save(tmp)
        render(src, output=out, engine=engine, params={"report_data": str(tmp), "lang": lang},  # type: ignore[arg-type]
               profile=profiles, metadata=metadata)
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
) -> Path:
    """The whole job: simulate the demo if ``data/raw`` is empty (or ``resimulate``), clean, analyse, report."""
    t0 = time.perf_counter()
    the_plan = project_plan(paths, plan)
    if resimulate or not raw_exports(paths.raw):
        simulate(paths, seed=seed, force=resimulate, plan=the_plan)
    else:
        paths.say(f"using the exports already in {paths.raw} (no simulation)")
    clean(paths, regions=regions)
    analyze(paths, seed=seed, plan=the_plan)
    out = report(paths, engine=engine, lang=lang)
    paths.say(f"done in {time.perf_counter() - t0:.1f} s → {out}")
    return out
