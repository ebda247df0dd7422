"""Write the notebooks in notebooks/ from their cell sources (run after editing this file).

Notebooks are committed without outputs; the test suite executes each one on the demo data
(tests/test_notebooks.py), so they never rot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

#: The first code cell of every notebook.
SETUP = """\
from welfare_eval import pipeline
from welfare_eval.report import figures

LANG = "th"  # the language of the tables and figures below: "th" or "en"
figures.use_thai_font()
paths = pipeline.Paths.discover()  # the project folder: the current folder or a parent with data/
# what `welfare-eval run` stored: results, plan, manifest, ledger, checks. Nothing is recomputed silently:
# without stored results this raises "run `welfare-eval analyze` first".
D = pipeline.report_data(paths)
paths"""

SPECS = Path(__file__).resolve().parent / "notebooks"


def _load_specs() -> dict[str, list[tuple[str, str]]]:
    """Each ``tools/notebooks/NN_name.py`` defines ``CELLS = [("md" | "code", source), ...]``;
    ``SETUP`` (above) is available to them as ``make_notebooks.SETUP``."""
    import importlib.util

    out: dict[str, list[tuple[str, str]]] = {}
    for spec_file in sorted(SPECS.glob("[0-9][0-9]_*.py")):
        spec = importlib.util.spec_from_file_location(spec_file.stem, spec_file)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out[spec_file.stem + ".ipynb"] = list(mod.CELLS)
    return out


def build(check: bool = False) -> int:
    stale = 0
    for name, cells in _load_specs().items():
        nb = new_notebook(
            cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells],
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
        )
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"  # stable ids: the files do not churn
        text = nbformat.writes(nb) + "\n"
        path = HERE / name
        if check:
            stale += not path.is_file() or path.read_text("utf-8") != text
        else:
            path.write_text(text, encoding="utf-8")
    return stale


if __name__ == "__main__":
    sys.exit(build(check="--check" in sys.argv))
