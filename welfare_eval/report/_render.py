"""Render a Quarto report to one self-contained HTML file, with or without Quarto.

Two engines:

``quarto``
    ``quarto render <file> --to html`` (used by ``engine="auto"`` when ``quarto`` is on ``PATH``).
``builtin``
    The same document run without Quarto: the ``.qmd`` is parsed (front matter merged over the
    project's ``_quarto.yml``), its ``{python}`` cells are executed in order in a Jupyter kernel
    (``nbclient``; the kernel runs the *current* interpreter, ``sys.executable``), the outputs are
    turned into pandoc markdown following the Quarto cell options, and pandoc (from
    ``pypandoc-binary``) writes a standalone HTML with every resource embedded and math as MathML.

Cell options honoured by the built-in engine (document defaults from ``execute:``):
``eval``, ``echo`` (``true``/``false``/``fenced``), ``include``, ``output`` (``true``/``false``/``asis``),
``warning``, ``error``, ``label``, ``fig-cap``, ``fig-alt``, ``tbl-cap``, ``tags: [parameters]``.
Labels starting ``fig-``/``tbl-`` (on cells or as ``{#fig-x}``/``{#tbl-x}`` in markdown) are numbered
in document order, captions get the prefix "รูปที่ N: "/"ตารางที่ N: " (Thai documents) or
"Figure N: "/"Table N: ", and ``@fig-x``/``@tbl-x`` in the text become links with that text. The
prefixes can be overridden with Quarto's ``language: crossref-fig-title`` / ``crossref-tbl-title``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from welfare_eval._io import atomic_write_bytes
from welfare_eval._progress import progress
from welfare_eval.report._qmd import (
    Chunk,
    deep_merge,
    expand_includes,
    find_project,
    inline_expressions,
    parse_qmd,
    replace_inline,
    resolve_conditionals,
)
from welfare_eval.report._selfcontained import check_self_contained

__all__ = ["RenderError", "ReportKernel", "default_output", "render", "start_kernel"]

Engine = Literal["auto", "quarto", "builtin"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_XREF = re.compile(
    r"(?P<open>\[)?(?P<minus>-)?(?<![\w@#])@(?P<id>(?:fig|tbl|sec)-[A-Za-z0-9_]+(?:[-_][A-Za-z0-9_]+)*)"
    r"(?(open)\])"
)
_MD_FIG = re.compile(
    r"!\[(?P<cap>[^\]]*)\]\((?P<src>[^)]*)\)\{(?P<attr>[^}]*?#(?P<id>fig-[A-Za-z0-9_-]+)[^}]*)\}"
)
_MD_TBL = re.compile(
    r"^(?P<lead>(?:Table)?:[ \t]+)(?P<cap>.*?)[ \t]*\{#(?P<id>tbl-[A-Za-z0-9_-]+)\}[ \t]*$", re.M
)
_MD_SEC = re.compile(
    r"^#{1,6}[ \t]+(?P<text>.+?)[ \t]*\{[^}]*?#(?P<id>sec-[A-Za-z0-9_-]+)[^}]*\}[ \t]*$", re.M
)
_MD_FLOAT_DIV = re.compile(r"^:{3,}[ \t]*\{[^}\n]*?#(?P<id>(?:fig|tbl)-[A-Za-z0-9_-]+)[^}\n]*\}[ \t]*$", re.M)
_CODE_SPANS = re.compile(r"(^(?P<f>`{3,}|~{3,})[^\n]*\n.*?^(?P=f)[`~]*[ \t]*$|`[^`\n]+`)", re.M | re.S)
_INLINE_MARK = "\x1eWELFARE_EVAL_INLINE:"
_KERNEL_NAME = "welfare-eval-python"


class RenderError(ValueError):
    """A report could not be rendered; the first line names the file, line and cell."""


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------
def render(
    qmd: str | Path,
    *,
    output: str | Path | None = None,
    engine: Engine = "auto",
    execute_dir: str | Path | None = None,
    cwd: str | Path | None = None,
    params: dict[str, Any] | None = None,
    profile: str | Sequence[str] | None = None,
    metadata: dict[str, Any] | None = None,
    timeout: int = 600,
    check: bool = True,
    kernel: ReportKernel | None = None,
) -> Path:
    """Render ``qmd`` to one self-contained HTML file and return its path.

    Parameters
    ----------
    qmd : path
        The Quarto document.
    output : path, optional
        Where to write the HTML. Default: the project's ``output-dir`` (from ``_quarto.yml``) mirrored
        for the document, else the document's own folder, with suffix ``.html``.
    engine : {"auto", "quarto", "builtin"}
        ``auto`` uses Quarto when ``quarto`` is on ``PATH``, else the built-in engine.
    execute_dir, cwd : path, optional
        Working directory of the code (aliases). Default as Quarto: the project directory when
        ``_quarto.yml`` says ``execute-dir: project``, else the document's folder.
    params : dict, optional
        Values assigned as Python variables after the cell tagged ``parameters`` (or first, when no
        cell has that tag), overriding the front matter's ``params:`` defaults (Quarto: ``-P``).
    profile : str or list of str, optional
        Quarto project profiles (``quarto render --profile a,b``): ``_quarto-<profile>.yml`` is merged over
        ``_quarto.yml`` and ``.content-visible when-profile=...`` content is shown. Default: the
        ``QUARTO_PROFILE`` environment variable (comma-separated), else none.
    metadata : dict, optional
        Metadata that overrides the project and the front matter (Quarto: ``-M key:value``), e.g. ``date``.
    timeout : int, default 600
        Seconds: per cell for the built-in engine, for the whole run with Quarto.
    check : bool, default True
        Run :func:`check_self_contained` on the result and raise if it needs the network.
    kernel : ReportKernel, optional
        A kernel started ahead by :func:`start_kernel` for this document (built-in engine), e.g. while the
        analysis runs; it is used when it was started for the same document and set-up, else closed and a
        fresh one started. The render takes it over (it is shut down afterwards).

    Returns
    -------
    Path
        The written HTML file (written atomically: temporary file, then rename).

    Raises
    ------
    FileNotFoundError
        If ``qmd`` does not exist.
    RenderError
        If a cell fails (the message names the cell's label or line), pandoc or Quarto fails, or the
        HTML is not self-contained.
    """
    qmd = Path(qmd).resolve()
    if not qmd.is_file():
        raise FileNotFoundError(f"{qmd}: report source not found")
    if execute_dir is not None and cwd is not None and Path(execute_dir).resolve() != Path(cwd).resolve():
        raise ValueError(
            "render(): give either execute_dir or cwd (they are aliases), not two different ones"
        )
    chosen = execute_dir if execute_dir is not None else cwd
    exec_dir = Path(chosen).resolve() if chosen is not None else None
    if engine not in ("auto", "quarto", "builtin"):
        raise ValueError(f"render(): engine must be 'auto', 'quarto' or 'builtin', not {engine!r}")
    if engine == "auto":
        engine = "quarto" if shutil.which("quarto") else "builtin"
    out = Path(output).resolve() if output is not None else default_output(qmd)
    out.parent.mkdir(parents=True, exist_ok=True)
    profiles = _profiles(profile)
    if engine == "quarto":
        if kernel is not None:
            kernel.close()
        _render_quarto(qmd, out, exec_dir, params, timeout, profiles, metadata or {})
        _post_process_file(out, qmd, profiles, metadata or {})
    else:
        _Builtin(qmd, out, exec_dir, params or {}, timeout, profiles, metadata or {}).run(kernel)
    if check:
        bad = check_self_contained(out)
        if bad:
            raise RenderError(
                f"{out}: the report is not self-contained, it loads {len(bad)} remote resource(s), "
                f"first {bad[0]!r}; embed it or remove it"
            )
    return out


def _profiles(profile: str | Sequence[str] | None) -> tuple[str, ...]:
    if profile is None:
        profile = os.environ.get("QUARTO_PROFILE", "")
    items = profile.split(",") if isinstance(profile, str) else list(profile)
    out = tuple(p.strip() for p in items if p and p.strip())
    for p in out:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", p):
            raise ValueError(f"render(): profile {p!r} must be letters, digits, '-' or '_'")
    return out


def default_output(qmd: str | Path) -> Path:
    """Where Quarto would write the HTML of ``qmd`` (project ``output-dir`` respected)."""
    qmd = Path(qmd).resolve()
    project_dir, cfg = find_project(qmd.parent)
    out_dir = (cfg.get("project") or {}).get("output-dir") if project_dir else None
    if project_dir is not None and out_dir:
        return (project_dir / str(out_dir) / qmd.relative_to(project_dir)).with_suffix(".html")
    return qmd.with_suffix(".html")


_TBLCAP = "we-tblcap"
_TBL_FLOAT = re.compile(
    r'<div id="(?P<id>tbl-[^"]+)" class="table-float">(?P<body>.*?)<div class="we-tblcap">\s*(?P<cap>.*?)\s*</div>\s*</div>',
    re.S,
)
_TABLE_OPEN = re.compile(r"<table\b[^>]*>(?:\s*<caption\b[^>]*>.*?</caption>)?", re.S)


def _closes_fence(line: str, fence: str) -> bool:
    s = line.strip()
    return bool(s) and set(s) == {fence[0]} and len(s) >= len(fence)


def _split_caption(lines: list[str]) -> tuple[str, str]:
    """Body and caption of a cross-reference div: the caption is the last paragraph (not a code block)."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    fence: str | None = None
    last_break = -1
    for k, ln in enumerate(lines):
        if fence is not None:
            if _closes_fence(ln, fence):
                fence = None
            continue
        fo = re.match(r"^\s{0,3}(`{3,}|~{3,})", ln)
        if fo:
            fence = fo.group(1)
            continue
        if not ln.strip():
            last_break = k
    tail = lines[last_break + 1 :]
    if not tail or re.match(r"^\s{0,3}(`{3,}|~{3,})", tail[0]) or fence is not None or tail[-1].strip().startswith(("```", "~~~")):
        return "\n".join(lines), ""
    return "\n".join(lines[: last_break + 1]), " ".join(t.strip() for t in tail)


def _table_captions(page: str) -> str:
    """Move each table float's caption into its table's ``<caption>`` (accessible: announced with the table)."""

    def sub(m: re.Match[str]) -> str:
        cap = re.sub(r"^<p>(.*)</p>$", r"\1", m.group("cap").strip(), flags=re.S)
        body = m.group("body")
        t = _TABLE_OPEN.search(body)
        if t is None:
            return f'<div id="{m.group("id")}" class="table-float"><div class="table-caption">{cap}</div>{body}</div>'
        opening = re.match(r"<table\b[^>]*>", t.group(0))
        assert opening is not None
        body = body[: t.start()] + opening.group(0) + f"<caption>{cap}</caption>" + body[t.end() :]
        return f'<div id="{m.group("id")}" class="table-float">{body}</div>'

    return _TBL_FLOAT.sub(sub, page)


def _post_process(page: str, meta: dict[str, Any], lang: str) -> str:
    """The HTML after pandoc: table captions into ``<caption>``; with the metadata ``welfare-eval:
    thai-line-breaks: true`` Thai text may break only between words, and with ``lang-spans: true`` runs of the
    other script get a ``lang`` attribute (see :mod:`welfare_eval.report._typeset`)."""
    from welfare_eval.report._typeset import typeset_html

    page = _table_captions(page)
    opts = meta.get("welfare-eval") or {}
    if not isinstance(opts, dict):
        opts = {}
    breaks, spans = _as_bool(opts.get("thai-line-breaks"), False), _as_bool(opts.get("lang-spans"), False)
    if breaks or spans:
        page = typeset_html(page, lang="th" if lang.lower().startswith("th") else "en",
                            thai_breaks=breaks, lang_spans=spans)
    return page


def _post_process_file(out: Path, qmd: Path, profiles: tuple[str, ...], metadata: dict[str, Any]) -> None:
    """The same post-processing for a page Quarto rendered."""
    front = parse_qmd(expand_includes(qmd.read_text(encoding="utf-8"), qmd), qmd).front
    _, cfg = find_project(qmd.parent, profiles)
    meta = deep_merge(deep_merge({k: v for k, v in cfg.items() if k != "project"}, front), metadata)
    fmt = meta.get("format") if isinstance(meta.get("format"), dict) else {}
    html = (fmt or {}).get("html") if isinstance((fmt or {}).get("html"), dict) else {}
    lang = str((html or {}).get("lang") or meta.get("lang") or "en")
    page = out.read_text(encoding="utf-8")
    new = _post_process(page, meta, lang)
    if new != page:
        atomic_write_bytes(out, new.encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# Quarto engine
# --------------------------------------------------------------------------------------------------
def _yaml_scalar(v: Any) -> str:
    return str(yaml.safe_dump(v, default_flow_style=True, allow_unicode=True).strip().removesuffix("...").strip())


def _render_quarto(
    qmd: Path,
    out: Path,
    exec_dir: Path | None,
    params: dict[str, Any] | None,
    timeout: int,
    profiles: tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> None:
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("engine='quarto' but no 'quarto' executable is on PATH; use engine='builtin'")
    cmd = [quarto, "render", str(qmd), "--to", "html"]
    if profiles:
        cmd += ["--profile", ",".join(profiles)]
    for k, v in (params or {}).items():
        cmd += ["-P", f"{k}:{_yaml_scalar(v)}"]
    for k, v in (metadata or {}).items():
        cmd += ["-M", f"{k}:{_yaml_scalar(v)}"]
    if exec_dir is not None:
        cmd += ["--execute-dir", str(exec_dir)]
    try:
        proc = subprocess.run(
            cmd, cwd=qmd.parent, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"{qmd}: quarto render did not finish within {timeout} s") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise RenderError(f"{qmd}: quarto render failed (exit {proc.returncode})\n{tail}")
    produced = default_output(qmd)
    m = re.search(r"Output created:\s*(.+)", proc.stderr + proc.stdout)
    if m:
        cand = Path(m.group(1).strip())
        cand = cand if cand.is_absolute() else (qmd.parent / cand)
        if cand.is_file():
            produced = cand.resolve()
    if not produced.is_file():
        raise RenderError(f"{qmd}: quarto reported success but {produced} does not exist")
    if produced != out:
        atomic_write_bytes(out, produced.read_bytes())


# --------------------------------------------------------------------------------------------------
# Built-in engine
# --------------------------------------------------------------------------------------------------
def _skip_slow_format_checker() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` when nbformat loads it.

    Jupyter's packages install ``rfc3987-syntax``, an optional IRI format checker of ``jsonschema`` that
    compiles a grammar at import time (1.3 s of CPU, 3.5 s wall on the loaded 2-core machine: half of the
    renderer's fixed cost). nbformat never validates IRI formats, and ``jsonschema`` imports the module inside
    ``suppress(ImportError)``, so marking it absent only drops that one format check. Done only when nothing
    imported it yet.
    """
    if "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]



@dataclass
class _Ref:
    kind: str  # "fig" | "tbl"
    number: int
    text: str  # reference text, "รูปที่ 1"
    title: str  # caption title, "รูปที่ 1"


@dataclass
class _CellRun:
    chunk: Chunk
    opts: dict[str, Any]
    cell_index: int | None = None  # index in the notebook, None when not evaluated
    inline_index: int | None = None  # notebook cell evaluating the chunk's inline expressions
    outputs: list[Any] = field(default_factory=list)


def _asis_float_ids(run: _CellRun) -> list[str]:
    """Ids of the ``::: {#fig-x}`` / ``::: {#tbl-x}`` divs an ``output: asis`` cell printed, in order."""
    o = run.opts
    out_opt = o.get("output", True)
    if not (isinstance(out_opt, str) and out_opt.lower() == "asis") or not _as_bool(o.get("include"), True):
        return []
    ids: list[str] = []
    for out in run.outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            text = "".join(out.get("text", ""))
        elif out.get("output_type") in ("display_data", "execute_result") and "text/markdown" in out.get("data", {}):
            md = out["data"]["text/markdown"]
            text = md if isinstance(md, str) else "".join(md)
        else:
            continue
        ids += [m.group("id") for m in _MD_FLOAT_DIV.finditer(text)]
    return ids


def _as_bool(v: Any, default: bool) -> bool:
    if v is None:
        return default
    if isinstance(v, str):
        return v.strip().lower() not in ("false", "no", "0", "")
    return bool(v)


def _md_escape_raw(text: str) -> str:
    """A fenced code block that survives any backticks inside ``text``."""
    n = max([3, *[len(m) + 1 for m in re.findall(r"`{3,}", text)]])
    return "`" * n


class _Builtin:
    def __init__(
        self,
        qmd: Path,
        out: Path,
        exec_dir: Path | None,
        params: dict[str, Any],
        timeout: int,
        profiles: tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.qmd = qmd
        self.out = out
        self.timeout = timeout
        self.profiles = profiles
        text = expand_includes(qmd.read_text(encoding="utf-8"), qmd)
        front = parse_qmd(text, qmd).front
        self.project_dir, project_cfg = find_project(qmd.parent, profiles)
        self.project_cfg = project_cfg
        proj = {k: v for k, v in project_cfg.items() if k != "project"}
        self.meta = deep_merge(deep_merge(proj, front), dict(metadata or {}))
        self.parsed = parse_qmd(resolve_conditionals(text, profiles=profiles, meta=self.meta), qmd)
        doc = deep_merge(self.parsed.front, dict(metadata or {}))
        self.html_opts = deep_merge(self._html_of(proj), self._html_of(doc))
        self.lang = str(self.html_opts.get("lang") or self.meta.get("lang") or "en")
        self.exec_defaults = dict(self.meta.get("execute") or {})
        project_opts = project_cfg.get("project") or {}
        if exec_dir is None:
            if self.project_dir is not None and project_opts.get("execute-dir") == "project":
                exec_dir = self.project_dir
            else:
                exec_dir = qmd.parent
        self.exec_dir = exec_dir
        self.params = {**(doc.get("params") or {}), **params}
        for k in self.params:
            if not str(k).isidentifier():
                raise ValueError(f"render(): parameter name {k!r} is not a valid Python identifier")
        self.refs: dict[str, _Ref] = {}

    @staticmethod
    def _html_of(cfg: dict[str, Any]) -> dict[str, Any]:
        fmt = cfg.get("format")
        if isinstance(fmt, dict):
            html = fmt.get("html")
            return dict(html) if isinstance(html, dict) else {}
        return {}

    # ---- labels and numbering ------------------------------------------------------------------
    def _prefix(self, kind: str, use: str = "title") -> str:
        """Caption title (``use="title"``) or reference prefix (``use="prefix"``) of figures/tables."""
        from welfare_eval.reference import label

        lang_cfg = self.meta.get("language") or {}
        key = f"crossref-{kind}-{use}"
        if isinstance(lang_cfg, dict) and lang_cfg.get(key):
            return str(lang_cfg[key])
        if use == "prefix":
            return self._prefix(kind, "title")
        return label("report.figure" if kind == "fig" else "report.table", self._lang2())

    def _lang2(self) -> Literal["th", "en"]:
        return "th" if self.lang.lower().startswith("th") else "en"

    def _number(self, runs: list[_CellRun] | None = None) -> None:
        """Number the figures and tables in document order. Before execution (``runs=None``) from the source;
        after it (``runs`` with their outputs) again, counting also the cross-reference divs that ``output: asis``
        cells print (a table shown only when the data call for it, as Quarto numbers such divs too)."""
        counters = {"fig": 0, "tbl": 0}
        where: dict[str, int] = {}
        self.refs = {}

        def add(ident: str, line: int) -> None:
            if ident in where:
                raise RenderError(
                    f"{self.qmd}:{line}: label {ident!r} is already used at line {where[ident]}"
                )
            where[ident] = line
            kind = ident.split("-", 1)[0]
            counters[kind] += 1
            n = counters[kind]
            self.refs[ident] = _Ref(
                kind, n, f"{self._prefix(kind, 'prefix')} {n}", f"{self._prefix(kind)} {n}"
            )

        chunks = [(r.chunk, r) for r in runs] if runs is not None else [(c, None) for c in self.parsed.chunks]
        for ch, run in chunks:
            if ch.kind == "code":
                lab = ch.label
                if lab and lab.startswith(("fig-", "tbl-")) and _as_bool(ch.options.get("include"), True):
                    add(lab, ch.line)
                if run is not None:
                    for ident in _asis_float_ids(run):
                        add(ident, ch.line)
            else:
                for m in _MD_SEC.finditer(ch.text):
                    # section references show the heading text (no section numbers are computed)
                    self.refs[m.group("id")] = _Ref("sec", 0, m.group("text"), m.group("text"))
                idents = [(m.start(), m.group("id")) for m in _MD_FIG.finditer(ch.text)]
                idents += [(m.start(), m.group("id")) for m in _MD_TBL.finditer(ch.text)]
                idents += [(m.start(), m.group("id")) for m in _MD_FLOAT_DIV.finditer(ch.text)]
                for _, ident in sorted(idents):
                    add(ident, ch.line)

    # ---- notebook ------------------------------------------------------------------------------
    def _opts(self, ch: Chunk) -> dict[str, Any]:
        base = {
            k: v
            for k, v in self.exec_defaults.items()
            if k in ("echo", "eval", "output", "warning", "error", "include")
        }
        return {**base, **ch.options}

    def _setup_source(self) -> str:
        fmt = str(self.html_opts.get("fig-format", "retina"))
        width = float(self.html_opts.get("fig-width", 7))
        height = float(self.html_opts.get("fig-height", 5))
        dpi = float(self.html_opts.get("fig-dpi", 96))
        return "\n".join(
            [
                "def _welfare_eval_inline(v):",
                "    if isinstance(v, str):",
                "        return v",
                "    md = getattr(v, '_repr_markdown_', None)",
                "    if callable(md):",
                "        r = md()",
                "        if isinstance(r, str):",
                "            return r",
                "    return str(v)",
                "try:",
                "    import matplotlib",
                "    matplotlib.rcParams['figure.figsize'] = " + repr((width, height)),
                "    matplotlib.rcParams['figure.dpi'] = " + repr(dpi),
                "    get_ipython().run_line_magic('config', "
                + repr(f"InlineBackend.figure_formats = [{'retina' if fmt == 'retina' else 'png'!r}]")
                + ")",
                "    get_ipython().run_line_magic('config', \"InlineBackend.rc = {}\")",
                "except Exception:",
                "    pass",
            ]
        )

    def _build_notebook(self) -> tuple[Any, list[_CellRun], dict[int, _CellRun]]:
        _skip_slow_format_checker()
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": _KERNEL_NAME, "display_name": "Python 3", "language": "python"}
        nb.cells.append(nbformat.v4.new_code_cell(self._setup_source()))
        runs: list[_CellRun] = []
        owner: dict[int, _CellRun] = {}
        param_cell = next(
            (
                i
                for i, ch in enumerate(self.parsed.chunks)
                if ch.kind == "code" and "parameters" in (ch.options.get("tags") or [])
            ),
            None,
        )
        if self.params and param_cell is None:
            nb.cells.append(nbformat.v4.new_code_cell(self._params_source()))
        for i, ch in enumerate(self.parsed.chunks):
            run = _CellRun(ch, self._opts(ch) if ch.kind == "code" else {})
            runs.append(run)
            if ch.kind == "code":
                if ch.lang != "python":
                    raise RenderError(
                        f"{self.qmd}:{ch.line}: {ch.describe()} is {{{ch.lang}}}; the built-in engine runs only "
                        "{python} cells"
                    )
                if _as_bool(run.opts.get("eval"), True):
                    cell = nbformat.v4.new_code_cell(ch.text)
                    if _as_bool(run.opts.get("error"), False):
                        cell.metadata["tags"] = ["raises-exception"]
                    run.cell_index = len(nb.cells)
                    owner[run.cell_index] = run
                    nb.cells.append(cell)
                if i == param_cell and self.params:
                    nb.cells.append(nbformat.v4.new_code_cell(self._params_source()))
            else:
                exprs = inline_expressions(ch.text)
                if exprs:
                    src = (
                        "print("
                        + repr(_INLINE_MARK)
                        + " + __import__('json').dumps(["
                        + ", ".join(f"_welfare_eval_inline({e})" for e in exprs)
                        + "]))"
                    )
                    run.inline_index = len(nb.cells)
                    owner[run.inline_index] = run
                    nb.cells.append(nbformat.v4.new_code_cell(src))
        return nb, runs, owner

    def _params_source(self) -> str:
        lines = ["# injected parameters"]
        lines += [f"{k} = {v!r}" for k, v in self.params.items()]
        return "\n".join(lines)

    @staticmethod
    def _kernel_manager(spec_dir: Path) -> Any:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        kdir = spec_dir / _KERNEL_NAME
        kdir.mkdir(parents=True)
        (kdir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python 3 (welfare_eval)",
                    "language": "python",
                }
            ),
            encoding="utf-8",
        )
        ksm = KernelSpecManager(kernel_dirs=[str(spec_dir)], ensure_native_kernel=False)
        # IPC (Unix-socket) transport: local only, and no "running over TCP" warning from the kernel
        # (Unix socket paths are limited to ~104 bytes, so fall back to TCP under a very long TMPDIR)
        transport = "ipc" if os.name == "posix" and len(str(spec_dir / "ipc")) < 80 else "tcp"
        kw: dict[str, Any] = {"transport": transport}
        if transport == "ipc":
            kw["ip"] = str(spec_dir / "ipc")
        return KernelManager(kernel_name=_KERNEL_NAME, kernel_spec_manager=ksm, **kw)

    def _execute(self, nb: Any, owner: dict[int, _CellRun], spec_dir: Path, kernel: ReportKernel | None = None) -> None:
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        km = kernel.take_over(self) if kernel is not None else None
        if km is None:
            if kernel is not None:
                kernel.close()
            km = self._kernel_manager(spec_dir)
        client = NotebookClient(
            nb,
            km=km,
            timeout=self.timeout,
            allow_errors=False,
            record_timing=False,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(self.exec_dir)}},
        )
        env = _kernel_env()
        client.reset_execution_trackers()
        try:
            # cleanup_kc: we passed our own kernel manager, so nbclient would otherwise leave it running
            with client.setup_kernel(env=env, cwd=str(self.exec_dir), cleanup_kc=True):
                for index, cell in progress(
                    list(enumerate(nb.cells)), desc=f"render {self.qmd.name}", total=len(nb.cells)
                ):
                    run = owner.get(index)
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as exc:
                        raise self._cell_error(run, index, f"{exc.ename}: {exc.evalue}", str(exc)) from None
                    except CellTimeoutError:
                        raise self._cell_error(
                            run, index, f"did not finish within {self.timeout} s", ""
                        ) from None
                    except DeadKernelError as exc:
                        raise self._cell_error(run, index, f"the kernel died ({exc})", "") from None
        finally:
            if kernel is not None:
                kernel.close()  # nbclient shut it down; this removes its folder

    def _cell_error(self, run: _CellRun | None, index: int, what: str, detail: str) -> RenderError:
        if run is None:
            msg = f"{self.qmd}: internal setup cell {index} failed: {what}"
        elif run.chunk.kind == "markdown":
            msg = f"{self.qmd}:{run.chunk.line}: inline expression in the text starting at line {run.chunk.line} failed: {what}"
        else:
            msg = f"{self.qmd}:{run.chunk.line}: {run.chunk.describe()} failed: {what}"
        detail = _ANSI.sub("", detail).strip()
        lines = detail.splitlines()
        tail = "\n".join(lines[-25:]) if lines else ""
        err = RenderError(msg + (f"\n{tail}" if tail else ""))
        err.cell_label = run.chunk.label if run else None  # type: ignore[attr-defined]
        err.line = run.chunk.line if run else None  # type: ignore[attr-defined]
        return err

    # ---- markdown assembly ---------------------------------------------------------------------
    def _xrefs(self, text: str, line: int) -> str:
        def sub(m: re.Match[str]) -> str:
            ident = m.group("id")
            ref = self.refs.get(ident)
            if ref is None:
                warnings.warn(f"{self.qmd}:{line}: unresolved cross-reference @{ident}", stacklevel=6)
                return f"**?\\@{ident}**"
            # Quarto: @fig-x and [@fig-x] give "Figure 1", -@fig-x / [-@fig-x] the number only
            text = ref.number if m.group("minus") and ref.kind != "sec" else ref.text
            return f"[{text}](#{ident})"

        def fig(m: re.Match[str]) -> str:
            ref = self.refs[m.group("id")]
            return f"![{ref.title}: {m.group('cap')}]({m.group('src')}){{{m.group('attr')}}}"

        def tbl(m: re.Match[str]) -> str:
            ident = m.group("id")
            ref = self.refs[ident]
            return f"{m.group('lead')}[{ref.title}]{{#{ident}}}: {m.group('cap')}"

        pieces: list[str] = []
        last = 0
        for m in _CODE_SPANS.finditer(text):
            pieces.append(self._xref_plain(text[last : m.start()], sub, fig, tbl))
            pieces.append(m.group(0))
            last = m.end()
        pieces.append(self._xref_plain(text[last:], sub, fig, tbl))
        return "".join(pieces)

    @staticmethod
    def _xref_plain(text: str, sub: Any, fig: Any, tbl: Any) -> str:
        text = _MD_FIG.sub(fig, text)
        text = _MD_TBL.sub(tbl, text)
        return _XREF.sub(sub, text)

    def _caption(self, ident: str | None, cap: Any, kind: str) -> str:
        cap = "" if cap is None else str(cap).strip()
        if ident and ident in self.refs:
            ref = self.refs[ident]
            return f"{ref.title}: {cap}" if cap else ref.title
        return cap

    def _cell_markdown(self, run: _CellRun, fig_dir: Path, fig_counter: list[int]) -> str:
        ch, o = run.chunk, run.opts
        if not _as_bool(o.get("include"), True):
            return ""
        parts: list[str] = []
        echo = o.get("echo", True)
        if isinstance(echo, str) and echo.lower() == "fenced":
            inner = "\n".join([f"```{{{ch.lang}}}", *ch.option_lines, ch.text, "```"])
            f = _md_escape_raw(inner)
            parts.append(f"{f}{{.markdown .cell-code}}\n{inner}\n{f}")
        elif _as_bool(echo, True) and ch.text.strip():
            f = _md_escape_raw(ch.text)
            parts.append(f"{f}{{.{ch.lang} .cell-code}}\n{ch.text}\n{f}")
        out_opt = o.get("output", True)
        asis = isinstance(out_opt, str) and out_opt.lower() == "asis"
        show_out = asis or _as_bool(out_opt, True)
        label = ch.label
        figs: list[tuple[str, str]] = []
        body: list[str] = []
        if show_out:
            for out in run.outputs:
                self._one_output(out, o, asis, body, figs, fig_dir, fig_counter)
        if label and label.startswith("fig-"):
            cap = self._caption(label, o.get("fig-cap"), "fig")
            alt = o.get("fig-alt")
            alt_attr = f' alt="{_attr_escape(str(alt))}"' if alt else ""
            if len(figs) == 1:
                p, a = figs[0]
                body.append(f"![{cap}]({p}){{#{label}{alt_attr} {a}}}")
            elif figs:
                imgs = "\n\n".join(f"![]({p}){{{a}}}" for p, a in figs)
                body.append(
                    f"::: {{#{label} .figure-group}}\n{imgs}\n\n::: {{.figure-caption}}\n{cap}\n:::\n:::"
                )
        else:
            fig_cap = o.get("fig-cap")
            caps = fig_cap if isinstance(fig_cap, list) else [fig_cap] * len(figs)
            for (p, a), c in zip(figs, caps, strict=False):
                body.append(f"![{'' if c is None else c}]({p}){{{a}}}")
        body_md = "\n\n".join(b for b in body if b.strip())
        if label and label.startswith("tbl-"):
            cap = self._caption(label, o.get("tbl-cap"), "tbl")
            body_md = (f'```{{=html}}\n<div id="{label}" class="table-float">\n```\n\n{body_md}\n\n'
                       f'```{{=html}}\n<div class="{_TBLCAP}">\n```\n\n{cap}\n\n```{{=html}}\n</div>\n</div>\n```')
        elif o.get("tbl-cap") and body_md:
            body_md = f"::: {{.table-float}}\n::: {{.table-caption}}\n{o['tbl-cap']}\n:::\n\n{body_md}\n:::"
        if body_md:
            parts.append(body_md)
        md = "\n\n".join(parts)
        if label and not label.startswith(("fig-", "tbl-")) and md:
            md = f"::: {{#{label} .cell}}\n{md}\n:::"
        return md

    def _one_output(
        self,
        out: Any,
        o: dict[str, Any],
        asis: bool,
        body: list[str],
        figs: list[tuple[str, str]],
        fig_dir: Path,
        fig_counter: list[int],
    ) -> None:
        otype = out.get("output_type")
        if otype == "stream":
            text = _ANSI.sub("", "".join(out.get("text", "")))
            if out.get("name") == "stderr":
                if not _as_bool(o.get("warning"), True) or not text.strip():
                    return
                body.append(_code_block(text, "cell-output-stderr"))
            elif asis:
                body.append(self._xrefs(text, 0))  # cross-references in generated markdown too, as Quarto
            elif text.strip():
                body.append(_code_block(text, "cell-output-stdout"))
            return
        if otype == "error":
            tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
            body.append(_code_block(tb or f"{out.get('ename')}: {out.get('evalue')}", "cell-output-error"))
            return
        if otype not in ("display_data", "execute_result"):
            return
        data = out.get("data", {})
        meta = out.get("metadata", {})
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg"), ("image/svg+xml", "svg")):
            if mime in data:
                fig_counter[0] += 1
                path = fig_dir / f"figure-{fig_counter[0]}.{ext}"
                raw = data[mime]
                if ext == "svg":
                    path.write_text(raw if isinstance(raw, str) else "".join(raw), encoding="utf-8")
                else:
                    path.write_bytes(base64.b64decode(raw if isinstance(raw, str) else "".join(raw)))
                size = meta.get(mime) or {}
                attr = f"width={int(size['width'])}px" if isinstance(size, dict) and size.get("width") else ""
                figs.append((path.as_posix(), attr))
                return
        if "text/html" in data:
            html = data["text/html"]
            html = html if isinstance(html, str) else "".join(html)
            body.append(f"```{{=html}}\n{html.strip()}\n```")
        elif "text/markdown" in data:
            md = data["text/markdown"]
            body.append(self._xrefs(md if isinstance(md, str) else "".join(md), 0))
        elif "text/plain" in data:
            txt = data["text/plain"]
            txt = _ANSI.sub("", txt if isinstance(txt, str) else "".join(txt))
            body.append(txt if asis else _code_block(txt, "cell-output-display"))

    def _assemble(self, runs: list[_CellRun], inline_values: dict[int, list[str]], fig_dir: Path) -> str:
        blocks: list[str] = []
        fig_counter = [0]
        for k, run in enumerate(runs):
            if run.chunk.kind == "markdown":
                text = run.chunk.text
                if k in inline_values:
                    text = replace_inline(text, inline_values[k])
                blocks.append(self._xrefs(text, run.chunk.line))
            else:
                md = self._cell_markdown(run, fig_dir, fig_counter)
                if md.strip():
                    blocks.append(md)
        return self._float_divs("\n\n".join(blocks) + "\n")

    def _float_divs(self, markdown: str) -> str:
        """Quarto cross-reference divs ``::: {#fig-x}`` / ``::: {#tbl-x}`` … caption ``:::``: the last paragraph
        is the caption (prefixed "รูปที่ N:" / "Table N:"); a figure becomes ``<figure>`` + ``<figcaption>``, a
        table a ``.table-float`` whose caption :func:`_post_process` moves into the table's ``<caption>``."""
        lines = markdown.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            m = _MD_FLOAT_DIV.match(lines[i])
            if not m:
                out.append(lines[i])
                i += 1
                continue
            ident = m.group("id")
            depth, j, fence = 1, i + 1, None
            while j < len(lines):
                ln = lines[j]
                if fence is not None:
                    if _closes_fence(ln, fence):
                        fence = None
                elif (fo := re.match(r"^\s{0,3}(`{3,}|~{3,})", ln)) is not None:
                    fence = fo.group(1)
                elif re.match(r"^:{3,}\s*$", ln):
                    depth -= 1
                    if depth == 0:
                        break
                elif re.match(r"^:{3,}\s*\S", ln):
                    depth += 1
                j += 1
            if j >= len(lines):
                raise RenderError(f"{self.qmd}: the cross-reference div #{ident} is never closed with ':::'")
            body, cap = _split_caption(lines[i + 1 : j])
            ref = self.refs.get(ident)
            title = ref.title if ref else ident
            label = f"[{title}:]{{.caption-label}}" if cap.strip() else f"[{title}]{{.caption-label}}"
            if ident.startswith("fig-"):
                out += ["", f'```{{=html}}\n<figure id="{ident}" class="quarto-float we-figure">\n```', "",
                        body, "", "```{=html}\n<figcaption>\n```", "", f"{label} {cap}".strip(), "",
                        "```{=html}\n</figcaption>\n</figure>\n```", ""]
            else:
                out += ["", f'```{{=html}}\n<div id="{ident}" class="table-float">\n```', "", body, "",
                        f'```{{=html}}\n<div class="{_TBLCAP}">\n```', "", f"{label} {cap}".strip(), "",
                        "```{=html}\n</div>\n</div>\n```", ""]
            i = j + 1
        return "\n".join(out)

    # ---- pandoc --------------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        from welfare_eval.reference import label

        keep = ("title", "subtitle", "author", "date", "abstract", "description", "keywords", "subject",
                "link-citations", "reference-section-title", "nocite")
        meta: dict[str, Any] = {k: self.meta[k] for k in keep if k in self.meta}
        if isinstance(meta.get("date"), str) and meta["date"] in ("today", "now", "last-modified"):
            meta["date"] = _dt.date.today().isoformat()
        elif isinstance(meta.get("date"), _dt.date):
            meta["date"] = meta["date"].isoformat()
        if isinstance(meta.get("author"), list):
            meta["author"] = [a.get("name", a) if isinstance(a, dict) else a for a in meta["author"]]
        elif isinstance(meta.get("author"), dict):
            meta["author"] = meta["author"].get("name", "")
        meta["lang"] = self.lang
        lang_cfg = self.meta.get("language") or {}
        toc_title = self.html_opts.get("toc-title") or self.meta.get("toc-title")
        if not toc_title and isinstance(lang_cfg, dict):
            toc_title = lang_cfg.get("toc-title-document")
        if not toc_title:
            toc_title = label("report.toc", self._lang2())
        meta["toc-title"] = str(toc_title)
        if "title" not in meta:
            meta["pagetitle"] = self.qmd.stem
        return meta

    def _project_file(self, name: str, what: str) -> Path:
        """A file named in the metadata: relative to the document, else to the project folder."""
        for base in (self.qmd.parent, self.project_dir):
            if base is not None and (base / name).is_file():
                return (base / name).resolve()
        raise RenderError(f"{self.qmd}: {what} file {name!r} not found next to the document or in the project")

    def _css_files(self) -> list[Path]:
        files: list[Path] = []
        proj_html = self._html_of({k: v for k, v in self.project_cfg.items() if k != "project"})
        doc_html = self._html_of(self.parsed.front)
        for opts, base in ((proj_html, self.project_dir), (doc_html, self.qmd.parent)):
            css = opts.get("css")
            if css is None or base is None:
                continue
            for c in css if isinstance(css, list) else [css]:
                p = (base / str(c)).resolve()
                if not p.is_file():
                    raise RenderError(f"{self.qmd}: stylesheet {c!r} not found (looked for {p})")
                files.append(p)
        return files

    def _font_styles(self) -> str:
        """``<style>`` with Sarabun regular/bold/italic as ``@font-face`` data URIs (~0.5 MB)."""
        from welfare_eval.report.figures import font_files

        faces = []
        wanted = {
            "Regular": ("normal", 400),
            "Bold": ("normal", 700),
            "Italic": ("italic", 400),
            "BoldItalic": ("italic", 700),
        }
        for f in font_files():
            variant = f.stem.split("-", 1)[-1]
            if variant in wanted:
                style, weight = wanted[variant]
                b64 = base64.b64encode(f.read_bytes()).decode("ascii")
                faces.append(
                    f"@font-face{{font-family:'Sarabun';font-style:{style};font-weight:{weight};"
                    f"font-display:swap;src:url(data:font/ttf;base64,{b64}) format('truetype');}}"
                )
        if not faces:
            return ""
        return "<style>\n" + "\n".join(faces) + "\n</style>\n"

    def _pandoc(self, markdown: str, tmp: Path) -> None:
        import pypandoc

        md_path = tmp / "report.md"
        front = yaml.safe_dump(self._metadata(), allow_unicode=True, sort_keys=False)
        markdown, embedded = _stash_data_uris(markdown)
        md_path.write_text(f"---\n{front}---\n\n{markdown}", encoding="utf-8")
        method = str(self.html_opts.get("html-math-method", "mathml"))
        if method != "mathml":
            warnings.warn(
                f"{self.qmd}: html-math-method {method!r} needs a CDN; the built-in engine uses MathML",
                stacklevel=4,
            )
        args = [
            pypandoc.get_pandoc_path(),
            str(md_path),
            "--from=markdown+gfm_auto_identifiers",  # keeps Thai vowels in heading ids
            "--to=html5",
            "--standalone",
            "--embed-resources",
            "--mathml",
            "--wrap=none",  # no line breaks inside Thai text (a newline renders as a space)
            "--resource-path=" + os.pathsep.join(str(p) for p in (tmp, self.qmd.parent, self.exec_dir)),
        ]
        bib = self.html_opts.get("bibliography") or self.meta.get("bibliography")
        if bib:
            args.append("--citeproc")
            for b in bib if isinstance(bib, list) else [bib]:
                args.append(f"--bibliography={self._project_file(str(b), 'bibliography').as_posix()}")
            csl = self.html_opts.get("csl") or self.meta.get("csl")
            if csl:
                args.append(f"--csl={self._project_file(str(csl), 'csl').as_posix()}")
        if _as_bool(self.html_opts.get("toc", self.meta.get("toc")), False):
            args += ["--toc", f"--toc-depth={int(self.html_opts.get('toc-depth', 3))}"]
        if _as_bool(self.html_opts.get("number-sections", self.meta.get("number-sections")), False):
            args.append("--number-sections")
        for css in self._css_files():
            args.append(f"--css={css.as_posix()}")
        target = tmp / "pandoc-output.html"  # in the render's temporary folder; the report is written atomically below
        args.append(f"--output={target}")
        try:
            proc = subprocess.run(
                args, capture_output=True, text=True, timeout=self.timeout, check=False, cwd=tmp
            )
            if proc.returncode != 0:
                raise RenderError(
                    f"{self.qmd}: pandoc failed (exit {proc.returncode}): {proc.stderr.strip()}"
                )
            # the @font-face block (already data: URIs) is added after pandoc: passing half a
            # megabyte through --include-in-header makes --embed-resources rescan it (~1.5 s)
            fonts = self._font_styles()
            page = target.read_text(encoding="utf-8")
            in_tags = _only_in_src_attributes(page, embedded)
            if not in_tags:  # a data URI in text: restore it before the typesetting sees the text
                page = _restore_data_uris(page, embedded)
            page = _post_process(page, self.meta, self.lang)
            if in_tags:  # in src="…" attributes, which the post-processing copies verbatim
                page = _restore_data_uris(page, embedded)
            if fonts:
                head_end = page.find("</head>")
                if head_end < 0:
                    raise RenderError(f"{self.qmd}: pandoc output has no </head>; cannot embed fonts")
                page = page[:head_end] + fonts + page[head_end:]
            atomic_write_bytes(self.out, page.encode("utf-8"))
        finally:
            if target.exists():
                target.unlink()

    # ---- run -----------------------------------------------------------------------------------
    def run(self, kernel: ReportKernel | None = None) -> Path:
        self._number()
        nb, runs, owner = self._build_notebook()
        warm = self._warm_up_typesetting()
        with tempfile.TemporaryDirectory(prefix="welfare_eval_render_") as tmpdir:
            tmp = Path(tmpdir)
            if owner:  # a document without code needs no kernel
                self._execute(nb, owner, tmp / "kernels", kernel)
            elif kernel is not None:
                kernel.close()
            if warm is not None:
                warm.join()
            inline_values: dict[int, list[str]] = {}
            for k, run in enumerate(runs):
                if run.cell_index is not None:
                    run.outputs = list(nb.cells[run.cell_index].get("outputs", []))
                if run.inline_index is not None:
                    inline_values[k] = self._inline_values(nb.cells[run.inline_index], run)
            self._number(runs)  # again, with the cross-reference divs that cells printed
            fig_dir = tmp / "figures"
            fig_dir.mkdir()
            markdown = self._assemble(runs, inline_values, fig_dir)
            self._pandoc(markdown, tmp)
        return self.out

    def _warm_up_typesetting(self) -> Any:
        """Load the Thai dictionary (about 1.5 s) in a thread while the kernel runs the cells, when the page will be
        typeset: this process only waits for the kernel meanwhile, and the machine's other core is free."""
        import threading

        opts = self.meta.get("welfare-eval") or {}
        if not isinstance(opts, dict) or not _as_bool(opts.get("thai-line-breaks"), False):
            return None
        from welfare_eval.report._typeset import warm_up

        t = threading.Thread(target=warm_up, name="thai-dictionary", daemon=True)
        t.start()
        return t

    def _inline_values(self, cell: Any, run: _CellRun) -> list[str]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = "".join(out.get("text", ""))
                pos = text.rfind(_INLINE_MARK)
                if pos >= 0:
                    values = json.loads(text[pos + len(_INLINE_MARK) :].strip().splitlines()[0])
                    return [str(v) for v in values]
        raise RenderError(f"{self.qmd}:{run.chunk.line}: inline expressions produced no value")


def _kernel_env() -> dict[str, str]:
    """The environment of the report's kernel."""
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["WELFARE_EVAL_PROGRESS"] = "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _document_imports(chunks: Sequence[Chunk]) -> list[str]:
    """Modules the document's Python cells import at their top level (absolute imports only), in order."""
    import ast

    names: list[str] = []
    for ch in chunks:
        if ch.kind != "code" or ch.lang != "python":
            continue
        try:
            tree = ast.parse(ch.text)
        except SyntaxError:  # IPython magics and the like: nothing to learn from this cell
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return list(dict.fromkeys(names))


class ReportKernel:
    """A Jupyter kernel started ahead of a built-in render (:func:`start_kernel`).

    It runs the document's set-up cell and imports the modules the document's cells import, while the
    caller does other work (e.g. the analysis): these are what a render otherwise waits for first. The
    imports run inside a function in a silent execution, so they leave no name or output behind; a cell's own
    ``import`` then finds the module loaded (so a warning a module raises while it is first imported is not
    repeated in that cell's output). :func:`render` takes it over.
    """

    def __init__(self, qmd: str | Path, *, execute_dir: str | Path | None = None,
                 profile: str | Sequence[str] | None = None, metadata: dict[str, Any] | None = None) -> None:
        qmd = Path(qmd).resolve()
        exec_dir = Path(execute_dir).resolve() if execute_dir is not None else None
        doc = _Builtin(qmd, qmd.with_suffix(".html"), exec_dir, {}, 600, _profiles(profile), metadata or {})
        self.qmd = qmd
        self.exec_dir = doc.exec_dir
        self.setup = doc._setup_source()
        self._tmp = Path(tempfile.mkdtemp(prefix="welfare_eval_kernel_"))
        self.km: Any = _Builtin._kernel_manager(self._tmp / "kernels")
        extra: list[str] = []
        if getattr(self.km, "ipykernel", False):  # as nbclient starts a kernel (history in memory)
            extra.append("--HistoryManager.hist_file=:memory:")
        self.km.start_kernel(extra_arguments=extra, env=_kernel_env(), cwd=str(self.exec_dir))
        self._kc: Any = self.km.client()
        self._kc.start_channels()
        modules = _document_imports(doc.parsed.chunks)
        code = "\n".join([
            self.setup,
            "def _welfare_eval_prestart(names):",
            "    import importlib",
            "    for name in names:",
            "        try:",
            "            importlib.import_module(name)",
            "        except Exception:",
            "            pass",
            f"_welfare_eval_prestart({modules!r})",
            "del _welfare_eval_prestart",
        ])
        # queued until the kernel listens; silent: no execution count, no history, no output kept
        self._msg_id = self._kc.execute(code, silent=True, store_history=False)

    def take_over(self, doc: _Builtin, timeout: float = 600.0) -> Any:
        """The kernel manager for ``doc``'s render once the set-up has run; None when the kernel was started for
        another document, folder or set-up, or failed (then close() it)."""
        try:
            if (doc.qmd, doc.exec_dir, doc._setup_source()) != (self.qmd, self.exec_dir, self.setup):
                return None
            while True:
                msg = self._kc.get_shell_msg(timeout=timeout)
                if msg.get("parent_header", {}).get("msg_id") == self._msg_id:
                    break
            if msg["content"].get("status") != "ok":
                return None
            self._kc.stop_channels()
            self._kc = None
            return self.km  # its sockets stay in this object's folder: close() after the render
        except Exception:
            return None

    def close(self) -> None:
        """Shut the kernel down (unless a render took it over) and remove its folder."""
        try:
            if self._kc is not None:
                self._kc.stop_channels()
                self._kc = None
            if self.km is not None:
                if self.km.has_kernel:
                    self.km.shutdown_kernel(now=True)
                self.km = None
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> ReportKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_kernel(qmd: str | Path, *, execute_dir: str | Path | None = None,
                 profile: str | Sequence[str] | None = None, metadata: dict[str, Any] | None = None) -> ReportKernel:
    """Start the built-in engine's kernel for ``qmd`` now, to pass to :func:`render` later (``kernel=``).

    The kernel starts, runs the document's set-up and imports the modules its cells import, in its own process,
    while the caller goes on (e.g. with the analysis whose results the report shows). ``execute_dir``,
    ``profile`` and ``metadata`` as for :func:`render` (they decide the set-up; a kernel started for another
    set-up is not used). Close it (``with`` or :meth:`ReportKernel.close`) if it is not rendered with.
    """
    return ReportKernel(qmd, execute_dir=execute_dir, profile=profile, metadata=metadata)


# A base64 data URI (the report's figures: ~2.5 MB of a ~2.8 MB page). Pandoc copies raw HTML verbatim, but
# reading megabytes of it costs seconds; it is given a short placeholder and put back in the output.
# Raster images only: pandoc may rewrite SVG (inlined as <svg>), never a raster data URI.
_DATA_URI = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]{256,}")
_STASH = "data:application/x-welfare-eval-stash;base64,WEstash{:06d}"


def _stash_data_uris(markdown: str) -> tuple[str, dict[str, str]]:
    """``markdown`` with every long data URI replaced by a unique placeholder, and placeholder → URI."""
    if "WEstash" in markdown:  # never confuse the document's own text with a placeholder
        return markdown, {}
    stash: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        key = _STASH.format(len(stash))
        stash[key] = m.group(0)
        return key

    return _DATA_URI.sub(sub, markdown), stash


def _only_in_src_attributes(page: str, stash: dict[str, str]) -> bool:
    """Whether every placeholder occurs in ``page`` only as a ``src="…"`` attribute value (inside a tag)."""
    found = sum(page.count(f'src="{key}"') for key in stash)
    return found == sum(page.count(key) for key in stash)


def _restore_data_uris(page: str, stash: dict[str, str]) -> str:
    """Put the data URIs back (a placeholder pandoc dropped, e.g. in raw LaTeX, stays dropped)."""
    if not stash:
        return page
    pieces = re.split(r"(data:application/x-welfare-eval-stash;base64,WEstash\d{6})", page)
    for k in range(1, len(pieces), 2):
        pieces[k] = stash[pieces[k]]
    return "".join(pieces)


def _code_block(text: str, cls: str) -> str:
    text = text.rstrip("\n")
    f = _md_escape_raw(text)
    return f"{f}{{.{cls}}}\n{text}\n{f}"


def _attr_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
