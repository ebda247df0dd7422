"""Content of the scale-up report (``reports/scaleup_report.qmd``): tables, figures and sentences built from the
``scaleup_*`` results of :func:`welfare_eval.study.scaleup.analyze_scaleup`; no statistics here.

The report's data bundle is a :class:`~welfare_eval.report.data.ReportData` made by
:func:`welfare_eval.pipeline.scaleup_report_data`: ``results`` holds the ``scaleup_*`` tables, ``manifest`` the
estimate's record (engine, fingerprints of the inputs, sizes, wall times, versions), ``truth`` the simulator's
planted effects (only while the estimate ran on the simulator's data). Outcomes whose household values are 0/1
(every cohort × year mean within [0, 1]) are shown in percentage points. Thai first: every function takes
``lang`` = ``"th"`` (default) or ``"en"``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

import welfare_eval.reference as ref
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_number, format_p

__all__ = [
    "aggregates_display",
    "bacon_display",
    "bacon_plot",
    "cohorts_display",
    "compare_display",
    "compare_plot",
    "covariate_label",
    "dynamic_display",
    "event_study_plot",
    "heatmap",
    "is_proportion",
    "matching_display",
    "outcome_label",
    "plan_yaml",
    "pretrend_display",
    "provenance_display",
    "sensitivity_display",
    "summary_markdown",
    "trends_plot",
    "truth_dynamic",
    "truth_gt",
    "truth_summary_display",
]

Lang = Literal["th", "en"]
_BLUE, _RED, _TRUTH = "#1f4e79", "#b03a2e", "#c0392b"
ESTIMATORS = ("cs_cells", "cs_panel", "cs_matched", "sunab", "imputation", "twfe", "twfe_unadjusted")
_COLORS = {"cs_cells": "#1f4e79", "cs_panel": "#2e86c1", "cs_matched": "#17a589", "sunab": "#7d3c98",
           "imputation": "#d35400", "twfe": "#7f7f7f", "twfe_unadjusted": "#b03a2e"}


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def outcome_label(outcome: str, lang: Lang = "th") -> str:
    """Display name of an outcome (``outcome.<name>`` in labels.csv)."""
    return ref.label(f"outcome.{outcome}", lang, default=outcome)


def _plan(d: ReportData) -> dict[str, Any]:
    return dict(d.plan.get("scaleup") or {})


def outcomes(d: ReportData) -> list[str]:
    """Outcomes with ATT(g,t) results, in plan order."""
    att = d.result("scaleup_att_gt")
    return list(dict.fromkeys(att["outcome"].astype(str)))


def headline(d: ReportData) -> str:
    """The plan's headline outcome (else the first estimated outcome)."""
    h = str(_plan(d).get("headline") or "")
    return h if h in outcomes(d) else outcomes(d)[0]


def is_proportion(d: ReportData, outcome: str) -> bool:
    """Whether an outcome is a 0/1 household indicator (every cohort × year mean within [0, 1])."""
    tr = d.results.get("scaleup_trends")
    if tr is None or tr.empty:
        return False
    m = tr.loc[tr["outcome"] == outcome, "mean"].to_numpy(dtype=float)
    return bool(m.size) and bool(np.all((m >= 0) & (m <= 1)))


def _factor(d: ReportData, outcome: str) -> float:
    return 100.0 if is_proportion(d, outcome) else 1.0


def _unit(d: ReportData, outcome: str, lang: Lang) -> str:
    return _lab("scaleup.unit_pp", lang) if is_proportion(d, outcome) else _lab("scaleup.unit_baht", lang)


def _with_unit(d: ReportData, outcome: str, lang: Lang) -> str:
    """Outcome label with its display unit when the label does not carry one (percentage points)."""
    lab = outcome_label(outcome, lang)
    return f"{lab} ({_unit(d, outcome, lang)})" if is_proportion(d, outcome) or "(" not in lab else lab


def covariate_label(name: str, lang: Lang = "th") -> str:
    """Display name of a plan covariate column (``pre_income``, ``log1p_sg_savings``, ``share_farm``)."""
    for prefix, fmt_th, fmt_en in (("pre_", "{} ก่อนเริ่ม (ค่าเฉลี่ยหมู่บ้าน)", "{} before adoption (village mean)"),
                                   ("log1p_", "log(1 + {})", "log(1 + {})"), ("log_", "log({})", "log({})")):
        if name.startswith(prefix):
            inner = name[len(prefix):]
            key = f"outcome.{inner}" if prefix == "pre_" else f"covariate.{inner}"
            return (fmt_th if lang == "th" else fmt_en).format(ref.label(key, lang, default=inner))
    return ref.label(f"covariate.{name}", lang, default=name)


_ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Apache Spark"}


def _num(d: ReportData, outcome: str, x: Any) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    return format_number(float(x) * _factor(d, outcome), 1 if is_proportion(d, outcome) else 0)


def _ci(d: ReportData, outcome: str, lo: Any, hi: Any) -> str:
    a, b = _num(d, outcome, lo), _num(d, outcome, hi)
    return f"[{a}, {b}]" if a and b else ""


def _p(x: Any) -> str:
    """p-value text that does not wrap inside a table cell ("< 0.001" with a no-break space)."""
    return format_p(x).replace("< ", "<\u00a0")


def _cohort_text(g: float, lang: Lang) -> str:
    return _lab("scaleup.never", lang) if float(g) == 0 else f"{float(g):g}"


# --------------------------------------------------------------------------------------------------
# Truth (demo only)
# --------------------------------------------------------------------------------------------------
def truth_gt(d: ReportData, outcome: str) -> pd.DataFrame | None:
    """Planted ATT(g,t) of ``outcome`` (``cohort``, ``time``, ``truth`` = the household-weighted realised ATT,
    0 before adoption, ``n_households``), or ``None`` for real data."""
    if not d.truth or not d.truth.get("effects"):
        return None
    t = pd.DataFrame(d.truth["effects"])
    t = t[t["outcome"] == outcome]
    if t.empty:
        return None
    return pd.DataFrame({"cohort": t["cohort"].astype(float).to_numpy(), "time": t["year"].astype(float).to_numpy(),
                         "truth": t["att"].astype(float).to_numpy(),
                         "n_households": t["n_households"].astype(float).to_numpy()})


def truth_dynamic(d: ReportData, outcome: str) -> pd.DataFrame | None:
    """Planted effect by years since adoption, aggregated as the dynamic aggregation does (cohorts weighted by
    their households; 0 before adoption); ``None`` for real data or with ``balance_e`` in the plan."""
    tg = truth_gt(d, outcome)
    if tg is None or _plan(d).get("balance_e") is not None:
        return None
    att = d.result("scaleup_att_gt")
    att = att[att["outcome"] == outcome][["cohort", "time"]].astype(float)
    m = att.merge(tg, on=["cohort", "time"], how="left")
    size = tg.groupby("cohort")["n_households"].max()
    m["n"] = m["cohort"].map(size).fillna(0.0)
    m["truth"] = np.where(m["time"] < m["cohort"], 0.0, m["truth"].fillna(0.0))
    m["event_time"] = m["time"] - m["cohort"]
    m["nt"] = m["n"] * m["truth"]
    g = m.groupby("event_time", sort=True)[["n", "nt"]].sum()
    n = g["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tr = np.where(n > 0, g["nt"].to_numpy(dtype=float) / n, np.nan)
    return pd.DataFrame({"event_time": g.index.to_numpy(dtype=float), "truth": tr})


def _gt_with_truth(d: ReportData, outcome: str) -> pd.DataFrame:
    att = d.result("scaleup_att_gt")
    a = att[att["outcome"] == outcome].copy()
    tg = truth_gt(d, outcome)
    if tg is None:
        a["truth"] = np.nan
        return a
    a = a.merge(tg[["cohort", "time", "truth"]], on=["cohort", "time"], how="left")
    a["truth"] = np.where(a["time"] < a["cohort"], 0.0, a["truth"])
    return a


def truth_summary_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame | None:
    """Per outcome: planted ATT(g,t) inside the 95% uniform band (k of K), inside the pointwise CIs, the largest
    |estimate − truth| in SEs, and the overall dynamic effect against its planted value; ``None`` for real data."""
    if d.truth is None:
        return None
    rows = []
    for o in outcomes(d):
        a = _gt_with_truth(d, o)
        a = a[a["std_error"].notna() & a["truth"].notna()]
        if a.empty:
            continue
        band = ((a["band_low"] <= a["truth"]) & (a["truth"] <= a["band_high"])).to_numpy()
        ci = ((a["ci_low"] <= a["truth"]) & (a["truth"] <= a["ci_high"])).to_numpy()
        z = ((a["estimate"] - a["truth"]) / a["std_error"]).abs().max()
        td = truth_dynamic(d, o)
        agg = d.results.get("scaleup_aggregates", pd.DataFrame())
        dyn = agg[(agg.get("outcome") == o) & (agg.get("type") == "dynamic")] if len(agg) else agg
        ov_est = dyn.loc[dyn["term"] == "overall", "estimate"] if len(dyn) else pd.Series(dtype=float)
        ov_truth = float(td.loc[td["event_time"] >= 0, "truth"].mean()) if td is not None else np.nan
        rows.append({
            _lab("outcome", lang): outcome_label(o, lang),
            "ATT(g,t)": len(a),
            _lab("scaleup.inside_band", lang): f"{int(band.sum())}/{len(a)}",
            _lab("scaleup.pointwise", lang): f"{int(ci.sum())}/{len(a)}",
            "max |est − truth| / SE": format_number(float(z), 2),
            f"{_lab('scaleup.agg.dynamic', lang)}: {_lab('scaleup.overall', lang)}":
                _num(d, o, float(ov_est.iloc[0])) if len(ov_est) else "",
            f"{_lab('scaleup.truth', lang)}": _num(d, o, ov_truth),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Summary and design
# --------------------------------------------------------------------------------------------------
def summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Demo banner, the size of the rollout and the headline results (markdown)."""
    s = d.result("scaleup_summary").iloc[0]
    agg = d.result("scaleup_aggregates")
    coh = d.result("scaleup_cohorts")
    adopt = coh[coh["cohort"] > 0]
    man = d.manifest
    lines = []
    if d.truth is not None:
        lines.append(
            "> **ข้อมูลจำลอง** — รายงานนี้สร้างจากข้อมูลระดับประเทศที่จำลองขึ้น (seed "
            f"{(d.simulation or {}).get('seed', '?')}, scale {(d.simulation or {}).get('scale', '?')}) ซึ่งกำหนดผลจริงไว้ล่วงหน้า "
            "(planted truth) เพื่อตรวจสอบระบบวิเคราะห์ ไม่ใช่ผลการประเมินจริง\n" if lang == "th" else
            "> **Simulated data** — this report is built from simulated national data with planted effects, to "
            "check the analysis; it is not an evaluation result.\n")
    cohorts_txt = ", ".join(f"{g:g} ({int(n):,})" for g, n in zip(adopt["cohort"], adopt["n_villages"], strict=True))
    if lang == "th":
        lines.append(
            f"ข้อมูลครัวเรือน {int(s['n_rows']):,} แถว (ปี {s['first_year']:g}–{s['last_year']:g}) จาก "
            f"{int(s['n_villages']):,} หมู่บ้าน ถูกย่อเป็นเซลล์หมู่บ้าน × ปี {int(s['n_cells']):,} เซลล์ด้วย "
            f"{_ENGINE_NAMES.get(str(man.get('engine')), str(man.get('engine', '?')))} "
            f"หมู่บ้านที่เริ่มใช้รูปแบบชุมชนสวัสดิการ {int(adopt['n_villages'].sum()):,} หมู่บ้าน แยกตามรุ่น (ปีที่เริ่ม): "
            f"{cohorts_txt}")
    else:
        lines.append(
            f"{int(s['n_rows']):,} household rows ({s['first_year']:g}–{s['last_year']:g}) of {int(s['n_villages']):,} "
            f"villages reduced to {int(s['n_cells']):,} village × year cells with "
            f"{_ENGINE_NAMES.get(str(man.get('engine')), str(man.get('engine', '?')))}; "
            f"{int(adopt['n_villages'].sum()):,} adopting villages by cohort: {cohorts_txt}")
    pre = d.results.get("scaleup_pretrend", pd.DataFrame())
    items = []
    for o in outcomes(d):
        dyn = agg[(agg["outcome"] == o) & (agg["type"] == "dynamic") & (agg["term"] == "overall")]
        simple = agg[(agg["outcome"] == o) & (agg["type"] == "simple")]
        r = dyn.iloc[0] if len(dyn) else (simple.iloc[0] if len(simple) else None)
        if r is None:
            continue
        p = pre[(pre["outcome"] == o) & (pre["method"] == "wald")] if len(pre) else pre
        pv = format_p(p.iloc[0]["p_value"]) if len(p) else ""
        ptxt = (f"; pre-trend p {pv}" if pv.startswith("<") else f"; pre-trend p = {pv}") if len(p) else ""
        kind = "dynamic" if len(dyn) else "simple"
        if lang == "th":
            items.append(f"- **{outcome_label(o, lang)}**: ผลเฉลี่ยหลังเริ่มใช้ ({kind}) = {_num(d, o, r['estimate'])} "
                         f"{_unit(d, o, lang)} (95% CI {_ci(d, o, r['ci_low'], r['ci_high'])}{ptxt})")
        else:
            items.append(f"- **{outcome_label(o, lang)}**: average effect after adoption ({kind}) = "
                         f"{_num(d, o, r['estimate'])} {_unit(d, o, lang)} (95% CI {_ci(d, o, r['ci_low'], r['ci_high'])}{ptxt})")
    return "\n\n".join(lines) + "\n\n" + "\n".join(items) + "\n"


def cohorts_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Villages, households and household rows per adoption cohort (never adopted last)."""
    c = d.result("scaleup_cohorts").copy()
    c = pd.concat([c[c["cohort"] > 0], c[c["cohort"] == 0]], ignore_index=True)
    return pd.DataFrame({
        _lab("scaleup.cohort", lang): [_cohort_text(g, lang) for g in c["cohort"]],
        _lab("scaleup.n_villages", lang): [format_number(v, 0) for v in c["n_villages"]],
        _lab("scaleup.n_households", lang): [format_number(v, 0) for v in c["n_households"]],
        _lab("scaleup.n_rows", lang): [format_number(v, 0) for v in c["n_rows"]],
    })


def trends_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Household-weighted outcome means by cohort and year (raw data; adoption years marked)."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    tr = d.result("scaleup_trends")
    outs = outcomes(d)
    fig, axes = plt.subplots(1, len(outs), figsize=(3.5 * len(outs), 3.0), squeeze=False)
    cohorts = sorted(tr["cohort"].unique())
    cmap = plt.get_cmap("viridis", max(len(cohorts), 2))
    for ax, o in zip(axes[0], outs, strict=True):
        s = tr[tr["outcome"] == o]
        for i, g in enumerate(cohorts):
            sg = s[s["cohort"] == g].sort_values("time")
            colour = "black" if g == 0 else cmap(i)
            ax.plot(sg["time"], sg["mean"] * _factor(d, o), marker="o", ms=3, color=colour, lw=1.6 if g == 0 else 1.1,
                    ls="--" if g == 0 else "-", label=_cohort_text(g, lang))
            if g > 0:
                ax.axvline(g - 0.5, color=colour, lw=0.6, alpha=0.4)
        ax.set_title(_with_unit(d, o, lang), fontsize=10)
        ax.set_xlabel(_lab("scaleup.year", lang))
    axes[0][0].legend(fontsize=7, frameon=False, title=_lab("scaleup.cohort", lang), title_fontsize=7)
    fig.tight_layout()
    return fig


def heatmap(d: ReportData, lang: Lang = "th") -> Any:
    """Cohort × year heat map of ATT(g,t) per outcome; cells before adoption are hatched, cells whose uniform
    band excludes zero are outlined."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    att = d.result("scaleup_att_gt")
    outs = outcomes(d)
    fig, axes = plt.subplots(1, len(outs), figsize=(3.6 * len(outs), 2.9), squeeze=False)
    for ax, o in zip(axes[0], outs, strict=True):
        a = att[att["outcome"] == o]
        g_arr, t_arr = a["cohort"].to_numpy(dtype=float), a["time"].to_numpy(dtype=float)
        est = a["estimate"].to_numpy(dtype=float) * _factor(d, o)
        # cell labels must fit: large values (baht) are shown in thousands (cells and colour bar alike)
        thousands = not is_proportion(d, o) and float(np.nanmax(np.abs(est), initial=0.0)) >= 1000
        if thousands:
            est = est / 1000
        lo, hi = a["band_low"].to_numpy(dtype=float), a["band_high"].to_numpy(dtype=float)  # only their signs are used
        cohorts, times = np.unique(g_arr), np.unique(t_arr)
        ii, jj = np.searchsorted(cohorts, g_arr), np.searchsorted(times, t_arr)
        grid = np.full((cohorts.size, times.size), np.nan)
        grid[ii, jj] = est
        lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
        lim = lim if lim > 0 else 1.0
        im = ax.imshow(grid, cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim), aspect="auto")
        for k in range(est.size):
            i, j = int(ii[k]), int(jj[k])
            txt = format_number(est[k], 1 if thousands or is_proportion(d, o) else 0)
            strong = bool(np.isfinite(lo[k]) and (lo[k] > 0 or hi[k] < 0))
            ax.text(j, i, txt, ha="center", va="center", fontsize=7, fontweight="bold" if strong else "normal",
                    color="white" if abs(est[k]) > 0.6 * lim else "black")
            if t_arr[k] < g_arr[k]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", lw=0, alpha=0.25))
            if strong:
                ax.add_patch(plt.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, lw=1.2, ec="black"))
        ax.set_xticks(range(times.size), [f"{t:g}" for t in times], fontsize=8)
        ax.set_yticks(range(cohorts.size), [f"{g:g}" for g in cohorts], fontsize=8)
        ax.set_xlabel(_lab("scaleup.year", lang))
        ax.set_ylabel(_lab("scaleup.cohort", lang))
        title = (f"{outcome_label(o, lang).split(' (')[0]} ({_lab('scaleup.unit_thousand_baht', lang)})" if thousands
                 else _with_unit(d, o, lang))
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def event_study_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Dynamic aggregation per outcome: pointwise 95% CIs, the 95% uniform band, and the planted effect (demo)."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    agg = d.result("scaleup_aggregates")
    outs = outcomes(d)
    fig, axes = plt.subplots(1, len(outs), figsize=(3.6 * len(outs), 3.1), squeeze=False)
    for ax, o in zip(axes[0], outs, strict=True):
        s = agg[(agg["outcome"] == o) & (agg["type"] == "dynamic") & (agg["term"] != "overall")].sort_values("event_time")
        if s.empty:
            ax.set_axis_off()
            continue
        f = _factor(d, o)
        e = s["event_time"].to_numpy(dtype=float)
        ax.fill_between(e, s["band_low"] * f, s["band_high"] * f, color=_BLUE, alpha=0.15, step="mid",
                        label=_lab("scaleup.band", lang))
        colours = np.where(e >= 0, _RED, _BLUE)
        for j in range(e.size):
            est = float(s["estimate"].iloc[j]) * f
            ax.errorbar([e[j]], [est], yerr=[[est - s["ci_low"].iloc[j] * f], [s["ci_high"].iloc[j] * f - est]],
                        fmt="o", color=colours[j], capsize=3, ms=4,
                        label=_lab("scaleup.pointwise", lang) if j == 0 else None)
        td = truth_dynamic(d, o)
        if td is not None:
            td = td[td["event_time"].isin(e)]
            ax.plot(td["event_time"], td["truth"] * f, "x", color=_TRUTH, ms=8, mew=2, label=_lab("planted_truth", lang))
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(_lab("scaleup.event_time", lang))
        ax.set_title(_with_unit(d, o, lang), fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def aggregates_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The overall row of every aggregation, per outcome: estimate, SE, 95% CI, p."""
    agg = d.result("scaleup_aggregates")
    rows = []
    for o in outcomes(d):
        for kind in ("simple", "dynamic", "group", "calendar"):
            r = agg[(agg["outcome"] == o) & (agg["type"] == kind) & (agg["term"] == "overall")]
            if r.empty:
                continue
            r0 = r.iloc[0]
            rows.append({
                _lab("outcome", lang): _with_unit(d, o, lang),
                _lab("scaleup.agg", lang): _lab(f"scaleup.agg.{kind}", lang),
                _lab("estimate", lang): _num(d, o, r0["estimate"]),
                _lab("std_error", lang): _num(d, o, r0["std_error"]),
                _lab("ci", lang): _ci(d, o, r0["ci_low"], r0["ci_high"]),
                _lab("p_value", lang): _p(r0["p_value"]),
            })
    return pd.DataFrame(rows)


def dynamic_display(d: ReportData, lang: Lang = "th", outcome: str | None = None) -> pd.DataFrame:
    """Event-time effects of one outcome (default the headline) with pointwise CI, uniform band and the planted
    effect (demo)."""
    o = outcome or headline(d)
    agg = d.result("scaleup_aggregates")
    s = agg[(agg["outcome"] == o) & (agg["type"] == "dynamic")]
    td = truth_dynamic(d, o)
    tmap = dict(zip(td["event_time"], td["truth"], strict=True)) if td is not None else {}
    out = pd.DataFrame({
        _lab("scaleup.event_time", lang): [_lab("scaleup.overall", lang) if t == "overall" else f"{e:g}"
                                           for t, e in zip(s["term"], s["event_time"], strict=True)],
        f"{_with_unit(d, o, lang)}: {_lab('estimate', lang)}": [_num(d, o, v) for v in s["estimate"]],
        _lab("std_error", lang): [_num(d, o, v) for v in s["std_error"]],
        _lab("ci", lang): [_ci(d, o, a, b) for a, b in zip(s["ci_low"], s["ci_high"], strict=True)],
        _lab("scaleup.band", lang): [_ci(d, o, a, b) if t != "overall" else ""
                                     for t, a, b in zip(s["term"], s["band_low"], s["band_high"], strict=True)],
    })
    if td is not None:
        ov = float(td.loc[td["event_time"] >= 0, "truth"].mean())
        out[_lab("scaleup.truth", lang)] = [_num(d, o, ov if t == "overall" else tmap.get(e, np.nan))
                                            for t, e in zip(s["term"], s["event_time"], strict=True)]
    return out


def pretrend_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Joint pre-trend tests per outcome (Wald on the analytic covariance; sup-t by the bootstrap)."""
    p = d.results.get("scaleup_pretrend", pd.DataFrame())
    if p.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        _lab("outcome", lang): [outcome_label(o, lang) for o in p["outcome"]],
        _lab("method", lang): [_lab(f"scaleup.pretrend.{m}", lang) for m in p["method"]],
        _lab("scaleup.statistic", lang): [format_number(v, 2) for v in p["statistic"]],
        _lab("df", lang): [format_number(v, 0) for v in p["df"]],
        _lab("p_value", lang): [_p(v) for v in p["p_value"]],
    })


def sensitivity_display(d: ReportData, lang: Lang = "th", restriction: str = "relative_magnitudes") -> pd.DataFrame:
    """HonestDiD-style sensitivity of the headline event study: per post event time (rows) and bound (columns,
    M̄ for relative magnitudes, M for smoothness), the robust 95% CI; empty when not computed."""
    t = d.results.get("scaleup_sensitivity", pd.DataFrame())
    if t.empty or restriction not in set(t["restriction"]):
        return pd.DataFrame()
    t = t[t["restriction"] == restriction]
    o = str(t["outcome"].iloc[0])
    sym = "M̄" if restriction == "relative_magnitudes" else "M"
    rows = []
    for term, s in t.groupby("term", sort=False):
        r: dict[str, str] = {_lab("scaleup.event_time", lang): str(term)[2:],
                             f"{_with_unit(d, o, lang)}: {_lab('estimate', lang)}": _num(d, o, s["estimate"].iloc[0])}
        for b, lo, hi in zip(s["bound"], s["ci_low"], s["ci_high"], strict=True):
            bt = f"{b * (_factor(d, o) if restriction == 'smoothness' else 1.0):g}"
            r[f"{sym} = {bt}"] = _ci(d, o, lo, hi)
        rows.append(r)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Estimators side by side, Bacon, matching
# --------------------------------------------------------------------------------------------------
def compare_display(d: ReportData, lang: Lang = "th", *, max_e: int = 3) -> pd.DataFrame:
    """Headline outcome: one row per estimator, the effects at e = 0 … ``max_e`` and the overall row as
    ``estimate (SE)``; sample, weighting and adjustment of each."""
    c = d.results.get("scaleup_compare", pd.DataFrame())
    if c.empty:
        return pd.DataFrame()
    o = str(c["outcome"].iloc[0])
    terms = [f"e={e}" for e in range(0, max_e + 1)] + ["overall"]
    rows = []
    for est in [e for e in ESTIMATORS if e in set(c["estimator"])]:
        s = c[c["estimator"] == est].set_index("term")
        row: dict[str, str] = {f"{_lab('scaleup.estimator', lang)} ({_with_unit(d, o, lang)})":
                               _lab(f"scaleup.estimator.{est}", lang)}
        for t in terms:
            name = _lab("scaleup.overall", lang) if t == "overall" else t
            if t in s.index:
                r = s.loc[t]
                row[name] = f"{_num(d, o, r['estimate'])} ({_num(d, o, r['std_error'])})"
            else:
                row[name] = ""
        first = s.iloc[0]
        row[_lab("scaleup.weighting", lang)] = _lab(f"scaleup.weighting.{first.get('weighting', '')}", lang)
        row[_lab("scaleup.adjustment", lang)] = _lab(f"scaleup.adjustment.{first.get('adjustment', '')}", lang)
        rows.append(row)
    out = pd.DataFrame(rows)
    td = truth_dynamic(d, o)
    if td is not None:
        tmap = dict(zip(td["event_time"], td["truth"], strict=True))
        row = {f"{_lab('scaleup.estimator', lang)} ({_with_unit(d, o, lang)})": _lab("planted_truth", lang)}
        for t in terms:
            name = _lab("scaleup.overall", lang) if t == "overall" else t
            row[name] = "" if t == "overall" else _num(d, o, tmap.get(float(t[2:]), np.nan))
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True).fillna("")
    return out


def compare_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Event-time effects of the headline outcome by estimator (pointwise 95% CIs), planted effect (demo)."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    c = d.results.get("scaleup_compare", pd.DataFrame())
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    if c.empty:
        ax.set_axis_off()
        return fig
    o = str(c["outcome"].iloc[0])
    f = _factor(d, o)
    ests = [e for e in ESTIMATORS if e in set(c["estimator"]) and not e.startswith("twfe")]
    width = 0.8 / max(len(ests), 1)
    for k, est in enumerate(ests):
        s = c[(c["estimator"] == est) & (c["term"] != "overall")].sort_values("event_time")
        x = s["event_time"].to_numpy(dtype=float) + (k - (len(ests) - 1) / 2) * width
        y = s["estimate"].to_numpy(dtype=float) * f
        ax.errorbar(x, y, yerr=[y - s["ci_low"].to_numpy(dtype=float) * f, s["ci_high"].to_numpy(dtype=float) * f - y],
                    fmt="o", ms=3.5, capsize=2, color=_COLORS[est], label=_lab(f"scaleup.estimator.{est}", lang))
    for est, ls in (("twfe", ":"), ("twfe_unadjusted", "--")):
        s = c[(c["estimator"] == est)]
        if len(s):
            ax.axhline(float(s["estimate"].iloc[0]) * f, color=_COLORS[est], ls=ls, lw=1,
                       label=_lab(f"scaleup.estimator.{est}", lang))
    td = truth_dynamic(d, o)
    if td is not None:
        ax.plot(td["event_time"], td["truth"] * f, "x", color=_TRUTH, ms=8, mew=2, label=_lab("planted_truth", lang))
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(_lab("scaleup.event_time", lang))
    ax.set_ylabel(_with_unit(d, o, lang), fontsize=8)
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def bacon_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Goodman-Bacon decomposition of the unadjusted TWFE coefficient by comparison type: total weight,
    weighted-average 2×2 estimate and contribution (weight × estimate; the contributions sum to the TWFE)."""
    b = d.results.get("scaleup_bacon", pd.DataFrame())
    if b.empty:
        return pd.DataFrame()
    o = str(b["outcome"].iloc[0])
    b = b.assign(contrib=b["weight"] * b["estimate"])
    g = b.groupby("type", sort=False)[["weight", "contrib"]].sum()
    rows = []
    for typ, r in g.iterrows():
        rows.append({
            _lab("scaleup.bacon.type", lang): _lab(f"scaleup.bacon.{typ}", lang),
            _lab("scaleup.bacon.weight", lang): format_number(r["weight"], 3),
            _lab("scaleup.bacon.estimate", lang): _num(d, o, r["contrib"] / r["weight"]) if r["weight"] > 0 else "",
            _lab("scaleup.bacon.contribution", lang): _num(d, o, r["contrib"]),
        })
    rows.append({_lab("scaleup.bacon.type", lang): _lab("total", lang),
                 _lab("scaleup.bacon.weight", lang): format_number(g["weight"].sum(), 3),
                 _lab("scaleup.bacon.estimate", lang): _num(d, o, g["contrib"].sum()),
                 _lab("scaleup.bacon.contribution", lang): _num(d, o, g["contrib"].sum())})
    return pd.DataFrame(rows)


def bacon_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Each 2×2 comparison's estimate against its weight, by type, with the TWFE coefficient."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    b = d.results.get("scaleup_bacon", pd.DataFrame())
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    if b.empty:
        ax.set_axis_off()
        return fig
    o = str(b["outcome"].iloc[0])
    f = _factor(d, o)
    markers = {"Treated vs Untreated": ("o", _BLUE), "Earlier vs Later Treated": ("s", "#17a589"),
               "Later vs Earlier Treated": ("^", _RED), "Later vs Always Treated": ("v", "#7d3c98")}
    for typ, s in b.groupby("type", sort=False):
        mk, col = markers.get(str(typ), ("o", "grey"))
        ax.scatter(s["weight"], s["estimate"] * f, marker=mk, color=col, s=28, label=_lab(f"scaleup.bacon.{typ}", lang))
    total = float((b["weight"] * b["estimate"]).sum()) * f
    ax.axhline(total, color="grey", ls="--", lw=1, label=_lab("scaleup.estimator.twfe_unadjusted", lang))
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel(_lab("scaleup.bacon.weight", lang))
    ax.set_ylabel(f"{_lab('scaleup.bacon.estimate', lang)} ({_unit(d, o, lang)})", fontsize=8)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def matching_display(d: ReportData, lang: Lang = "th") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per cohort: adopters, matched, not matched, comparison villages; balance: SMD and variance ratio of each
    matching covariate before and after matching)."""
    m = d.results.get("scaleup_matching", pd.DataFrame())
    b = d.results.get("scaleup_balance", pd.DataFrame())
    if m.empty:
        return pd.DataFrame(), pd.DataFrame()
    summ = pd.DataFrame({
        _lab("scaleup.cohort", lang): [f"{g:g}" for g in m["cohort"]],
        _lab("scaleup.n_adopters", lang): m["n_adopters"].astype(int).map("{:,}".format),
        _lab("scaleup.n_matched", lang): m["n_matched"].astype(int).map("{:,}".format),
        _lab("scaleup.n_unmatched", lang): m["n_unmatched"].astype(int).map("{:,}".format),
        _lab("scaleup.n_comparison_villages", lang): m["n_comparison_villages"].astype(int).map("{:,}".format),
    })
    covs = list(dict.fromkeys(b["covariate"]))
    rows = []
    for c in covs:
        r = {_lab("covariate", lang): covariate_label(str(c), lang)}
        for stage in ("before", "after"):
            s = b[(b["covariate"] == c) & (b["sample"] == stage)]
            if len(s):
                r[f"{_lab('smd', lang)} ({_lab('balance.' + stage, lang)})"] = format_number(s["smd"].iloc[0], 3)
                r[f"{_lab('variance_ratio', lang)} ({_lab('balance.' + stage, lang)})"] = format_number(
                    s["variance_ratio"].iloc[0], 2)
        rows.append(r)
    return summ, pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------------
def plan_yaml(d: ReportData) -> str:
    """The ``scaleup`` section of the plan in force, as YAML."""
    return str(yaml.safe_dump({"scaleup": _plan(d)}, allow_unicode=True, sort_keys=False, width=100))


def provenance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Plan, seed, engine, fingerprints of the data, software versions and wall times of the estimate."""
    man = d.manifest
    data = man.get("data") or {}
    hh = data.get("households") or {}
    rows = [
        ("plan", "source", d.plan_source or "package default"),
        ("plan", "sha256", d.plan_sha256 or "unknown"),
        ("run", "seed", str(d.seed)),
        ("run", "engine", str(man.get("engine", ""))),
        ("run", "demo data (simulated)", "yes" if d.truth is not None else "no"),
        ("data", "households: files", f"{int(hh.get('files', 0)):,}"),
        ("data", "households: bytes", f"{int(hh.get('bytes', 0)):,}"),
        ("data", "households: sha256 of the file hashes", str(hh.get("sha256", ""))),
        ("data", "villages.parquet sha256", str(data.get("villages_sha256", ""))),
        ("data", "cells.parquet sha256", str(man.get("cells_sha256", ""))),
        ("data", "household rows", f"{int(man.get('n_rows', 0)):,}"),
        ("data", "village × year cells", f"{int(man.get('n_cells', 0)):,}"),
    ]
    if d.simulation:
        rows += [("simulation", "seed", str(d.simulation.get("seed"))),
                 ("simulation", "scale", str(d.simulation.get("scale")))]
    for k, v in (man.get("seconds") or {}).items():
        rows.append(("seconds", str(k), str(v)))
    for k, v in (man.get("versions") or {}).items():
        rows.append(("software", str(k), str(v)))
    rows += [("software", "git commit", str(d.software.get("git_commit") or "unknown")),
             ("software", "requirements.lock (sha256)", d.lock_sha256 or "not found")]
    return pd.DataFrame(rows, columns=["section", "item", "value"])


def manifest_json(d: ReportData) -> str:
    """The estimate record as indented JSON (for the appendix)."""
    return json.dumps(d.manifest, indent=2, ensure_ascii=False, default=str)
