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
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_number, format_table, suppress_small_cells

__all__ = [
    "change_display",
    "outcomes_display",
    "receipt_display",
    "receipt_figure",
    "survey_summary_markdown",
    "weights_audit_display",
    "weights_figure",
]

Lang = Literal["th", "en"]
_WAVES = tuple(ref.WAVES)
_ARMS = tuple(ref.ARMS)
#: Outcomes shown as percentages.
_SHARES = {"any_welfare", "member_savings_group", "member_welfare_fund", "member_village_fund"}


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
    percentiles, dots at the minimum and maximum), so no household's weight leaves the analysis.
    """
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    t = _need(d, "survey_weight_distribution")
    waves = [w for w in _WAVES if (t["wave"] == w).any()]
    fig, axes = plt.subplots(1, len(waves), figsize=(3.6 * len(waves), 4.0), squeeze=False, sharey=True)
    for ax, w in zip(axes[0], waves, strict=True):
        s = t[t["wave"] == w].reset_index(drop=True)
        stats = [
            {
                "med": r["q50"], "q1": r["q25"], "q3": r["q75"], "whislo": r["q5"], "whishi": r["q95"],
                "fliers": [r["q0"], r["q100"]], "mean": r["mean"],
                "label": _lab(f"survey.step.{r['step']}", lang),
            }
            for _, r in s.iterrows()
        ]
        ax.bxp(stats, showmeans=True, showfliers=True, patch_artist=True,
               boxprops={"facecolor": "#d6e4f0", "edgecolor": "#1f4e79"},
               medianprops={"color": "#1f4e79"},
               meanprops={"marker": "D", "markerfacecolor": "#c0392b", "markeredgecolor": "#c0392b", "markersize": 4})
        ax.set_title(_lab(f"wave.{w}", lang), fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        for lab in ax.get_xticklabels():
            lab.set_horizontalalignment("right")
    axes[0][0].set_ylabel(_lab("survey.weight", lang))
    fig.tight_layout()
    return fig


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
                f"{format_number(100 * e, 1)} [{format_number(100 * lo, 1)}, {format_number(100 * hi, 1)}]"
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
    """Weighted share receiving each welfare type by wave (dots with 95% CI), pilot and comparison panels.

    Estimates based on fewer than ``min_count`` respondents are not drawn.
    """
    min_count = d.min_cell if min_count is None else min_count
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    t = _need(d, "survey_receipt")
    codes = list(ref.welfare_types()["code"])
    waves = [w for w in _WAVES if (t["wave"] == w).any()]
    colors = {"baseline": "#7f8c8d", "midline": "#2e86c1", "endline": "#1f4e79"}
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.2), sharex=True, sharey=True, squeeze=False)
    pos = np.arange(len(codes))[::-1]
    offs = np.linspace(0.22, -0.22, len(waves)) if len(waves) > 1 else np.zeros(1)  # first wave on top
    for ax, arm in zip(axes[0], _ARMS, strict=True):
        for k, w in enumerate(waves):
            s = t[(t["arm"] == arm) & (t["wave"] == w)].set_index("welfare_type").reindex(codes)
            ok = (s["n"] >= min_count).to_numpy()
            e = 100 * s["estimate"].to_numpy(dtype=float)
            lo = 100 * s["ci_low"].to_numpy(dtype=float)
            hi = 100 * s["ci_high"].to_numpy(dtype=float)
            ax.errorbar(
                e[ok], pos[ok] + offs[k], xerr=[(e - lo)[ok], (hi - e)[ok]], fmt="o", ms=4, capsize=2,
                color=colors.get(w, None), label=_lab(f"wave.{w}", lang),
            )
        ax.set_title(_lab(f"arm.{arm}", lang), fontsize=10)
        ax.set_yticks(pos, [_lab(f"welfare.{c}", lang) for c in codes])
        ax.set_xlabel(f"{_lab('survey.share_receiving', lang)} (%)")
        ax.set_xlim(left=0)
        ax.grid(axis="x", alpha=0.3)
    axes[0][1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _fmt_value(y: str, v: float) -> str:
    if y in _SHARES:
        return f"{format_number(100 * v, 1)}%"
    if y in ("savings", "debt", "welfare_amount"):
        return format_number(v, 0)
    return format_number(v, 2)


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
                f"{_fmt_value(y, e)} [{_fmt_value(y, lo)}, {_fmt_value(y, hi)}]"
                for y, e, lo, hi in zip(outcomes, s["estimate"], s["ci_low"], s["ci_high"], strict=True)
            ]
            cnts[f"_n_{col}"] = s["n"].fillna(0).astype("int64").tolist()
            tied[col] = f"_n_{col}"
    tab = pd.DataFrame({**vals, **cnts}, index=[_lab(f"outcome.{y}", lang) for y in outcomes])
    tab.index.name = _lab("outcome", lang)
    tab = suppress_small_cells(tab, count_cols=list(cnts), min_count=min_count, value_cols=tied, hide_counts=True)
    return tab.drop(columns=list(cnts))


def change_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Change baseline → endline of each outcome by arm: estimate, 95% CI, SE, correlation between waves."""
    t = _need(d, "survey_change")
    t = t[~t["outcome"].str.startswith("received_")]
    rows = []
    for _, r in t.iterrows():
        y = str(r["outcome"])
        rows.append(
            {
                _lab("outcome", lang): _lab(f"outcome.{y}", lang),
                _lab("arm", lang): _lab(f"arm.{r['arm']}", lang),
                _lab("survey.change", lang): _fmt_value(y, r["estimate"]),
                _lab("ci", lang): f"[{_fmt_value(y, r['ci_low'])}, {_fmt_value(y, r['ci_high'])}]",
                _lab("std_error", lang): _fmt_value(y, r["std_error"]),
                "r": format_number(r.get("corr_between_waves", np.nan), 2, na="—"),
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
    pct = lambda v: f"{format_number(100 * float(v), 1)}%"  # noqa: E731
    if lang == "th":
        design = (
            "หมู่บ้านศึกษา 36 หมู่บ้านถูกเลือกแบบเจาะจง จึงถือเป็นหน่วยที่ถูกเลือกแน่นอน (certainty PSU) "
            "และการอนุมานเป็นการอนุมานถึงครัวเรือนทั้งหมดของหมู่บ้านเหล่านี้ ส่วนครัวเรือนสุ่มอย่างง่ายในแต่ละหมู่บ้าน "
            "(ใช้ค่าปรับแก้ประชากรจำกัด 1 − n/N)"
            if inference == "finite"
            else "ความคลาดเคลื่อนคำนวณโดยใช้หมู่บ้านเป็นหน่วยตัวอย่างขั้นแรกและคู่เปรียบเทียบเป็นชั้นภูมิ (องศาอิสระ 18)"
        )
        parts = [
            f"น้ำหนักครัวเรือน = N/n ปรับการไม่ตอบภายในหมู่บ้าน × รอบการสำรวจ ผลรวมน้ำหนักในแต่ละหมู่บ้านเท่ากับจำนวนครัวเรือนของหมู่บ้าน "
            f"(รวม {format_number(n_hh, 0)} ครัวเรือนต่อรอบ) design effect จากความผันแปรของน้ำหนัก (Kish) "
            f"{format_number(kd_lo, 2)}–{format_number(kd_hi, 2)} {design}"
        ]
        if len(aw) == 2:
            parts.append(
                f"ในรอบ{_lab(f'wave.{last}', 'th')} ครัวเรือนที่ได้รับสวัสดิการชุมชนอย่างน้อยหนึ่งประเภทมี "
                f"{pct(_f(aw.loc['pilot', 'estimate']))} ในหมู่บ้านนำร่อง และ {pct(_f(aw.loc['comparison', 'estimate']))} ในหมู่บ้านเปรียบเทียบ"
            )
        if len(ch) == 2:
            parts.append(
                f"เปลี่ยนแปลงจากรอบก่อนดำเนินโครงการ {format_number(100 * _f(ch.loc['pilot', 'estimate']), 1)} จุดร้อยละ "
                f"(95% CI [{format_number(100 * _f(ch.loc['pilot', 'ci_low']), 1)}, {format_number(100 * _f(ch.loc['pilot', 'ci_high']), 1)}]) "
                f"ในหมู่บ้านนำร่อง และ {format_number(100 * _f(ch.loc['comparison', 'estimate']), 1)} จุดร้อยละ ในหมู่บ้านเปรียบเทียบ "
                "(ผลต่างเชิงพรรณนา ไม่ใช่ผลของโครงการ)"
            )
        if len(top):
            parts.append(
                "สวัสดิการที่ครัวเรือนในหมู่บ้านนำร่องได้รับมากที่สุด: "
                + ", ".join(f"{_lab('welfare.' + str(r['welfare_type']), 'th')} ({pct(r['estimate'])})" for _, r in top.iterrows())
            )
        return " ".join(parts) + "\n"
    design = (
        "the 36 study villages were chosen purposively, so they are certainty PSUs and inference is to all "
        "households of these villages; households are a simple random sample within each village (fpc 1 − n/N)"
        if inference == "finite"
        else "standard errors treat villages as PSUs and matched pairs as strata (18 df)"
    )
    parts = [
        f"Household weights are N/n adjusted for nonresponse within village × wave; they add up to each "
        f"village's number of households ({format_number(n_hh, 0)} households per wave); the Kish design "
        f"effect of the weights is {format_number(kd_lo, 2)}–{format_number(kd_hi, 2)}. Design: {design}."
    ]
    if len(aw) == 2:
        parts.append(
            f"At {_lab(f'wave.{last}', 'en').lower()}, {pct(_f(aw.loc['pilot', 'estimate']))} of households in pilot villages "
            f"and {pct(_f(aw.loc['comparison', 'estimate']))} in comparison villages received some community welfare"
        )
    if len(ch) == 2:
        parts.append(
            f"Since baseline the share changed by {format_number(100 * _f(ch.loc['pilot', 'estimate']), 1)} percentage points in pilot villages "
            f"(95% CI [{format_number(100 * _f(ch.loc['pilot', 'ci_low']), 1)}, {format_number(100 * _f(ch.loc['pilot', 'ci_high']), 1)}]) "
            f"and {format_number(100 * _f(ch.loc['comparison', 'estimate']), 1)} points in comparison villages "
            "(a descriptive change, not a programme effect)"
        )
    if len(top):
        parts.append(
            "The most common types in pilot villages: "
            + ", ".join(f"{_lab('welfare.' + str(r['welfare_type']), 'en')} ({pct(r['estimate'])})" for _, r in top.iterrows())
        )
    return " ".join(p if p.endswith(".") else p + "." for p in parts) + "\n"
