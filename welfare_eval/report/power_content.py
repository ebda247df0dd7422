"""Report content of the power analysis (``power_*`` results of :func:`welfare_eval.study.power.analyze_power`).

Display tables, figures and a plain-language summary; no statistics here (every number is a stored result).
Thai first: every function takes ``lang`` = ``"th"`` (default) or ``"en"``. MDEs in outcome units follow the
impact tables: 0/1 outcomes in percentage points, money in whole baht.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData
from welfare_eval.report.impact_content import _num as _impact_num
from welfare_eval.report.impact_content import outcome_label, planted_effect

__all__ = [
    "has_power",
    "mde_display",
    "no_power_display",
    "no_power_markdown",
    "parameters_display",
    "pilot_design_text",
    "planning_alt",
    "planning_by_outcome_display",
    "planning_display",
    "planning_per_cluster",
    "planning_plot",
    "power_markdown",
    "simulation_alt",
    "simulation_display",
    "simulation_markdown",
    "simulation_off_display",
    "simulation_plot",
    "simulation_summary_display",
]

Lang = Literal["th", "en"]
KEYS = ("power_parameters", "power_mde", "power_planning", "power_simulation")
#: Parameters shown in the parameters table (term → decimals; attrition as a percentage).
PARAMETER_TERMS: dict[str, int] = {
    "icc": 3, "pair_correlation_change": 2, "autocorr_cluster": 2, "autocorr_individual": 2, "attrition": 1,
    "cv_cluster_weight": 2, "deff_weights": 2,
}
_METHOD_ORDER = ("cr1", "cr2", "wild", "ri", "ri_t", "cr3", "hc1", "iid")
_COLORS = {"cr1": "#7f7f7f", "cr2": "#1f4e79", "wild": "#2e8b57", "ri": "#d35400", "ri_t": "#8e44ad"}


# --------------------------------------------------------------------------------------------------
# Formatting (the one place this module turns numbers into text)
# --------------------------------------------------------------------------------------------------
def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _f(x: Any, decimals: int = 2) -> str:
    return fmt.number(x, places=decimals)


def _pct(x: Any, decimals: int = 1) -> str:
    return "—" if x is None or not math.isfinite(float(x)) else fmt.percent(x, places=decimals)


def _ci(lo: Any, hi: Any, decimals: int = 2) -> str:
    if lo is None or hi is None or not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        return ""
    return fmt.interval(lo, hi, places=decimals)


def _impact_unit(outcome: str, scale: str, lang: Lang) -> str:
    """The unit word of an effect on ``outcome`` (percentage points for shares, baht; empty when unitless)."""
    return fmt.unit_word(fmt.unit_of(outcome, scale), change=True, lang=lang)


def _units(x: Any, outcome: str, scale: str) -> str:
    """A value in the outcome's units, formatted as in the impact tables."""
    return _impact_num(float(x), outcome, scale)


def _outcome_name(outcome: str, scale: str, lang: Lang) -> str:
    unit = _impact_unit(outcome, scale, lang)
    return outcome_label(outcome, lang) + (f" ({unit})" if scale == "proportion" else "")


def _rate(p: Any, se: Any | None = None) -> str:
    return _f(p, 3) if se is None else f"{_f(p, 3)} ({_f(se, 3)})"


# --------------------------------------------------------------------------------------------------
# Data access
# --------------------------------------------------------------------------------------------------
def has_power(d: ReportData) -> bool:
    """Whether the results hold the power tables (an analysis run before the power step has none)."""
    return all(k in d.results for k in KEYS) and not d.results["power_mde"].empty


def _table(d: ReportData, key: str) -> pd.DataFrame:
    if key not in d.results:
        raise ValueError(f"results have no {key} table; run `welfare-eval analyze` again (the power step makes it)")
    return d.results[key]


def planning_wave(d: ReportData) -> str | None:
    """The follow-up wave of the planning table (its parameters)."""
    p = _table(d, "power_planning")
    return str(p["wave"].iloc[0]) if len(p) else None


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------
def mde_display(d: ReportData, lang: Lang = "th", *, wave: str | None = None,
                design_columns: bool = True) -> pd.DataFrame:
    """MDE at the target power for the pilot as run: per outcome (and wave), in SD and outcome units, with the
    ICC, the analytic standard error beside the one the impact analysis obtained, and (demo) the planted effect.
    ``design_columns=False`` leaves out the pairs and households per village (then say them in the caption:
    :func:`pilot_design_text`)."""
    m = _table(d, "power_mde")
    par = _table(d, "power_parameters")
    if wave is not None:
        m = m[m["wave"] == wave]
    icc = {(str(r["outcome"]), str(r["wave"])): r for _, r in par[par["term"] == "icc"].iterrows()}
    rows = []
    for _, r in m.iterrows():
        y, w, sc = str(r["outcome"]), str(r["wave"]), str(r["scale"])
        row: dict[str, Any] = {_lab("outcome", lang): _outcome_name(y, sc, lang)}
        if wave is None:
            row[_lab("wave", lang)] = _lab(f"wave.{w}", lang)
        if design_columns:
            row[_lab("power.pairs", lang)] = _f(r["pairs"], 0)
            row[_lab("power.per_cluster", lang)] = _f(r["per_cluster"], 0)
        if (y, w) in icc:
            i = icc[(y, w)]
            row[_lab("power.term.icc", lang)] = f"{_f(i['estimate'], 3)} {_ci(i['ci_low'], i['ci_high'], 3)}".strip()
        row[_lab("power.mde_sd", lang)] = _f(r["estimate"], 2)
        row[_lab("power.mde_units", lang)] = _units(r["mde_outcome_units"], y, sc)
        row[_lab("power.se_analytic", lang)] = _units(r["std_error_outcome_units"], y, sc)
        row[_lab("power.se_impact", lang)] = (_units(r["std_error_impact_cr2"], y, sc)
                                              if math.isfinite(float(r["std_error_impact_cr2"])) else "—")
        if d.truth is not None:
            tv = planted_effect(d, y, w)
            sd = float(r["sd"])
            row[_lab("power.planted_sd", lang)] = _f(tv / sd, 2) if tv is not None and sd > 0 else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def pilot_design_text(d: ReportData, lang: Lang = "th") -> str:
    """The pilot as run in words: pairs and (mean) interviewed households per village of the MDE table."""
    m = _table(d, "power_mde")
    if m.empty:
        return ""
    pairs = sorted({int(v) for v in m["pairs"]})
    per = sorted({int(v) for v in m["per_cluster"]})
    hh = _f(per[0], 0) if len(per) == 1 else f"{_f(per[0], 0)}–{_f(per[-1], 0)}"
    pp = ", ".join(_f(v, 0) for v in pairs)
    return (f"{pp} คู่ ครัวเรือนที่สัมภาษณ์ได้ประมาณ {hh} ครัวเรือนต่อหมู่บ้าน" if lang == "th" else
            f"{pp} pairs, about {hh} interviewed households per village")


def parameters_display(d: ReportData, lang: Lang = "th", *, wave: str | None = None) -> pd.DataFrame:
    """Design parameters estimated from the study's data (one row per outcome, at ``wave``; default the planning
    wave): estimate [95% CI], and the value the MDE uses when it differs (a negative estimate is planned as 0)."""
    par = _table(d, "power_parameters")
    wave = wave or planning_wave(d) or (str(par["wave"].iloc[-1]) if len(par) else None)
    par = par[par["wave"] == wave]
    scale = _table(d, "power_mde").drop_duplicates("outcome").set_index("outcome")["scale"]
    rows = []
    for y in dict.fromkeys(par["outcome"]):
        s = par[par["outcome"] == y].set_index("term")
        row: dict[str, Any] = {_lab("outcome", lang): _outcome_name(str(y), str(scale.get(y, "level")), lang)}
        for term, dec in PARAMETER_TERMS.items():
            if term == "cv_cluster_weight" and term not in s.index:
                term = "cv_cluster_size"
            if term not in s.index:
                row[_lab(f"power.term.{term}", lang)] = "—"
                continue
            r = s.loc[term]
            est, used = float(r["estimate"]), float(r["value_used"])
            clipped = bool(str(r["used_as"])) and (not math.isfinite(est) or not math.isfinite(used)
                                                    or abs(used - est) > 1e-9)
            if clipped and math.isfinite(est) and _f(est, dec) == _f(used, dec):
                dec += 1  # show the digit that makes the estimate differ from the value used (1.003 → 1)
            if not math.isfinite(est):
                text = "—"
            elif term == "attrition":
                text = _pct(est, dec)
            else:
                text = f"{_f(est, dec)} {_ci(r['ci_low'], r['ci_high'], dec)}".strip()
            if clipped:
                text += f" → {_lab('power.used', lang)} {f'{used:g}' if math.isfinite(used) else '0'}"
            row[_lab(f"power.term.{term}", lang)] = text
        rows.append(row)
    return pd.DataFrame(rows)


def planning_display(d: ReportData, lang: Lang = "th", *, outcome: str | None = None,
                     units: Literal["sd", "outcome"] = "sd") -> pd.DataFrame:
    """Planning table of the expansion: MDE by pairs of villages (rows) × households per village (columns),
    for every outcome (or one), in SD units (default) or in the outcome's units."""
    p = _table(d, "power_planning")
    if outcome is not None:
        p = p[p["outcome"] == outcome]
        if p.empty:
            raise ValueError(f"power_planning has no outcome {outcome!r}")
    rows = []
    per = sorted(int(v) for v in p["per_cluster"].unique())
    for (y, pairs), g in p.groupby(["outcome", "pairs"], sort=False):
        g = g.set_index("per_cluster")
        sc = str(g["scale"].iloc[0])
        row: dict[str, Any] = {}
        if outcome is None:
            row[_lab("outcome", lang)] = _outcome_name(str(y), sc, lang)
        row[_lab("power.pairs", lang)] = _f(pairs, 0)
        row[_lab("power.villages", lang)] = _f(g["n_clusters"].iloc[0], 0)
        for m in per:
            v = g.loc[m, "mde"] if units == "sd" else g.loc[m, "mde_outcome_units"]
            row[f"{_lab('power.per_cluster', lang)} = {m}"] = _f(v, 2) if units == "sd" else _units(v, str(y), sc)
        rows.append(row)
    return pd.DataFrame(rows)


def _planning_per_cluster(d: ReportData, p: pd.DataFrame) -> int:
    """The households per village of the planning grid nearest the pilot's (interviewed households per village)."""
    per = np.array(sorted(p["per_cluster"].unique()), dtype=float)
    m = _table(d, "power_mde")
    pilot = float(m["per_cluster"].iloc[0]) if len(m) else float(per[0])
    return int(per[np.argmin(np.abs(per - pilot))])


def planning_by_outcome_display(d: ReportData, lang: Lang = "th", *, per_cluster: int | None = None) -> pd.DataFrame:
    """The planning table at one number of households per village (default: the grid's value nearest the pilot
    as run): MDE in SD units by pairs of villages (rows) and outcome (columns); the compact form shown in the
    report's body (the full grid, :func:`planning_display`, is in the appendix)."""
    p = _table(d, "power_planning")
    if p.empty:
        return pd.DataFrame()
    hh = _planning_per_cluster(d, p) if per_cluster is None else int(per_cluster)
    g = p[p["per_cluster"] == hh]
    if g.empty:
        raise ValueError(f"power_planning has no rows with {hh} households per village (per_cluster)")
    rows = []
    for pairs, h in g.groupby("pairs", sort=True):
        row: dict[str, Any] = {_lab("power.pairs", lang): _f(pairs, 0),
                               _lab("power.villages", lang): _f(h["n_clusters"].iloc[0], 0)}
        for y in dict.fromkeys(p["outcome"]):
            v = h.loc[h["outcome"] == y, "mde"]
            row[outcome_label(str(y), lang)] = _f(v.iloc[0], 2) if len(v) else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def planning_per_cluster(d: ReportData) -> int | None:
    """Households per village of :func:`planning_by_outcome_display` (``None`` without a planning table)."""
    p = _table(d, "power_planning")
    return _planning_per_cluster(d, p) if len(p) else None


def simulation_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Simulated rejection rates (Monte Carlo SE) by method at effect 0 and at the MDE, beside the analytic value,
    the spread of the simulated estimates against the analytic standard error, and the note."""
    s = _table(d, "power_simulation")
    if s.empty:
        return pd.DataFrame()
    rows = []
    for _, r in s.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        effect = f"{_f(r['effect'], 2)} SD"
        if float(r["effect"]) != 0:
            unit = _impact_unit(y, sc, lang)
            effect += f" = {_units(r['effect_outcome_units'], y, sc)}{' ' + unit if unit else ''}"
        rows.append({
            _lab("outcome", lang): _outcome_name(y, sc, lang),
            _lab("power.effect_type", lang): f"{_lab('power.effect_type.' + str(r['effect_type']), lang)}: {effect}",
            _lab("method", lang): _lab(f"method.{r['method']}", lang),
            f"{_lab('power.sim_rate', lang)} ({_lab('power.mc_se', lang)})": _rate(r["power"], r["mc_std_error"]),
            _lab("power.analytic_rate", lang): _rate(r["analytic_power"]),
            _lab("power.n_sims", lang): _f(r["n_sims"], 0),
            _lab("power.note", lang): str(r["note_th"] if lang == "th" else r["note"]),
        })
    return pd.DataFrame(rows)


def simulation_summary_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The simulation in the report's body: one row per inference method (and outcome, when several were
    simulated), one column per simulated effect with the rejection rate (Monte Carlo SE); the analytic value of
    each effect is in its column header. The effect sizes, the number of data sets and the notes are stated by
    :func:`simulation_markdown`; the row-by-row table with its notes is :func:`simulation_display`."""
    s = _table(d, "power_simulation")
    if s.empty:
        return simulation_off_display(d, lang)
    several = s["outcome"].nunique() > 1
    cols: dict[str, str] = {}
    for et, g in s.groupby("effect_type", sort=False):
        a = g["analytic_power"].astype(float).unique()
        head = _lab(f"power.effect_type.{et}", lang)
        if len(a) == 1:
            word = _lab("power.analytic_rate", lang)
            head += f" ({word.lower() if lang == 'en' else word} {_rate(a[0])})"
        cols[str(et)] = head
    rows = []
    for (y, meth), g in s.groupby(["outcome", "method"], sort=False):
        row: dict[str, Any] = {}
        if several:
            row[_lab("outcome", lang)] = outcome_label(str(y), lang)
        row[_lab("method", lang)] = _lab(f"method.{meth}", lang)
        for et, head in cols.items():
            r = g[g["effect_type"] == et]
            row[head] = (
                _rate(r["power"].iloc[0], r["mc_std_error"].iloc[0]) if len(r) else "—")
        rows.append(row)
    return pd.DataFrame(rows)


def simulation_markdown(d: ReportData, lang: Lang = "th") -> str:
    """What was simulated (outcome, effect sizes, data sets) and the departures from the analytic values, in words
    (the notes of :func:`simulation_display` that are not "no departure")."""
    s = _table(d, "power_simulation")
    if s.empty:
        return ""
    th = lang == "th"
    n = fmt.count(s["n_sims"].iloc[0])
    parts = []
    for y, g in s.groupby("outcome", sort=False):
        sc = str(g["scale"].iloc[0])
        unit = _impact_unit(str(y), sc, lang)
        m = g[g["effect"].astype(float) != 0]
        eff = ""
        if len(m):
            r = m.iloc[0]
            eff = f"{_f(r['effect'], 2)} SD = {_units(r['effect_outcome_units'], str(y), sc)}{' ' + unit if unit else ''}"
        parts.append((outcome_label(str(y), lang), eff))
    dep = s[s["departs"].astype(bool)]
    if th:
        what = "; ".join(f"{o} (MDE {e})" if e else o for o, e in parts)
        txt = f"ตัวชี้วัดที่จำลอง: {what} จำนวน {n} ชุดข้อมูลต่อขนาดผลและวิธีอนุมาน "
        if dep.empty:
            band = s["band"].astype(float)
            txt += (f"ไม่พบความต่างจากค่าตามสูตรที่ความแม่นยำนี้ (ความต่างที่ตรวจพบได้ ±{_f(band.min(), 3)}"
                    + (f" ถึง ±{_f(band.max(), 3)}" if band.max() > band.min() else "") + ")")
        else:
            txt += "ผลที่ต่างจากค่าตามสูตร: " + "; ".join(
                f"{_lab('method.' + str(r['method']), lang)} {_lab('power.effect_type.' + str(r['effect_type']), lang)}: "
                f"{r['note_th']}" for r in dep.to_dict("records"))
    else:
        what = "; ".join(f"{o} (MDE {e})" if e else o for o, e in parts)
        txt = f"Simulated outcome(s): {what}; {n} data sets per effect and inference method. "
        if dep.empty:
            band = s["band"].astype(float)
            txt += ("No rate departs from its analytic value at this precision (a departure of ±"
                    f"{_f(band.min(), 3)}" + (f" to ±{_f(band.max(), 3)}" if band.max() > band.min() else "")
                    + " would be detected).")
        else:
            txt += "Departures from the analytic values: " + "; ".join(
                f"{_lab('method.' + str(r['method']), lang)}, {_lab('power.effect_type.' + str(r['effect_type']), lang).lower()}: "
                f"{r['note']}" for r in dep.to_dict("records")) + "."
    return txt.strip() + "\n"


def no_power_display(lang: Lang = "th") -> pd.DataFrame:
    """The one-cell table shown in place of a power table when the results hold none."""
    return pd.DataFrame({_lab("power.note", lang): [no_power_markdown(lang)]})


def no_power_markdown(lang: Lang = "th") -> str:
    """What the section says when the results hold no power tables."""
    return ("ผลการวิเคราะห์ยังไม่มีตารางอำนาจการทดสอบ (power_*): เรียก `welfare-eval analyze` ใหม่" if lang == "th" else
            "The results hold no power tables (power_*): run `welfare-eval analyze` again.")


def simulation_off_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The one-cell table shown in place of :func:`simulation_display` when the plan ran no simulation."""
    return pd.DataFrame({_lab("power.note", lang): [_lab("power.simulation_off", lang)]})


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def planning_plot(d: ReportData, lang: Lang = "th") -> Any:
    """MDE (SD units) against the number of village pairs, one line per households per village (each its own
    colour and marker) and one panel per outcome; the pilot as run is marked (★); one legend below the panels."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import MAX_WIDTH_IN, MIN_FONT_PT, legend_below, use_thai_font

    use_thai_font()
    p = _table(d, "power_planning")
    m = _table(d, "power_mde")
    outcomes = list(dict.fromkeys(p["outcome"]))
    ncol = min(3, max(1, len(outcomes)))
    nrow = max(1, math.ceil(len(outcomes) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(MAX_WIDTH_IN, 2.5 * nrow + 0.4), squeeze=False, sharey=True)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    per = sorted(int(v) for v in p["per_cluster"].unique())
    markers = ("o", "s", "^", "D", "v", "P", "X")
    colours = {hh: plt.get_cmap("viridis")(k / max(1, len(per) - 1) * 0.9) for k, hh in enumerate(per)}
    marks = {hh: markers[k % len(markers)] for k, hh in enumerate(per)}
    for ax, y in zip(axes.flat, outcomes, strict=False):
        g = p[p["outcome"] == y]
        for hh, h in g.groupby("per_cluster", sort=True):
            h = h.sort_values("pairs")
            ax.plot(h["pairs"], h["mde"], ms=4, lw=1.2, color=colours[int(hh)], marker=marks[int(hh)])
        pilot = m[(m["outcome"] == y) & (m["wave"] == g["wave"].iloc[0])]
        if len(pilot):
            r = pilot.iloc[0]
            ax.plot([r["pairs"]], [r["estimate"]], marker="*", ms=12, color="#c0392b", ls="none")
        ax.set_xscale("log")
        ticks = sorted(int(v) for v in g["pairs"].unique())
        shown = [t for k, t in enumerate(ticks) if k % 2 == 0 or t == ticks[-1]]
        ax.set_xticks(shown, [fmt.count(t) for t in shown])
        ax.minorticks_off()
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.set_title(outcome_label(str(y), lang), fontsize=MIN_FONT_PT + 1)
        ax.set_xlabel(_lab("power.pairs", lang), fontsize=MIN_FONT_PT)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel(_lab("power.mde_sd", lang), fontsize=MIN_FONT_PT)
    fig.tight_layout()
    handles = [Line2D([], [], lw=1.2, ms=4, color=colours[hh], marker=marks[hh]) for hh in per]
    labels = [f"{_lab('power.per_cluster', lang)} = {hh}" for hh in per]
    handles.append(Line2D([], [], marker="*", ms=12, color="#c0392b", ls="none"))
    labels.append(_lab("power.pilot", lang))
    legend_below(fig, handles, labels, ncol=3)
    return fig


def planning_alt(d: ReportData, lang: Lang = "th") -> str:
    """Alt text of :func:`planning_plot`: how far the largest MDE falls from the fewest to the most pairs."""
    p = _table(d, "power_planning")
    if p.empty:
        return no_power_markdown(lang)
    hh = _planning_per_cluster(d, p)
    g = p[p["per_cluster"] == hh]
    lo_p, hi_p = int(g["pairs"].min()), int(g["pairs"].max())
    worst_lo, worst_hi = float(g[g["pairs"] == lo_p]["mde"].max()), float(g[g["pairs"] == hi_p]["mde"].max())
    few = p[p["pairs"] == lo_p].groupby("per_cluster")["mde"].max()
    if lang == "th":
        return (f"ผลขั้นต่ำที่ตรวจพบได้ลดลงเมื่อเพิ่มจำนวนคู่หมู่บ้าน: ที่ {hh} ครัวเรือนต่อหมู่บ้าน ค่าสูงสุดในบรรดาตัวชี้วัด"
                f"ลดจาก {_f(worst_lo, 2)} SD ที่ {lo_p} คู่ เป็น {_f(worst_hi, 2)} SD ที่ {fmt.count(hi_p)} คู่ "
                f"ส่วนการเพิ่มครัวเรือนต่อหมู่บ้านจาก {int(few.index.min())} เป็น {int(few.index.max())} ที่ {lo_p} คู่ "
                f"ลดได้เพียงจาก {_f(few.iloc[0], 2)} เป็น {_f(few.iloc[-1], 2)} SD")
    return (f"The MDE falls as village pairs are added: with {hh} households per village the largest MDE among the "
            f"outcomes falls from {_f(worst_lo, 2)} SD with {lo_p} pairs to {_f(worst_hi, 2)} SD with "
            f"{fmt.count(hi_p)} pairs, while going from {int(few.index.min())} to {int(few.index.max())} households "
            f"per village at {lo_p} pairs only takes it from {_f(few.iloc[0], 2)} to {_f(few.iloc[-1], 2)} SD.")


def simulation_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Simulated rejection rate by method (± 2 Monte Carlo SE; each method its own marker) at effect 0 (size) and
    at the MDE (power), with the analytic value (dashed); the legend below the panels."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from welfare_eval.report.figures import (
        MAX_WIDTH_IN,
        METHOD_STYLE,
        MIN_FONT_PT,
        legend_below,
        use_thai_font,
    )

    use_thai_font()
    s = _table(d, "power_simulation")
    outcomes = list(dict.fromkeys(s["outcome"]))
    types = list(dict.fromkeys(s["effect_type"]))
    ncol, nrow = max(1, len(types)), max(1, len(outcomes))
    fig, axes = plt.subplots(nrow, ncol, figsize=(min(MAX_WIDTH_IN, 3.7 * ncol), 2.9 * nrow + 0.5), squeeze=False)
    for (i, y), (j, et) in ((a, b) for a in enumerate(outcomes) for b in enumerate(types)):
        ax = axes[i, j]
        g = s[(s["outcome"] == y) & (s["effect_type"] == et)]
        g = g.set_index("method").reindex([m for m in _METHOD_ORDER if m in set(g["method"])])
        x = np.arange(len(g))
        for xi, (meth, r) in zip(x, g.iterrows(), strict=True):
            st = METHOD_STYLE.get(str(meth), {"marker": "v"})
            ax.errorbar([xi], [r["power"]], yerr=[2 * r["mc_std_error"]], fmt=st["marker"], capsize=3, ms=5,
                        color=_COLORS.get(str(meth), "#333333"))
        a = float(g["analytic_power"].iloc[0])
        ax.axhline(a, color="black", lw=1, ls="--")
        ax.set_xticks(x, [str(m).upper().replace("_", "-") for m in g.index])
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.set_ylim(0, 1.02)
        if j == 0:
            ax.set_ylabel(_lab("power.sim_rate", lang), fontsize=MIN_FONT_PT)
        title = f"{_lab('power.effect_type.' + str(et), lang)}\n{_lab('power.analytic_rate', lang)} = {_f(a, 2)}"
        ax.set_title(title if len(outcomes) == 1 else f"{outcome_label(str(y), lang)}: {title}",
                     fontsize=MIN_FONT_PT + 1)
    if len(outcomes) == 1:
        fig.suptitle(outcome_label(str(outcomes[0]), lang), fontsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    handles = [Line2D([], [], color="black", lw=1, ls="--"),
               Line2D([], [], color="#333333", marker="o", ls="-", lw=1)]
    labels = [_lab("power.analytic_rate", lang), f"{_lab('power.sim_rate', lang)} ± 2 × {_lab('power.mc_se', lang)}"]
    legend_below(fig, handles, labels, ncol=2)
    return fig


def simulation_alt(d: ReportData, lang: Lang = "th") -> str:
    """Alt text of :func:`simulation_plot`: the range of the simulated rates at each effect and the departures."""
    s = _table(d, "power_simulation")
    if s.empty:
        return _lab("power.simulation_off", lang)
    parts = []
    for et, g in s.groupby("effect_type", sort=False):
        lo, hi, a = float(g["power"].min()), float(g["power"].max()), float(g["analytic_power"].iloc[0])
        name = _lab(f"power.effect_type.{et}", lang)
        name = name[0].lower() + name[1:] if lang == "en" else name
        rng = _f(lo, 3) if _f(lo, 3) == _f(hi, 3) else f"{_f(lo, 3)}–{_f(hi, 3)}"
        word = _lab("power.analytic_rate", lang)
        parts.append(f"{name}: {rng} ({word.lower() if lang == 'en' else word} {_f(a, 2)})")
    n_dep = int(s["departs"].astype(bool).sum())
    if lang == "th":
        return ("อัตราการปฏิเสธจากการจำลองของทุกวิธีอนุมาน " + "; ".join(parts)
                + (" ไม่มีวิธีใดต่างจากค่าตามสูตรเกิน 3 เท่าของความคลาดเคลื่อนมอนติคาร์โล" if n_dep == 0 else
                   f" ต่างจากค่าตามสูตร {n_dep} กรณี"))
    return ("Simulated rejection rates of all inference methods, " + "; ".join(parts)
            + (": none departs from the analytic value by more than 3 Monte Carlo SE." if n_dep == 0 else
               f"; {n_dep} case(s) depart from the analytic value."))


# --------------------------------------------------------------------------------------------------
# Plain-language summary
# --------------------------------------------------------------------------------------------------
def power_markdown(d: ReportData, lang: Lang = "th", *, wave: str | None = None) -> str:
    """What the pilot as run could detect, how the analytic SEs compare with the impact step's, what the
    expansion's planning table says, and what the simulation found."""
    m = _table(d, "power_mde")
    wave = wave or planning_wave(d) or str(m["wave"].iloc[-1])
    mw = m[m["wave"] == wave]
    if mw.empty:
        return ""
    r0 = mw.iloc[0]
    pw, alpha = float(r0["power"]), float(r0["alpha"])
    side = ("สองทาง" if bool(r0["two_sided"]) else "ทางเดียว") if lang == "th" else (
        "two-sided" if bool(r0["two_sided"]) else "one-sided")
    items = []
    for _, r in mw.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        unit = _impact_unit(y, sc, lang)
        items.append(f"{outcome_label(y, lang)} {_f(r['estimate'], 2)} SD "
                     f"(= {_units(r['mde_outcome_units'], y, sc)}{' ' + unit if unit else ''})")
    ratio = m["se_ratio"].to_numpy(dtype=float)
    ratio = ratio[np.isfinite(ratio)]
    wl = _lab(f"wave.{wave}", lang)
    if lang == "th":
        txt = (f"ด้วย {_f(r0['pairs'], 0)} คู่หมู่บ้าน และครัวเรือนที่สัมภาษณ์ได้เฉลี่ยประมาณ {_f(r0['per_cluster'], 0)} "
               f"ครัวเรือนต่อหมู่บ้าน โครงการนำร่องตามที่ดำเนินการจะตรวจพบผล ณ รอบ{wl} ด้วยอำนาจการทดสอบ "
               f"{_pct(pw, 0)} (α = {_f(alpha, 2)} แบบ{side}) ได้เมื่อผลมีขนาดอย่างน้อย: " + "; ".join(items) + ". ")
        if ratio.size:
            txt += (f"ความคลาดเคลื่อนมาตรฐานตามสูตรใกล้เคียงกับที่การประเมินผลได้จริง (CR2) "
                    f"(อัตราส่วนที่ได้จริงต่อสูตร {_f(ratio.min(), 2)}–{_f(ratio.max(), 2)}) ")
    else:
        txt = (f"With {_f(r0['pairs'], 0)} village pairs and about {_f(r0['per_cluster'], 0)} interviewed households "
               f"per village, the pilot as run detects effects at {wl.lower()} with {_pct(pw, 0)} power "
               f"(α = {_f(alpha, 2)}, {side}) when they are at least: " + "; ".join(items) + ". ")
        if ratio.size:
            txt += (f"The analytic standard errors are close to those the impact analysis obtained (CR2; realised "
                    f"over analytic {_f(ratio.min(), 2)}–{_f(ratio.max(), 2)}). ")
    p = _table(d, "power_planning")
    if len(p):
        per = np.array(sorted(p["per_cluster"].unique()), dtype=float)
        hh = int(per[np.argmin(np.abs(per - float(r0["per_cluster"])))])
        g = p[p["per_cluster"] == hh]
        lo_p, hi_p = int(g["pairs"].min()), int(g["pairs"].max())
        worst_lo = float(g[g["pairs"] == lo_p]["mde"].max())
        worst_hi = float(g[g["pairs"] == hi_p]["mde"].max())
        if lang == "th":
            txt += (f"สำหรับการขยายผล (ตารางวางแผน) เมื่อสำรวจ {hh} ครัวเรือนต่อหมู่บ้าน ผลขั้นต่ำที่ตรวจพบได้ที่ใหญ่ที่สุด"
                    f"ในบรรดาตัวชี้วัดเหล่านี้ลดลงจาก {_f(worst_lo, 2)} SD ที่ {lo_p} คู่ เป็น {_f(worst_hi, 2)} SD ที่ "
                    f"{hi_p} คู่ ")
        else:
            txt += (f"For the expansion (planning table), with {hh} households per village the largest MDE among these "
                    f"outcomes falls from {_f(worst_lo, 2)} SD with {lo_p} pairs to {_f(worst_hi, 2)} SD with {hi_p} "
                    "pairs. ")
    s = d.results.get("power_simulation")
    if s is not None and len(s):
        n = int(s["n_sims"].iloc[0])
        dep = s[s["departs"].astype(bool)]
        if lang == "th":
            txt += (f"การจำลอง {n} ชุดต่อขนาดผล" + ("ไม่พบความต่างจากค่าตามสูตรที่ความแม่นยำนี้" if dep.empty else
                    f"พบความต่างจากค่าตามสูตร {len(dep)} กรณี (ดูหมายเหตุในตาราง)"))
        else:
            txt += (f"The simulation ({n} data sets per effect) " + (
                "finds no departure from the analytic values at its precision." if dep.empty else
                f"departs from the analytic values in {len(dep)} case(s) (see the notes in the table)."))
    return txt.strip() + "\n"
