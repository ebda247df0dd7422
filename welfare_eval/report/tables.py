"""Publication tables: small-cell suppression (statistical disclosure control) and formatting.

Disclosure rule implemented by :func:`suppress_small_cells`
-----------------------------------------------------------
1. **Primary suppression.** A cell is *sensitive* when the number of respondents behind it is
   ``1 … min_count − 1`` (threshold rule; default ``min_count = 5``). Zero cells are published
   unless ``suppress_zero=True`` (an empty cell discloses nothing about a respondent). Missing counts
   are never sensitive. The count cell and every value column tied to it (means, shares, totals
   computed from those respondents) are replaced by ``marker``.
2. **Complementary (secondary) suppression.** When the table publishes margins — a row of column
   totals (``total_row``) and/or a column of row totals (``total_col``) — a single hidden cell in a
   row or column could be recovered by subtraction. Two passes are repeated until nothing changes:

   a. *line rule*: every row/column line (its inner cells plus its total) must hold either no
      suppressed cell or at least two; a line with exactly one gets a second one: the unsuppressed
      inner cell that also completes another line holding exactly one hidden cell, then the one with
      the smallest positive count (ties broken by row then column label, so the result does not
      depend on row order), else the smallest count, else the line's total;
   b. *exact-recovery audit*: the published margins form linear equations in the hidden cells; a
      hidden cell is exactly recoverable when its unit vector lies in the row space of that system
      (checked with a rank test, :func:`recoverable_cells`). Such a cell gets one more complement in
      a line through it (chosen as in a).

   The result guarantees that no suppressed cell can be computed *exactly* from the published cells
   and margins. It does not bound the *interval* an attacker can derive from non-negativity, and it
   does not minimise information loss; for an official release use dedicated tools (sdcTable,
   τ-ARGUS). Counts behind a statistic table (``value_cols``) are checked the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from welfare_eval.report import fmt

__all__ = [
    "format_number",
    "format_p",
    "format_table",
    "html_table",
    "recoverable_cells",
    "suppress_small_cells",
    "suppression_mask",
]

PUBLISHED, PRIMARY, SECONDARY = 0, 1, 2
_P_NAMES = {"p", "p_value", "pvalue", "p.value", "p_val", "pval", "p_adj", "p_holm", "p_bh", "q_value"}

Cell = tuple[Any, Any]


def _as_list(cols: str | Sequence[str]) -> list[str]:
    return [cols] if isinstance(cols, str) else list(cols)


def _lines(
    df: pd.DataFrame, cols: list[str], total_row: Any, total_col: Any
) -> list[tuple[list[Cell], Cell]]:
    """The additive lines of the table: (inner cells, total cell)."""
    lines: list[tuple[list[Cell], Cell]] = []
    inner_cols = [c for c in cols if c != total_col]
    inner_rows = [r for r in df.index if not (total_row is not None and r == total_row)]
    if total_col is not None:
        for r in df.index:
            lines.append(([(r, c) for c in inner_cols], (r, total_col)))
    if total_row is not None:
        for c in cols:
            lines.append(([(r, c) for r in inner_rows], (total_row, c)))
    return lines


def recoverable_cells(
    counts: pd.DataFrame,
    suppressed: pd.DataFrame,
    *,
    total_row: Any = None,
    total_col: Any = None,
) -> list[Cell]:
    """Suppressed cells that the published cells and margins determine exactly.

    Each row/column line gives one equation ``sum(inner cells) − total = 0``; with the published
    cells moved to the right-hand side it is a linear system ``A x = b`` in the hidden cells ``x``.
    Hidden cell ``j`` is determined iff the unit vector ``e_j`` is in the row space of ``A``, i.e.
    ``rank([A; e_j]) == rank(A)``.

    Parameters
    ----------
    counts : DataFrame
        The count columns (index = row labels).
    suppressed : DataFrame of bool
        Same shape: which cells are hidden.
    total_row, total_col
        Labels of the margin row/column, if published.
    """
    cols = list(counts.columns)
    hidden = [(r, c) for r in counts.index for c in cols if bool(suppressed.loc[r, c])]
    if not hidden:
        return []
    pos = {cell: k for k, cell in enumerate(hidden)}
    rows = []
    for inner, total in _lines(counts, cols, total_row, total_col):
        a = np.zeros(len(hidden))
        for cell in inner:
            if cell in pos:
                a[pos[cell]] += 1.0
        if total in pos:
            a[pos[total]] -= 1.0
        if a.any():
            rows.append(a)
    if not rows:
        return []
    mat = np.vstack(rows)
    rank = np.linalg.matrix_rank(mat)
    out = []
    for cell, k in pos.items():
        e = np.zeros(len(hidden))
        e[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([mat, e])) == rank:
            out.append(cell)
    return out


def suppression_mask(
    df: pd.DataFrame,
    *,
    count_cols: str | Sequence[str],
    min_count: int = 5,
    total_row: Any = None,
    total_col: str | None = None,
    suppress_zero: bool = False,
) -> pd.DataFrame:
    """Which count cells to hide: 0 = published, 1 = primary (too few), 2 = complementary.

    See the module docstring for the rule. Returns an ``int`` DataFrame with ``df``'s index and the
    ``count_cols`` as columns.

    Raises
    ------
    ValueError
        If a column or the total row is missing, a count is negative or not whole, or the index has
        duplicate labels.
    """
    cols = _as_list(count_cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"suppress_small_cells: count column(s) {missing} not in the table; have {list(df.columns)}"
        )
    if total_col is not None and total_col not in cols:
        raise ValueError(f"suppress_small_cells: total_col {total_col!r} must be one of count_cols {cols}")
    if total_row is not None and total_row not in df.index:
        raise ValueError(f"suppress_small_cells: total_row {total_row!r} is not an index label of the table")
    if df.index.has_duplicates:
        raise ValueError(
            "suppress_small_cells: the table's index has duplicate labels; make row labels unique"
        )
    if min_count < 1:
        raise ValueError(f"suppress_small_cells: min_count must be ≥ 1, got {min_count}")
    counts = df[cols].apply(pd.to_numeric, errors="raise").astype(float)
    vals = counts.to_numpy()
    finite = vals[np.isfinite(vals)]
    if (finite < 0).any():
        raise ValueError("suppress_small_cells: counts must be non-negative")
    if (np.abs(finite - np.round(finite)) > 1e-9).any():
        raise ValueError("suppress_small_cells: counts must be whole numbers (respondent counts)")

    mask = pd.DataFrame(PUBLISHED, index=df.index, columns=cols, dtype=int)
    low = 0 if suppress_zero else 1
    primary = counts.ge(low) & counts.lt(min_count)
    mask[primary] = PRIMARY
    if total_row is None and total_col is None:
        return mask

    lines = _lines(counts, cols, total_row, total_col)
    through: dict[Cell, list[int]] = {}
    for k, (inner, total) in enumerate(lines):
        for cell in [*inner, total]:
            through.setdefault(cell, []).append(k)

    def n_hidden(k: int) -> int:
        inner, total = lines[k]
        return sum(bool(mask.at[r, c] != PUBLISHED) for r, c in [*inner, total])

    def sort_key(cell: Cell) -> tuple[int, int, float, str, str]:
        # prefer a cell that also completes another line holding exactly one hidden cell (fewer
        # cascades), then positive counts, then the smallest count, then labels (order-free ties)
        fixes = sum(n_hidden(k) == 1 for k in through.get(cell, []))
        v = counts.loc[cell[0], cell[1]]
        v = math.inf if pd.isna(v) else float(v)
        return (-fixes, 0 if v > 0 else 1, v, str(cell[0]), str(cell[1]))

    def complement(candidates: list[Cell], total: Cell) -> Cell:
        free = [
            c for c in candidates if mask.loc[c[0], c[1]] == PUBLISHED and not pd.isna(counts.loc[c[0], c[1]])
        ]
        if free:
            return min(free, key=sort_key)
        return total

    for _ in range(counts.size + 1):
        changed = False
        for k, (inner, total) in enumerate(lines):
            if n_hidden(k) == 1:
                r, c = complement(inner, total)
                if mask.loc[r, c] == PUBLISHED:
                    mask.loc[r, c] = SECONDARY
                    changed = True
        if changed:
            continue
        exposed = recoverable_cells(counts, mask != PUBLISHED, total_row=total_row, total_col=total_col)
        for cell in exposed:
            options = [complement(*lines[k]) for k in through.get(cell, [])]
            options = [o for o in options if mask.loc[o[0], o[1]] == PUBLISHED]
            if options:
                r, c = min(options, key=sort_key)
                mask.loc[r, c] = SECONDARY
                changed = True
                break  # re-run the cheap line rule before auditing again
        if not changed:
            break
    return mask


def suppress_small_cells(
    df: pd.DataFrame,
    *,
    count_cols: str | Sequence[str],
    min_count: int = 5,
    value_cols: Sequence[str] | Mapping[str, str] | None = None,
    total_row: Any = None,
    total_col: str | None = None,
    marker: str = "x",
    suppress_zero: bool = False,
    hide_counts: bool = True,
) -> pd.DataFrame:
    """Hide cells based on fewer than ``min_count`` respondents, with complementary suppression.

    Parameters
    ----------
    df : DataFrame
        The table as it will be published; the index holds the row labels.
    count_cols : str or list of str
        Columns with the number of respondents behind each cell. In a frequency table these are the
        published cells themselves.
    min_count : int, default 5
        Cells with ``1 ≤ n < min_count`` are suppressed (the threshold rule).
    value_cols : list or mapping, optional
        Statistic columns tied to the counts: a mapping ``{value_col: count_col}``, or a list when
        there is a single count column. Their cells are hidden wherever the count cell is.
    total_row : index label, optional
        The row holding column totals (e.g. ``"total"``), if published: enables complementary
        suppression down the columns.
    total_col : str, optional
        The count column holding row totals, if published: enables complementary suppression
        across the rows.
    marker : str, default "x"
        Shown in place of hidden cells (primary and complementary alike, so that readers cannot
        tell which cells were small).
    suppress_zero : bool, default False
        Also treat zero counts as sensitive.
    hide_counts : bool, default True
        Hide the count cells themselves (set False to publish the ``n`` column of a statistics
        table and hide only the statistics).

    Returns
    -------
    DataFrame
        A copy; affected columns become ``object`` dtype. The mask (0 published, 1 primary,
        2 complementary) is in ``out.attrs["suppression"]``.

    Examples
    --------
    >>> t = pd.DataFrame({"pilot": [12, 3, 20], "comparison": [9, 14, 30]},
    ...                  index=["savings", "loan", "total"])
    >>> suppress_small_cells(t, count_cols=["pilot", "comparison"], total_row="total")
             pilot comparison
    savings      x         9
    loan         x        14
    total       35         39
    """
    cols = _as_list(count_cols)
    mask = suppression_mask(
        df,
        count_cols=cols,
        min_count=min_count,
        total_row=total_row,
        total_col=total_col,
        suppress_zero=suppress_zero,
    )
    if value_cols is None:
        tied: dict[str, str] = {}
    elif isinstance(value_cols, Mapping):
        tied = dict(value_cols)
    else:
        if len(cols) != 1:
            raise ValueError(
                "suppress_small_cells: with several count columns give value_cols as a mapping {value_col: count_col}"
            )
        tied = {v: cols[0] for v in value_cols}
    for v, c in tied.items():
        if v not in df.columns:
            raise ValueError(f"suppress_small_cells: value column {v!r} not in the table")
        if c not in cols:
            raise ValueError(
                f"suppress_small_cells: value column {v!r} is tied to {c!r}, which is not a count column"
            )
    out = df.copy()
    hidden = mask != PUBLISHED
    targets: list[tuple[str, str]] = [(v, c) for v, c in tied.items()]
    if hide_counts:
        targets += [(c, c) for c in cols]
    for col, cnt in targets:
        rows = hidden[cnt]
        if rows.any():
            out[col] = out[col].astype(object)
            out.loc[rows.to_numpy(), col] = marker
    out.attrs["suppression"] = mask
    return out


# --------------------------------------------------------------------------------------------------
# Formatting (the rules live in welfare_eval.report.fmt; these are the table-level helpers)
# --------------------------------------------------------------------------------------------------
def format_number(x: Any, decimals: int = 2, *, thousands: bool = True, na: str = "") -> str:
    """``1234.5 → "1,234.50"``, negatives with the U+2212 minus; strings pass through, missing → ``na``."""
    if isinstance(x, str):
        return x
    if fmt.is_missing(x):
        return na
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return na
    if math.isinf(v):
        return "∞" if v > 0 else fmt.MINUS + "∞"
    return fmt._plain(v, decimals, thousands=thousands)


def format_p(p: Any, *, digits: int = 3, na: str = "") -> str:
    """p-values: ``"< 0.001"`` (no-break space) below ``10**-digits``, else ``digits`` decimals
    (:func:`welfare_eval.report.fmt.p_value`)."""
    return fmt.p_value(p, digits=digits, na=na)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def _is_int_col(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return False
    return pd.api.types.is_integer_dtype(s)


def format_table(
    df: pd.DataFrame,
    lang: Literal["th", "en", "both"] = "th",
    *,
    decimals: int | Mapping[str, int] = 2,
    int_cols: Sequence[str] | None = None,
    p_cols: Sequence[str] | None = None,
    pct_cols: Sequence[str] | None = None,
    df_cols: Sequence[str] | None = None,
    units: Mapping[str, str] | None = None,
    keys: Mapping[str, str] | None = None,
    thousands: bool = True,
    na: str = "",
    translate_index: bool = True,
) -> pd.DataFrame:
    """A display copy of ``df``: numbers as strings by the rules of :mod:`welfare_eval.report.fmt`,
    headers translated.

    Parameters
    ----------
    df : DataFrame
    lang : {"th", "en", "both"}
        Header language; headers are ``welfare_eval.reference.label(key, lang, default=column)``.
    decimals : int or mapping, default 2
        Fixed decimals for float columns without a unit (per column with a mapping; others get 2).
    int_cols : list, optional
        Columns shown without decimals (default: integer dtypes).
    p_cols : list, optional
        p-value columns (``"< 0.001"``, 3 decimals). Default: columns named ``p``, ``p_value``,
        ``pvalue``, ``p_adj``, ….
    pct_cols : list, optional
        Proportions shown as percentages (``0.123 → "12.3%"``, 1 decimal unless in ``decimals``).
    df_cols : list, optional
        Degrees of freedom (whole numbers without decimals, fractional df with one). Default: a column
        named ``df``.
    units : mapping, optional
        Unit per column (``{"mean_income": "baht"}``; see :data:`welfare_eval.report.fmt.UNITS`): the value
        is rounded by its unit (shares ×100).
    keys : mapping, optional
        Label key per column when it differs from the column name (e.g. ``{"y": "outcome.savings"}``).
    thousands : bool, default True
        Thousands separators.
    na : str, default ""
        Text for missing values. Strings already in the table (e.g. suppression markers) are kept.
    translate_index : bool, default True
        Also translate the index name(s).
    """
    from welfare_eval.reference import label

    keys = dict(keys or {})
    units = dict(units or {})
    p_set = set(p_cols) if p_cols is not None else {c for c in df.columns if str(c).lower() in _P_NAMES}
    pct_set = set(pct_cols or ())
    df_set = set(df_cols) if df_cols is not None else {c for c in df.columns if str(c) == "df"}
    if int_cols is not None:
        int_set = set(int_cols)
    else:
        int_set = {c for c in df.columns if _is_int_col(df[c])}
    dec_map = dict(decimals) if isinstance(decimals, Mapping) else {}
    dec_default = 2 if isinstance(decimals, Mapping) else int(decimals)
    out = pd.DataFrame(index=df.index)

    def missing(v: Any) -> bool:
        return not isinstance(v, str) and fmt.is_missing(v)

    for col in df.columns:
        s = df[col]
        if col in p_set:
            out[col] = [fmt.p_value(v, na=na) for v in s]
        elif col in df_set:
            out[col] = [v if isinstance(v, str) else fmt.df(v, na=na) for v in s]
        elif col in units:
            out[col] = [v if isinstance(v, str) else fmt.number(v, units[col], na=na) for v in s]
        elif col in pct_set:
            d = dec_map.get(col, 1)
            out[col] = [
                v
                if isinstance(v, str)
                else (na if missing(v) else f"{format_number(100 * float(v), d, thousands=thousands)}%")
                for v in s
            ]
        elif col in int_set:
            out[col] = [format_number(v, 0, thousands=thousands, na=na) for v in s]
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = [
                format_number(v, dec_map.get(col, dec_default), thousands=thousands, na=na) for v in s
            ]
        elif s.dtype == object:
            # mixed columns, e.g. counts after suppression (ints and markers): whole numbers stay
            # whole unless decimals are asked for explicitly
            nums = [v for v in s if _is_number(v)]
            whole = bool(nums) and all(isinstance(v, int | np.integer) for v in nums)
            d = dec_map.get(col, 0 if whole else dec_default)
            out[col] = [
                format_number(v, d, thousands=thousands, na=na)
                if _is_number(v)
                else (na if missing(v) else str(v))
                for v in s
            ]
        else:
            out[col] = [na if missing(v) else str(v) for v in s]
    out.columns = [label(keys.get(str(c), str(c)), lang, default=str(c)) for c in df.columns]
    if translate_index:
        names = [
            None if n is None else label(keys.get(str(n), str(n)), lang, default=str(n))
            for n in df.index.names
        ]
        out.index = out.index.set_names(names)
    out.attrs = {k: v for k, v in df.attrs.items() if k != "suppression"}
    return out


class HtmlTable(str):
    """HTML text that Jupyter/Quarto display as a table (``_repr_html_``), not as a quoted string."""

    def _repr_html_(self) -> str:
        return str(self)


#: A cell that reads as a number: digits with separators, signs, brackets, %, "<", the markers x and —.
_NUMERIC_CELL = re.compile(
    r"^[\s\u00a0]*(?:[<>≤≥]?[\s\u00a0]*[+\-\u2212]?[\d,]*\.?\d+%?|x|—|–|-|∞|\u2212∞)"
    r"(?:[\s\u00a0]*\[[^\]]*\])?[\s\u00a0]*$"
)


def _numeric_column(values: Sequence[Any]) -> bool:
    """All cells read as numbers (identifiers such as 8-digit village codes do not: they are text)."""
    texts = [str(v) for v in values if not fmt.is_missing(v) and str(v).strip()]
    if texts and all(t.strip().isdigit() and len(t.strip()) >= 6 for t in texts):
        return False
    return bool(texts) and all(_NUMERIC_CELL.match(t) for t in texts) and any(
        any(ch.isdigit() for ch in t) for t in texts
    )


def html_table(
    df: pd.DataFrame,
    *,
    index: bool = False,
    caption: str | None = None,
    classes: str = "we-table",
    row_headers: bool = True,
) -> HtmlTable:
    """The table as accessible HTML for a report cell.

    ``<thead>`` cells are ``<th scope="col">``; the row labels (the index with ``index=True``, else the first
    column, unless ``row_headers=False``) are ``<th scope="row">``; columns whose cells all read as numbers get
    ``class="num"`` (right-aligned in the report's CSS), text columns stay left-aligned. ``caption`` becomes a
    ``<caption>`` (the report renderer fills it from the figure/table caption otherwise). Text is HTML-escaped;
    no inline styles. Returns an :class:`HtmlTable`, a ``str`` that notebooks and the renderer show as a table.
    """
    import html as _html

    esc = _html.escape
    data = df.reset_index() if index else df
    if isinstance(data.columns, pd.MultiIndex):
        headers = [" · ".join(str(p) for p in col if str(p)) for col in data.columns]
    else:
        headers = ["" if c is None else str(c) for c in data.columns]
    n_cols = len(headers)
    cols = [data.iloc[:, j].tolist() for j in range(n_cols)]
    numeric = [_numeric_column(c) for c in cols]
    first_is_header = row_headers and n_cols > 0
    if first_is_header:
        numeric[0] = False

    def cell_text(v: Any) -> str:
        return "" if fmt.is_missing(v) else esc(str(v))

    parts = [f'<table class="{esc(classes)}">']
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append("<thead><tr>")
    for j, h in enumerate(headers):
        cls = ' class="num"' if numeric[j] else ""
        parts.append(f'<th scope="col"{cls}>{esc(h)}</th>')
    parts.append("</tr></thead><tbody>")
    for i in range(len(data)):
        parts.append("<tr>")
        for j in range(n_cols):
            text = cell_text(cols[j][i])
            if j == 0 and first_is_header:
                parts.append(f'<th scope="row">{text}</th>')
            else:
                cls = ' class="num"' if numeric[j] else ""
                parts.append(f"<td{cls}>{text}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return HtmlTable("".join(parts))
