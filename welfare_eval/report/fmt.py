"""The report's formatting rules, in one place: every table, sentence and figure axis formats numbers here.

Rules
-----
* **Units decide the rounding.** Each quantity has a unit (:data:`UNITS`, or the ``scale`` column of an
  impact table): ``share`` (a 0/1 proportion) is shown as a percentage with one decimal and a *change* in a
  share in **percentage points** (never "%"); ``baht`` with no decimals; ``percent`` (already 0–100) with
  one decimal; ``index`` and ``mean_count`` with two decimals; ``count`` as a whole number; ``years`` with
  one decimal; ``ratio`` (SMD, variance ratio, KS, reliability) with two decimals.
* **Degrees of freedom**: whole numbers without decimals (``17``), Satterthwaite-type fractional df with
  one (``13.4``) (:func:`df`).
* **p-values**: three decimals, ``< 0.001`` below 0.001 (:func:`p_value`).
* **Typography**: the minus sign is U+2212 (``−``), which never starts a new line; an interval is
  ``[lo, hi]`` with a no-break space after the comma, so it never wraps inside (:func:`interval`); thousands
  separators everywhere (``262,144``).

Figures use :func:`axis_formatter` so their tick labels follow the same rules.

Examples
--------
>>> number(0.1066, "share", change=True)
'10.7'
>>> interval(-2559.13, 3616.2, "baht")
'[−2,559,\\xa03,616]'
>>> df(17.0), df(13.3947)
('17', '13.4')
>>> p_value(0.00014)
'<\\xa00.001'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

__all__ = [
    "MINUS",
    "NBSP",
    "UNITS",
    "Unit",
    "axis_formatter",
    "count",
    "date",
    "date_range",
    "decimals",
    "df",
    "estimate_ci",
    "factor",
    "interval",
    "is_missing",
    "number",
    "p_value",
    "percent",
    "unit_of",
    "unit_suffix",
    "unit_word",
]

Unit = Literal["share", "percent", "baht", "index", "mean_count", "count", "years", "ratio", "number"]
Lang = Literal["th", "en"]

MINUS = "\u2212"
NBSP = "\u00a0"

#: Unit of each quantity the report shows (household outcomes, village covariates, savings-group records).
UNITS: Mapping[str, Unit] = {
    # household outcomes
    "any_welfare": "share",
    "coped": "share",
    "health_coping": "share",
    "member_savings_group": "share",
    "member_welfare_fund": "share",
    "member_village_fund": "share",
    "n_welfare_types": "mean_count",
    "welfare_amount": "baht",
    "savings": "baht",
    "debt": "baht",
    "qol_index": "index",
    "self_reliance_index": "index",
    # savings-group records
    "welfare_share": "percent",
    "welfare_payout_per_member": "baht",
    # village covariates
    "mean_income": "baht",
    "share_elderly": "share",
    "share_farm": "share",
    "sg_age": "years",
    "sg_members": "count",
    "sg_savings": "baht",
    "n_households": "count",
}

_DECIMALS: Mapping[str, int] = {
    "share": 1,
    "percent": 1,
    "baht": 0,
    "index": 2,
    "mean_count": 2,
    "count": 0,
    "years": 1,
    "ratio": 2,
    "number": 2,
}


def unit_of(name: str, scale: str | None = None) -> Unit:
    """The unit of a quantity: ``received_<type>`` and ``scale="proportion"`` are shares; else :data:`UNITS`."""
    if scale == "proportion" or name.startswith("received_"):
        return "share"
    return UNITS.get(name, "number")


def factor(unit: str) -> float:
    """Multiplier from the data scale to the display scale (100 for shares, else 1)."""
    return 100.0 if unit == "share" else 1.0


def decimals(unit: str) -> int:
    """Decimals shown for a unit."""
    return _DECIMALS.get(unit, 2)


def is_missing(x: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``pd.NaT``."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return bool(isinstance(x, float | int) and math.isnan(float(x)))
    except (TypeError, ValueError):
        return False


def _plain(v: float, places: int, *, thousands: bool = True, signed: bool = False) -> str:
    text = f"{abs(v):{',' if thousands else ''}.{places}f}"
    zero = float(text.replace(",", "")) == 0.0
    if v < 0 and not zero:
        return MINUS + text
    if signed and v > 0 and not zero:
        return "+" + text
    return text


def number(
    x: Any,
    unit: str = "number",
    *,
    change: bool = False,
    signed: bool = False,
    places: int | None = None,
    na: str = "—",
) -> str:
    """One value on its display scale (shares ×100), rounded by unit; ``na`` when missing.

    ``change`` only documents intent (a change in a share is in percentage points: same digits, another
    unit word, see :func:`unit_suffix`); ``signed`` adds ``+`` to positive values; ``places`` overrides the
    unit's decimals.
    """
    del change  # the digits of a level and of a change are the same; the unit word differs
    if isinstance(x, str):
        return x
    if is_missing(x):
        return na
    v = float(x)
    if math.isinf(v):
        return "∞" if v > 0 else MINUS + "∞"
    return _plain(v * factor(unit), decimals(unit) if places is None else places, signed=signed)


def interval(lo: Any, hi: Any, unit: str = "number", *, places: int | None = None, na: str = "—") -> str:
    """``[lo, hi]`` on the display scale with a no-break space after the comma (never wraps inside)."""
    if is_missing(lo) or is_missing(hi):
        return na
    return f"[{number(lo, unit, places=places)},{NBSP}{number(hi, unit, places=places)}]"


def estimate_ci(est: Any, lo: Any, hi: Any, unit: str = "number", *, places: int | None = None) -> str:
    """``estimate [lo, hi]`` (the space before the bracket may break, the interval may not)."""
    return f"{number(est, unit, places=places)} {interval(lo, hi, unit, places=places)}"


def df(x: Any, *, na: str = "—") -> str:
    """Degrees of freedom: whole numbers without decimals, fractional (Satterthwaite) df with one."""
    if is_missing(x):
        return na
    v = float(x)
    if math.isinf(v):
        return "∞"
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def p_value(p: Any, *, digits: int = 3, na: str = "—") -> str:
    """``"< 0.001"`` (no-break space) below ``10**-digits``, else ``digits`` decimals.

    Raises
    ------
    ValueError
        If ``p`` is not in [0, 1].
    """
    if isinstance(p, str):
        return p
    if is_missing(p):
        return na
    v = float(p)
    if not 0.0 <= v <= 1.0 + 1e-12:
        raise ValueError(f"p_value: {v} is not a probability")
    floor = 10.0**-digits
    if v < floor:
        return f"<{NBSP}{floor:.{digits}f}"
    return f"{min(v, 1.0):.{digits}f}"


def date(iso: Any, *, na: str = "—") -> str:
    """An ISO date (``2023-02-01``) that never breaks across lines (non-breaking hyphens)."""
    if iso is None or is_missing(iso) or not str(iso).strip():
        return na
    return str(iso)[:10].replace("-", "\u2011")


def date_range(start: Any, end: Any, *, na: str = "—") -> str:
    """``start – end``, each date unbreakable; the line may break after the dash only."""
    if is_missing(start) and is_missing(end):
        return na
    return f"{date(start)}{NBSP}– {date(end)}"


def count(n: Any, *, na: str = "—") -> str:
    """A whole number with thousands separators (``262,144``)."""
    if isinstance(n, str):
        return n
    if is_missing(n):
        return na
    return _plain(float(n), 0)


def percent(x: Any, *, places: int = 1, na: str = "—") -> str:
    """A proportion (0–1) as a percentage: ``0.9537 → "95.4%"``."""
    if is_missing(x):
        return na
    return f"{_plain(100.0 * float(x), places)}%"


_SUFFIX: Mapping[tuple[str, bool, str], str] = {
    ("share", False, "th"): "%",
    ("share", False, "en"): "%",
    ("share", True, "th"): f"{NBSP}จุดร้อยละ",
    ("share", True, "en"): f"{NBSP}percentage points",
    ("percent", False, "th"): "%",
    ("percent", False, "en"): "%",
    ("percent", True, "th"): f"{NBSP}จุดร้อยละ",
    ("percent", True, "en"): f"{NBSP}percentage points",
    ("baht", False, "th"): f"{NBSP}บาท",
    ("baht", True, "th"): f"{NBSP}บาท",
    ("baht", False, "en"): f"{NBSP}baht",
    ("baht", True, "en"): f"{NBSP}baht",
    ("index", True, "th"): f"{NBSP}คะแนน",
    ("index", True, "en"): f"{NBSP}points",
    ("years", False, "th"): f"{NBSP}ปี",
    ("years", True, "th"): f"{NBSP}ปี",
    ("years", False, "en"): f"{NBSP}years",
    ("years", True, "en"): f"{NBSP}years",
}


def unit_suffix(unit: str, *, change: bool = False, lang: Lang = "th") -> str:
    """What follows a number of this unit in a sentence (``"%"``, ``" จุดร้อยละ"``, ``" บาท"``, or nothing)."""
    return _SUFFIX.get((unit, change, lang), "")


def unit_word(unit: str, *, change: bool = False, lang: Lang = "th") -> str:
    """The unit as a column or axis label (``"จุดร้อยละ"``, ``"%"``, ``"บาท"``; empty when unitless)."""
    return unit_suffix(unit, change=change, lang=lang).strip(NBSP + " ")


def axis_formatter(unit: str) -> Any:
    """A matplotlib tick formatter for values already on the display scale, following the table rules:
    baht with thousands separators and no decimals; shares and percentages as ``12`` or ``12.5``; other units
    with the fewest decimals that tell the ticks apart (matplotlib's default), with the U+2212 minus."""
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    if unit == "baht":
        return FuncFormatter(lambda v, _pos: _plain(v, 0))
    if unit in ("share", "percent", "count"):
        return FuncFormatter(lambda v, _pos: _plain(v, 0 if abs(v - round(v)) < 1e-9 else 1))
    f = ScalarFormatter(useOffset=False)
    f.set_scientific(False)
    return f
