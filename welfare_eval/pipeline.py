"""Wiring of the stages to folders: the only module that knows file names.

``simulate`` (demo only) → ``data/raw`` → ``clean`` → ``data/processed`` → ``analyze`` (match, weights,
effects) → ``data/processed/results`` → ``report`` → ``reports/final_report.html``.

Every stage function takes a :class:`Paths` and returns what it made; the CLI, the notebooks and the
report call these functions and never read files behind a stage's back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "RESULTS_DIR",
    "Paths",
    "analyze",
    "clean",
    "load_processed",
    "load_results",
    "raw_exports",
    "report",
    "run",
    "simulate",
]

#: Sub-folder of the processed folder holding analysis results.
RESULTS_DIR = "results"
#: Files in data/raw that are not exports.
_NOT_EXPORTS = {"README.md", ".gitkeep"}


@dataclass(frozen=True)
class Paths:
    """The project's folders."""

    root: Path
    raw: Path
    processed: Path
    reports: Path

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

    @classmethod
    def from_root(
        cls,
        root: str | Path | None = None,
        *,
        raw: str | Path | None = None,
        processed: str | Path | None = None,
        reports: str | Path | None = None,
    ) -> Paths:
        """Folders under ``root`` (default: :meth:`discover`), each overridable."""
        base = Path(root).resolve() if root is not None else cls.discover().root
        return cls(
            root=base,
            raw=Path(raw).resolve() if raw is not None else base / "data" / "raw",
            processed=Path(processed).resolve() if processed is not None else base / "data" / "processed",
            reports=Path(reports).resolve() if reports is not None else base / "reports",
        )

    @classmethod
    def discover(cls, start: str | Path | None = None) -> Paths:
        """Find the project folder: ``$WELFARE_EVAL_ROOT``, else the nearest parent of ``start``
        (default: the current folder) that has a ``data/`` folder, else ``start`` itself."""
        env = os.environ.get("WELFARE_EVAL_ROOT")
        if env:
            return cls.from_root(
                env,
                raw=os.environ.get("WELFARE_EVAL_RAW") or None,
                processed=os.environ.get("WELFARE_EVAL_PROCESSED") or None,
            )
        here = Path(start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / "data").is_dir() and ((d / "reports").is_dir() or (d / "pyproject.toml").is_file()):
                return cls.from_root(d)
        return cls.from_root(here)


# --------------------------------------------------------------------------------------------------
# Small file utilities
# --------------------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"


def _say(msg: str) -> None:
    if os.environ.get("WELFARE_EVAL_QUIET") != "1":
        print(msg, file=sys.stderr, flush=True)


def raw_exports(raw: Path) -> list[Path]:
    """The export files in the raw folder (everything but README/dotfiles)."""
    if not raw.is_dir():
        return []
    return sorted(
        p for p in raw.iterdir() if p.is_file() and p.name not in _NOT_EXPORTS and not p.name.startswith(".")
    )


# --------------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------------
_GENERATION = "generation.json"


def simulate(paths: Paths, *, seed: int, force: bool = False) -> list[Path]:
    """Write the seeded demo study's raw exports into ``paths.raw``.

    Refuses when the folder already holds exports, unless ``force``; even then only files that
    welfare_eval generated before (same name and SHA-256 as recorded in
    ``data/simulation/generation.json``) are replaced, so a user's files are never touched.
    The planted truth goes to ``data/simulation/truth.json`` (outside ``data/raw``).
    """
    from welfare_eval.simulate import simulate_study, write_raw_exports, write_truth

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
    _say(f"simulating the demo study (seed {seed}) into {paths.raw} …")
    study = simulate_study(seed=seed)
    files = write_raw_exports(study, paths.raw, overwrite=bool(existing))
    paths.simulation.mkdir(parents=True, exist_ok=True)
    write_truth(study.truth, paths.simulation / "truth.json")
    gen = {"seed": seed, "files": {p.name: sha256_file(p) for p in sorted(files)}}
    atomic_write_text(paths.simulation / _GENERATION, _json(gen))
    _say(f"  wrote {len(files)} raw files")
    return files


def _read_generation(paths: Paths) -> dict[str, str]:
    p = paths.simulation / _GENERATION
    if not p.is_file():
        return {}
    files = json.loads(p.read_text("utf-8")).get("files", {})
    return {str(k): str(v) for k, v in files.items()}


def simulation_record(paths: Paths) -> dict[str, Any] | None:
    """The demo's generation record (seed and raw-file hashes), or None for real data."""
    p = paths.simulation / _GENERATION
    if not p.is_file():
        return None
    rec: dict[str, Any] = json.loads(p.read_text("utf-8"))
    # the record describes data/raw only while the files there are the generated ones
    if any(not (paths.raw / n).is_file() or sha256_file(paths.raw / n) != h for n, h in rec["files"].items()):
        return None
    return rec


def clean(paths: Paths) -> Any:
    """Clean ``paths.raw`` into ``paths.processed`` (see :func:`welfare_eval.clean.clean_all`)."""
    from welfare_eval.clean import clean_all

    if not raw_exports(paths.raw):
        raise FileNotFoundError(
            f"{paths.raw} holds no raw exports; put the exports and their codebook.csv there, "
            "or run `welfare-eval simulate` for the demo study"
        )
    _say(f"cleaning {paths.raw} → {paths.processed} …")
    result = clean_all(paths.raw, paths.processed)
    _say(result.summary())
    return result


def load_processed(paths: Paths | None = None, tables: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Read the processed tables (``<name>.parquet`` in ``paths.processed``)."""
    paths = paths or Paths.discover()
    names = list(tables) if tables is not None else sorted(p.stem for p in paths.processed.glob("*.parquet"))
    out = {}
    for n in names:
        f = paths.processed / f"{n}.parquet"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: processed table missing; run `welfare-eval clean` first")
        out[n] = pd.read_parquet(f)
    return out


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def analyze(paths: Paths, *, seed: int) -> dict[str, pd.DataFrame]:
    """Run the analysis plan on the processed tables and write ``processed/results/*.parquet``.

    The pair table also goes to ``processed/pairs.parquet`` (used by everything downstream).
    """
    from welfare_eval.analysis import analyze_study

    tables = load_processed(paths)
    _say("analysing: matching and balance, survey weights, impact (DiD), success factors …")
    results = analyze_study(tables, seed=seed)
    for name, df in results.items():
        _write_parquet(df, paths.results / f"{name}.parquet")
    _write_parquet(results["pairs"], paths.processed / "pairs.parquet")
    meta = {"seed": seed, "tables": sorted(results)}
    atomic_write_text(paths.results / "analysis.json", _json(meta))
    _say(f"  wrote {len(results)} result tables to {paths.results}")
    return results


def load_results(paths: Paths | None = None) -> dict[str, pd.DataFrame]:
    """Read the analysis result tables written by :func:`analyze`."""
    paths = paths or Paths.discover()
    if not paths.results.is_dir():
        raise FileNotFoundError(f"{paths.results}: no analysis results; run `welfare-eval analyze` first")
    return {p.stem: pd.read_parquet(p) for p in sorted(paths.results.glob("*.parquet"))}


def load_truth(paths: Paths | None = None) -> dict[str, Any] | None:
    """The demo's planted truth (``data/simulation/truth.json``) when data/raw holds the demo exports."""
    paths = paths or Paths.discover()
    if simulation_record(paths) is None:
        return None
    p = paths.simulation / "truth.json"
    return json.loads(p.read_text("utf-8")) if p.is_file() else None


def report(paths: Paths, *, engine: str = "auto") -> Path:
    """Render ``reports/final_report.qmd`` to ``reports/final_report.html`` (self-contained)."""
    from welfare_eval.report import check_self_contained, render

    src = paths.report_source
    if not src.is_file():
        raise FileNotFoundError(f"{src}: report source not found")
    if not paths.results.is_dir():
        raise FileNotFoundError(f"{paths.results}: no analysis results; run `welfare-eval analyze` first")
    out = paths.reports / "final_report.html"
    env = {
        "WELFARE_EVAL_ROOT": str(paths.root),
        "WELFARE_EVAL_RAW": str(paths.raw),
        "WELFARE_EVAL_PROCESSED": str(paths.processed),
    }
    _say(f"rendering {src.name} …")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        render(src, output=out, engine=engine)  # type: ignore[arg-type]
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    bad = check_self_contained(out)
    if bad:
        raise ValueError(f"{out}: report is not self-contained, it would fetch {bad[0]}")
    _say(f"  wrote {out}")
    return out


def run(paths: Paths, *, seed: int, resimulate: bool = False, engine: str = "auto") -> Path:
    """The whole job: simulate the demo if ``data/raw`` is empty (or ``resimulate``), clean, analyse, report."""
    import time

    t0 = time.perf_counter()
    if resimulate or not raw_exports(paths.raw):
        simulate(paths, seed=seed, force=resimulate)
    else:
        _say(f"using the exports already in {paths.raw} (no simulation)")
    clean(paths)
    analyze(paths, seed=seed)
    out = report(paths, engine=engine)
    _say(f"done in {time.perf_counter() - t0:.1f} s → {out}")
    return out
