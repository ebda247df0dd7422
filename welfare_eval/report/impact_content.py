"""Report content of the impact analysis (``impact_*`` results of :func:`welfare_eval.study.impact.analyze_impact`).

Display tables, figures and plain-language paragraphs; no statistics here. Outcomes measured as 0/1
proportions are shown in percentage points (estimate × 100), as the planted truth's ``effect`` column.
Thai first: every function takes ``lang`` = ``"th"`` (default) or ``"en"``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData

__all__ = [
    "coefficient_alt",
    "coefficient_plot",
    "dr_display",
    "effects_display",
    "event_alt",
    "event_plot",
    "event_tests_display",
    "impact_paragraphs_markdown",
    "influence_alt",
    "influence_plot",
    "multiple_testing_display",
    "outcome_label",
    "sensitivity_alt",
    "sensitivity_display",
    "sensitivity_plot",
]

Lang = Literal["th", "en"]
METHODS = ("cr1", "cr2", "wild", "ri")


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def outcome_label(outcome: str, lang: Lang = "th") -> str:
    """Display name of an outcome column; ``received_<code>`` → "Received welfare: <type>"."""
    if outcome.startswith("received_"):
        code = outcome[len("received_"):]
        return f"{_lab('outcome.received', lang)}: {ref.label(f'welfare.{code}', lang, default=code)}"
    return ref.label(f"outcome.{outcome}", lang, default=outcome)


def _effects(d: ReportData) -> pd.DataFrame:
    if "impact_effects" not in d.results:
        raise ValueError("results have no impact_effects table; run `welfare-eval analyze` with the impact analysis")
    return d.results["impact_effects"]


def _unit(outcome: str, scale: str) -> str:
    return fmt.unit_of(outcome, scale)


def _num(x: Any, outcome: str, scale: str, *, signed: bool = False) -> str:
    return fmt.number(x, _unit(outcome, scale), signed=signed)


def _ci(lo: Any, hi: Any, outcome: str, scale: str) -> str:
    return fmt.interval(lo, hi, _unit(outcome, scale))


def _unit_note(outcome: str, scale: str, lang: Lang) -> str:
    """" (percentage points)" after a share outcome's name in effect tables (baht etc. are in the name)."""
    u = _unit(outcome, scale)
    return f" ({fmt.unit_word(u, change=True, lang=lang)})" if u in ("share", "percent") else ""


def _truth_table(d: ReportData) -> pd.DataFrame | None:
    if not d.truth or not d.truth.get("effects"):
        return None
    t = pd.DataFrame(d.truth["effects"])
    return t if {"outcome", "wave"} <= set(t.columns) else None


def planted_effect(d: ReportData, outcome: str, wave: str) -> float | None:
    """The demo's planted effect on the data scale (None for real data or an outcome without truth)."""
    t = _truth_table(d)
    if t is None:
        return None
    hit = t[(t["outcome"] == outcome) & (t["wave"] == wave)]
    if hit.empty:
        return None
    col = "effect_data_scale" if "effect_data_scale" in hit else "effect"
    return float(hit[col].iloc[0])


def _wide(d: ReportData) -> pd.DataFrame:
    """One row per outcome × wave with the columns of each method side by side."""
    e = _effects(d)
    keys = ["outcome", "family", "wave"]
    base = e[e["method"] == "cr2"].set_index(keys)
    out = base[["estimate", "std_error", "df", "ci_low", "ci_high", "p_value", "scale", "n_obs",
                "mean_comparison_baseline", "headline", "p_holm", "p_bh"]].copy()
    for m in ("cr1", "wild", "ri", "ri_t"):
        s = e[e["method"] == m].set_index(keys)
        for c in ("ci_low", "ci_high", "p_value", "p_holm", "p_bh", "p_romano_wolf", "draws"):
            out[f"{c}_{m}"] = s[c].reindex(out.index)
    return out.reset_index()


def effects_display(d: ReportData, lang: Lang = "th", *, wave: str | None = None,
                    family: str | list[str] | None = None) -> pd.DataFrame:
    """Outcome × wave: estimate, CR2 CI, wild and RI p-values, Romano–Wolf adjusted p (and the planted truth).

    With ``wave`` given the table is for that wave only and has no wave column. Shares are in percentage
    points, baht without decimals (:mod:`welfare_eval.report.fmt`).
    """
    w = _wide(d)
    if wave is not None:
        w = w[w["wave"] == wave]
    if family is not None:
        w = w[w["family"].isin([family] if isinstance(family, str) else family)]
    rows = []
    for _, r in w.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        u = _unit(y, sc)
        row: dict[str, Any] = {
            _lab("outcome", lang): outcome_label(y, lang) + _unit_note(y, sc, lang),
            **({} if wave is not None else {_lab("wave", lang): _lab(f"wave.{r['wave']}", lang)}),
            _lab("impact.comparison_mean", lang): fmt.number(r["mean_comparison_baseline"], u)
            + ("%" if u == "share" else ""),
            _lab("estimate", lang): _num(r["estimate"], y, sc, signed=True),
            _lab("impact.ci_cr2", lang): _ci(r["ci_low"], r["ci_high"], y, sc),
            _lab("impact.p_wild", lang): fmt.p_value(r["p_value_wild"]),
            _lab("impact.p_ri", lang): fmt.p_value(r["p_value_ri"]),
            _lab("impact.p_romano_wolf", lang): fmt.p_value(r["p_romano_wolf_wild"]),
        }
        if d.truth is not None:
            tv = planted_effect(d, y, str(r["wave"]))
            row[_lab("planted_truth", lang)] = _num(tv, y, sc, signed=True) if tv is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def multiple_testing_display(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> pd.DataFrame:
    """Unadjusted and Holm / BH / Romano–Wolf adjusted p-values (wild bootstrap) by family, one wave; the last
    p column is the Romano–Wolf step-down on the randomization (studentized) distribution instead."""
    w = _wide(d)
    w = w[w["wave"] == wave]
    rows = []
    for _, r in w.iterrows():
        rows.append({
            _lab("impact.family", lang): _lab(f"impact.family.{r['family']}", lang),
            _lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
            _lab("impact.p_wild", lang): fmt.p_value(r["p_value_wild"]),
            _lab("impact.p_holm", lang): fmt.p_value(r["p_holm_wild"]),
            _lab("impact.p_bh", lang): fmt.p_value(r["p_bh_wild"]),
            _lab("impact.p_romano_wolf", lang): fmt.p_value(r["p_romano_wolf_wild"]),
            _lab("impact.p_romano_wolf_ri", lang): fmt.p_value(r["p_romano_wolf_ri_t"]),
            _lab("impact.draws", lang): fmt.count(r["draws_wild"]),
        })
    return pd.DataFrame(rows)


def _headline(e: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(e.loc[e["headline"].astype(bool), "outcome"])) or list(dict.fromkeys(e["outcome"]))[:6]


def coefficient_plot(d: ReportData, lang: Lang = "th", *, wave: str = "endline",
                     outcomes: list[str] | None = None) -> Any:
    """Estimate with each method's 95% CI (CR1, CR2, wild, RI: each its own marker and line style), one panel
    per outcome, the planted truth as a dotted line; one legend below the panels."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import (
        METHOD_STYLE,
        MIN_FONT_PT,
        TRUTH_STYLE,
        legend_below,
        use_thai_font,
    )

    use_thai_font()
    e = _effects(d)
    e = e[(e["wave"] == wave) & e["method"].isin(METHODS)]
    outcomes = outcomes or _headline(e)
    ncol = min(2, len(outcomes))
    nrow = math.ceil(len(outcomes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.2, 2.2 * nrow + 0.3), squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    any_truth = False
    for ax, y in zip(axes.flat, outcomes, strict=False):
        s = e[e["outcome"] == y].set_index("method").reindex(list(METHODS)).dropna(subset=["estimate"])
        sc = str(s["scale"].iloc[0])
        u = _unit(y, sc)
        f = fmt.factor(u)
        pos = np.arange(len(s))[::-1]
        for p, (m, r) in zip(pos, s.iterrows(), strict=True):
            st = METHOD_STYLE[str(m)]
            lo, hi = float(r["ci_low"]) * f, float(r["ci_high"]) * f
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [p, p], color=st["color"], ls=st["linestyle"], lw=2)
            ax.plot([float(r["estimate"]) * f], [p], marker=st["marker"], color=st["color"], ms=6, ls="none")
        ax.axvline(0, color="grey", lw=0.9, ls="-")
        tv = planted_effect(d, y, wave)
        if tv is not None:
            any_truth = True
            ax.axvline(tv * f, color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6)
        ax.set_yticks(pos, [str(m).upper() for m in s.index], fontsize=MIN_FONT_PT)
        ax.set_ylim(-0.6, len(s) - 0.4)
        ax.set_title(outcome_label(y, lang), fontsize=MIN_FONT_PT + 1)
        ax.xaxis.set_major_formatter(fmt.axis_formatter(u))
        ax.tick_params(axis="x", labelsize=MIN_FONT_PT)
        word = fmt.unit_word(u, change=True, lang=lang)
        if word:
            ax.set_xlabel(word, fontsize=MIN_FONT_PT)
    fig.tight_layout()
    handles = [Line2D([], [], color=METHOD_STYLE[m]["color"], ls=METHOD_STYLE[m]["linestyle"],
                      marker=METHOD_STYLE[m]["marker"], lw=2) for m in METHODS]
    labels = [_lab(f"method.{m}", lang) for m in METHODS]
    if any_truth:
        handles.append(Line2D([], [], color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6))
        labels.append(_lab("planted_truth", lang))
    legend_below(fig, handles, labels, ncol=3)
    return fig


def coefficient_alt(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> str:
    """The coefficient plot's finding in words: which outcomes' intervals exclude zero under every method."""
    e = _effects(d)
    e = e[(e["wave"] == wave) & e["method"].isin(METHODS)]
    parts = []
    for y in _headline(e):
        s = e[e["outcome"] == y]
        finite = s.dropna(subset=["ci_low", "ci_high"])
        excl = ((finite["ci_low"] > 0) | (finite["ci_high"] < 0)).sum()
        r = s[s["method"] == "cr2"].iloc[0]
        u = _unit(y, str(r["scale"]))
        est = fmt.number(r["estimate"], u, signed=True) + fmt.unit_suffix(u, change=True, lang=lang)
        if lang == "th":
            parts.append(f"{outcome_label(y, lang)} {est}: ช่วงความเชื่อมั่นไม่ครอบคลุมศูนย์ {excl} จาก {len(finite)} วิธี")
        else:
            parts.append(f"{outcome_label(y, lang)} {est}: the interval excludes zero for {excl} of {len(finite)} methods")
    head = ("ผลของโครงการต่อตัวชี้วัดหลักและช่วงความเชื่อมั่นตามวิธีอนุมานทั้งสี่ให้ภาพตรงกัน: " if lang == "th"
            else "Effects on the headline outcomes; the four inference methods give similar intervals: ")
    return head + "; ".join(parts) + "."


def influence_plot(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> Any:
    """Leave-one-pair-out estimates of the headline outcomes (dots) against the all-pairs estimate (solid
    line), zero (thin line) and the planted truth (dotted); one legend below."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import MIN_FONT_PT, TRUTH_STYLE, legend_below, use_thai_font

    use_thai_font()
    inf = d.results["impact_influence"]
    inf = inf[inf["wave"] == wave]
    scale = _effects(d).drop_duplicates("outcome").set_index("outcome")["scale"]
    outcomes = list(dict.fromkeys(inf["outcome"]))
    ncol = min(2, max(1, len(outcomes)))
    nrow = max(1, math.ceil(len(outcomes) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.2, 2.3 * nrow + 0.3), squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    any_truth = False
    for ax, y in zip(axes.flat, outcomes, strict=False):
        s = inf[inf["outcome"] == y].sort_values("pair_id")
        u = _unit(str(y), str(scale.get(y, "level")))
        f = fmt.factor(u)
        ax.plot(s["pair_id"], s["estimate_without"] * f, "o", color="#1f4e79", ms=5)
        ax.axhline(float(s["estimate"].iloc[0]) * f, color="#1f4e79", lw=1.4, ls="-")
        ax.axhline(0, color="grey", lw=0.8, ls="-")
        tv = planted_effect(d, y, wave)
        if tv is not None:
            any_truth = True
            ax.axhline(tv * f, color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6)
        ax.set_title(outcome_label(y, lang), fontsize=MIN_FONT_PT + 1)
        ax.set_xlabel(_lab("pair_id", lang), fontsize=MIN_FONT_PT)
        ax.set_xticks(sorted(s["pair_id"].unique())[::3])
        ax.yaxis.set_major_formatter(fmt.axis_formatter(u))
        ax.tick_params(labelsize=MIN_FONT_PT)
        word = fmt.unit_word(u, change=True, lang=lang)
        if word:
            ax.set_ylabel(word, fontsize=MIN_FONT_PT)
    fig.tight_layout()
    handles = [Line2D([], [], color="#1f4e79", marker="o", ls="none"), Line2D([], [], color="#1f4e79", lw=1.4)]
    labels = [_lab("impact.without_pair", lang), _lab("impact.full_sample", lang)]
    if any_truth:
        handles.append(Line2D([], [], color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6))
        labels.append(_lab("planted_truth", lang))
    legend_below(fig, handles, labels, ncol=3)
    return fig


def influence_alt(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> str:
    """The influence plot's finding: for each outcome, the range of leave-one-pair-out estimates and whether
    dropping any single pair flips the sign."""
    inf = d.results["impact_influence"]
    inf = inf[inf["wave"] == wave]
    scale = _effects(d).drop_duplicates("outcome").set_index("outcome")["scale"]
    parts = []
    for y in dict.fromkeys(inf["outcome"]):
        s = inf[inf["outcome"] == y]
        u = _unit(str(y), str(scale.get(y, "level")))
        lo, hi = float(s["estimate_without"].min()), float(s["estimate_without"].max())
        flips = bool((np.sign(s["estimate_without"]) != np.sign(s["estimate"])).any())
        rng = f"{fmt.number(lo, u)}–{fmt.number(hi, u)}"
        if lang == "th":
            parts.append(f"{outcome_label(str(y), lang)} อยู่ระหว่าง {rng}" + (" (เปลี่ยนเครื่องหมายได้)" if flips else ""))
        else:
            parts.append(f"{outcome_label(str(y), lang)} ranges {rng}" + (" (the sign can flip)" if flips else ""))
    head = ("ค่าประมาณเมื่อตัดคู่ทีละคู่: " if lang == "th" else "Estimates when one pair at a time is left out: ")
    return head + "; ".join(parts) + "."


def dr_display(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> pd.DataFrame:
    """Matched-pair DiD (CR2) next to doubly robust DiD without and with the matching covariates (CR1)."""
    dr = d.results["impact_dr"]
    dr = dr[(dr["wave"] == wave) & (dr["method"] == "cr1")]
    w = _wide(d)
    w = w[w["wave"] == wave].set_index("outcome")
    rows = []
    for y in dict.fromkeys(dr["outcome"]):
        sc = str(w.loc[y, "scale"]) if y in w.index else "level"
        row: dict[str, Any] = {_lab("outcome", lang): outcome_label(str(y), lang) + _unit_note(str(y), sc, lang)}
        if y in w.index:
            r = w.loc[y]
            row[_lab("impact.matched_pair", lang)] = f"{_num(r['estimate'], y, sc, signed=True)} {_ci(r['ci_low'], r['ci_high'], y, sc)}"
        for cov in ("none", "match"):
            s = dr[(dr["outcome"] == y) & (dr["covariates"] == cov)]
            if s.empty:
                continue
            r2 = s.iloc[0]
            row[f"{_lab('impact.dr', lang)}: {_lab('impact.dr.' + cov, lang)}"] = (
                f"{_num(r2['estimate'], y, sc, signed=True)} {_ci(r2['ci_low'], r2['ci_high'], y, sc)}")
            if cov == "match" and "ess_comparison" in r2:
                row[_lab("impact.ess_comparison", lang)] = fmt.number(r2["ess_comparison"], "years")
        if d.truth is not None:
            tv = planted_effect(d, str(y), wave)
            row[_lab("planted_truth", lang)] = _num(tv, str(y), sc, signed=True) if tv is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def _event_truth(d: ReportData, outcome: str) -> pd.DataFrame | None:
    if not d.truth or not d.truth.get("event_time_effects"):
        return None
    t = pd.DataFrame(d.truth["event_time_effects"])
    t = t[t["outcome"] == outcome]
    return None if t.empty else t


def event_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Event-study coefficients with pointwise CR2 95% CIs (dots with bars) and the simultaneous sup-t band
    (shaded), per outcome; the reference year −1 as an open circle; the planted truth as crosses."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from welfare_eval.report.figures import MIN_FONT_PT, TRUTH_STYLE, legend_below, use_thai_font

    use_thai_font()
    ev = d.results["impact_event"]
    outcomes = list(dict.fromkeys(ev["outcome"]))
    n = max(1, len(outcomes))
    fig, axes = plt.subplots(n, 1, figsize=(7.2, 2.6 * n + 0.3), squeeze=False)
    any_truth = False
    for ax, y in zip(axes[:, 0], outcomes, strict=False):
        s = ev[ev["outcome"] == y]
        u = fmt.unit_of(str(y))
        pt = s[s["method"] == "cr2"].sort_values("rel_time")
        band = s[s["method"] == "sup_t"].sort_values("rel_time")
        ax.fill_between(band["rel_time"], band["ci_low"], band["ci_high"], color="#1f4e79", alpha=0.15, lw=0)
        ax.errorbar(pt["rel_time"], pt["estimate"], yerr=[pt["estimate"] - pt["ci_low"], pt["ci_high"] - pt["estimate"]],
                    fmt="o", color="#1f4e79", capsize=3, ms=5)
        ax.plot([-1], [0.0], marker="o", mfc="white", color="grey", ms=6, ls="none")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.9, ls="--")
        tt = _event_truth(d, str(y))
        if tt is not None:
            any_truth = True
            tt = tt[tt["event_time"].between(pt["rel_time"].min(), pt["rel_time"].max())]
            ax.plot(tt["event_time"], tt["effect"], TRUTH_STYLE["marker"], color=TRUTH_STYLE["color"], ms=7, mew=1.6)
        ax.set_title(outcome_label(str(y), lang), fontsize=MIN_FONT_PT + 1)
        ax.set_xlabel(_lab("impact.rel_time", lang), fontsize=MIN_FONT_PT)
        ax.yaxis.set_major_formatter(fmt.axis_formatter(u))
        ax.tick_params(labelsize=MIN_FONT_PT)
    fig.tight_layout()
    handles: list[Any] = [Patch(color="#1f4e79", alpha=0.15),
                          Line2D([], [], color="#1f4e79", marker="o", ls="-"),
                          Line2D([], [], color="grey", marker="o", mfc="white", ls="none")]
    labels = [_lab("method.sup_t", lang), _lab("impact.pointwise", lang), _lab("impact.reference_year", lang)]
    if any_truth:
        handles.append(Line2D([], [], color=TRUTH_STYLE["color"], marker=TRUTH_STYLE["marker"], ls="none", mew=1.6))
        labels.append(_lab("planted_truth", lang))
    legend_below(fig, handles, labels, ncol=2)
    return fig


def event_alt(d: ReportData, lang: Lang = "th") -> str:
    """The event study's finding: pre-period coefficients near zero (joint test p) and the first-year effect."""
    ev = d.results["impact_event"]
    tests = d.results.get("impact_event_tests", pd.DataFrame())
    parts = []
    for y in dict.fromkeys(ev["outcome"]):
        s = ev[(ev["outcome"] == y) & (ev["method"] == "cr2")]
        u = fmt.unit_of(str(y))
        k0 = s[s["rel_time"] == 0]
        t = tests[(tests["outcome"] == y) & (tests["test"] == "pretrend_htz_cr2")] if len(tests) else tests
        p = fmt.p_value(t["p_value"].iloc[0]) if len(t) else "—"
        est = fmt.number(k0["estimate"].iloc[0], u, signed=True) if len(k0) else "—"
        if lang == "th":
            parts.append(f"{outcome_label(str(y), lang)}: ก่อนเริ่มโครงการสัมประสิทธิ์ใกล้ศูนย์ (ทดสอบร่วม p = {p}); "
                         f"ปีแรกของโครงการ {est}")
        else:
            parts.append(f"{outcome_label(str(y), lang)}: pre-period coefficients near zero (joint test p = {p}); "
                         f"first pilot year {est}")
    return "; ".join(parts) + "."


def event_tests_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Joint pre-trend tests, the sup-t critical value and the slope the pre-test detects (Roth 2022)."""
    t = d.results["impact_event_tests"]
    rows = []
    for _, r in t.iterrows():
        test = str(r["test"])
        if test == "pretrend_power" and str(r["term"]) != "k=0":
            continue  # one row per power: the slope and the bias it implies in the first post year
        if test.startswith("pretrend_") and test != "pretrend_power":
            val = (f"F({fmt.df(r['df_num'])},{fmt.NBSP}{fmt.df(r['df_denom'])}){fmt.NBSP}={fmt.NBSP}"
                   f"{fmt.number(r['statistic'], 'ratio')}, p{fmt.NBSP}={fmt.NBSP}{fmt.p_value(r['p_value'])}")
        elif test == "sup_t_critical":
            val = fmt.number(r["value"], "ratio", places=3)
        else:
            val = (f"{_lab('impact.power', lang)} {fmt.percent(r['power'], places=0)}: "
                   f"{fmt.number(r['slope'], 'ratio', places=3)}")
        rows.append({_lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
                     _lab("impact.test", lang): _lab(f"impact.test.{test}", lang),
                     _lab("impact.statistic", lang): val})
    return pd.DataFrame(rows)


def _term(term: str, lang: Lang) -> str:
    """``k=0`` → "ปีที่ 0 ของโครงการ" / "pilot year 0"."""
    k = term.split("=", 1)[1] if term.startswith("k=") else term
    return f"{_lab('impact.event_year', lang)} {k.replace('-', fmt.MINUS)}"


def sensitivity_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """FLCI under smoothness (grid of M) and relative-magnitudes intervals (grid of M̄), with breakdown values."""
    s = d.results["impact_sensitivity"]
    rows = []
    for _, r in s.iterrows():
        smooth = r["restriction"] == "smoothness"
        bound = (f"M{fmt.NBSP}={fmt.NBSP}{fmt.number(r['bound'], 'ratio', places=3)} "
                 f"({fmt.number(r['bound_rel_se'], 'ratio', places=1)}{fmt.NBSP}SE)" if smooth
                 else f"M̄{fmt.NBSP}={fmt.NBSP}{fmt.number(r['bound'], 'ratio', places=1)}")
        rows.append({
            _lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
            _lab("impact.term", lang): _term(str(r["term"]), lang),
            _lab("impact.restriction", lang): _lab(f"impact.restriction.{r['restriction']}", lang),
            _lab("impact.bound", lang): bound,
            _lab("ci", lang): fmt.interval(r["ci_low"], r["ci_high"], "ratio"),
            _lab("impact.includes_zero", lang): _lab("yes" if bool(r["includes_zero"]) else "no", lang),
            _lab("impact.breakdown", lang): fmt.number(r["breakdown"], "ratio", places=3),
        })
    return pd.DataFrame(rows)


def sensitivity_plot(d: ReportData, lang: Lang = "th") -> Any:
    """CIs of the first post-year effect as the allowed violation of parallel trends grows: smoothness
    (solid, squares) and relative magnitudes (dashed, triangles); the planted truth dotted."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import MIN_FONT_PT, TRUTH_STYLE, legend_below, use_thai_font

    use_thai_font()
    s = d.results["impact_sensitivity"]
    s = s[s["term"] == "k=0"]
    outcomes = list(dict.fromkeys(s["outcome"]))
    n = max(1, len(outcomes))
    fig, axes = plt.subplots(n, 1, figsize=(7.2, 2.8 * n + 0.3), squeeze=False)
    styles = {"smoothness": ("#1f4e79", "s", "-"), "relative_magnitudes": ("#d35400", "^", "--")}
    any_truth = False
    for ax, y in zip(axes[:, 0], outcomes, strict=False):
        ticks: list[float] = []
        ticklabels: list[str] = []
        for restr, (color, marker, ls) in styles.items():
            g = s[(s["outcome"] == y) & (s["restriction"] == restr)].reset_index(drop=True)
            x = np.arange(len(g)) + (0.0 if restr == "smoothness" else len(g) + 1)
            mid = (g["ci_low"] + g["ci_high"]) / 2
            eb = ax.errorbar(x, mid, yerr=(g["ci_high"] - g["ci_low"]) / 2, fmt=marker, color=color, capsize=3,
                             lw=2, ms=5)
            eb[-1][0].set_linestyle(ls)
            ticks += list(x)
            ticklabels += ([f"M={v:g}SE" for v in g["bound_rel_se"]] if restr == "smoothness"
                           else [f"M̄={v:g}" for v in g["bound"]])
        ax.set_xticks(ticks, ticklabels, fontsize=MIN_FONT_PT, rotation=45)
        ax.axhline(0, color="grey", lw=0.8)
        tt = _event_truth(d, str(y))
        if tt is not None:
            hit = tt[tt["event_time"] == 0]
            if not hit.empty:
                any_truth = True
                ax.axhline(float(hit["effect"].iloc[0]), color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6)
        ax.set_title(f"{outcome_label(str(y), lang)} ({_term('k=0', lang)})", fontsize=MIN_FONT_PT + 1)
        ax.tick_params(axis="y", labelsize=MIN_FONT_PT)
    fig.tight_layout()
    handles = [Line2D([], [], color=c, marker=m, ls=ls, lw=2) for c, m, ls in styles.values()]
    labels = [_lab(f"impact.restriction.{r}", lang) for r in styles]
    if any_truth:
        handles.append(Line2D([], [], color=TRUTH_STYLE["color"], ls=TRUTH_STYLE["linestyle"], lw=1.6))
        labels.append(_lab("planted_truth", lang))
    legend_below(fig, handles, labels, ncol=3)
    return fig


def sensitivity_alt(d: ReportData, lang: Lang = "th") -> str:
    """The sensitivity plot's finding: the breakdown values (how much violation of parallel trends the
    first-year effect survives)."""
    s = d.results["impact_sensitivity"]
    s = s[s["term"] == "k=0"]
    parts = []
    for y in dict.fromkeys(s["outcome"]):
        g = s[s["outcome"] == y]
        bd = {str(r): fmt.number(v, "ratio") for r, v in g.groupby("restriction")["breakdown"].first().items()}
        sm, rm = bd.get("smoothness", "—"), bd.get("relative_magnitudes", "—")
        if lang == "th":
            parts.append(f"{outcome_label(str(y), lang)}: ผลในปีแรกยังไม่ครอบคลุมศูนย์จนถึง M = {sm} และ M̄ = {rm}")
        else:
            parts.append(f"{outcome_label(str(y), lang)}: the first-year effect excludes zero up to M = {sm} and M̄ = {rm}")
    return "; ".join(parts) + "."


def _p_eq(p: Any) -> str:
    txt = fmt.p_value(p)
    return f"p{fmt.NBSP}{txt}" if txt.startswith("<") else f"p{fmt.NBSP}={fmt.NBSP}{txt}"


def impact_paragraphs_markdown(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> str:
    """A plain-language paragraph per headline outcome: the change, how sure, whether the methods agree, and
    (demo) whether the planted effect lies in the CR2 interval that the effect tables show."""
    w = _wide(d)
    w = w[(w["wave"] == wave) & w["headline"]]
    paras = []
    for _, r in w.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        u = _unit(y, sc)
        suffix = fmt.unit_suffix(u, change=True, lang=lang)
        est = fmt.number(abs(float(r["estimate"])), u) + suffix
        ci = _ci(r["ci_low"], r["ci_high"], y, sc)
        ps = {m: float(r["p_value"]) if m == "cr2" else float(r[f"p_value_{m}"]) for m in METHODS}
        ps = {m: p for m, p in ps.items() if np.isfinite(p)}
        n_sig = sum(p < 0.05 for p in ps.values())
        p_rw = float(r["p_romano_wolf_wild"])
        up = float(r["estimate"]) > 0
        name = outcome_label(y, lang)
        tv = planted_effect(d, y, wave)
        lo, hi = float(r["ci_low"]), float(r["ci_high"])
        if lang == "th":
            direction = "เพิ่มขึ้นมากกว่า" if up else "เพิ่มขึ้นน้อยกว่า (หรือลดลงมากกว่า)"
            txt = (f"**{name}**: ระหว่างรอบ{_lab('wave.baseline', lang)}และรอบ{_lab(f'wave.{wave}', lang)} "
                   f"ครัวเรือนในหมู่บ้านนำร่อง{direction}หมู่บ้านเปรียบเทียบ {est} "
                   f"(ช่วงความเชื่อมั่น 95% แบบ CR2 {ci}; wild bootstrap {_p_eq(ps.get('wild'))}; "
                   f"การอนุมานแบบสุ่ม {_p_eq(ps.get('ri'))}) ")
            if n_sig == len(ps):
                txt += "ทุกวิธีอนุมานให้ผลตรงกันว่าแตกต่างจากศูนย์อย่างมีนัยสำคัญที่ระดับ 5%"
                txt += (" และยังคงมีนัยสำคัญหลังปรับการทดสอบหลายตัวชี้วัด (Romano–Wolf " + _p_eq(p_rw) + ") "
                        if p_rw < 0.05 else
                        " แต่เมื่อปรับการทดสอบหลายตัวชี้วัด (Romano–Wolf " + _p_eq(p_rw) + ") ไม่มีนัยสำคัญ ")
            elif n_sig == 0:
                txt += "ไม่มีวิธีอนุมานใดที่พบความแตกต่างจากศูนย์อย่างมีนัยสำคัญที่ระดับ 5% จึงยังสรุปไม่ได้ว่ามีผล "
            else:
                txt += (f"วิธีอนุมานให้ผลไม่ตรงกัน ({n_sig} จาก {len(ps)} วิธีมีนัยสำคัญที่ระดับ 5%) "
                        "จึงควรตีความอย่างระมัดระวัง ")
            if tv is not None and np.isfinite(lo):
                inside = lo <= tv <= hi
                txt += (f"ผลจริงที่กำหนดในข้อมูลจำลองคือ {_num(tv, y, sc)}{suffix} "
                        + ("ซึ่งอยู่ในช่วงความเชื่อมั่นแบบ CR2" if inside else "ซึ่งอยู่นอกช่วงความเชื่อมั่นแบบ CR2"))
        else:
            direction = "more" if up else "less"
            txt = (f"**{name}**: between {_lab('wave.baseline', lang).split(' (')[0].lower()} and "
                   f"{_lab(f'wave.{wave}', lang).split(' (')[0].lower()}, pilot households changed by {est} {direction} "
                   f"than comparison households (95% CR2 CI {ci}; wild bootstrap {_p_eq(ps.get('wild'))}; randomization "
                   f"inference {_p_eq(ps.get('ri'))}). ")
            if n_sig == len(ps):
                txt += "All inference methods agree that the effect differs from zero at the 5% level"
                txt += (f" and it survives the multiple-testing adjustment (Romano–Wolf {_p_eq(p_rw)}). " if p_rw < 0.05
                        else f", but not after the multiple-testing adjustment (Romano–Wolf {_p_eq(p_rw)}). ")
            elif n_sig == 0:
                txt += "No inference method finds a difference from zero at the 5% level; the effect is not established. "
            else:
                txt += f"The methods disagree ({n_sig} of {len(ps)} significant at 5%); interpret with care. "
            if tv is not None and np.isfinite(lo):
                inside = lo <= tv <= hi
                txt += (f"The planted effect is {_num(tv, y, sc)}{suffix}, "
                        + ("inside the CR2 interval." if inside else "outside the CR2 interval."))
        paras.append(txt.strip())
    return "\n\n".join(paras) + "\n"
