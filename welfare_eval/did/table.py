"""Several DiD models side by side (one column per model), like fixest's ``etable``.

Rows, for each term: the estimate, then for each requested method its standard error (analytic methods
only), confidence interval and p-value; at the bottom the number of observations and of clusters. The
numbers are exactly the models' ``tidy()`` rows, only formatted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._results import ResultBase

__all__ = ["ModelTable", "model_table"]

_NEEDED = ("term", "method", "estimate", "std_error", "p_value", "ci_low", "ci_high", "n_obs", "n_clusters")


def _fmt(x: float, digits: int) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _fmt_p(p: float, digits: int) -> str:
    if p is None or not math.isfinite(p):
        return ""
    floor = 10.0 ** (-digits)
    return f"<{floor:.{digits}f}" if p < floor else f"{p:.{digits}f}"


def _stars(p: float) -> str:
    if p is None or not math.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


class ModelTable(ResultBase):
    """Result of :func:`model_table`.

    ``tidy()`` gives the numbers (one row per model × term × method, copied from each model's ``tidy()``);
    ``to_frame()`` the formatted side-by-side table; ``to_html()`` / Jupyter display render it.
    """

    title = "Difference-in-differences models"

    def __init__(self, *, long: pd.DataFrame, frame: pd.DataFrame, notes: list[str]) -> None:
        self._long = long
        self._frame = frame
        self._notes = notes

    def tidy(self) -> pd.DataFrame:
        return self._long.copy()

    def to_frame(self) -> pd.DataFrame:
        """The formatted table: rows (term, row), one string column per model."""
        return self._frame.copy()

    def notes(self) -> list[str]:
        return list(self._notes)

    def summary(self) -> str:
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.max_colwidth", 40):
            body = self._frame.to_string()
        lines = [self.title, "=" * len(self.title), body, *[f"Note: {n}" for n in self._notes]]
        return "\n".join(lines)

    def _export_frame(self) -> pd.DataFrame:
        return self._frame


def model_table(
    results: Sequence[Any] | Mapping[str, Any],
    *,
    methods: Sequence[str] = ("cr2", "wild"),
    terms: Sequence[str] | None = None,
    stars: bool = False,
    digits: int = 3,
    labels: Sequence[str] | None = None,
) -> ModelTable:
    """Put several models (:class:`~welfare_eval.did.DiDResult` or anything with the same ``tidy()``
    columns) side by side.

    Parameters
    ----------
    results
        The models, in column order; a mapping gives the column labels as keys.
    methods
        Inference methods to show (each model must have them), e.g. ``("cr1", "cr2", "wild", "ri")``.
        For each: standard error in parentheses (analytic methods), confidence interval, p-value.
    terms
        Terms to show. Default: the models' treatment terms, which must then be the same for every model;
        with ``terms=`` given, a model without one of them gets blank cells.
    stars
        Append significance stars (``*`` p < 0.1, ``**`` < 0.05, ``***`` < 0.01) to the estimate, from the
        p-value of the first method.
    digits
        Decimals of every number (p-values below ``10**-digits`` print as ``<0.001`` etc.).
    labels
        Column labels (default ``(1) outcome``, ``(2) outcome``, ...).

    Returns
    -------
    ModelTable
    """
    if isinstance(results, Mapping):
        if labels is not None:
            raise ValueError("model_table: give labels either as the mapping's keys or as labels=, not both")
        labels = [str(k) for k in results]
        models = list(results.values())
    else:
        models = list(results)
    if not models:
        raise ValueError("model_table: no models given")
    methods = [methods] if isinstance(methods, str) else list(methods)
    if not methods:
        raise ValueError("model_table: methods= is empty; name at least one inference method")
    if int(digits) != digits or digits < 0:
        raise ValueError(f"model_table: digits={digits!r} must be a non-negative integer")
    if labels is None:
        labels = [f"({i + 1}) {getattr(m, 'outcome', '')}".rstrip() for i, m in enumerate(models)]
    labels = [str(lb) for lb in labels]
    if len(labels) != len(models):
        raise ValueError(f"model_table: {len(labels)} labels for {len(models)} models")
    if len(set(labels)) != len(labels):
        raise ValueError(f"model_table: labels must be unique, got {labels}")

    tidies = []
    for i, m in enumerate(models):
        if not hasattr(m, "tidy"):
            raise TypeError(f"model_table: model {i + 1} ({type(m).__name__}) has no tidy()")
        tab = m.tidy()
        missing = [c for c in _NEEDED if c not in tab.columns]
        if missing:
            raise TypeError(f"model_table: model {i + 1}'s tidy() lacks columns {missing}")
        have = set(tab["method"])
        lacking = [mt for mt in methods if mt not in have]
        if lacking:
            raise ValueError(f"model_table: model {labels[i]!r} has no {lacking} results (it has {sorted(have)}); "
                             "estimate it with inference= including them or drop them from methods=")
        tidies.append(tab)

    model_terms = [list(dict.fromkeys(t["term"])) for t in tidies]
    if terms is None:
        first = model_terms[0]
        for lb, mterms in zip(labels, model_terms, strict=True):
            if set(mterms) != set(first):
                raise ValueError(f"model_table: models have different terms ({labels[0]!r}: {first}, {lb!r}: {mterms}); "
                                 "pass terms= to choose the rows")
        show = first
    else:
        show = [terms] if isinstance(terms, str) else list(terms)
        if not show:
            raise ValueError("model_table: terms= is empty")
        nowhere = [t for t in show if not any(t in mt for mt in model_terms)]
        if nowhere:
            raise ValueError(f"model_table: term(s) {nowhere} are in none of the models")

    # long (numeric) table: the models' own tidy() rows
    long_parts = []
    for lb, tab in zip(labels, tidies, strict=True):
        part = tab[tab["term"].isin(show) & tab["method"].isin(methods)].copy()
        part.insert(0, "model", lb)
        long_parts.append(part)
    long = pd.concat(long_parts, ignore_index=True)

    def level_of(m: Any) -> str:
        lv = getattr(m, "level", None)
        return f"{round(lv * 100):d}% CI" if isinstance(lv, float) else "CI"

    ci_names = {level_of(m) for m in models}
    ci_label = ci_names.pop() if len(ci_names) == 1 else "CI"
    analytic = {mt for mt in methods if long.loc[long["method"] == mt, "std_error"].notna().any()}
    index: list[tuple[str, str]] = []
    for t in show:
        index.append((t, "estimate"))
        for mt in methods:
            if mt in analytic:
                index.append((t, f"{mt} SE"))
            index.append((t, f"{mt} {ci_label}"))
            index.append((t, f"{mt} p"))
    index += [("", "N"), ("", "clusters")]
    frame = pd.DataFrame("", index=pd.MultiIndex.from_tuples(index, names=["term", "row"]), columns=labels,
                         dtype=object)
    for lb, tab in zip(labels, tidies, strict=True):
        rows = tab.set_index(["term", "method"])
        for t in show:
            if t not in set(tab["term"]):
                continue
            first_p = float(rows.loc[(t, methods[0]), "p_value"])
            est = float(rows.loc[(t, methods[0]), "estimate"])
            frame.loc[(t, "estimate"), lb] = _fmt(est, digits) + (_stars(first_p) if stars else "")
            for mt in methods:
                r = rows.loc[(t, mt)]
                if mt in analytic:
                    se = float(r["std_error"])
                    frame.loc[(t, f"{mt} SE"), lb] = f"({_fmt(se, digits)})" if math.isfinite(se) else ""
                lo, hi = float(r["ci_low"]), float(r["ci_high"])
                if math.isfinite(lo) or math.isfinite(hi):
                    frame.loc[(t, f"{mt} {ci_label}"), lb] = f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"
                frame.loc[(t, f"{mt} p"), lb] = _fmt_p(float(r["p_value"]), digits)
        n_obs = tab["n_obs"].iloc[0]
        n_cl = tab["n_clusters"].iloc[0]
        frame.loc[("", "N"), lb] = f"{int(n_obs):,}" if pd.notna(n_obs) else ""
        frame.loc[("", "clusters"), lb] = f"{int(n_cl)}" if pd.notna(n_cl) else ""

    notes = [f"Estimate, then per method: standard error in parentheses (analytic methods), {ci_label}, "
             "p-value of H0: effect = null"]
    if len(ci_names) > 0:
        notes.append("models have different confidence levels: see each model")
    nulls = sorted({float(v) for v in long["null"].dropna()}) if "null" in long else []
    if len(nulls) > 1:
        notes.append(f"models test different nulls: {nulls}")
    if stars:
        notes.append(f"* p < 0.1, ** p < 0.05, *** p < 0.01 ({methods[0]})")
    return ModelTable(long=long, frame=frame, notes=notes)
