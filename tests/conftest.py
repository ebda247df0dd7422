"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
FIXTURES = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """Path to ../shared/reference; skips the test when it is absent."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip("../shared/reference is not present")
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """Path to tests/reference (committed fixtures made by the scripts beside them)."""
    return FIXTURES


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete demo project (simulate → clean → analyze → report) in a temporary folder.

    Built once per test session with the CLI, exactly as `welfare-eval run` does it.
    """
    import shutil

    from welfare_eval.cli import main

    root = tmp_path_factory.mktemp("demo")
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(ROOT / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
    rc = main(["run", "--root", str(root), "--quiet", "--engine", "builtin"])
    assert rc == 0, "welfare-eval run failed on the demo study"
    return root


class CleanDemo:
    """The simulated demo study (seed 2568) after `clean_all`: built once per test session."""

    def __init__(self, study: object, processed: Path, tables: dict, truth: dict) -> None:
        self.study = study
        self.processed = processed
        self._tables = tables
        self.truth = truth

    def tables(self) -> dict:
        """Fresh copies of the processed tables (tests may modify them freely)."""
        return {name: df.copy() for name, df in self._tables.items()}


@pytest.fixture(scope="session")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> CleanDemo:
    """simulate_study(seed=2568) → write_raw_exports → clean_all, shared by the stage-integration tests."""
    import json

    from welfare_eval.clean import clean_all
    from welfare_eval.simulate import simulate_study, write_raw_exports, write_truth

    root = tmp_path_factory.mktemp("clean_demo")
    study = simulate_study(seed=2568)
    write_raw_exports(study, root / "raw")
    res = clean_all(root / "raw", root / "processed")
    truth = json.loads(write_truth(study.truth, root / "truth.json").read_text("utf-8"))
    return CleanDemo(study, root / "processed", dict(res.tables), truth)
