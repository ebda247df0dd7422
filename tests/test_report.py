"""Report rendering: the built-in engine (Jupyter kernel + pandoc) on a small Thai document."""

from __future__ import annotations

import html as htmllib
import re
import sys
import textwrap
from pathlib import Path

import pytest

from welfare_eval.report import RenderError, check_self_contained, default_output, render
from welfare_eval.report.__main__ import main as cli_main
from welfare_eval.report._qmd import parse_qmd

PROJECT_YML = """\
project:
  execute-dir: project
  output-dir: _build
lang: th
execute:
  echo: false
  warning: false
format:
  html:
    toc: true
    embed-resources: true
    html-math-method: mathml
"""

DOC = """\
---
title: "รายงานทดสอบชุมชนสวัสดิการ"
author: "ทีมประเมิน"
---

## บทนำของรายงาน {#sec-intro}

ดู @fig-income และ @tbl-means รวมทั้ง @tbl-md

$$\\hat\\tau = (\\bar y_{1}^{post} - \\bar y_{1}^{pre}) - (\\bar y_{0}^{post} - \\bar y_{0}^{pre})$$

| หมู่บ้าน | จำนวน |
|---|---|
| นำร่อง | 18 |

: ตารางมาร์กดาวน์ {#tbl-md}

```{python}
#| include: false
SECRET_SETUP = "setup-marker-should-not-appear"
print(SECRET_SETUP)
import os, sys, warnings
from pathlib import Path
import pandas as pd
import matplotlib.pyplot as plt
from welfare_eval.report.figures import use_thai_font
use_thai_font()
```

```{python}
#| tags: [parameters]
n_boot = 1
```

```{python}
#| label: fig-income
#| fig-cap: "รายได้เฉลี่ยของครัวเรือน"
fig, ax = plt.subplots()
ax.bar(["นำร่อง", "เปรียบเทียบ"], [3.0, 2.0])
ax.set_title("รายได้เฉลี่ย (บาท)")
plt.show()
```

```{python}
#| label: tbl-means
#| tbl-cap: "ค่าเฉลี่ยตามกลุ่ม"
pd.DataFrame({"กลุ่มตัวอย่าง": ["นำร่อง", "เปรียบเทียบ"], "ค่าเฉลี่ย": [1.5, 2.5]})
```

```{python}
#| echo: true
answer = 40 + 2
print("echoed", answer)
```

```{python}
#| output: asis
print("**ตัวหนาแบบ asis**")
print()
print(f"CWD={Path.cwd()}")
print()
print(f"EXE={sys.executable}")
print()
print(f"NBOOT={n_boot}")
```

```{python}
warnings.warn("WARNMARK-hidden")
```

```{python}
#| output: false
print("HIDDEN-OUTPUT-MARK")
```

### ข้อมูลเพิ่มเติม

ตารางที่ -@tbl-means อยู่ด้านบน ดูหัวข้อ @sec-intro

```{python}
#| eval: false
raise RuntimeError("never run")
```

```{python}
#| error: true
#| label: allowed-error
1 / 0
```

ค่าที่คำนวณได้คือ `{python} f"{answer:,}"` ครัวเรือน

```python
# an ordinary code block in markdown, not executed: `{python} nothing`
```
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("report_project")
    (root / "_quarto.yml").write_text(PROJECT_YML, encoding="utf-8")
    (root / "docs").mkdir()
    qmd = root / "docs" / "test_report.qmd"
    qmd.write_text(DOC, encoding="utf-8")
    out = render(qmd, engine="builtin", params={"n_boot": 7}, timeout=120)
    return out, out.read_text(encoding="utf-8"), root


def _text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def test_output_location_and_size(rendered: tuple[Path, str, Path]) -> None:
    out, html, root = rendered
    assert out == (root / "_build" / "docs" / "test_report.html").resolve()
    assert out == default_output(root / "docs" / "test_report.qmd")
    assert 10_000 < out.stat().st_size < 5_000_000
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left no temporary file
    assert '<html xmlns="http://www.w3.org/1999/xhtml" lang="th"' in html


def test_self_contained(rendered: tuple[Path, str, Path]) -> None:
    out, html, _ = rendered
    assert check_self_contained(out) == []
    assert check_self_contained(out, allow_links=False) == []
    assert "data:image/png;base64," in html
    assert "data:font/ttf;base64," in html  # Sarabun embedded, no remote font


def test_thai_text_math_and_toc(rendered: tuple[Path, str, Path]) -> None:
    _, html, _ = rendered
    assert "รายงานทดสอบชุมชนสวัสดิการ" in html
    assert re.search(r'<h2 id="sec-intro">บทนำของรายงาน</h2>', html)
    assert '<h3 id="ข้อมูลเพิ่มเติม">' in html  # automatic ids keep Thai vowels and tone marks
    assert '<nav id="TOC"' in html and "สารบัญ" in html
    assert "<math" in html and "MathML" in html
    assert "<td>นำร่อง</td>" in html  # markdown table


def test_figures_tables_captions_and_xrefs(rendered: tuple[Path, str, Path]) -> None:
    _, html, _ = rendered
    assert '<figure id="fig-income">' in html
    assert "รูปที่ 1: รายได้เฉลี่ยของครัวเรือน" in html
    # the markdown table comes first in the document, so it is table 1 and the DataFrame table 2
    assert '<span id="tbl-md">ตารางที่ 1</span>: ตารางมาร์กดาวน์' in html
    assert '<div id="tbl-means" class="table-float">' in html
    assert "ตารางที่ 2: ค่าเฉลี่ยตามกลุ่ม" in html
    assert '<a href="#fig-income">รูปที่ 1</a>' in html
    assert '<a href="#tbl-means">ตารางที่ 2</a>' in html
    assert '<a href="#tbl-md">ตารางที่ 1</a>' in html
    assert 'class="dataframe"' in html and "กลุ่มตัวอย่าง" in html


def test_cell_options(rendered: tuple[Path, str, Path]) -> None:
    _, html, _ = rendered
    text = _text(html)
    # echo: false (document default) hides code; include: false hides code and output
    assert "ax.bar(" not in text and "SECRET_SETUP" not in text
    assert "setup-marker-should-not-appear" not in text
    # echo: true shows code and its output
    assert "answer = 40 + 2" in text
    assert "echoed 42" in text
    # output: asis is raw markdown
    assert "<strong>ตัวหนาแบบ asis</strong>" in html
    # warning: false (document default) drops warnings; output: false drops output
    assert "WARNMARK" not in text
    assert "HIDDEN-OUTPUT-MARK" not in text
    assert 'ตารางที่ <a href="#tbl-means">2</a> อยู่ด้านบน' in html  # -@ gives the number only
    assert '<a href="#sec-intro">บทนำของรายงาน</a>' in html  # section reference: heading text
    # eval: false is not run (and with echo false not shown)
    assert "never run" not in text
    # error: true shows the traceback and goes on
    assert "ZeroDivisionError" in text
    assert 'class="cell-output-error"' in html
    # inline expression, evaluated in document order; markdown code blocks are not executed
    assert "ค่าที่คำนวณได้คือ 42 ครัวเรือน" in text
    assert "`{python} nothing`" in text or "{python} nothing" in text


def test_execution_environment(rendered: tuple[Path, str, Path]) -> None:
    _, html, root = rendered
    text = _text(html)
    assert f"CWD={root.resolve()}" in text  # execute-dir: project
    assert f"EXE={sys.executable}" in text  # kernel runs the current interpreter
    assert "NBOOT=7" in text  # params injected after the 'parameters' cell


def test_failing_cell_names_the_cell(tmp_path: Path) -> None:
    qmd = tmp_path / "bad.qmd"
    qmd.write_text(
        textwrap.dedent(
            """\
            ---
            title: t
            ---

            text

            ```{python}
            x = 1
            ```

            ```{python}
            #| label: tbl-broken
            y = x / 0
            ```
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(RenderError) as info:
        render(qmd, engine="builtin", timeout=60)
    first = str(info.value).splitlines()[0]
    assert "bad.qmd:11:" in first
    assert "'tbl-broken'" in first
    assert "ZeroDivisionError" in first
    assert not (tmp_path / "bad.html").exists()


def test_markdown_only_document_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qmd = tmp_path / "plain.qmd"
    qmd.write_text(
        "---\ntitle: ภาษาไทย\nlang: en\n---\n\n![ภาพ](pic.png){#fig-pic}\n\nSee @fig-pic and @fig-nope.\n",
        encoding="utf-8",
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ax = plt.subplots(figsize=(1, 1))
    fig.savefig(tmp_path / "pic.png")
    plt.close(fig)
    out = tmp_path / "x" / "plain.html"
    with pytest.warns(UserWarning, match="unresolved cross-reference @fig-nope"):
        assert cli_main([str(qmd), "-o", str(out), "--engine", "builtin"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<strong>?@fig-nope</strong>" in html
    assert "Figure 1: ภาพ" in html and '<a href="#fig-pic">Figure 1</a>' in html  # English prefixes
    assert "data:image/png;base64," in html
    assert "wrote" in capsys.readouterr().out
    assert cli_main([str(tmp_path / "missing.qmd")]) == 1


def test_engine_auto_without_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no quarto on PATH
    qmd = tmp_path / "a.qmd"
    qmd.write_text("# หัวข้อ\n\nข้อความ $x^2$\n", encoding="utf-8")
    out = render(qmd)
    assert "<math" in out.read_text(encoding="utf-8")
    with pytest.raises(RenderError, match="no 'quarto' executable"):
        render(qmd, engine="quarto")
    with pytest.raises(ValueError, match="aliases"):
        render(qmd, execute_dir=tmp_path, cwd=tmp_path / "other")
    with pytest.raises(ValueError, match="engine must be"):
        render(qmd, engine="knitr")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"nope\.qmd"):
        render(tmp_path / "nope.qmd")


def test_parse_qmd() -> None:
    text = textwrap.dedent(
        """\
        ---
        title: x
        ---
        Intro

        ````markdown
        ```{python}
        not a cell
        ```
        ````

        ```{python echo=true, fig.width=3}
        #| label: fig-a
        #| fig-cap: "A"
        print(1)
        ```
        tail
        """
    )
    p = parse_qmd(text, "t.qmd")
    assert p.front == {"title": "x"}
    kinds = [c.kind for c in p.chunks]
    assert kinds == ["markdown", "code", "markdown"]
    cell = p.chunks[1]
    assert cell.line == 12
    assert cell.options == {"echo": True, "fig.width": 3, "label": "fig-a", "fig-cap": "A"}
    assert cell.text == "print(1)"
    assert cell.option_lines == ["#| label: fig-a", '#| fig-cap: "A"']
    assert "not a cell" in p.chunks[0].text
    with pytest.raises(ValueError, match=r"t\.qmd:2: code cell"):
        parse_qmd("x\n```{python}\nprint(1)\n", "t.qmd")
    with pytest.raises(ValueError, match="front matter"):
        parse_qmd("---\ntitle: x\n", "t.qmd")


def _fake_quarto(bin_dir: Path, body: str) -> Path:
    """A stand-in ``quarto`` executable: records its arguments and writes ``<stem>.html``."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "quarto"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{bin_dir}/args.txt"\n'
        'out="${2%.qmd}.html"\n'
        f"cat > \"$out\" <<'EOF'\n{body}\nEOF\n"
        'echo "Output created: $out" >&2\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return bin_dir


def test_quarto_engine_is_used_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _fake_quarto(tmp_path / "bin", "<html><body><p>from quarto</p></body></html>")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("# x\n", encoding="utf-8")
    out = render(qmd, output=tmp_path / "out" / "final.html", params={"n_boot": 3, "label": "ก"})
    assert out.read_text(encoding="utf-8").startswith("<html><body><p>from quarto")
    args = (bin_dir / "args.txt").read_text(encoding="utf-8").splitlines()
    assert args[:4] == ["render", str(qmd.resolve()), "--to", "html"]
    assert "n_boot:3" in args and "label:ก" in args


def test_not_self_contained_output_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _fake_quarto(tmp_path / "bin", '<html><script src="https://cdn.example/x.js"></script></html>')
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("# x\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"not self-contained.*cdn\.example"):
        render(qmd, engine="quarto")
    assert cli_main([str(qmd), "--engine", "quarto"]) == 2


def test_repository_quarto_project_config(tmp_path: Path) -> None:
    """reports/_quarto.yml stays a Quarto project that the built-in engine reads the same way."""
    import shutil

    from welfare_eval.report._qmd import find_project
    from welfare_eval.report._render import _Builtin

    root = Path(__file__).resolve().parents[1] / "reports"
    project_dir, cfg = find_project(root)
    assert project_dir == root.resolve()
    assert cfg["project"]["execute-dir"] == "project"
    html = cfg["format"]["html"]
    assert html["embed-resources"] is True and html["toc"] is True
    assert html["html-math-method"] == "mathml" and html["lang"] == "th"
    # the same configuration in a scratch copy, read by the built-in engine
    shutil.copy(root / "_quarto.yml", tmp_path / "_quarto.yml")
    shutil.copytree(root / "assets", tmp_path / "assets")
    (tmp_path / "sub").mkdir()
    qmd = tmp_path / "sub" / "r.qmd"
    qmd.write_text("---\ntitle: t\n---\n", encoding="utf-8")
    b = _Builtin(qmd, tmp_path / "r.html", None, {}, 60)
    assert b.exec_dir == tmp_path.resolve()
    assert b.lang == "th" and b.exec_defaults.get("echo") is False
    assert b._css_files() == [(tmp_path / "assets" / "report.css").resolve()]
    assert b._prefix("fig") == "รูปที่" and b._prefix("tbl", "prefix") == "ตารางที่"


def test_fresh_process_uses_the_running_interpreter(tmp_path: Path) -> None:
    """From a fresh process whose PATH has no venv, the kernel still runs this interpreter."""
    import os
    import subprocess

    qmd = tmp_path / "exe.qmd"
    qmd.write_text(
        '```{python}\n#| output: asis\nimport sys, welfare_eval\nprint(f"EXE={sys.executable}")\n```\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    proc = subprocess.run(
        [sys.executable, "-m", "welfare_eval.report", str(qmd), "--engine", "builtin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"EXE={sys.executable}" in (tmp_path / "exe.html").read_text(encoding="utf-8")


def test_include_shortcode(tmp_path: Path) -> None:
    """Quarto's {{< include >}}: relative paths, nesting, code blocks untouched, clear errors."""
    from welfare_eval.report._qmd import expand_includes

    (tmp_path / "sec").mkdir()
    (tmp_path / "sec" / "_a.qmd").write_text("## A\n\n{{< include _b.qmd >}}\n", encoding="utf-8")
    (tmp_path / "sec" / "_b.qmd").write_text("text of b\n", encoding="utf-8")
    main = tmp_path / "main.qmd"
    text = "# T\n\n{{< include sec/_a.qmd >}}\n\n```\n{{< include sec/_a.qmd >}}\n```\n"
    out = expand_includes(text, main)
    assert out == "# T\n\n## A\n\ntext of b\n\n```\n{{< include sec/_a.qmd >}}\n```\n"
    with pytest.raises(ValueError, match=r"main.qmd:1: included file nope.qmd not found"):
        expand_includes("{{< include nope.qmd >}}\n", main)
    (tmp_path / "sec" / "_b.qmd").write_text("{{< include _a.qmd >}}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="include cycle"):
        expand_includes(text, main)


def test_cross_reference_divs_printed_by_cells_are_numbered(tmp_path: Path) -> None:
    """A table shown only when the data call for it (printed by an ``output: asis`` cell) is numbered in document
    order with the static ones, and references to it, before or after, link to its number (as Quarto does)."""
    qmd = tmp_path / "asis.qmd"
    qmd.write_text(
        textwrap.dedent(
            """\
            ---
            title: t
            lang: en
            ---

            See @tbl-late and @tbl-first.

            ::: {#tbl-first}
            | a |
            |---|
            | 1 |

            First.
            :::

            ```{python}
            #| output: asis
            for show in (False, True):
                if show:
                    print("::: {#tbl-printed}\\n| b |\\n|---|\\n| 2 |\\n\\nPrinted.\\n:::\\n\\nAs @tbl-printed shows.")
            ```

            ::: {#tbl-late}
            | c |
            |---|
            | 3 |

            Late.
            :::
            """
        ),
        encoding="utf-8",
    )
    html = render(qmd, engine="builtin", timeout=60).read_text("utf-8")
    assert '<a href="#tbl-late">Table 3</a>' in html and '<a href="#tbl-first">Table 1</a>' in html
    assert '<a href="#tbl-printed">Table 2</a>' in html
    assert re.search(r'<div id="tbl-printed" class="table-float">.*?Table 2:', html, re.S)
    assert "?@tbl" not in html and "tbl-printed**" not in html
