"""The report's formatting rules (welfare_eval.report.fmt), Thai typesetting, conditional content and profiles,
cross-reference divs with <caption>: unit tests, plus one small render with the built-in engine."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from welfare_eval.report import fmt
from welfare_eval.report._qmd import find_project, resolve_conditionals
from welfare_eval.report._typeset import WJ, ZWSP, lang_spans, segment_thai, thai_breaks, typeset_html

NB = "\u00a0"


# --------------------------------------------------------------------------------------------------
# fmt: one set of rules
# --------------------------------------------------------------------------------------------------
def test_rounding_by_unit() -> None:
    assert fmt.number(0.1066, "share") == "10.7"  # a share ×100, one decimal
    assert fmt.number(402.96066, "baht") == "403"  # baht: no decimals
    assert fmt.number(280361.111, "baht") == "280,361"
    assert fmt.number(0.250162, "index") == "0.25"
    assert fmt.number(5.4, "count") == "5"
    assert fmt.number(-0.0001, "index") == "0.00"  # no "−0.00"
    assert fmt.number(-2559.134, "baht") == "\u22122,559"  # the minus sign U+2212
    assert fmt.number(0.1, "share", signed=True) == "+10.0"
    assert fmt.number(None) == "—" and fmt.number(float("nan"), "baht") == "—"
    assert fmt.unit_of("any_welfare") == "share" and fmt.unit_of("received_death") == "share"
    assert fmt.unit_of("savings") == "baht" and fmt.unit_of("whatever", "proportion") == "share"
    assert fmt.unit_of("unknown_thing") == "number"


def test_changes_in_shares_are_percentage_points() -> None:
    assert fmt.unit_suffix("share", change=False, lang="th") == "%"
    assert fmt.unit_suffix("share", change=True, lang="th") == f"{NB}จุดร้อยละ"
    assert fmt.unit_suffix("share", change=True, lang="en") == f"{NB}percentage points"
    assert "%" not in fmt.unit_suffix("share", change=True, lang="en")
    assert fmt.unit_word("baht", lang="th") == "บาท" and fmt.unit_word("index", lang="en") == ""


def test_intervals_never_wrap_inside() -> None:
    ci = fmt.interval(-2559.134899, 3616.216495, "baht")
    assert ci == f"[\u22122,559,{NB}3,616]"
    assert " " not in ci  # no ordinary space: no break opportunity inside the interval
    assert fmt.estimate_ci(0.25, 0.12, 0.38, "index") == f"0.25 [0.12,{NB}0.38]"
    assert fmt.interval(float("nan"), 1.0) == "—"


def test_df_and_p_values() -> None:
    assert fmt.df(17.0) == "17" and fmt.df(13.394722) == "13.4" and fmt.df(1238.0) == "1,238"
    assert fmt.p_value(0.00014) == f"<{NB}0.001" and fmt.p_value(0.0427) == "0.043" and fmt.p_value(1.0) == "1.000"
    with pytest.raises(ValueError, match="not a probability"):
        fmt.p_value(1.2)
    assert fmt.count(262144) == "262,144" and fmt.percent(0.9537) == "95.4%"
    assert fmt.date("2023-04-21") == "2023\u201104\u201121"  # non-breaking hyphens


def test_axis_formatter_follows_the_table_rules() -> None:
    f = fmt.axis_formatter("baht")
    assert f(-2000.0, 0) == "\u22122,000" and f(1500.0, 0) == "1,500"
    assert fmt.axis_formatter("share")(12.5, 0) == "12.5"


# --------------------------------------------------------------------------------------------------
# Thai typesetting
# --------------------------------------------------------------------------------------------------
def test_thai_segmentation_keeps_words_and_transliterations_whole() -> None:
    words = segment_thai("ค่าแอลฟาของครอนบาคได้รับสวัสดิการชุมชนอย่างน้อยหนึ่งประเภท")
    assert "ครอนบาค" in words and "หนึ่ง" in words and "".join(words) == (
        "ค่าแอลฟาของครอนบาคได้รับสวัสดิการชุมชนอย่างน้อยหนึ่งประเภท")
    broken = thai_breaks("ค่าโอเมกาของแมคโดนัลด์")
    assert broken.replace(WJ, "").split(ZWSP) == ["ค่า", "โอเมกา", "ของ", "แมคโดนัลด์"]
    # no word joiner before a combining mark (it would detach tone marks and vowels from their consonant)
    assert not re.search(WJ + "[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0e33]", broken)


def test_lang_spans_and_untouched_markup() -> None:
    assert lang_spans("ผลการประเมิน (Impact)", page_lang="th") == [("ผลการประเมิน (", None), ("Impact", "en"), (")", None)]
    assert lang_spans("p = 0.04 N", page_lang="th") == [("p = 0.04 N", None)]  # no word of two letters
    html = ('<html><head><title>ไทย</title></head><body><p title="ไทย">ใช้ CR2 &amp; wild bootstrap</p>'
            '<math><mi>x</mi><mtext>ไทย</mtext></math><code>any_welfare</code></body></html>')
    out = typeset_html(html, lang="th")
    assert '<title>ไทย</title>' in out and 'title="ไทย"' in out and "<mtext>ไทย</mtext>" in out
    assert '<span lang="en">CR2</span> &amp; <span lang="en">wild bootstrap</span>' in out
    assert "<code>any_welfare</code>" in out
    en = typeset_html("<p>Pilot villages (หมู่บ้านนำร่อง)</p>", lang="en", thai_breaks=False)
    assert en == '<p>Pilot villages (<span lang="th">หมู่บ้านนำร่อง</span>)</p>'


# --------------------------------------------------------------------------------------------------
# Quarto features of the built-in engine: conditional content, profiles, cross-reference divs
# --------------------------------------------------------------------------------------------------
def test_conditional_content() -> None:
    text = textwrap.dedent("""\
        ::: {.content-visible when-profile="en"}
        English
        ```{python}
        x = 1
        ```
        :::
        ::: {.content-hidden when-profile="en"}
        ไทย
        ::: {.note}
        kept
        :::
        :::
        A [ไทย]{.content-hidden when-profile="en"}[English [link](#x)]{.content-visible when-profile="en"} B
        ::: {.content-visible when-meta="flags.demo"}
        demo only
        :::
        ::: {.content-hidden unless-format="html"}
        html only
        :::
        """)
    en = resolve_conditionals(text, profiles=["en"], meta={"flags": {"demo": True}})
    assert "English\n```{python}" in en and "ไทย" not in en and "A English [link](#x) B" in en
    assert "demo only" in en and "html only" in en and ":::" not in en.split("A English")[0]
    th = resolve_conditionals(text, profiles=[], meta={})
    assert "English" not in th and "ไทย\n::: {.note}\nkept\n:::" in th and "A ไทย B" in th and "demo only" not in th
    with pytest.raises(ValueError, match="never closed"):
        resolve_conditionals("::: {.content-visible}\nx\n")


def test_profiles_merge_over_the_project(tmp_path: Path) -> None:
    (tmp_path / "_quarto.yml").write_text("lang: th\ntitle: ไทย\nformat:\n  html:\n    toc: true\n", encoding="utf-8")
    (tmp_path / "_quarto-en.yml").write_text("lang: en\ntitle: English\n", encoding="utf-8")
    _, cfg = find_project(tmp_path, ["en"])
    assert cfg["lang"] == "en" and cfg["title"] == "English" and cfg["format"]["html"]["toc"] is True
    with pytest.raises(ValueError, match="profile 'xx'"):
        find_project(tmp_path, ["xx"])


PROJECT = """\
project:
  execute-dir: project
lang: th
title: "รายงาน"
language:
  crossref-tbl-title: "ตารางที่"
  crossref-fig-title: "รูปที่"
welfare-eval:
  thai-line-breaks: true
  lang-spans: true
execute:
  echo: false
format:
  html:
    toc: true
"""

DOC = """\
---
---

## [สรุป]{.content-hidden when-profile="en"}[Summary]{.content-visible when-profile="en"} {#sec-a}

[ดู]{.content-hidden when-profile="en"}[See]{.content-visible when-profile="en"} @tbl-one, @fig-one.

::: {#tbl-one}
```{python}
import pandas as pd
from welfare_eval.report.tables import html_table
html_table(pd.DataFrame({"กลุ่ม": ["นำร่อง"], "n": ["18"]}))
```

[ตารางทดสอบ]{.content-hidden when-profile="en"}[A test table]{.content-visible when-profile="en"} `{python} "N = 36"`
:::

::: {#fig-one}
```{python}
import matplotlib.pyplot as plt
from welfare_eval.report.figures import show
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [0, 1])
show(fig, alt="A line that rises from zero to one.", demo=True, lang="en")
```

[รูปทดสอบ]{.content-hidden when-profile="en"}[A test figure]{.content-visible when-profile="en"}
:::
"""


@pytest.fixture(scope="module")
def rendered_profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from welfare_eval.report import render

    root = tmp_path_factory.mktemp("profiles")
    (root / "_quarto.yml").write_text(PROJECT, encoding="utf-8")
    (root / "_quarto-en.yml").write_text('lang: en\ntitle: "Report"\nlanguage:\n  crossref-tbl-title: "Table"\n'
                                         '  crossref-fig-title: "Figure"\n', encoding="utf-8")
    qmd = root / "doc.qmd"
    qmd.write_text(DOC, encoding="utf-8")
    # one render (the English profile): the Thai edition of the real report is checked in a browser
    en = render(qmd, engine="builtin", output=root / "en.html", profile="en", metadata={"date": "2025-04-21"},
                timeout=120)
    return {"en": en.read_text("utf-8"), "root": str(root)}


def test_a_kernel_started_ahead_gives_the_same_page(rendered_profiles: dict[str, str]) -> None:
    """start_kernel() while other work runs, render(kernel=) later: the same bytes; its process and folder end."""
    from welfare_eval.report import render, start_kernel

    root = Path(rendered_profiles["root"])
    qmd = root / "doc.qmd"
    kernel = start_kernel(qmd, profile="en")
    folder = kernel._tmp
    km = kernel.km
    out = render(qmd, engine="builtin", output=root / "en_ahead.html", profile="en",
                 metadata={"date": "2025-04-21"}, timeout=120, kernel=kernel)
    assert out.read_text("utf-8") == rendered_profiles["en"]
    assert not km.has_kernel and not folder.exists()
    # a kernel started for another document is not used (closed); the render starts its own
    other = root / "other.qmd"
    other.write_text("---\n---\n\n```{python}\nx = 1\n```\n", encoding="utf-8")
    wrong = start_kernel(other)
    wrong_km = wrong.km
    out = render(qmd, engine="builtin", output=root / "en_wrong.html", profile="en",
                 metadata={"date": "2025-04-21"}, timeout=120, kernel=wrong)
    assert out.read_text("utf-8") == rendered_profiles["en"]
    assert not wrong_km.has_kernel and not wrong._tmp.exists()


def test_figures_pass_pandoc_as_placeholders() -> None:
    """Long raster data URIs go to pandoc as placeholders and come back byte for byte (in attributes or text)."""
    from welfare_eval.report._render import _only_in_src_attributes, _restore_data_uris, _stash_data_uris

    uri = "data:image/png;base64," + "iVBORw0KGgo" * 40 + "=="
    svg = "data:image/svg+xml;base64," + "PHN2Zz4" * 60  # pandoc may inline SVG: never stashed
    md = f'<img src="{uri}">\n\n`{uri}`\n\n<img src="{svg}">\n'
    short, stash = _stash_data_uris(md)
    assert len(stash) == 2 and uri not in short and svg in short and len(short) < len(md) - 800
    assert _restore_data_uris(short, stash) == md
    page_attr = '<p><img src="' + next(iter(stash)) + '"></p>'
    assert _only_in_src_attributes(page_attr, {next(iter(stash)): uri})
    assert not _only_in_src_attributes(short, stash)  # one is in text: restored before the typesetting
    assert _stash_data_uris("WEstash000000 " + md) == ("WEstash000000 " + md, {})  # never confused with text


def test_the_profile_makes_the_english_edition(rendered_profiles: dict[str, str]) -> None:
    en = rendered_profiles["en"]
    assert '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"' in en  # the profile's lang
    assert "<title>Report</title>" in en  # the profile's title
    assert "A test table" in en and "ตารางทดสอบ" not in en.replace(ZWSP, "").replace(WJ, "")
    assert "2025-04-21" in en  # metadata override (Quarto -M)


def test_crossref_divs_number_and_caption_tables(rendered_profiles: dict[str, str]) -> None:
    en = rendered_profiles["en"]
    # the table's caption is its <caption>, numbered, with the inline source line
    m = re.search(r'<div id="tbl-one" class="table-float">.*?<table class="we-table"><caption>(.*?)</caption>', en, re.S)
    assert m, "the caption moved into the table"
    cap = re.sub(r"<[^>]+>", "", m.group(1))
    assert cap.startswith("Table 1:") and "A test table" in cap and "N = 36" in cap
    assert '<figure id="fig-one"' in en and "<figcaption>" in en
    img = re.search(r'<img[^>]*class="we-fig"[^>]*>', en)
    assert img and 'alt="A line that rises from zero to one."' in img.group(0)
    assert '<a href="#tbl-one">Table 1</a>' in en and '<a href="#fig-one">Figure 1</a>' in en
    assert 'scope="col"' in en and 'scope="row"' in en
