"""Qualitative Comparative Analysis (crisp and fuzzy sets).

* :func:`calibrate` — direct method of calibration (Ragin 2008): log-odds of membership rise linearly from
  the crossover to ``± ln(idm / (1 - idm))`` at the inclusion / exclusion anchors (logistic curve);
  :func:`crisp` for crisp sets.
* :func:`truth_table` — each case belongs to the corner of the property space where its membership is
  above 0.5; for every row: number of cases, sufficiency inclusion (consistency) ``Σmin(X,Y)/ΣX``, PRI
  ``(Σmin(X,Y) - Σmin(X,Y,~Y)) / (ΣX - Σmin(X,Y,~Y))`` and the output code (``"1"``, ``"0"`` or ``"?"``
  for logical remainders).
* :func:`necessity` — consistency ``Σmin(X,Y)/ΣY``, coverage ``Σmin(X,Y)/ΣX`` and relevance of necessity
  ``Σ(1-X) / Σ(1 - min(X,Y))`` (Schneider & Wagemann 2012).
* :func:`minimize` — exact Boolean minimisation (Quine-McCluskey prime implicants and all minimum covers of
  the prime-implicant chart) to the conservative (``include=""``), parsimonious (``include="?"``) and, with
  directional expectations, intermediate solutions (Ragin & Sonnett 2005: each conservative term keeps the
  literals of a parsimonious term that contains it plus its own literals that agree with the expectations
  or have none).

Hand-written (no maintained Python QCA library); formulas as in Ragin (2008) and Duşa (2019).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from welfare_eval._results import ResultBase

__all__ = [
    "LimitedDiversityWarning",
    "NecessityResult",
    "QCASolution",
    "TruthTable",
    "calibrate",
    "crisp",
    "minimize",
    "necessity",
    "term_string",
    "truth_table",
]

MAX_CONDITIONS = 12
#: Share of logical remainders above which a warning is given.
REMAINDER_WARN_SHARE = 0.5

Term = tuple[tuple[str, int], ...]  # ((condition, 1 = present / 0 = absent), ...), in condition order


class LimitedDiversityWarning(UserWarning):
    """Most configurations of the truth table are logical remainders."""


# --------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------
def calibrate(
    x: Any,
    *,
    exclusion: float,
    crossover: float,
    inclusion: float,
    idm: float = 0.95,
) -> Any:
    """Direct calibration of a raw variable into fuzzy-set membership (logistic, Ragin 2008).

    Parameters
    ----------
    x : array-like or Series
        Raw values (NaN stays NaN).
    exclusion, crossover, inclusion : float
        Anchors of full non-membership, maximal ambiguity (0.5) and full membership. ``exclusion >
        inclusion`` calibrates a set whose membership falls with ``x`` (e.g. cabinet turnover).
    idm : float
        Membership at the inclusion anchor (``1 - idm`` at the exclusion anchor); 0.95 by default.

    Returns
    -------
    Same kind as ``x`` (Series keeps its index) with memberships in (0, 1).
    """
    if not (min(exclusion, inclusion) < crossover < max(exclusion, inclusion)):
        raise ValueError(
            f"calibrate: crossover {crossover} must lie strictly between exclusion {exclusion} and "
            f"inclusion {inclusion}"
        )
    if not 0.5 < idm < 1:
        raise ValueError(f"calibrate: idm must be in (0.5, 1) (got {idm})")
    arr = np.asarray(x, dtype=float)
    lo = np.log(idm / (1 - idm))
    dev = arr - crossover
    towards_inclusion = dev * (inclusion - crossover) >= 0
    logodds = np.where(
        towards_inclusion, dev * lo / (inclusion - crossover), dev * lo / (crossover - exclusion)
    )
    out = expit(logodds)
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    return out


def crisp(x: Any, *, threshold: float, above: bool = True, inclusive: bool = True) -> Any:
    """Crisp-set calibration: 1 if ``x >= threshold`` (``above``, ``inclusive``), ``x > threshold``
    (``inclusive=False``), ``x <= threshold`` or ``x < threshold`` (``above=False``); NaN stays NaN."""
    arr = np.asarray(x, dtype=float)
    if above:
        hit = arr >= threshold if inclusive else arr > threshold
    else:
        hit = arr <= threshold if inclusive else arr < threshold
    out = np.where(np.isnan(arr), np.nan, hit.astype(float))
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    return out


# --------------------------------------------------------------------------------------------------
# Set-theoretic measures
# --------------------------------------------------------------------------------------------------
def _membership(data: pd.DataFrame, term: Term) -> np.ndarray:
    m = np.ones(len(data))
    for cond, val in term:
        x = data[cond].to_numpy(dtype=float)
        m = np.minimum(m, x if val == 1 else 1.0 - x)
    return m


def _suff(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(inclusion, PRI, coverage) of X as sufficient for Y."""
    sx, sy = x.sum(), y.sum()
    xy = np.minimum(x, y).sum()
    xyny = np.minimum(np.minimum(x, y), 1 - y).sum()
    incl = xy / sx if sx > 0 else np.nan
    pri = (xy - xyny) / (sx - xyny) if sx - xyny > 0 else np.nan
    cov = xy / sy if sy > 0 else np.nan
    return float(incl), float(pri), float(cov)


def term_string(term: Term) -> str:
    """``DEV*~URB*LIT`` notation (``~`` for absence, ``*`` for AND); the empty term is ``1``."""
    if not term:
        return "1"
    return "*".join(c if v == 1 else f"~{c}" for c, v in term)


def _check_memberships(data: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"QCA: column(s) {missing} not found in data")
    d = data[list(cols)].apply(pd.to_numeric, errors="coerce")
    for c in cols:
        if d[c].isna().any():
            raise ValueError(f"QCA: column {c!r} has missing or non-numeric values; calibrate or drop those cases")
        if ((d[c] < 0) | (d[c] > 1)).any():
            raise ValueError(f"QCA: column {c!r} is not a set membership in [0, 1]; calibrate it first")
    return d


# --------------------------------------------------------------------------------------------------
# Truth table
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class TruthTable(ResultBase):
    """Truth table of ``outcome`` on ``conditions``.

    Attributes
    ----------
    table : DataFrame
        One row per configuration (2^k rows, row id ``row`` = binary number of the conditions + 1): the
        conditions (0/1), ``OUT`` (``"1"``, ``"0"`` or ``"?"``), ``n``, ``incl``, ``PRI``, ``cov`` (raw
        coverage of the outcome by the configuration), ``cases``.
    data : DataFrame
        Memberships of the cases in the conditions and the outcome.
    """

    outcome: str
    conditions: list[str]
    table: pd.DataFrame
    data: pd.DataFrame
    incl_cut: float
    n_cut: int
    pri_cut: float
    ambiguous_cases: list[str]
    title: str = field(default="Truth table", init=False)

    @property
    def n_remainders(self) -> int:
        return int((self.table["OUT"] == "?").sum())

    @property
    def remainder_share(self) -> float:
        return self.n_remainders / len(self.table)

    def tidy(self, *, remainders: bool = False) -> pd.DataFrame:
        """Observed configurations (``remainders=True`` adds the logical remainders)."""
        t = self.table if remainders else self.table[self.table["n"] >= 1]
        return t.sort_values(["OUT", "incl"], ascending=[False, False], kind="mergesort").copy()

    def notes(self) -> list[str]:
        k = len(self.conditions)
        out = [
            f"{len(self.data)} cases, {k} conditions, {2**k} configurations; OUT = 1 when incl >= {self.incl_cut}"
            + (f" and PRI >= {self.pri_cut}" if self.pri_cut > 0 else "")
            + f"; rows with fewer than {self.n_cut} case(s) are logical remainders (?)",
            f"{self.n_remainders} of {2**k} configurations ({100 * self.remainder_share:.0f}%) are logical "
            "remainders",
        ]
        if self.remainder_share > REMAINDER_WARN_SHARE:
            out.append(
                "limited diversity: most configurations are unobserved, so the parsimonious and intermediate "
                "solutions rest mainly on assumptions about remainders; report the conservative solution too"
            )
        if self.ambiguous_cases:
            out.append(f"cases with a membership of exactly 0.5 belong to no row: {', '.join(self.ambiguous_cases)}")
        return out


def truth_table(
    data: pd.DataFrame,
    *,
    outcome: str,
    conditions: Sequence[str],
    incl_cut: float = 1.0,
    n_cut: int = 1,
    pri_cut: float = 0.0,
    neg_out: bool = False,
) -> TruthTable:
    """Build the truth table of calibrated (crisp or fuzzy) data.

    Parameters
    ----------
    data : DataFrame
        One row per case (the index names the cases); set memberships in [0, 1].
    outcome : str
        Outcome set.
    conditions : sequence of str
        Condition sets (at most 12).
    incl_cut : float
        Minimum sufficiency inclusion for ``OUT = "1"``.
    n_cut : int
        Rows with fewer cases are logical remainders.
    pri_cut : float
        Minimum PRI for ``OUT = "1"``.
    neg_out : bool
        Analyse the negation of the outcome (membership ``1 - Y``; the outcome is then named ``~Y``).

    Warns
    -----
    LimitedDiversityWarning
        When more than half of the configurations are logical remainders.
    """
    conditions = list(conditions)
    k = len(conditions)
    if k == 0 or k > MAX_CONDITIONS:
        raise ValueError(f"truth_table: use 1 to {MAX_CONDITIONS} conditions (got {k})")
    if outcome in conditions:
        raise ValueError("truth_table: the outcome must not be one of the conditions")
    if n_cut < 1:
        raise ValueError("truth_table: n_cut must be at least 1")
    d = _check_memberships(data, [*conditions, outcome])
    d.index = data.index.astype(str)
    if neg_out:
        d = d.assign(**{outcome: 1.0 - d[outcome]}).rename(columns={outcome: f"~{outcome}"})
        outcome = f"~{outcome}"
    x = d[conditions].to_numpy(dtype=float)
    y = d[outcome].to_numpy(dtype=float)
    ambiguous = list(d.index[(x == 0.5).any(axis=1)])
    bits = (x > 0.5).astype(int)
    case_row = bits @ (1 << np.arange(k - 1, -1, -1))
    case_row[(x == 0.5).any(axis=1)] = -1
    rows = []
    for r in range(2**k):
        combo = [(r >> (k - 1 - j)) & 1 for j in range(k)]
        term: Term = tuple(zip(conditions, combo, strict=True))
        m = _membership(d, term)
        incl, pri, cov = _suff(m, y)
        members = d.index[case_row == r]
        n = len(members)
        if n < n_cut:
            out = "?"
        else:
            out = "1" if incl >= incl_cut - 1e-12 and (pri_cut <= 0 or pri >= pri_cut - 1e-12) else "0"
        rows.append({"row": r + 1, **dict(zip(conditions, combo, strict=True)), "OUT": out, "n": n,
                     "incl": incl, "PRI": pri, "cov": cov, "cases": ",".join(members)})
    table = pd.DataFrame(rows)
    tt = TruthTable(outcome, conditions, table, d, incl_cut, n_cut, pri_cut, ambiguous)
    if tt.remainder_share > REMAINDER_WARN_SHARE:
        warnings.warn(
            f"truth_table: {tt.n_remainders} of {2**k} configurations are logical remainders "
            f"({len(d)} cases, {k} conditions); solutions that use remainders rest on assumptions",
            LimitedDiversityWarning,
            stacklevel=2,
        )
    return tt


# --------------------------------------------------------------------------------------------------
# Necessity
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class NecessityResult(ResultBase):
    """Necessity of each condition (and its negation) for the outcome."""

    table: pd.DataFrame
    outcome: str
    title: str = field(default="Analysis of necessity", init=False)

    def tidy(self) -> pd.DataFrame:
        return self.table.copy()

    def notes(self) -> list[str]:
        return [
            f"outcome {self.outcome}: inclN = Σmin(X,Y)/ΣY, RoN = Σ(1-X)/Σ(1-min(X,Y)), covN = Σmin(X,Y)/ΣX; "
            "a necessary condition usually needs inclN >= 0.9 and a RoN well above 0.5 (not trivial)"
        ]


def necessity(
    data: pd.DataFrame, *, outcome: str, conditions: Sequence[str], negations: bool = True
) -> NecessityResult:
    """Consistency (inclN), relevance (RoN) and coverage (covN) of each condition as necessary."""
    conditions = list(conditions)
    d = _check_memberships(data, [*conditions, outcome])
    y = d[outcome].to_numpy(dtype=float)
    rows = []
    for c in conditions:
        for val in (1, 0) if negations else (1,):
            x = d[c].to_numpy(dtype=float)
            x = x if val == 1 else 1 - x
            xy = np.minimum(x, y)
            rows.append(
                {
                    "condition": term_string(((c, val),)),
                    "inclN": float(xy.sum() / y.sum()) if y.sum() > 0 else np.nan,
                    "RoN": float((1 - x).sum() / (1 - xy).sum()) if (1 - xy).sum() > 0 else np.nan,
                    "covN": float(xy.sum() / x.sum()) if x.sum() > 0 else np.nan,
                }
            )
    return NecessityResult(pd.DataFrame(rows), outcome)


# --------------------------------------------------------------------------------------------------
# Quine-McCluskey
# --------------------------------------------------------------------------------------------------
Cube = tuple[int, int]  # (values, care-mask) over k bits; bit j (from the left) = condition j


def _prime_implicants(on: set[int], dc: set[int], k: int) -> set[Cube]:
    """Prime implicants of the function that is 1 on ``on`` and free on ``dc`` (Quine-McCluskey)."""
    full = (1 << k) - 1
    current: set[Cube] = {(m, full) for m in on | dc}
    primes: set[Cube] = set()
    while current:
        merged: set[Cube] = set()
        used: set[Cube] = set()
        by_mask: dict[int, list[Cube]] = {}
        for c in current:
            by_mask.setdefault(c[1], []).append(c)
        for mask, cubes in by_mask.items():
            vals = {c[0] for c in cubes}
            for v in vals:
                b = mask
                while b:
                    low = b & -b
                    b ^= low
                    if v & low == 0 and (v | low) in vals:
                        merged.add((v, mask & ~low))
                        used.add((v, mask))
                        used.add((v | low, mask))
        primes |= current - used
        current = merged
    return primes


def _covers(cube: Cube, m: int) -> bool:
    return (m & cube[1]) == (cube[0] & cube[1])


def _minimum_covers(primes: list[Cube], on: list[int], *, max_models: int = 64) -> list[list[Cube]]:
    """All covers of ``on`` with the fewest prime implicants.

    Essential prime implicants first; prime implicants whose coverage of the remaining configurations is a
    proper subset of another's are dropped (column dominance, as in the QCA package's default); then an
    exact branch-and-bound search (branch on the uncovered configuration with the fewest candidates) collects
    every minimum cover.
    """
    cover_sets = [frozenset(i for i, m in enumerate(on) if _covers(p, m)) for p in primes]
    need = frozenset(range(len(on)))
    essential: set[int] = set()
    for i in need:
        who = [j for j, s in enumerate(cover_sets) if i in s]
        if not who:
            raise RuntimeError("minimize: a positive configuration is covered by no prime implicant")
        if len(who) == 1:
            essential.add(who[0])
    covered = frozenset().union(*(cover_sets[j] for j in essential)) if essential else frozenset()
    rest = need - covered
    if not rest:
        return [[primes[j] for j in sorted(essential)]]
    cand = [j for j in range(len(primes)) if j not in essential and cover_sets[j] & rest]
    cand = [
        j for j in cand
        if not any((cover_sets[j] & rest) < (cover_sets[i] & rest) for i in cand if i != j)
    ]
    best: list[int] = [len(cand) + 1]
    found: set[frozenset[int]] = set()
    widest = max(len(cover_sets[j] & rest) for j in cand)

    def search(todo: frozenset[int], chosen: tuple[int, ...]) -> None:
        if not todo:
            if len(chosen) < best[0]:
                best[0] = len(chosen)
                found.clear()
            found.add(frozenset(chosen))
            return
        if len(chosen) + -(-len(todo) // widest) > best[0]:
            return
        pivot = min(todo, key=lambda e: (sum(1 for j in cand if e in cover_sets[j]), e))
        for j in cand:
            if pivot in cover_sets[j] and j not in chosen:
                search(todo - cover_sets[j], (*chosen, j))

    search(rest, ())
    models = sorted(sorted(essential | set(c)) for c in found)
    return [[primes[j] for j in m] for m in models[:max_models]]


def _cube_to_term(cube: Cube, conditions: list[str]) -> Term:
    k = len(conditions)
    out = []
    for j, c in enumerate(conditions):
        bit = 1 << (k - 1 - j)
        if cube[1] & bit:
            out.append((c, 1 if cube[0] & bit else 0))
    return tuple(out)


def _term_to_cube(term: Term, conditions: list[str]) -> Cube:
    k = len(conditions)
    v = mask = 0
    for c, val in term:
        bit = 1 << (k - 1 - conditions.index(c))
        mask |= bit
        if val:
            v |= bit
    return v, mask


def _row_code(row: pd.Series, conditions: list[str]) -> int:
    k = len(conditions)
    return int(sum(int(row[c]) << (k - 1 - j) for j, c in enumerate(conditions)))


@dataclass(repr=False)
class QCASolution(ResultBase):
    """A minimised QCA solution (one or more equally short models).

    Attributes
    ----------
    models : list of list of Term
        Each model is a disjunction of terms; a term is a tuple of ``(condition, 1|0)``.
    kind : str
        ``"conservative"``, ``"parsimonious"`` or ``"intermediate"``.
    remainders_used : list of int
        Truth-table row ids of the logical remainders the solution covers (simplifying assumptions).
    """

    truth_table: TruthTable
    models: list[list[Term]]
    kind: str
    remainders_used: list[int]
    dir_exp: dict[str, int | None] | None = None
    title: str = field(default="QCA solution", init=False)

    def __post_init__(self) -> None:
        self.title = f"QCA {self.kind} solution for {self.truth_table.outcome}"

    def solution_strings(self) -> list[str]:
        """Each model as ``A*B + ~C*D``."""
        return [" + ".join(term_string(t) for t in m) for m in self.models]

    def model_fit(self, model: int = 0) -> dict[str, float]:
        """Solution consistency (incl), PRI and coverage of a model (membership = max over its terms)."""
        d = self.truth_table.data
        y = d[self.truth_table.outcome].to_numpy(dtype=float)
        ms = [_membership(d, t) for t in self.models[model]]
        sol = np.max(ms, axis=0) if ms else np.zeros(len(d))
        incl, pri, cov = _suff(sol, y)
        return {"incl": incl, "PRI": pri, "cov": cov}

    def tidy(self) -> pd.DataFrame:
        """One row per term of each model: incl, PRI, raw and unique coverage, covered cases."""
        d = self.truth_table.data
        y = d[self.truth_table.outcome].to_numpy(dtype=float)
        rows = []
        for mi, model in enumerate(self.models):
            ms = [_membership(d, t) for t in model]
            fit = self.model_fit(mi)
            for ti, t in enumerate(model):
                incl, pri, cov = _suff(ms[ti], y)
                others = [m for j, m in enumerate(ms) if j != ti]
                without = np.max(others, axis=0) if others else np.zeros(len(d))
                uniq = (np.minimum(np.maximum(without, ms[ti]), y).sum() - np.minimum(without, y).sum()) / y.sum()
                rows.append(
                    {
                        "model": mi + 1,
                        "solution": self.solution_strings()[mi],
                        "term": term_string(t),
                        "incl": incl,
                        "PRI": pri,
                        "cov_raw": cov,
                        "cov_unique": float(uniq),
                        "cases": ",".join(d.index[ms[ti] > 0.5]),
                        "solution_incl": fit["incl"],
                        "solution_cov": fit["cov"],
                    }
                )
        return pd.DataFrame(rows)

    def plot(self, ax: Any = None, *, model: int = 0, **kwargs: Any) -> Any:
        """XY plot: membership in the solution (x) against the outcome (y), with the diagonal."""
        import matplotlib.pyplot as plt

        d = self.truth_table.data
        ms = [_membership(d, t) for t in self.models[model]]
        sol = np.max(ms, axis=0)
        y = d[self.truth_table.outcome].to_numpy(dtype=float)
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter(sol, y, **kwargs)
        for name, a, b in zip(d.index, sol, y, strict=True):
            ax.annotate(str(name), (a, b), fontsize=7, xytext=(2, 2), textcoords="offset points")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.axhline(0.5, color="grey", lw=0.5, ls=":")
        ax.axvline(0.5, color="grey", lw=0.5, ls=":")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(self.solution_strings()[model])
        ax.set_ylabel(self.truth_table.outcome)
        fit = self.model_fit(model)
        ax.set_title(f"incl {fit['incl']:.2f}, cov {fit['cov']:.2f}")
        return ax

    def notes(self) -> list[str]:
        out = [f"M{i + 1}: {s}" for i, s in enumerate(self.solution_strings())]
        if self.remainders_used:
            out.append(
                f"{len(self.remainders_used)} logical remainder(s) used as simplifying assumptions "
                f"(truth-table rows {', '.join(map(str, self.remainders_used))})"
            )
        if self.dir_exp:
            out.append(
                "directional expectations: "
                + ", ".join(f"{c}={'-' if v is None else v}" for c, v in self.dir_exp.items())
            )
        out += [n for n in self.truth_table.notes() if n.startswith("limited diversity")]
        return out


def _parse_dir_exp(dir_exp: Mapping[str, Any] | Sequence[Any] | str, conditions: list[str]) -> dict[str, int | None]:
    if isinstance(dir_exp, str):
        dir_exp = [s.strip() for s in dir_exp.split(",")]
    if not isinstance(dir_exp, Mapping):
        vals = list(dir_exp)
        if len(vals) != len(conditions):
            raise ValueError(f"minimize: dir_exp has {len(vals)} values for {len(conditions)} conditions")
        dir_exp = dict(zip(conditions, vals, strict=True))
    unknown = set(dir_exp) - set(conditions)
    if unknown:
        raise ValueError(f"minimize: dir_exp names unknown condition(s) {sorted(unknown)}")
    out: dict[str, int | None] = {}
    for c in conditions:
        v = dir_exp.get(c, "-")
        if v in (1, "1", True):
            out[c] = 1
        elif v in (0, "0", False):
            out[c] = 0
        elif v in ("-", None, ""):
            out[c] = None
        else:
            raise ValueError(f"minimize: directional expectation {v!r} for {c!r}; use 1, 0 or '-'")
    return out


def minimize(
    tt: TruthTable,
    *,
    include: str = "",
    dir_exp: Mapping[str, Any] | Sequence[Any] | str | None = None,
    max_models: int = 64,
) -> QCASolution:
    """Boolean minimisation of the positive configurations of a truth table.

    Parameters
    ----------
    tt : TruthTable
    include : str
        ``""`` for the conservative (complex) solution; ``"?"`` to let logical remainders be simplifying
        assumptions (parsimonious solution, or intermediate with ``dir_exp``).
    dir_exp : mapping, sequence or str, optional
        Directional expectations per condition: 1 (presence contributes), 0 (absence contributes) or "-"
        (no expectation); e.g. ``{"DEV": 1, "STB": 1}`` or ``"1,1,-,1,1"``. Requires ``include="?"``.
    max_models : int
        At most this many equally short models are returned.
    """
    if include not in ("", "?"):
        raise ValueError(f"minimize: include must be '' or '?' (got {include!r})")
    if dir_exp is not None and include != "?":
        raise ValueError("minimize: directional expectations need include='?' (intermediate solution)")
    conds = tt.conditions
    t = tt.table
    on = sorted(_row_code(r, conds) for _, r in t[t["OUT"] == "1"].iterrows())
    if not on:
        raise ValueError("minimize: no configuration has OUT = 1; lower incl_cut or check the outcome")
    rem = {_row_code(r, conds) for _, r in t[t["OUT"] == "?"].iterrows()}
    row_id = {_row_code(r, conds): int(r["row"]) for _, r in t.iterrows()}

    def used(models: list[list[Cube]]) -> list[int]:
        hit = {m for model in models for c in model for m in rem if _covers(c, m)}
        return sorted(row_id[m] for m in hit)

    cons_primes = sorted(_prime_implicants(set(on), set(), len(conds)))
    cons = _minimum_covers(cons_primes, on, max_models=max_models)
    if include == "":
        models = [[_cube_to_term(c, conds) for c in m] for m in cons]
        return QCASolution(tt, _sorted_models(models, conds), "conservative", [])
    pars_primes = sorted(_prime_implicants(set(on), rem, len(conds)))
    pars = _minimum_covers(pars_primes, on, max_models=max_models)
    if dir_exp is None:
        models = [[_cube_to_term(c, conds) for c in m] for m in pars]
        return QCASolution(tt, _sorted_models(models, conds), "parsimonious", used(pars))
    de = _parse_dir_exp(dir_exp, conds)
    k = len(conds)
    # Ragin & Sonnett: for every conservative prime C and parsimonious prime P with C ⊆ P keep P's literals
    # and those of C's literals that agree with the expectation or have none.
    pars_terms = {c for m in pars for c in m}
    cand: set[Cube] = set()
    for c in {c for m in cons for c in m}:
        for p in pars_terms:
            if (c[1] & p[1]) != p[1] or (c[0] & p[1]) != (p[0] & p[1]):
                continue  # C is not a subset of P
            v, mask = p[0] & p[1], p[1]
            for j, cond in enumerate(conds):
                bit = 1 << (k - 1 - j)
                if c[1] & bit and not p[1] & bit:
                    val = 1 if c[0] & bit else 0
                    if de[cond] is None or de[cond] == val:
                        mask |= bit
                        v |= bit if val else 0
            cand.add((v, mask))
    # keep the most general candidates (a candidate inside another one adds nothing)
    def inside(a: Cube, b: Cube) -> bool:
        return a != b and (a[1] & b[1]) == b[1] and (a[0] & b[1]) == (b[0] & b[1])

    cand_l = sorted(c for c in cand if not any(inside(c, o) for o in cand))
    inter = _minimum_covers(cand_l, on, max_models=max_models)
    models = [[_cube_to_term(c, conds) for c in m] for m in inter]
    return QCASolution(tt, _sorted_models(models, conds), "intermediate", used(inter), dir_exp=de)


def _sorted_models(models: list[list[Term]], conds: list[str]) -> list[list[Term]]:
    def key(t: Term) -> tuple[int, list[tuple[int, int]]]:
        return (len(t), [(conds.index(c), -v) for c, v in t])

    out = [sorted(m, key=key) for m in models]
    return sorted(out, key=lambda m: [key(t) for t in m])
