"""Parsing of Quarto documents (``.qmd``) and their project file (``_quarto.yml``).

Only the subset of Quarto used by the project's reports is understood:

* a YAML front matter block at the very top (``---`` … ``---``);
* executable cells fenced as ```` ```{python} ```` (three or more backticks) whose first lines may be
  Quarto option comments ``#| key: value`` (YAML);
* everything else is pandoc markdown and is passed through unchanged (ordinary fenced code blocks
  inside markdown are recognised so that they are not mistaken for cells);
* inline expressions `` `{python} expr` `` in markdown;
* Quarto's include shortcode ``{{< include _file.qmd >}}`` on a line of its own (outside code blocks): the
  file's text, relative to the including file, replaces the line (recursively), as Quarto does;
* Quarto's conditional content: divs ``::: {.content-visible when-profile="en"}`` … ``:::`` and spans
  ``[text]{.content-hidden unless-meta="demo"}`` with ``when-/unless-`` ``format``, ``profile`` and ``meta``
  conditions (all given conditions must hold), resolved by :func:`resolve_conditionals`;
* project profiles: ``_quarto-<profile>.yml`` merged over ``_quarto.yml`` (:func:`find_project`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Chunk",
    "ParsedQmd",
    "deep_merge",
    "expand_includes",
    "find_project",
    "parse_qmd",
    "resolve_conditionals",
]

_CELL_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{\s*(?P<lang>[A-Za-z0-9_+-]+)(?P<rest>[^}]*)\}\s*$")
_FENCE_OPEN = re.compile(r"^\s{0,3}(?P<fence>`{3,}|~{3,})")
_OPTION = re.compile(r"^\s*#\|\s?(?P<body>.*)$")
_INLINE = re.compile(r"(?<!`)`\{python\}\s+(?P<expr>[^`]+?)`(?!`)")
_INCLUDE = re.compile(r"^\s*\{\{<\s*include\s+(?P<file>[^>\s]+)\s*>\}\}\s*$")
_FENCED = re.compile(r"^[ ]{0,3}(?P<f>`{3,}|~{3,})[^\n]*\n.*?^[ ]{0,3}(?P=f)[`~]*[ \t]*$", re.M | re.S)


@dataclass
class Chunk:
    """One piece of a ``.qmd``: a markdown run or an executable cell.

    Attributes
    ----------
    kind : {"markdown", "code"}
    text : str
        Markdown text, or the cell's code without its ``#|`` option lines.
    line : int
        1-based line in the ``.qmd`` where the chunk starts (the fence line for cells).
    options : dict
        Cell options (``#|`` lines merged with knitr-style ``{python key=value}`` options).
    lang : str
        Cell language (``"python"``); empty for markdown.
    option_lines : list of str
        The cell's ``#|`` lines as written (for ``echo: fenced``).
    """

    kind: str
    text: str
    line: int
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = ""
    option_lines: list[str] = field(default_factory=list)

    @property
    def label(self) -> str | None:
        lab = self.options.get("label")
        return str(lab) if lab is not None else None

    def describe(self) -> str:
        """Human-readable name used in error messages: ``cell 'fig-x'`` or ``cell at line 12``."""
        return f"cell {self.label!r}" if self.label else f"cell at line {self.line}"


@dataclass
class ParsedQmd:
    """Front matter and chunks of a ``.qmd``."""

    path: Path
    front: dict[str, Any]
    chunks: list[Chunk]


def _parse_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ValueError(f"{where}: invalid YAML ({first}); fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: YAML must be a mapping of key: value pairs")
    return data


def _knitr_options(rest: str, where: str) -> dict[str, Any]:
    """Options written in the fence, e.g. ```` ```{python echo=false, label="x"} ````."""
    rest = rest.strip().lstrip(",").strip()
    if not rest:
        return {}
    out: dict[str, Any] = {}
    for part in re.split(r",\s*(?=[A-Za-z_][\w.-]*\s*=)", rest):
        if "=" not in part:
            # ```{python my-label}``` : a bare first word is the label (knitr convention)
            out.setdefault("label", part.strip())
            continue
        key, val = part.split("=", 1)
        val = val.strip()
        low = val.lower()
        if low in ("true", "false"):
            out[key.strip()] = low == "true"
        else:
            try:
                out[key.strip()] = yaml.safe_load(val)
            except yaml.YAMLError:
                raise ValueError(f"{where}: cannot read cell option {part.strip()!r}") from None
    return out


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened by ``fence`` (same character, at least as long)."""
    s = line.strip()
    return bool(s) and set(s) == {fence[0]} and len(s) >= len(fence)


def expand_includes(text: str, path: Path | str, *, _seen: tuple[Path, ...] = ()) -> str:
    """``text`` with every ``{{< include FILE >}}`` line replaced by FILE's text (paths relative to ``path``).

    Lines inside fenced code blocks are left alone. Raises ``ValueError`` naming the file and line for a
    missing file or an include cycle.
    """
    here = Path(path).resolve()
    out: list[str] = []
    fence: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if fence is not None:
            out.append(line)
            if _closes(line, fence):
                fence = None
            continue
        fm = _FENCE_OPEN.match(line) or _CELL_OPEN.match(line)
        if fm:
            fence = fm.group("fence")
            out.append(line)
            continue
        m = _INCLUDE.match(line)
        if not m:
            out.append(line)
            continue
        target = (here.parent / m.group("file")).resolve()
        if target in (*_seen, here):
            raise ValueError(f"{here}:{n}: include cycle through {m.group('file')}")
        if not target.is_file():
            raise ValueError(f"{here}:{n}: included file {m.group('file')} not found (looked for {target})")
        out.append(expand_includes(target.read_text(encoding="utf-8"), target, _seen=(*_seen, here)).rstrip("\n"))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def parse_qmd(text: str, path: Path | str = "<string>") -> ParsedQmd:
    """Split a ``.qmd`` into front matter and chunks.

    Raises
    ------
    ValueError
        On an unterminated front matter block or cell, or invalid YAML in options.
    """
    path = Path(path)
    lines = text.splitlines()
    front: dict[str, Any] = {}
    i = 0
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() in ("---", "..."):
                front = _parse_yaml("\n".join(lines[1:j]), f"{path}:1 (front matter)")
                i = j + 1
                break
        else:
            raise ValueError(f"{path}:1: front matter starting with '---' is never closed by '---'")

    chunks: list[Chunk] = []
    md: list[str] = []
    md_start = i + 1

    def flush_md(next_line: int) -> None:
        nonlocal md, md_start
        if md and any(s.strip() for s in md):
            chunks.append(Chunk("markdown", "\n".join(md), md_start))
        md = []
        md_start = next_line

    while i < len(lines):
        line = lines[i]
        m = _CELL_OPEN.match(line)
        if m and not m.group("lang").startswith("="):
            fence = m.group("fence")
            start = i + 1  # 1-based line of the fence
            body: list[str] = []
            i += 1
            while i < len(lines) and not _closes(lines[i], fence):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"{path}:{start}: code cell opened with {fence}{{...}} is never closed")
            where = f"{path}:{start}"
            opts: dict[str, Any] = _knitr_options(m.group("rest"), where)
            k = 0
            opt_lines: list[str] = []
            while k < len(body) and _OPTION.match(body[k]):
                opt_lines.append(_OPTION.match(body[k]).group("body"))  # type: ignore[union-attr]
                k += 1
            opts.update(_parse_yaml("\n".join(opt_lines), f"{where} (cell options)"))
            flush_md(start)
            code = "\n".join(body[k:]).strip("\n")
            chunks.append(Chunk("code", code, start, opts, m.group("lang").lower(), body[:k]))
            i += 1
            md_start = i + 1
            continue
        fm = _FENCE_OPEN.match(line)
        if fm:
            # an ordinary fenced block inside markdown: copy it whole
            fence = fm.group("fence")
            md.append(line)
            i += 1
            while i < len(lines):
                md.append(lines[i])
                closed = _closes(lines[i], fence)
                i += 1
                if closed:
                    break
            continue
        md.append(line)
        i += 1
    flush_md(i + 1)
    return ParsedQmd(path, front, chunks)


def _outside_fences(markdown: str) -> list[tuple[bool, str]]:
    """``markdown`` cut into (is_prose, text) pieces; fenced code blocks are not prose."""
    out: list[tuple[bool, str]] = []
    last = 0
    for m in _FENCED.finditer(markdown):
        out.append((True, markdown[last : m.start()]))
        out.append((False, m.group(0)))
        last = m.end()
    out.append((True, markdown[last:]))
    return out


def inline_expressions(markdown: str) -> list[str]:
    """The inline `` `{python} expr` `` expressions of a markdown chunk, in order.

    Expressions inside fenced code blocks or double-backtick spans are literal text, not code.
    """
    return [
        m.group("expr").strip()
        for prose, text in _outside_fences(markdown)
        if prose
        for m in _INLINE.finditer(text)
    ]


def replace_inline(markdown: str, values: list[str]) -> str:
    """Replace the inline expressions of ``markdown`` by ``values`` (same order)."""
    it = iter(values)
    return "".join(
        _INLINE.sub(lambda _m: next(it), text) if prose else text for prose, text in _outside_fences(markdown)
    )


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge of two mappings; ``over`` wins, nested mappings are merged."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def find_project(start: Path, profiles: Sequence[str] = ()) -> tuple[Path | None, dict[str, Any]]:
    """The nearest directory at or above ``start`` with a ``_quarto.yml`` and its parsed content, with the
    files ``_quarto-<profile>.yml`` of ``profiles`` merged over it in order (as ``quarto render --profile``).

    Raises
    ------
    ValueError
        If a profile has no ``_quarto-<profile>.yml`` in the project.
    """
    start = start.resolve()
    for d in (start, *start.parents):
        for name in ("_quarto.yml", "_quarto.yaml"):
            f = d / name
            if f.is_file():
                cfg = _parse_yaml(f.read_text(encoding="utf-8"), str(f))
                for prof in profiles:
                    pf = next((d / f"_quarto-{prof}.{ext}" for ext in ("yml", "yaml")
                               if (d / f"_quarto-{prof}.{ext}").is_file()), None)
                    if pf is None:
                        raise ValueError(f"{d}: profile {prof!r} has no _quarto-{prof}.yml; add it or drop the profile")
                    cfg = deep_merge(cfg, _parse_yaml(pf.read_text(encoding="utf-8"), str(pf)))
                return d, cfg
    if profiles:
        raise ValueError(f"{start}: profiles {list(profiles)} need a _quarto.yml project above the document")
    return None, {}


# --------------------------------------------------------------------------------------------------
# Conditional content (Quarto's .content-visible / .content-hidden)
# --------------------------------------------------------------------------------------------------
_DIV_OPEN = re.compile(r"^(?P<fence>:{3,})\s*(?P<attrs>\{[^}]*\}|[^\s{}:][^{}]*?)?\s*$")
_DIV_CLOSE = re.compile(r"^:{3,}\s*$")
_KV = re.compile(r'(?P<key>[A-Za-z][\w-]*)\s*=\s*(?:"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\'|(?P<bare>[^\s}]+))')
_CLASS = re.compile(r"(?:^|[\s{])\.(?P<cls>[A-Za-z][\w-]*)")
_SPAN = re.compile(
    r"\[(?P<body>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\{(?P<attrs>[^{}\n]*\.content-(?:visible|hidden)[^{}\n]*)\}"
)
_HTML_FORMATS = {"html", "html4", "html5", "html:js"}


def _meta_value(meta: dict[str, Any], path: str) -> Any:
    cur: Any = meta
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _shown(attrs: str, *, profiles: Sequence[str], meta: dict[str, Any], to: str) -> bool | None:
    """``None`` when the attributes are not conditional content, else whether the content is shown."""
    classes = {m.group("cls") for m in _CLASS.finditer(attrs)}
    if not {"content-visible", "content-hidden"} & classes:
        return None
    conds: list[bool] = []
    for m in _KV.finditer(attrs):
        key = m.group("key")
        val = m.group("dq") if m.group("dq") is not None else (m.group("sq") or m.group("bare") or "")
        kind, _, what = key.partition("-")
        if kind not in ("when", "unless") or what not in ("format", "profile", "meta"):
            continue
        if what == "format":
            hit = val == to or (to == "html" and val in _HTML_FORMATS)
        elif what == "profile":
            hit = val in profiles
        else:
            hit = bool(_meta_value(meta, val))
        conds.append(hit if kind == "when" else not hit)
    holds = all(conds)
    return holds if "content-visible" in classes else not holds


def resolve_conditionals(
    text: str, *, profiles: Sequence[str] = (), meta: dict[str, Any] | None = None, to: str = "html"
) -> str:
    """``text`` with Quarto's conditional content resolved: hidden divs and spans removed, shown ones unwrapped.

    Conditions: ``when-format``/``unless-format`` (the output format ``to``), ``when-profile``/``unless-profile``
    (the active ``profiles``), ``when-meta``/``unless-meta`` (a dotted metadata key that is true); all given
    conditions must hold. Code blocks are left alone; executable cells inside a hidden div are removed and
    therefore not run (Quarto runs them and hides their output).
    """
    meta = meta or {}
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (conditional div, shown) per open div
    code_fence: str | None = None

    def hidden() -> bool:
        return any(cond and not shown for cond, shown in stack)

    for line in text.splitlines():
        if code_fence is not None:
            if not hidden():
                out.append(line)
            if _closes(line, code_fence):
                code_fence = None
            continue
        fm = _FENCE_OPEN.match(line) or _CELL_OPEN.match(line)
        if fm:
            code_fence = fm.group("fence")
            if not hidden():
                out.append(line)
            continue
        if _DIV_CLOSE.match(line) and stack:
            cond, _ = stack.pop()
            if not cond and not hidden():
                out.append(line)
            continue
        dm = _DIV_OPEN.match(line)
        if dm and dm.group("attrs"):
            shown = _shown(dm.group("attrs"), profiles=profiles, meta=meta, to=to)
            stack.append((shown is not None, bool(shown)))
            if shown is None and not hidden():
                out.append(line)
            continue
        if hidden():
            continue
        if "content-" in line:
            line = _SPAN.sub(
                lambda m: m.group("body")
                if _shown(m.group("attrs"), profiles=profiles, meta=meta, to=to) is not False
                else "",
                line,
            )
        out.append(line)
    if stack:
        raise ValueError("a fenced div (:::) is opened but never closed; close it with a ':::' line")
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
