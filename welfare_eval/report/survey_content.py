"""Report content of the survey weights and the weighted descriptive tables (issue 5).

Display tables, figures and a paragraph built from the ``survey_*`` result tables written by the
analysis (:func:`welfare_eval.study.descriptives.weighted_tables`). No statistics here: only selection,
labels, formatting, disclosure control and plots. Labels come from :mod:`welfare_eval.reference`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_table, suppress_small_cells

__all__ = [
    "change_display",
    "outcomes_display",
    "receipt_alt",
    "receipt_display",
    "receipt_figure",
    "survey_summary_markdown",
    "weights_alt",
    "weights_audit_display",
    "weights_figure",
]

Lang = Literal["th", "en"]
_WAVES = tuple(ref.WAVES)
_ARMS = tuple(ref.ARMS)


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _f(x: Any) -> float:
    return float(x)


def _need(d: ReportData, name: str) -> pd.DataFrame:
    if name not in d.results:
        raise ValueError(
            f"result table {name!r} is missing: run `welfare-eval analyze` with the survey tables "
            "(welfare_eval.study.descriptives.weighted_tables) wired into the analysis"
        )
    return d.results[name]


def _wave_lab(w: str, lang: Lang) -> str:
    return _lab("survey.panel", lang) if "→" in str(w) else _lab(f"wave.{w}", lang)


def weights_audit_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Weighting audit: per wave and step, households with a weight, sum, range, Kish deff and ESS."""
    a = _need(d, "survey_weights_audit").copy()
    out = pd.DataFrame(
        {
            "wave": [_wave_lab(w, lang) for w in a["wave"]],
            "survey.step": [_lab(f"survey.step.{s}", lang) for s in a["step"]],
            "survey.n_positive": a["n_positive"].astype("int64"),
            "survey.sum_w": a["sum_w"].astype(float),
            "survey.min_w": a["min_w"].astype(float),
            "survey.max_w": a["max_w"].astype(float),
            "survey.max_min_ratio": a["max_min_ratio"].astype(float),
            "survey.kish_deff": a["kish_deff"].astype(float),
            "survey.ess": a["ess"].astype(float),
        }
    )
    return format_table(out, lang, decimals={"survey.sum_w": 0, "survey.ess": 0, "survey.kish_deff": 3})


def weights_figure(d: ReportData, lang: Lang = "th") -> Any:
    """Box plots of the household weights after each weighting step, one panel per wave.

    Drawn from the quantiles in ``survey_weight_distribution`` (whiskers at the 5th and 95th
    percentiles, dots at the minimum and maximum, a diamond at the mean), so no household's weight leaves the
    analysis.
    """
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import MIN_FONT_PT, use_thai_font

    use_thai_font()
    t = _need(d, "survey_weight_distribution")
    waves = [w for w in _WAVES if (t["wave"] == w).any()]
    fig, axes = plt.subplots(1, len(waves), figsize=(7.2, 3.8), squeeze=False, sharey=True)
    for ax, w in zip(axes[0], waves, strict=True):
        s = t[t["wave"] == w].reset_index(drop=True)
        stats = [
            {
                "med": r["q50"], "q1": r["q25"], "q3": r["q75"], "whislo": r["q5"], "whishi": r["q95"],
                "fliers": [r["q0"], r["q100"]], "mean": r["mean"],
                "label": _lab(f"survey.step_short.{r['step']}", lang),
            }
            for _, r in s.iterrows()
        ]
        ax.bxp(stats, showmeans=True, showfliers=True, patch_artist=True,
               boxprops={"facecolor": "#d6e4f0", "edgecolor": "#1f4e79"},
               medianprops={"color": "#1f4e79"},
               meanprops={"marker": "D", "markerfacecolor": "#c0392b", "markeredgecolor": "#c0392b", "markersize": 5})
        ax.set_title(_lab(f"wave.{w}", lang), fontsize=MIN_FONT_PT + 1)
        ax.tick_params(axis="x", labelrotation=30, labelsize=MIN_FONT_PT)
        ax.tick_params(axis="y", labelsize=MIN_FONT_PT)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    axes[0][0].set_ylabel(_lab("survey.weight", lang), fontsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    return fig


def weights_alt(d: ReportData, lang: Lang = "th") -> str:
    """What the weights figure shows: the range of the final weights and that the steps change them little."""
    t = _need(d, "survey_weight_distribution")
    last = t.groupby("wave", sort=False).tail(1)
    lo, hi = float(last["q0"].min()), float(last["q100"].max())
    if lang == "th":
        return (f"น้ำหนักครัวเรือนขั้นสุดท้ายอยู่ระหว่าง {fmt.number(lo, 'ratio')} ถึง {fmt.number(hi, 'ratio')} ในทุกรอบ "
                "การปรับการไม่ตอบเปลี่ยนน้ำหนักเพียงเล็กน้อย และการปรับเทียบไม่เปลี่ยนน้ำหนัก")
    return (f"The final household weights range from {fmt.number(lo, 'ratio')} to {fmt.number(hi, 'ratio')} in every "
            "wave; the nonresponse adjustment changes them little and the calibration not at all.")


def receipt_display(
    d: ReportData, lang: Lang = "th", *, min_count: int | None = None, count: Literal["n", "n_received"] = "n"
) -> pd.DataFrame:
    """Weighted share of households receiving each welfare type, by arm × wave (percent, with 95% CI).

    Rows are the 9 welfare types; one column per arm × wave. Cells based on fewer than ``min_count``
    respondents (``count="n"``; or households receiving, ``count="n_received"``) are suppressed with
    :func:`~welfare_eval.report.tables.suppress_small_cells` (complementary suppression across each row
    is not needed: no totals are published).
    """
    min_count = d.min_cell if min_count is None else min_count
    t = _need(d, "survey_receipt")
    codes = list(ref.welfare_types()["code"])
    wide_val: dict[str, list[Any]] = {}
    wide_cnt: dict[str, list[Any]] = {}
    tied: dict[str, str] = {}
    for arm in _ARMS:
        for w in _WAVES:
            s = t[(t["arm"] == arm) & (t["wave"] == w)].set_index("welfare_type").reindex(codes)
            if s["estimate"].isna().all():
                continue
            col = f"{_lab(f'arm.{arm}', lang)} · {_lab(f'wave.{w}', lang)}"
            wide_val[col] = [
                fmt.estimate_ci(e, lo, hi, "share")
                for e, lo, hi in zip(s["estimate"], s["ci_low"], s["ci_high"], strict=True)
            ]
            wide_cnt[f"_n_{col}"] = s[count].astype("int64").tolist()
            tied[col] = f"_n_{col}"
    tab = pd.DataFrame({**wide_val, **wide_cnt}, index=[_lab(f"welfare.{c}", lang) for c in codes])
    tab.index.name = _lab("survey.welfare_type", lang)
    tab = suppress_small_cells(tab, count_cols=list(wide_cnt), min_count=min_count, value_cols=tied, hide_counts=True)
    supp = tab.attrs.get("suppression")
    tab = tab.drop(columns=list(wide_cnt))
    if supp is not None:
        tab.attrs["suppression"] = supp
    return tab


def receipt_figure(d: ReportData, lang: Lang = "th", *, min_count: int | None = None) -> Any:
    """Weighted share receiving each welfare type by wave (each wave its own marker and line style, 95% CI),
    pilot and comparison panels; one legend below.

    Estimates based on fewer than ``min_count`` respondents are not drawn.
    """
    min_count = d.min_cell if min_count is None else min_count
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import MIN_FONT_PT, WAVE_STYLE, legend_below, use_thai_font

    use_thai_font()
    t = _need(d, "survey_receipt")
    codes = list(ref.welfare_types()["code"])
    waves = [w for w in _WAVES if (t["wave"] == w).any()]
    fig, axes = plt.subplots(1, 2, figsize=(7.4, 4.4), sharex=True, sharey=True, squeeze=False)
    pos = np.arange(len(codes))[::-1]
    offs = np.linspace(0.25, -0.25, len(waves)) if len(waves) > 1 else np.zeros(1)  # first wave on top
    for ax, arm in zip(axes[0], _ARMS, strict=True):
        for k, w in enumerate(waves):
            st = WAVE_STYLE.get(w, {"color": None, "marker": "o", "linestyle": "-"})
            s = t[(t["arm"] == arm) & (t["wave"] == w)].set_index("welfare_type").reindex(codes)
            ok = (s["n"] >= min_count).to_numpy()
            e = 100 * s["estimate"].to_numpy(dtype=float)
            lo = 100 * s["ci_low"].to_numpy(dtype=float)
            hi = 100 * s["ci_high"].to_numpy(dtype=float)
            eb = ax.errorbar(
                e[ok], pos[ok] + offs[k], xerr=[(e - lo)[ok], (hi - e)[ok]], fmt=st["marker"], ms=4.5, capsize=2,
                color=st["color"], lw=1.2,
            )
            eb[-1][0].set_linestyle(st["linestyle"])
        ax.set_title(_lab(f"arm.{arm}", lang), fontsize=MIN_FONT_PT + 1)
        ax.set_yticks(pos, [_lab(f"welfare.{c}", lang) for c in codes], fontsize=MIN_FONT_PT)
        ax.set_xlabel(f"{_lab('survey.share_receiving', lang)} (%)", fontsize=MIN_FONT_PT)
        ax.tick_params(axis="x", labelsize=MIN_FONT_PT)
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    handles = [Line2D([], [], color=WAVE_STYLE[w]["color"], marker=WAVE_STYLE[w]["marker"], ls=WAVE_STYLE[w]["linestyle"])
               for w in waves if w in WAVE_STYLE]
    legend_below(fig, handles, [_lab(f"wave.{w}", lang) for w in waves if w in WAVE_STYLE])
    return fig


def receipt_alt(d: ReportData, lang: Lang = "th") -> str:
    """The receipt figure's finding: the types whose share rose most in pilot villages from the first to the
    last wave, against the comparison villages."""
    t = _need(d, "survey_receipt")
    waves = [w for w in _WAVES if (t["wave"] == w).any()]
    first, last = waves[0], waves[-1]
    wide = t.pivot_table(index=["welfare_type", "arm"], columns="wave", values="estimate", aggfunc="first")
    ch: dict[str, dict[str, float]] = {
        str(k): {str(a): float(x) for a, x in row.items()}
        for k, row in (wide[last] - wide[first]).unstack("arm").to_dict("index").items()
    }
    gap = sorted(ch, key=lambda c: -(ch[c].get("pilot", 0.0) - ch[c].get("comparison", 0.0)))
    top = gap[:2]
    if lang == "th":
        items = " และ".join(f"{_lab('welfare.' + c, lang)} ({fmt.number(ch[c]['pilot'], 'share', signed=True)} จุดร้อยละ "
                           f"เทียบกับ {fmt.number(ch[c]['comparison'], 'share', signed=True)})" for c in top)
        return f"จากรอบแรกถึงรอบสุดท้าย สัดส่วนครัวเรือนที่ได้รับสวัสดิการในหมู่บ้านนำร่องเพิ่มขึ้นมากที่สุดเมื่อเทียบกับหมู่บ้านเปรียบเทียบในประเภท {items}"
    items = " and ".join(f"{_lab('welfare.' + c, lang)} ({fmt.number(ch[c]['pilot'], 'share', signed=True)} percentage points "
                         f"against {fmt.number(ch[c]['comparison'], 'share', signed=True)})" for c in top)
    return (f"From the first to the last wave, the share of households receiving welfare rose most in pilot villages "
            f"relative to comparison villages for {items}.")


def _fmt_value(y: str, v: float, *, change: bool = False) -> str:
    """A level (shares as %) or a change (shares in percentage points, no % sign), rounded by unit."""
    u = fmt.unit_of(y)
    text = fmt.number(v, u, signed=change)
    return text + ("%" if u == "share" and not change else "")


def _outcome_unit(y: str, lang: Lang, *, change: bool = False) -> str:
    u = fmt.unit_of(y)
    name = _lab(f"outcome.{y}", lang)
    word = fmt.unit_word(u, change=change, lang=lang)
    return f"{name} ({word})" if u in ("share", "percent") and word else name


def outcomes_display(d: ReportData, lang: Lang = "th", *, min_count: int | None = None) -> pd.DataFrame:
    """Weighted means (95% CI) of the household outcomes by arm × wave; cells under ``min_count`` hidden."""
    min_count = d.min_cell if min_count is None else min_count
    t = _need(d, "survey_outcomes")
    outcomes = list(dict.fromkeys(t["outcome"]))
    vals: dict[str, list[str]] = {}
    cnts: dict[str, list[int]] = {}
    tied: dict[str, str] = {}
    for arm in _ARMS:
        for w in _WAVES:
            s = t[(t["arm"] == arm) & (t["wave"] == w)].set_index("outcome").reindex(outcomes)
            if s["estimate"].isna().all():
                continue
            col = f"{_lab(f'arm.{arm}', lang)} · {_lab(f'wave.{w}', lang)}"
            vals[col] = [
                f"{_fmt_value(y, e)} {fmt.interval(lo, hi, fmt.unit_of(y))}"
                for y, e, lo, hi in zip(outcomes, s["estimate"], s["ci_low"], s["ci_high"], strict=True)
            ]
            cnts[f"_n_{col}"] = s["n"].fillna(0).astype("int64").tolist()
            tied[col] = f"_n_{col}"
    tab = pd.DataFrame({**vals, **cnts}, index=[_outcome_unit(y, lang) for y in outcomes])
    tab.index.name = _lab("outcome", lang)
    tab = suppress_small_cells(tab, count_cols=list(cnts), min_count=min_count, value_cols=tied, hide_counts=True)
    return tab.drop(columns=list(cnts))


def change_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Change baseline → endline of each outcome by arm: estimate, 95% CI, SE, correlation between waves
    (changes in shares in percentage points)."""
    t = _need(d, "survey_change")
    t = t[~t["outcome"].str.startswith("received_")]
    rows = []
    for _, r in t.iterrows():
        y = str(r["outcome"])
        u = fmt.unit_of(y)
        rows.append(
            {
                _lab("outcome", lang): _outcome_unit(y, lang, change=True),
                _lab("arm", lang): _lab(f"arm.{r['arm']}", lang),
                _lab("survey.change", lang): _fmt_value(y, r["estimate"], change=True),
                _lab("ci", lang): fmt.interval(r["ci_low"], r["ci_high"], u),
                _lab("std_error", lang): fmt.number(r["std_error"], u),
                "r": fmt.number(r.get("corr_between_waves", np.nan), "ratio"),
            }
        )
    return pd.DataFrame(rows)


def survey_summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """A short paragraph: the design, the weights and the main weighted descriptive results (markdown)."""
    a = _need(d, "survey_weights_audit")
    o = _need(d, "survey_outcomes")
    c = d.results.get("survey_change", pd.DataFrame())
    rec = _need(d, "survey_receipt")
    inference = str(o["inference"].iloc[0]) if "inference" in o.columns and len(o) else "finite"
    fin = a[a["wave"].isin(_WAVES)].groupby("wave", sort=False).tail(1)
    n_hh = float(fin["sum_w"].iloc[0]) if len(fin) else float("nan")
    kd_lo, kd_hi = float(fin["kish_deff"].min()), float(fin["kish_deff"].max())
    last = [w for w in _WAVES if (o["wave"] == w).any()][-1]
    aw = o[(o["outcome"] == "any_welfare") & (o["wave"] == last)].set_index("arm")
    ch = c[c["outcome"] == "any_welfare"].set_index("arm") if len(c) else pd.DataFrame()
    top = (
        rec[(rec["wave"] == last) & (rec["arm"] == "pilot")].sort_values("estimate", ascending=False).head(3)
        if len(rec)
        else rec
    )
    pct = fmt.percent
    del inference  # the design is explained in the section text; this paragraph gives the numbers only
    ci_p = (fmt.interval(_f(ch.loc["pilot", "ci_low"]), _f(ch.loc["pilot", "ci_high"]), "share")
            if len(ch) == 2 else "")
    if lang == "th":
        parts = [
            f"ผลรวมน้ำหนักของแต่ละรอบเท่ากับจำนวนครัวเรือนของ 36 หมู่บ้าน ({fmt.count(n_hh)} ครัวเรือน) และ design effect "
            f"จากความผันแปรของน้ำหนัก (Kish) อยู่ระหว่าง {fmt.number(kd_lo, 'ratio')} ถึง {fmt.number(kd_hi, 'ratio')}"
        ]
        if len(aw) == 2:
            parts.append(
                f"ในรอบ{_lab(f'wave.{last}', 'th')} ครัวเรือนที่ได้รับสวัสดิการชุมชนอย่างน้อยหนึ่งประเภทมี "
                f"{pct(_f(aw.loc['pilot', 'estimate']))} ในหมู่บ้านนำร่อง และ {pct(_f(aw.loc['comparison', 'estimate']))} ในหมู่บ้านเปรียบเทียบ"
            )
        if len(ch) == 2:
            parts.append(
                f"เปลี่ยนแปลงจากรอบก่อนดำเนินโครงการ {fmt.number(_f(ch.loc['pilot', 'estimate']), 'share', signed=True)} จุดร้อยละ "
                f"(ช่วงความเชื่อมั่น 95% {ci_p}) ในหมู่บ้านนำร่อง และ "
                f"{fmt.number(_f(ch.loc['comparison', 'estimate']), 'share', signed=True)} จุดร้อยละ ในหมู่บ้านเปรียบเทียบ "
                "(ผลต่างเชิงพรรณนา ไม่ใช่ผลของโครงการ)"
            )
        if len(top):
            parts.append(
                "สวัสดิการที่ครัวเรือนในหมู่บ้านนำร่องได้รับมากที่สุด: "
                + ", ".join(f"{_lab('welfare.' + str(r['welfare_type']), 'th')} ({pct(r['estimate'])})" for _, r in top.iterrows())
            )
        return " ".join(parts) + "\n"
    parts = [
        f"The weights of each wave add up to the {fmt.count(n_hh)} households of the 36 villages; the Kish design "
        f"effect of the weights is {fmt.number(kd_lo, 'ratio')}–{fmt.number(kd_hi, 'ratio')}"
    ]
    if len(aw) == 2:
        parts.append(
            f"At {_lab(f'wave.{last}', 'en').split(' (')[0].lower()}, {pct(_f(aw.loc['pilot', 'estimate']))} of households in "
            f"pilot villages and {pct(_f(aw.loc['comparison', 'estimate']))} in comparison villages received some community welfare"
        )
    if len(ch) == 2:
        parts.append(
            f"Since baseline the share changed by {fmt.number(_f(ch.loc['pilot', 'estimate']), 'share', signed=True)} "
            f"percentage points in pilot villages (95% CI {ci_p}) and by "
            f"{fmt.number(_f(ch.loc['comparison', 'estimate']), 'share', signed=True)} points in comparison villages "
            "(a descriptive change, not a programme effect)"
        )
    if len(top):
        parts.append(
            "The most common types in pilot villages: "
            + ", ".join(f"{_lab('welfare.' + str(r['welfare_type']), 'en')} ({pct(r['estimate'])})" for _, r in top.iterrows())
        )
    return " ".join(p if p.endswith(".") else p + "." for p in parts) + "\n"
