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

__all__ = [
    "MAX_LOGGED",
    "PII_MASK",
    "find_pii",
    "mask_text",
    "national_id_check_digit",
    "pii_kind",
    "pii_spans",
    "safe_log_value",
]

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
    kinds = {k for _a, _b, k in pii_spans(s)}
    if "national_id" in kinds:
        return "national ID"
    if "phone" in kinds:
        return "phone number"
    return None


_GROUP = re.compile(r"\d+")
_GROUP_SEP = re.compile(r"[\s\-\u2010-\u2015./()\u00b7]{0,3}")


def _chain_is_phone(d: str, plus: bool) -> bool:
    if plus or d.startswith("66"):
        rest = d[2:]
        if (len(rest) == 9 and rest[0] in "689") or (len(rest) == 8 and rest[0] in "234567"):
            return True
        if plus:
            return False
    if len(d) == 10 and d[0] == "0" and d[1] in "689":
        return True
    return len(d) == 9 and d[0] == "0" and d[1] in "234567"


def _chain_spans(t: str) -> list[tuple[int, int, str]]:
    """Numbers written as runs of digit groups (``081 234 5678 3 1010 02345 67 1``): each run is cut at the
    first groups that form a valid ID (check digit right) or a phone number, so numbers written next to each
    other, ``(081) 234-5678`` and ``66-81-234-5678`` are found too (complements the patterns above)."""
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(t)]
    chains: list[list[tuple[int, int]]] = []
    for g in groups:
        if chains and _GROUP_SEP.fullmatch(t[chains[-1][-1][1] : g[0]]):
            chains[-1].append(g)
        else:
            chains.append([g])
    out: list[tuple[int, int, str]] = []
    for chain in chains:
        i = 0
        while i < len(chain):
            best: tuple[int, str] | None = None
            digits = ""
            plus = chain[i][0] > 0 and t[chain[i][0] - 1] == "+"
            for j in range(i, len(chain)):
                digits += t[chain[j][0] : chain[j][1]]
                if len(digits) > 13:
                    break
                if len(digits) == 13 and digits[0] != "0" and national_id_check_digit(digits[:12]) == int(digits[12]):
                    best = (j, "national_id")
                elif _chain_is_phone(digits, plus) and (best is None or best[1] != "national_id"):
                    best = (j, "phone")
            if best is None:
                i += 1
                continue
            j, kind = best
            start = chain[i][0] - (1 if plus else 0)
            if start > 0 and t[start - 1] == "(":  # (081) 234-5678
                start -= 1
            if not _in_latin_token(t, start, chain[j][1]):  # not inside a UUID or a code like AB-0812-345678
                out.append((start, chain[j][1], kind))
            i = j + 1
    return out


def _in_latin_token(t: str, a: int, b: int) -> bool:
    """Whether ``t[a:b]`` touches a Latin letter or digit, or lies in a whitespace-delimited word that holds
    Latin letters (identifiers such as submission UUIDs are not personal data)."""
    if (a > 0 and t[a - 1].isascii() and t[a - 1].isalnum()) or (b < len(t) and t[b].isascii() and t[b].isalnum()):
        return True
    lo = a
    while lo > 0 and not t[lo - 1].isspace():
        lo -= 1
    hi = b
    while hi < len(t) and not t[hi].isspace():
        hi += 1
    return any("A" <= c <= "Z" or "a" <= c <= "z" for c in t[lo:hi])


def pii_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of every national ID (``"national_id"``) and phone number (``"phone"``) in
    ``text``, sorted, not overlapping (overlapping finds merge into the earliest; an ID wins over a phone).
    The one detector of numbers of the package (cleaning, logs, the monitoring store)."""
    t = str(text).translate(_THAI_DIGITS)  # same length: positions carry over
    found = [(*m.span(), "national_id") for m in _ID_ANY.finditer(t) if _is_id(m.group(0))]
    found += [(*m.span(), "phone") for m in _PHONE.finditer(t)]
    if _CANDIDATE.search(t):
        found += _chain_spans(t)
    out: list[tuple[int, int, str]] = []
    for a, b, kind in sorted(found, key=lambda x: (x[0], x[2] != "national_id", -x[1])):
        if out and a < out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b, out[-1][2])
            continue
        out.append((a, b, kind))
    return out


def mask_text(text: str) -> str:
    """``text`` with every national ID and phone number replaced by :data:`PII_MASK`."""
    s = str(text)
    spans = pii_spans(s)
    if not spans:
        return s
    out, last = [], 0
    for a, b, _kind in spans:
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
