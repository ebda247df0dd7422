"""Shared test fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one pytest-xdist worker per core: one BLAS thread each (and in the kernels and commands
    # they start), so the workers do not oversubscribe the cores.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)

ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
FIXTURES = Path(__file__).resolve().parent / "reference"


INTEGRATION_MODULES = {
    "test_faults.py", "test_simulate.py", "test_simulate_national.py", "test_clean_demo.py", "test_clean_publish.py",
    "test_monitor_store.py", "test_monitor_cli.py", "test_pipeline.py", "test_scaleup.py", "test_scale_cells.py",
}


E2E_FIXTURES = {"demo_project", "demo_report_en", "custom_project", "opened", "chromium"}
DEMO_FIXTURES = {"clean_demo", "demo_analysis"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers from the costly session fixtures a test needs (``make test-fast`` leaves these tests out), and
    the order in which the modules are handed to the pytest-xdist workers.

    Markers: ``e2e``: the rendered demo project (and the English edition, the browser, a second project built
    from it); ``demo``: the cleaned and analysed demo study in memory; ``spark``: a local Spark engine;
    ``integration``: the modules that drive whole stages (the simulator's exports, cleaning the demo, the fault
    corpus, the monitoring store, the command line, the national data).

    Order (``--dist loadfile --no-loadscope-reorder``: a module is one unit of work, handed out in collection
    order): first a module whose first test needs the rendered demo project and one whose first test needs the
    analysed demo, so that the two costly shared builds start at once on two workers; then the long modules
    that need neither build; those that need the analysed demo; those that need the rendered project; then the
    rest, whose short modules even out the end of the run. Tests keep their order inside a module.
    """
    first_needs: dict[Path, set[str]] = {}  # modules in collection order: what the module's first test needs
    marks: dict[Path, set[str]] = {}  # the markers of the module's tests
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        first_needs.setdefault(item.path, names)
        if item.path.name in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)
        if names & E2E_FIXTURES or item.path.name == "test_report_browser.py":
            item.add_marker(pytest.mark.e2e)
        if names & DEMO_FIXTURES:
            item.add_marker(pytest.mark.demo)
        if "spark_engine" in names:
            item.add_marker(pytest.mark.spark)
        marks.setdefault(item.path, set()).update(m.name for m in item.iter_markers())

    builders = [
        next((p for p, names in first_needs.items() if names & E2E_FIXTURES), None),
        next((p for p, names in first_needs.items() if names & DEMO_FIXTURES and "e2e" not in marks[p]), None),
    ]

    def rank(path: Path) -> int:
        if path in builders:
            return builders.index(path)
        if "e2e" in marks[path]:
            return 4
        if "demo" in marks[path]:
            return 3
        return 2 if marks[path] & {"slow", "integration"} else 5

    order = {path: i for i, path in enumerate(first_needs)}
    items[:] = sorted(items, key=lambda it: (rank(it.path), order[it.path]))  # stable: module order kept


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """Close the figures a test left open (pyplot keeps every figure until it is closed)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


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


CUSTOM_PLAN = """\
# a research team's edit of the plan: `coped` dropped from the impact outcomes; fewer draws
impact:
  outcomes: [any_welfare, n_welfare_types, welfare_amount, savings, debt, qol_index, self_reliance_index,
             member_welfare_fund, member_savings_group, member_village_fund]
  draws: {primary: 999, secondary: 199, welfare_types: 199}
  preliminary: {draws: 999}
  event_study: {draws: 199}
factors: {n_boot: 0, efa_iter: 5}
power: {draws: 0, simulation: {enabled: false}}
funds: {draws: 100}
"""
#: the reason of the pair the custom project drops through a corrections file (pair 1, file drop.csv)
DROP_REASON = "no endline interviews (flood)"


@pytest.fixture(scope="session")
def custom_project(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A research team's own project built from the demo's exports, run end to end in both editions.

    It has a user's region mapping (``--regions``), an edited analysis plan (``analysis_plan.yaml``) and a pair
    dropped through a corrections file (``data/raw/corrections/drop.csv``, pair 1); the edited exports are not
    the demo's, so it cleans with a pseudonymisation key of its own.
    """
    import json
    import shutil

    import pandas as pd

    from welfare_eval.cli import main
    from welfare_eval.reference import default_region_scheme

    root = tmp_path_factory.mktemp("custom")
    shutil.copytree(demo_project / "data" / "raw", root / "data" / "raw")
    shutil.copytree(demo_project / "data" / "simulation", root / "data" / "simulation")
    shutil.copytree(demo_project / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
    (root / "analysis_plan.yaml").write_text(CUSTOM_PLAN, encoding="utf-8")
    mapping = root / "regions_2569.csv"
    default_region_scheme().provinces.to_csv(mapping, index=False)
    mapping.with_suffix(".json").write_text(
        json.dumps({"scheme": "regions_2569", "name_en": "User mapping of the 2569 order", "date": "2569"}),
        encoding="utf-8",
    )
    pd.DataFrame([{"file": "", "sheet": "", "row": "", "submission": "", "key": "", "action": "drop_pair",
                   "column": "", "value": "1", "reason": DROP_REASON}]).to_csv(
        root / "data" / "raw" / "corrections" / "drop.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:  # edited exports are not the demo: a key of the team's own
        mp.setenv("WELFARE_EVAL_PSEUDONYM_KEY", "custom-project-test-key-0123456789abcdef")
        base = ["--root", str(root), "--quiet"]
        assert main(["run", *base, "--regions", str(mapping), "--engine", "builtin"]) == 0
        assert main(["report", *base, "--engine", "builtin", "--lang", "en"]) == 0
    return root


def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(folder)`` once per test run: under pytest-xdist the workers share the folder (the first one to get
    the lock builds it, the others wait and reuse it); a failed build leaves no completion mark, so the next
    worker tries again and fails the same way."""
    import fcntl
    import shutil

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, above each worker's own
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            done.write_text("built\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete demo project (simulate → clean → analyze → report) in a temporary folder.

    Built once per test run with the CLI, exactly as `welfare-eval run` does it (shared by the pytest-xdist
    workers; tests read it and copy it before changing anything).
    """
    import shutil

    from welfare_eval.cli import main

    def build(root: Path) -> None:
        (root / "data" / "raw").mkdir(parents=True)
        shutil.copytree(ROOT / "reports", root / "reports", ignore=shutil.ignore_patterns("*.html", "_build"))
        rc = main(["run", "--root", str(root), "--quiet", "--engine", "builtin"])
        assert rc == 0, "welfare-eval run failed on the demo study"

    return _built_once(tmp_path_factory, "demo", build)


@pytest.fixture(scope="session")
def demo_report_en(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The English edition of the demo report (`welfare-eval report --lang en`), rendered once per test run."""
    from welfare_eval.cli import main

    def build(_marker: Path) -> None:
        rc = main(["report", "--root", str(demo_project), "--quiet", "--engine", "builtin", "--lang", "en"])
        assert rc == 0, "welfare-eval report --lang en failed on the demo study"

    _built_once(tmp_path_factory, "demo_en", build)
    out = demo_project / "reports" / "final_report.en.html"
    assert out.is_file()
    return out


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


def _shared_object(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]) -> Any:
    """``make(folder)`` once per test run: under pytest-xdist the first worker pickles the object into a shared
    folder and the others load it (see :func:`_built_once`)."""
    import pickle

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return make(tmp_path_factory.mktemp(name))

    def build(folder: Path) -> None:
        with open(folder / "object.pickle", "wb") as fh:
            pickle.dump(make(folder), fh, protocol=pickle.HIGHEST_PROTOCOL)

    folder = _built_once(tmp_path_factory, name, build)
    with open(folder / "object.pickle", "rb") as fh:
        return pickle.load(fh)


@pytest.fixture(scope="session")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> CleanDemo:
    """simulate_study(seed=2568) → write_raw_exports → clean_all, shared by the stage-integration tests."""
    import json

    from welfare_eval.clean import clean_all
    from welfare_eval.simulate import simulate_study, write_raw_exports, write_truth

    def make(root: Path) -> CleanDemo:
        study = simulate_study(seed=2568)
        write_raw_exports(study, root / "raw")
        res = clean_all(root / "raw", root / "processed", key="demo")
        truth = json.loads(write_truth(study.truth, root / "truth.json").read_text("utf-8"))
        return CleanDemo(study, root / "processed", dict(res.tables), truth)

    return _shared_object(tmp_path_factory, "clean_demo", make)


class DemoAnalysis:
    """The whole analysis of the cleaned demo with the packaged plan (built once per test session)."""

    def __init__(self, clean_demo: CleanDemo) -> None:
        from welfare_eval.study import analyze_study, default_plan
        from welfare_eval.study.impact import impact_sample
        from welfare_eval.study.sample import receipt_wide
        from welfare_eval.study.weights import weights_pipeline

        self.tables = clean_demo.tables()
        self.truth = clean_demo.truth
        self.plan = default_plan()
        self.seed = self.plan.seed
        self.results = analyze_study(self.tables, self.plan)
        self.weights = weights_pipeline(self.tables["households"], self.tables["villages"])
        self.households = self.weights.households
        self.sample = impact_sample(receipt_wide(self.households, self.tables["benefits"]), self.plan.impact.outcomes)

    def subset(self, prefix: str) -> dict:
        """The result tables whose key starts with ``prefix`` (e.g. ``"impact_"``)."""
        return {k: v for k, v in self.results.items() if k.startswith(prefix)}


@pytest.fixture(scope="session")
def demo_analysis(clean_demo: CleanDemo, tmp_path_factory: pytest.TempPathFactory) -> DemoAnalysis:
    """``analyze_study`` on the cleaned demo with the packaged plan, shared by the study-layer tests."""
    return _shared_object(tmp_path_factory, "demo_analysis", lambda _folder: DemoAnalysis(clean_demo))


@pytest.fixture(scope="session")
def national_small(tmp_path_factory: pytest.TempPathFactory):
    """A small national simulation on disk (≈ 300 villages, 3 years, hive Parquet), built once per session."""
    from welfare_eval.simulate.national import NationalConfig, simulate_national

    cfg = NationalConfig(
        years=(2025, 2026, 2027), cohorts=(2026, 2027), cohort_shares=(0.5, 0.5), cohort_multiplier=(1.2, 1.0)
    )
    return simulate_national(tmp_path_factory.mktemp("national") / "nat", seed=7, scale=0.004, config=cfg)


@pytest.fixture(scope="session")
def spark_engine():
    """One local Spark engine (local[2], no UI, 127.0.0.1) for the whole session; skips without Java."""
    from welfare_eval.scale import connect, java_available

    if not java_available():
        pytest.skip("Spark engine tests need a Java runtime (none found; install openjdk-17-jre-headless or set JAVA_HOME)")
    # The test data are tiny: the JVM's optimising JIT compiler and parallel garbage collector would spend
    # more CPU than the queries (24 s against 13 s with the client compiler and the serial collector, the
    # Spark settings of the package unchanged).
    eng = connect("spark", spark_conf={"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"})
    yield eng
    eng.close()
