"""The house rules of docs/architecture.md, checked on the code's own imports (read with ``ast``)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "welfare_eval"
#: The general library (and its kernels): never imports the study side.
LIBRARY = {"reference", "clean", "match", "survey", "did", "factors", "power", "monitor", "funds", "scale",
           "_results", "_io", "_progress"}
STUDY_SIDE = {"study", "simulate", "pipeline", "report", "cli"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """Every ``welfare_eval`` module a file imports (module level and inside functions); parsed once per file.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
    """
    tree = ast.parse(path.read_text("utf-8"))
    me = _module_name(path).split(".")
    is_pkg = path.name == "__init__.py"
    files = _files()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("welfare_eval"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me if is_pkg else me[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if not mod.startswith("welfare_eval"):
                continue
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in files]
            out.update(subs)
            if len(subs) < len(node.names):
                out.add(mod)
    return frozenset(out)


@functools.cache
def _files() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@functools.cache
def _graph() -> dict[str, set[str]]:
    files = _files()
    return {m: {t for t in _imports(p) if t in files and t != m} for m, p in files.items()}


def test_library_never_imports_the_study_side() -> None:
    bad = []
    for m, p in _files().items():
        if _folder(m) in LIBRARY:
            bad += [(m, t) for t in _imports(p) if _folder(t) in STUDY_SIDE]
    assert not bad, f"the general library imports the study side: {bad[:5]}"


def test_study_layer_never_imports_simulator_pipeline_or_report() -> None:
    bad = []
    for m, p in _files().items():
        if _folder(m) == "study":
            bad += [(m, t) for t in _imports(p) if _folder(t) in {"simulate", "pipeline", "report", "cli"}]
    assert not bad, bad


def test_nothing_imports_the_simulator_but_pipeline_and_cli() -> None:
    bad = []
    for m, p in _files().items():
        if _folder(m) not in {"simulate", "pipeline", "cli"}:
            bad += [(m, t) for t in _imports(p) if _folder(t) == "simulate"]
    assert not bad, bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_loop_across_folders() -> None:
    g = _graph()
    # a package's __init__ re-exporting its own modules is not a loop between folders
    loops = [c for c in _cycles(g) if len({_folder(m) for m in c}) > 1]
    assert not loops, f"import loops across folders: {loops}"


@pytest.mark.parametrize("folder", ["study", "did", "match", "factors", "clean"])
def test_no_import_loop_inside_a_folder(folder: str) -> None:
    g = _graph()
    sub = {m: {t for t in ts if _folder(t) == folder and not t.endswith(folder)} for m, ts in g.items()
           if _folder(m) == folder and m != f"welfare_eval.{folder}"}
    assert not _cycles(sub), _cycles(sub)


def test_clean_building_blocks_load_without_the_cleaning_stage() -> None:
    """``welfare_eval.clean`` loads its submodules on first use: the Thai helpers and ``verify_processed`` (monitoring
    forms, every report) come without pandera; every public name still resolves."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from welfare_eval.clean import verify_processed, normalize_text, find_pii\n"
        "import welfare_eval.clean.thai\n"
        "assert 'pandera' not in sys.modules and 'welfare_eval.clean.core' not in sys.modules\n"
        "import welfare_eval.clean as c\n"
        "missing = [n for n in c.__all__ if getattr(c, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert 'pandera' in sys.modules and callable(c.clean_all) and sorted(c.__all__) == sorted(set(c.__all__))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_clean_lazy_table_names_what_the_type_checker_imports() -> None:
    """``welfare_eval.clean``: the names imported under TYPE_CHECKING (what mypy and editors see) are exactly those
    the lazy loader serves, from the same submodules."""
    import welfare_eval.clean as c

    tree = ast.parse((PKG / "clean" / "__init__.py").read_text("utf-8"))
    guarded = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    imported = {a.name: node.module.rsplit(".", 1)[1] for node in guarded.body if isinstance(node, ast.ImportFrom)
                for a in node.names if node.module}
    assert imported == c._WHERE
    assert c.__all__ == sorted(imported)
