"""Reporting periods: calendar quarters, written in the Buddhist or the Common Era on input, CE stored.

A period is a calendar quarter (Q1 = January–March, ..., Q4 = October–December) of a Common-Era
year. Thai forms usually write the Buddhist-Era year (B.E. = C.E. + 543): ``"2569Q3"`` and
``"2026Q3"`` are the same period, July–September 2026. The era is told by the year itself: 2400–2700
is B.E., 1800–2200 is C.E. (the ranges of :mod:`welfare_eval.clean.thai`), so no input is ambiguous.

Note that the Thai government's fiscal year starts on 1 October; the periods here are calendar
quarters, not fiscal-year quarters (fiscal 2569 Q1 = October–December 2025 = calendar ``2025Q4``).

Examples
--------
>>> p = parse_period("2569Q3")
>>> p, p.label("be"), p.start.isoformat(), p.end.isoformat()
(Period(2026, 3), '2569Q3', '2026-07-01', '2026-09-30')
>>> parse_period("ไตรมาส 3/2569") == parse_period("Q3 2026") == Period(2026, 3)
True
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Literal

from welfare_eval.clean.thai import BE_OFFSET, BE_RANGE, CE_RANGE, normalize_text, thai_to_arabic_digits

__all__ = ["Period", "PeriodError", "parse_period", "period_range"]


class PeriodError(ValueError):
    """A value that is not a reporting period (one-line reason)."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter of a Common-Era year.

    Attributes
    ----------
    year : int
        Common-Era year.
    quarter : int
        1–4.
    """

    year: int
    quarter: int

    def __post_init__(self) -> None:
        if not 1 <= int(self.quarter) <= 4:
            raise PeriodError(f"quarter {self.quarter} is not 1–4")
        if not CE_RANGE[0] <= int(self.year) <= CE_RANGE[1]:
            raise PeriodError(f"year {self.year} is not a Common-Era year ({CE_RANGE[0]}–{CE_RANGE[1]})")

    def __repr__(self) -> str:
        return f"Period({self.year}, {self.quarter})"

    def __str__(self) -> str:
        return self.label()

    @property
    def index(self) -> int:
        """Quarters since year 0 (``year * 4 + quarter - 1``): consecutive periods differ by 1."""
        return self.year * 4 + self.quarter - 1

    @classmethod
    def from_index(cls, index: int) -> Period:
        """The period of an :attr:`index`."""
        return cls(index // 4, index % 4 + 1)

    def shift(self, n: int) -> Period:
        """The period ``n`` quarters later (earlier when negative)."""
        return Period.from_index(self.index + n)

    @property
    def start(self) -> _dt.date:
        """First day of the quarter."""
        return _dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> _dt.date:
        """Last day of the quarter."""
        return self.shift(1).start - _dt.timedelta(days=1)

    def due(self, days: int) -> _dt.date:
        """Due date of the report on this period: ``days`` days after the quarter's end."""
        return self.end + _dt.timedelta(days=int(days))

    def contains(self, day: _dt.date) -> bool:
        """Whether ``day`` falls in the quarter."""
        return self.start <= day <= self.end

    def label(self, era: Literal["ce", "be"] = "ce") -> str:
        """``"2026Q3"`` (C.E.) or ``"2569Q3"`` (B.E.)."""
        y = self.year + (BE_OFFSET if era == "be" else 0)
        return f"{y}Q{self.quarter}"


_PATTERNS = (
    # 2569Q3, 2569 Q3, 2569-Q3, 2569/Q3, 2569q3
    re.compile(r"(?P<y>\d{4})\s*[-/ ]?\s*[Qq]\s*(?P<q>\d)"),
    # Q3/2569, Q3 2569, Q3-2569
    re.compile(r"[Qq]\s*(?P<q>\d)\s*[-/ ]?\s*(?P<y>\d{4})"),
    # ไตรมาส 3/2569, ไตรมาสที่ 3 ปี 2569, ไตรมาส 3 พ.ศ. 2569, 3/2569
    re.compile(r"(?:\u0e44\u0e15\u0e23\u0e21\u0e32\u0e2a(?:\u0e17\u0e35\u0e48)?\s*)?(?P<q>\d)\s*"
               r"(?:[-/]|\u0e1b\u0e35|\u0e1e\.?\u0e28\.?|\s)\s*(?:\u0e1e\.?\u0e28\.?\s*)?(?P<y>\d{4})"),
    # 2569 ไตรมาส 3
    re.compile(r"(?P<y>\d{4})\s*\u0e44\u0e15\u0e23\u0e21\u0e32\u0e2a(?:\u0e17\u0e35\u0e48)?\s*(?P<q>\d)"),
)


def _year_ce(y: int, value: object) -> int:
    if BE_RANGE[0] <= y <= BE_RANGE[1]:
        return y - BE_OFFSET
    if CE_RANGE[0] <= y <= CE_RANGE[1]:
        return y
    raise PeriodError(f"{value!r}: year {y} is neither a Buddhist-Era ({BE_RANGE[0]}–{BE_RANGE[1]}) "
                      f"nor a Common-Era ({CE_RANGE[0]}–{CE_RANGE[1]}) year")


def parse_period(value: object) -> Period:
    """Parse a reporting period written in the B.E. or the C.E.

    Accepted: a :class:`Period`; a ``(year, quarter)`` pair; text such as ``"2569Q3"``, ``"2026Q3"``,
    ``"2569 Q3"``, ``"Q3/2569"``, ``"3/2569"``, ``"ไตรมาส 3/2569"``, ``"ไตรมาสที่ 3 ปี 2569"``, with
    Thai digits allowed. The era is told by the year (2400–2700 B.E., 1800–2200 C.E.).

    Raises
    ------
    PeriodError
        If the value is not a period, the quarter is not 1–4 or the year is implausible.
    """
    if isinstance(value, Period):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        y, q = value
        return Period(_year_ce(int(y), value), int(q))
    if not isinstance(value, str):
        raise PeriodError(f"{value!r} is not a reporting period; write e.g. 2569Q3 (B.E.) or 2026Q3 (C.E.)")
    s = thai_to_arabic_digits(normalize_text(value)).strip()
    for pat in _PATTERNS:
        m = pat.fullmatch(s)
        if m:
            q = int(m.group("q"))
            if not 1 <= q <= 4:
                raise PeriodError(f"{value!r}: quarter {q} is not 1–4")
            return Period(_year_ce(int(m.group("y")), value), q)
    raise PeriodError(f"{value!r} is not a reporting period; write e.g. 2569Q3 (B.E.) or 2026Q3 (C.E.)")


def period_range(first: object, last: object) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive (each parsed by :func:`parse_period`)."""
    a, b = parse_period(first), parse_period(last)
    if b < a:
        raise PeriodError(f"period range {a}–{b} is empty: the last period is before the first")
    return [Period.from_index(i) for i in range(a.index, b.index + 1)]
