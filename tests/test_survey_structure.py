"""Structure of welfare_eval.survey: no import loop between its modules, no private access across them.

The survey package is a kernel (``variance``), the design state (``design``) and estimator modules that
use the design only through its public interface (issue 10). These checks read the source with ``ast``
so they also see imports inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SURVEY = Path(__file__).resolve().parents[1] / "welfare_eval" / "survey"
MODULES = sorted(p.stem for p in SURVEY.glob("*.py"))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("_")


def _tree(stem: str) -> ast.Module:
    return ast.parse((SURVEY / f"{stem}.py").read_text(encoding="utf-8"))


def _imports(stem: str) -> list[tuple[str, list[str]]]:
    """(survey module imported, names taken) for every import in the file, wherever it stands."""
    out = []
    for node in ast.walk(_tree(stem)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("welfare_eval.survey"):
            target = node.module.removeprefix("welfare_eval.survey").lstrip(".") or "__init__"
            out.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("welfare_eval.survey"):
                    out.append((a.name.removeprefix("welfare_eval.survey").lstrip(".") or "__init__", []))
    return out


def _own_private_attrs(tree: ast.Module) -> set[str]:
    """Private attribute names that this module itself assigns (``x._name = ...``) or defines."""
    own = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and _is_private(sub.attr):
                    own.add(sub.attr)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _is_private(node.name):
            own.add(node.name)
    return own


@pytest.mark.parametrize("stem", MODULES)
def test_module_imports(stem: str) -> None:
    name = "welfare_eval.survey" if stem == "__init__" else f"welfare_eval.survey.{stem}"
    importlib.import_module(name)


@pytest.mark.parametrize("stem", MODULES)
def test_no_private_names_across_modules(stem: str) -> None:
    tree = _tree(stem)
    own = _own_private_attrs(tree)
    bad = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and _is_private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        and node.attr not in own
    ]
    bad += [
        f"imports private {n!r} from survey.{target}"
        for target, names in _imports(stem)
        for n in names
        if _is_private(n)
    ]
    assert not bad, f"survey/{stem}.py reads private names of another module: {bad}"


def test_no_import_loop_in_survey() -> None:
    graph = {stem: {t for t, _ in _imports(stem) if t != stem} for stem in MODULES}
    # depth-first search for a cycle
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import loop in welfare_eval/survey: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for stem in MODULES:
        if stem not in state:
            visit(stem)
    # the kernel stands on the ground floor: it imports no other survey module
    assert graph["variance"] == set()
    # the estimators never import the design module
    for stem in ("estimators", "glm", "quantile", "replicate"):
        assert "design" not in graph[stem], stem
