"""Pairs left out at cleaning (issue 15): the report states them in the design section, the data-quality appendix
(a numbered table with reason and source) and the summary's caveats, in both editions; nothing extra otherwise."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from welfare_eval import pipeline
from welfare_eval.report import content as C
from welfare_eval.report import summary_content as SUM
from welfare_eval.report.data import ReportData

REASON = "no endline interviews (flood; see memo #3 *urgent* @tbl-glance)"
DROPPED = [{"pair_id": 7, "reason": REASON, "decided_in": "drop.csv row 2", "villages": ["10010101", "10020202"]}]


def _bundle(n_pairs: int = 17, dropped: list[dict[str, Any]] | None = None) -> ReportData:
    design = pd.DataFrame({"pair_id": range(1, n_pairs + 1)})
    return ReportData(results={"design": design}, manifest={"dropped_pairs": dropped or []})


# --------------------------------------------------------------------------------------------------
# Content functions on a ReportData
# --------------------------------------------------------------------------------------------------
def test_report_data_lists_dropped_pairs_from_the_manifest() -> None:
    d = _bundle(dropped=[*DROPPED, {"pair_id": 3, "reason": "two pilots", "decided_in": "clean_all(drop_pairs=...)"}])
    dp = d.dropped_pairs
    assert list(dp.columns) == ["pair_id", "villages", "reason", "decided_in"]
    assert dp["pair_id"].tolist() == [3, 7]  # sorted
    assert dp.loc[1, "villages"] == "10010101, 10020202" and dp.loc[0, "villages"] == ""
    assert _bundle().dropped_pairs.empty and ReportData(results={}).dropped_pairs.empty


@pytest.mark.parametrize("lang", ["th", "en"])
def test_dropped_pair_content(lang: str) -> None:
    d = _bundle(dropped=DROPPED)
    tab = C.dropped_pairs_display(d, lang)  # type: ignore[arg-type]
    assert tab.shape == (1, 4)
    assert tab.iloc[0].tolist()[:3] == ["7", "10010101, 10020202", REASON]
    assert tab.iloc[0, 3] == ("แฟ้มแก้ไขข้อมูล drop.csv แถวที่ 2" if lang == "th" else "corrections file drop.csv, row 2")

    design = C.dropped_pairs_markdown(d, lang)  # type: ignore[arg-type]
    assert ("17 คู่จาก 18 คู่" if lang == "th" else "17 of the 18 planned pairs") in design
    assert "@tbl-dropped-pairs" in design
    # the user's reason is shown, but cannot start a cross-reference, citation or emphasis
    assert r"\*urgent\*" in design and r"&#64;tbl\-glance" in design and "@tbl-glance" not in design

    appendix = C.dropped_pairs_appendix_markdown(d, lang)  # type: ignore[arg-type]
    assert appendix.count("::: {#tbl-dropped-pairs}") == 1 and appendix.rstrip().endswith(":::")
    assert "@tbl-dropped-pairs" in appendix.split("::: {#tbl-dropped-pairs}")[0]  # referred to by number
    assert "<table" in appendix and "10010101, 10020202" in appendix and "caption-source" in appendix

    kept = _bundle(18)
    assert C.dropped_pairs_markdown(kept, lang) == ""  # type: ignore[arg-type]
    one_line = C.dropped_pairs_appendix_markdown(kept, lang)  # type: ignore[arg-type]
    assert "tbl-" not in one_line and one_line.count("\n") == 1


def test_summary_caveat_only_when_a_pair_was_dropped(demo_project: Path) -> None:
    d = pipeline.report_data(pipeline.Paths.from_root(demo_project))
    assert d.dropped_pairs.empty
    n = int(d.result("design").shape[0])
    dropped = replace(d, manifest={**d.manifest, "dropped_pairs": DROPPED})
    for lang, words in (("th", ("คู่ที่ถูกตัดออก", f"{n} คู่จาก {n + 1} คู่")),
                        ("en", ("A pair left out", f"{n} of the {n + 1} planned pairs"))):
        plain = SUM.summary_markdown(d, lang)  # type: ignore[arg-type]
        text = SUM.summary_markdown(dropped, lang)  # type: ignore[arg-type]
        assert all(w not in plain for w in words)
        caveats = text.split("\n\n- ", 1)[1]
        assert all(w in caveats for w in words) and "7" in caveats
