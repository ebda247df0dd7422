"""Finding and masking personal data in text: Thai national IDs and phone numbers in any layout.

Used on every cell the cleaning keeps (a national ID typed into a comment or a phone number in a
village name must not reach the processed tables), on every value written to a log (checks, ledger,
duplicates report, error messages), and as a last scan of every processed table.

National IDs
    13 digits, written together (``1101700230708``), in the official grouping 1-4-5-2-1 with dashes,
    spaces or dots (``1-1017-00230-70-8``, ``1 1017 00230 70 8``) or in any other grouping with spaces,
    dashes, dots or slashes between digits; Thai digits count as digits. A run of 13 digits written
    together or in the official grouping is personal data whatever its check digit (a mistyped ID is
    still an ID); a 13-digit run in any other grouping is taken for an ID only when its check digit is right
    (:func:`national_id_check_digit`), so that a list of small numbers is not
    mistaken for one.
Phone numbers
    Thai numbers: ``0`` followed by 8 digits (landlines such as ``02-123-4567``) or 9 digits
    (mobiles such as ``08 1234 5678``), or ``+66`` / ``0066`` followed by 8–9 digits without the
    leading zero (``+66 81 234 5678``, ``+66 (0)81 234 5678``), with any spaces, dashes, dots or
    brackets between the digits.

A match must not touch a Latin letter or digit on either side, so identifiers such as submission
UUIDs (hexadecimal) or village codes with a household suffix (``18030702-210``) are not taken for
personal data.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["MAX_LOGGED", "PII_MASK", "find_pii", "mask_text", "national_id_check_digit", "pii_kind", "safe_log_value"]

#: What a masked value looks like in logs.
PII_MASK = "<pii>"
#: Longest value written to a log (checks, ledger, reports); longer values are cut with a note.
MAX_LOGGED = 200

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_SEP = r"[ \t\u00a0\-./]"
_EDGE_L = r"(?<![0-9A-Za-z])(?<![0-9][ \-./])"
_EDGE_R = r"(?![0-9A-Za-z])(?![ \-./][0-9])"
#: 13 digits with at most three separators between two digits.
_ID_ANY = re.compile(_EDGE_L + r"\d(?:" + _SEP + r"{0,3}\d){12}" + _EDGE_R)
_ID_PLAIN = re.compile(r"^\d{13}$|^\d[ \t\u00a0\-.]?\d{4}[ \t\u00a0\-.]?\d{5}[ \t\u00a0\-.]?\d{2}[ \t\u00a0\-.]?\d$")
_PSEP = r"[ \t\u00a0\-.()]"
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?<![0-9][ \-.])"
    r"(?:(?:\+|00)66" + _PSEP + r"{0,2}(?:\(0\)" + _PSEP + r"?)?[1-9]|0" + _PSEP + r"{0,2}[1-9])"
    r"(?:" + _PSEP + r"{0,2}\d){7,8}"
    r"(?![0-9A-Za-z])(?![ \-.][0-9])"
)


def national_id_check_digit(first12: str) -> int:
    """Check digit of a Thai 13-digit national ID from its first 12 digits.

    ``d13 = (11 − Σ_{i=1..12} d_i·(14 − i) mod 11) mod 10`` (Department of Provincial Administration).
    """
    if not re.fullmatch(r"\d{12}", first12):
        raise ValueError(f"need 12 digits, got {first12!r}")
    s = sum(int(d) * (14 - i) for i, d in enumerate(first12, start=1))
    return (11 - s % 11) % 10


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _is_id(match: str) -> bool:
    if _ID_PLAIN.match(match):
        return True
    d = _digits(match)
    return len(d) == 13 and national_id_check_digit(d[:12]) == int(d[12])


#: necessary condition for an ID or a phone number: 8 digits with at most 4 other characters between two
_CANDIDATE = re.compile("[0-9๐-๙](?:[^0-9๐-๙]{0,4}[0-9๐-๙]){7}")


def pii_kind(text: object) -> str | None:
    """``"national ID"`` or ``"phone number"`` if ``text`` contains one, else ``None``."""
    if text is None or text is pd.NA:
        return None
    s = str(text)
    if not _CANDIDATE.search(s):
        return None
    s = s.translate(_THAI_DIGITS)
    if any(_is_id(m.group(0)) for m in _ID_ANY.finditer(s)):
        return "national ID"
    if _PHONE.search(s):
        return "phone number"
    return None


def mask_text(text: str) -> str:
    """``text`` with every national ID and phone number replaced by :data:`PII_MASK`."""
    s = str(text)
    t = s.translate(_THAI_DIGITS)  # same length: positions carry over
    spans = [m.span() for m in _ID_ANY.finditer(t) if _is_id(m.group(0))]
    spans += [m.span() for m in _PHONE.finditer(t)]
    if not spans:
        return s
    out, last = [], 0
    for a, b in sorted(spans):
        if a < last:
            continue
        out.append(s[last:a] + PII_MASK)
        last = b
    return "".join(out) + s[last:]


def safe_log_value(value: object, *, pii: bool = False, limit: int = MAX_LOGGED) -> tuple[str, str]:
    """A value as it may be written to a log, and a note when it was changed.

    Personal data (``pii``, or a national ID / phone number found in the text) gives
    :data:`PII_MASK`; text longer than ``limit`` characters is cut (its length stated in the note).
    """
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "", ""
    s = str(value)
    if not s:
        return "", ""
    if pii:
        return PII_MASK, ""
    kind = pii_kind(s)
    if kind is not None:
        return PII_MASK, f"value masked: it holds a {kind}"
    if len(s) > limit:
        return s[:limit] + "…", f"value cut to {limit} of {len(s):,} characters"
    return s, ""


def find_pii(df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` that hold a national ID or a Thai phone number in any cell.

    Text (and categorical) columns are searched with :func:`pii_kind`; integer columns for 13-digit
    values (a national ID stored as a number).
    """
    hits = []
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            continue
        if pd.api.types.is_integer_dtype(s):
            x = s.dropna().astype("int64")
            if ((x >= 10**12) & (x < 10**13)).any():
                hits.append(str(c))
            continue
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        vals = s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else s.unique()
        if any(isinstance(v, str) and _CANDIDATE.search(v) and pii_kind(v) for v in vals):
            hits.append(str(c))
    return hits
