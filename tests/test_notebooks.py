"""Every notebook in notebooks/ runs without error on the demo study."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, demo_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from welfare_eval.report._render import _skip_slow_format_checker

    _skip_slow_format_checker()  # (imported here, not at collection: nbformat's import costs every worker 2 s)
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(demo_project)}}
    )
    client.execute(env=dict(os.environ))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_notebooks_are_up_to_date_with_their_generator() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    rc = subprocess.run([sys.executable, str(root / "tools" / "make_notebooks.py"), "--check"], check=False).returncode
    assert rc == 0, "notebooks/ differ from tools/make_notebooks.py: run it and commit the result"
