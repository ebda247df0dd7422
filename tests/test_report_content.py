"""The final report's content on the demo study: the summary is the final impact table, no internal code is
left untranslated, no local path leaks, every figure and table is referred to, figures are readable."""

from __future__ import annotations

import html as htmllib
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from welfare_eval import pipeline
from welfare_eval.report import fmt
from welfare_eval.report._typeset import WJ, ZWSP


@pytest.fixture(scope="module")
def data(demo_project: Path) -> Any:
    return pipeline.report_data(pipeline.Paths.from_root(demo_project))


@pytest.fixture(scope="module")
def pages(demo_project: Path, demo_report_en: Path) -> dict[str, str]:
    return {"th": (demo_project / "reports" / "final_report.html").read_text("utf-8"),
            "en": demo_report_en.read_text("utf-8")}


def visible_text(page: str) -> str:
    """The text a reader sees: no head, scripts, styles, math, code; entities decoded; break characters gone."""
    body = page.split("<body", 1)[1]
    body = re.sub(r"<(script|style|math|code|pre)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return htmllib.unescape(body).replace(ZWSP, "").replace(WJ, "").replace("\u00a0", " ")


# --------------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------------
def test_summary_numbers_are_those_of_the_final_impact_table(data: Any, pages: dict[str, str]) -> None:
    from welfare_eval.report import summary_content as SUM
    from welfare_eval.report.impact_content import outcome_label, planted_effect

    e = data.results["impact_effects"]
    wave = data.plan["impact"]["waves"][-1]
    headline = list(data.plan["impact"]["headline"])
    assert "qol_index" in headline and len(headline) == 5
    glance = SUM.glance_display(data, "en")
    assert len(glance) == len(headline)  # every headline outcome, not the preliminary three
    for (_, row), y in zip(glance.iterrows(), headline, strict=True):
        s = e[(e["outcome"] == y) & (e["wave"] == wave)].set_index("method")
        unit = fmt.unit_of(y, s.loc["cr2", "scale"])
        assert row["Outcome"].startswith(outcome_label(y, "en"))
        assert row["Effect [95% CI, CR2]"] == (
            f"{fmt.number(s.loc['cr2', 'estimate'], unit, signed=True)} "
            f"{fmt.interval(s.loc['cr2', 'ci_low'], s.loc['cr2', 'ci_high'], unit)}")
        assert row["p (wild bootstrap)"] == fmt.p_value(s.loc["wild", "p_value"])
        assert row["p (randomization)"] == fmt.p_value(s.loc["ri", "p_value"])
        assert row["Romano–Wolf adjusted p"] == fmt.p_value(s.loc["wild", "p_romano_wolf"])
        assert row["Planted truth (demo)"] == fmt.number(planted_effect(data, y, wave), unit, signed=True)
    # shares in percentage points, baht without decimals
    assert re.fullmatch(r"[+−]\d+\.\d \[.*\]", glance.iloc[0, 2]) and "pp" not in glance.iloc[0, 2]
    assert re.fullmatch(r"[+−][\d,]+ \[[−\d,]+,\u00a0[−\d,]+\]", glance.iloc[1, 2])
    # the rendered pages show the same numbers
    for lang, page in pages.items():
        text = visible_text(page)
        for _, row in SUM.glance_display(data, lang).iterrows():
            assert row.iloc[2].replace("\u00a0", " ") in text


def test_summary_never_reads_the_preliminary_table(data: Any) -> None:
    from welfare_eval.report import summary_content as SUM

    bogus = data.results["did_preliminary"].assign(estimate=99999.0, p_value=0.5)
    for d2 in (replace(data, results={**data.results, "did_preliminary": bogus}),
               replace(data, results={k: v for k, v in data.results.items() if k != "did_preliminary"})):
        for lang in ("th", "en"):
            pd.testing.assert_frame_equal(SUM.glance_display(d2, lang), SUM.glance_display(data, lang))
            assert SUM.summary_markdown(d2, lang) == SUM.summary_markdown(data, lang)


def test_summary_states_the_caveats_and_a_conclusion(data: Any) -> None:
    from welfare_eval.report import summary_content as SUM
    from welfare_eval.report.content import balance_summary

    bal = balance_summary(data)
    en = SUM.summary_markdown(data, "en")
    assert "Multiple testing" in en and "Romano–Wolf" in en
    assert f"mean |SMD| of the matching covariates is still {fmt.number(bal['smd_after'], 'ratio')}" in en
    assert f"permutation test gives p = {fmt.p_value(bal['p_perm'])}" in en
    assert "**Conclusion**" in en and "Simulated data" in en
    th = SUM.summary_markdown(data, "th")
    assert "ข้อสรุป" in th and "ความสมดุลยังไม่ดี" in th and fmt.p_value(bal["p_perm"]) in th
    real = replace(data, truth=None, simulation=None)
    assert "Simulated data" not in SUM.summary_markdown(real, "en")
    assert "Planted truth (demo)" not in SUM.glance_display(real, "en").columns


# --------------------------------------------------------------------------------------------------
# Attrition, spillover, timeline: from the data
# --------------------------------------------------------------------------------------------------
def test_differential_attrition_is_the_paired_t_test_on_village_rates(data: Any, demo_project: Path) -> None:
    from scipy import stats

    from welfare_eval.report.sections_content import differential_attrition

    hh = pd.read_parquet(demo_project / "data" / "processed" / "households.parquet")
    hh["wave"] = hh["wave"].astype(str)
    n = hh.groupby(["village_id", "wave"]).agg(sampled=("hh_id", "size"), interviewed=("interviewed", "sum"),
                                               panel=("panel", "sum"))
    v = hh.drop_duplicates("village_id").set_index("village_id")[["pair_id", "treated"]]
    t = differential_attrition(data).set_index(["measure", "wave"])
    assert len(t) == 5 and (t["n_pairs"] == 18).all() and (t["df"] == 17).all()
    for (measure, wave), row in t.iterrows():
        if measure == "nonresponse":
            rate = 1 - n.xs(wave, level="wave")["interviewed"] / n.xs(wave, level="wave")["sampled"]
        else:
            prev = {"midline": "baseline", "endline": "midline"}[wave]
            rate = 1 - n.xs(wave, level="wave")["panel"] / n.xs(prev, level="wave")["sampled"]
        r = v.assign(rate=rate).pivot_table(index="pair_id", columns="treated", values="rate")
        res = stats.ttest_rel(r[1], r[0])
        assert row["estimate"] == pytest.approx(float((r[1] - r[0]).mean()), rel=1e-9, abs=1e-12)
        assert row["p_value"] == pytest.approx(float(res.pvalue), rel=1e-6)
        # the arm rates are pooled over households (sampled-weighted), not means of village rates
        g = hh[hh["wave"] == wave].groupby("treated")
        if measure == "nonresponse":
            assert row["pilot"] == pytest.approx(1 - g["interviewed"].sum()[1] / g.size()[1])


def test_spillover_pairs_are_those_in_one_province(data: Any) -> None:
    from welfare_eval.report.content import spillover_markdown, spillover_pairs

    d = data.results["design"]
    same = d[d["pilot_province_en"] == d["comparison_province_en"]]
    assert list(spillover_pairs(data)["pair_id"]) == list(same["pair_id"])
    assert f"{len(same)} of the 18 pairs" in spillover_markdown(data, "en")


def test_timeline_dates_come_from_the_data(data: Any, demo_project: Path) -> None:
    from welfare_eval.report.sections_content import timeline_display

    hh = pd.read_parquet(demo_project / "data" / "processed" / "households.parquet")
    hh = hh[hh["interviewed"] == 1]
    t = timeline_display(data, "en")
    for wave in ("baseline", "midline", "endline"):
        w = hh[hh["wave"].astype(str) == wave]["interview_time"]
        first, last = w.min().strftime("%Y-%m-%d"), w.max().strftime("%Y-%m-%d")
        assert fmt.date_range(first, last) in set(t["When"])
    assert t["What"].str.startswith("Workshops, phase").sum() == 3


# --------------------------------------------------------------------------------------------------
# No untranslated internal code, no local path
# --------------------------------------------------------------------------------------------------
def _codes(data: Any) -> tuple[set[str], set[str]]:
    """(codes with an underscore, single-word codes of the data) the report must never show raw."""
    from welfare_eval.reference import labels

    snake: set[str] = set()
    for key in labels()["key"]:
        snake |= {part for part in str(key).split(".") if "_" in part}
    plan = data.plan
    for vals in (plan["impact"]["outcomes"], plan["impact"]["headline"], plan["matching"]["covariates"],
                 plan["descriptives"]["outcomes"], plan["impact"]["event_study"]["outcomes"], plan["weights"]["steps"]):
        snake |= {str(v) for v in vals if "_" in str(v)}
    for col in ("rule", "action", "severity"):
        snake |= {str(v) for v in data.checks[col].unique() if "_" in str(v)}
    words = {"pilot", "comparison", "baseline", "midline", "endline", "kept", "merged", "rejected", "normalized",
             "flagged", "continuous", "binary", "poststratify", "nonresponse", "calibrate", "smoothness",
             "primary", "secondary", "info", "warning", "error", "proportion", "level", "finite"}
    words |= {str(v) for v in data.checks["rule"].unique() if "_" not in str(v)}
    return snake, words


def test_no_untranslated_internal_code(data: Any, pages: dict[str, str]) -> None:
    snake, words = _codes(data)
    assert {"currency_text", "any_welfare", "member_welfare_fund", "set_missing"} <= snake
    for lang, page in pages.items():
        text = visible_text(page)
        found = sorted(c for c in snake if re.search(rf"(?<![\w./-]){re.escape(c)}(?![\w.-])", text))
        assert found == [], f"{lang}: untranslated codes {found}"
        if lang == "th":
            raw = sorted(w for w in words if re.search(rf"(?<![\w./-]){re.escape(w)}(?![\w.-])", text))
            assert raw == [], f"th: English code words {raw}"
        assert "section/item/value" not in text and "section item value" not in text


def test_no_local_paths(demo_project: Path, pages: dict[str, str]) -> None:
    for lang, page in pages.items():
        page = re.sub(r"data:[^\"')\s]+", "", page)
        for needle in {str(demo_project), str(demo_project.resolve()), sys.prefix, sys.executable,
                       str(Path(__file__).resolve().parents[1]), "site-packages", "/tmp/"}:
            assert needle not in page, f"{lang}: the report shows the local path {needle!r}"


def test_provenance_in_the_reports_language(data: Any, pages: dict[str, str]) -> None:
    from welfare_eval.report.content import provenance_display

    for lang in ("th", "en"):
        t = provenance_display(data, lang)
        values = dict(zip(t.iloc[:, 1], t.iloc[:, 2], strict=True))
        assert data.software["package_version"] in values.values()
        assert data.plan_sha256 in values.values()
        assert any(v == data.analysed_at.replace("T", " ").replace("+00:00", " UTC") for v in values.values())
    assert "Analysed at" in visible_text(pages["en"]) and "วันเวลาที่วิเคราะห์" in visible_text(pages["th"])
    # the date under the title is the analysis date, not the day the page was rendered
    for page in pages.values():
        assert f'<p class="date">{data.report_date}</p>' in page


def test_every_figure_and_table_is_referred_to_by_number(pages: dict[str, str]) -> None:
    for lang, page in pages.items():
        floats = set(re.findall(r'<(?:figure|div) id="((?:fig|tbl)-[\w-]+)"', page))
        assert len(floats) >= 30
        linked = set(re.findall(r'<a href="#((?:fig|tbl)-[\w-]+)"', page))
        assert floats - linked == set(), f"{lang}: never referred to in the text"
        word = "ตารางที่" if lang == "th" else "Table"
        assert re.search(rf'<a href="#tbl-glance">{word} 1</a>', page.replace(ZWSP, "").replace(WJ, ""))


def test_math_numbers_and_draws(pages: dict[str, str]) -> None:
    for page in pages.values():
        assert "<mn>262</mn><mo>,</mo>" not in page  # MathML would print "262, 144"
        text = visible_text(page)
        assert "2¹⁸ = 262,144" in text


# --------------------------------------------------------------------------------------------------
# Figures: readable at page width, legends off the data, alt text
# --------------------------------------------------------------------------------------------------
def _figures(data: Any, lang: str) -> list[tuple[str, Any, str]]:
    from welfare_eval.report import content as C
    from welfare_eval.report import factors_content as FC
    from welfare_eval.report import funds_content as FU
    from welfare_eval.report import impact_content as IC
    from welfare_eval.report import power_content as PC
    from welfare_eval.report import survey_content as SC

    return [
        ("weights", SC.weights_figure(data, lang), SC.weights_alt(data, lang)),
        ("receipt", SC.receipt_figure(data, lang), SC.receipt_alt(data, lang)),
        ("love", C.love_plot(data, lang), C.love_alt(data, lang)),
        ("coef", IC.coefficient_plot(data, lang), IC.coefficient_alt(data, lang)),
        ("influence", IC.influence_plot(data, lang), IC.influence_alt(data, lang)),
        ("event", IC.event_plot(data, lang), IC.event_alt(data, lang)),
        ("sensitivity", IC.sensitivity_plot(data, lang), IC.sensitivity_alt(data, lang)),
        ("profile", FC.factor_profile_plot(data, lang), FC.factor_profile_alt(data, lang)),
        ("dominance", FC.dominance_plot(data, lang), FC.dominance_alt(data, lang)),
        ("power-planning", PC.planning_plot(data, lang), PC.planning_alt(data, lang)),
        ("power-simulation", PC.simulation_plot(data, lang), PC.simulation_alt(data, lang)),
        ("funds-trend", FU.trend_plot(data, lang), FU.trend_alt(data, lang)),
        ("funds-fan", FU.fan_plot(data, lang), FU.fan_alt(data, lang)),
    ]


@pytest.mark.parametrize("lang", ["th"])  # the English figures differ only in their labels
def test_figures_are_readable_and_legends_stay_off_the_data(data: Any, lang: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from welfare_eval.report.figures import MAX_WIDTH_IN, MIN_FONT_PT

    for name, fig, alt in _figures(data, lang):
        try:
            assert fig.get_size_inches()[0] <= MAX_WIDTH_IN + 1e-9, name
            fig.canvas.draw()
            small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                     if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT - 1e-9]
            assert small == [], f"{name}: text smaller than {MIN_FONT_PT} pt"
            renderer = fig.canvas.get_renderer()
            legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
            for leg in legends:
                lb = leg.get_window_extent(renderer)
                for ax in fig.axes:
                    if ax.get_visible():
                        assert not lb.overlaps(ax.get_window_extent(renderer)), f"{name}: legend over the data"
            assert isinstance(alt, str) and len(alt) > 30, name
        finally:
            plt.close(fig)
