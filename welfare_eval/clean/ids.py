"""Identifiers: the Thai national ID check digit and keyed pseudonymous household IDs (PDPA).

Pseudonyms are ``HMAC-SHA256(key, value)`` truncated to 16 hex digits written as letters (64 bits; with a few thousand
households the chance of any collision is below 1e-12, and collisions are checked anyway). The key
comes, in this order, from the ``key`` argument, the environment variable
``WELFARE_EVAL_PSEUDONYM_KEY``, or the file ``~/.config/welfare_eval/pseudonym.key`` (outside git).
For synthetic demo data a fixed, public demo key can be used; it is labelled as such everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from welfare_eval.clean.io import CleaningError
from welfare_eval.clean.pii import national_id_check_digit

__all__ = [
    "DEMO_KEY_SOURCE",
    "KEY_ENV",
    "KEY_FILE",
    "PseudonymKey",
    "load_key",
    "national_id_check_digit",
    "national_id_problem",
    "pseudonymize",
]

KEY_ENV = "WELFARE_EVAL_PSEUDONYM_KEY"
KEY_FILE = Path("~/.config/welfare_eval/pseudonym.key")
DEMO_KEY_SOURCE = "demo key (public, for synthetic demo data only)"
_MIN_KEY_BYTES = 16
_ID_RE = re.compile(r"\d{13}")


def national_id_problem(value: str) -> str | None:
    """``None`` if ``value`` is a valid 13-digit national ID (dashes/spaces allowed), else the reason."""
    s = re.sub(r"[\s-]", "", value)
    if not _ID_RE.fullmatch(s):
        return "national ID is not 13 digits"
    if national_id_check_digit(s[:12]) != int(s[12]):
        return "national ID check digit (mod 11) is wrong"
    return None


@dataclass(frozen=True, repr=False)
class PseudonymKey:
    """A pseudonymisation key and where it came from (the key itself is never printed or stored)."""

    key: bytes
    source: str

    @property
    def key_id(self) -> str:
        """A short non-reversible fingerprint, to tell whether two runs used the same key."""
        return hmac.new(self.key, b"welfare_eval key id", hashlib.sha256).hexdigest()[:12]

    @property
    def is_demo(self) -> bool:
        return self.source == DEMO_KEY_SOURCE

    def __repr__(self) -> str:
        return f"PseudonymKey(source={self.source!r}, key_id={self.key_id!r})"


def _demo_key() -> bytes:
    return hashlib.sha256(b"welfare_eval public demo pseudonym key - synthetic data only").digest()


def _from_file(path: Path) -> PseudonymKey:
    data = path.read_bytes().strip()
    if len(data) < _MIN_KEY_BYTES:
        raise CleaningError(f"{path}: pseudonym key is shorter than {_MIN_KEY_BYTES} bytes; write a longer random key")
    return PseudonymKey(data, f"file {path}")


def load_key(key: str | bytes | Path | PseudonymKey | None = None, *, allow_demo: bool = False) -> PseudonymKey:
    """Find the pseudonymisation key.

    Parameters
    ----------
    key : PseudonymKey, bytes (the key), Path (a key file), ``"demo"``, a path string, or None
        ``None`` looks at ``$WELFARE_EVAL_PSEUDONYM_KEY`` then ``~/.config/welfare_eval/pseudonym.key``.
    allow_demo : bool
        When no key is found, use the public demo key instead of failing (for synthetic data).

    Raises
    ------
    CleaningError
        If no key is found (and ``allow_demo`` is false) or the key is shorter than 16 bytes.
    """
    if isinstance(key, PseudonymKey):
        return key
    if isinstance(key, bytes):
        if len(key) < _MIN_KEY_BYTES:
            raise CleaningError(f"pseudonym key is shorter than {_MIN_KEY_BYTES} bytes; use a longer random key")
        return PseudonymKey(key, "argument")
    if isinstance(key, Path):
        return _from_file(key.expanduser())
    if isinstance(key, str):
        if key == "demo":
            return PseudonymKey(_demo_key(), DEMO_KEY_SOURCE)
        p = Path(key).expanduser()
        if p.is_file():
            return _from_file(p)
        raise CleaningError(f"pseudonym key file {key!r} not found; give an existing file, 'demo', or set ${KEY_ENV}")
    env = os.environ.get(KEY_ENV)
    if env:
        if len(env.encode()) < _MIN_KEY_BYTES:
            raise CleaningError(f"${KEY_ENV} is shorter than {_MIN_KEY_BYTES} bytes; use a longer random key")
        return PseudonymKey(env.encode(), f"environment ${KEY_ENV}")
    p = KEY_FILE.expanduser()
    if p.is_file():
        return _from_file(p)
    if allow_demo:
        return PseudonymKey(_demo_key(), DEMO_KEY_SOURCE)
    raise CleaningError(
        f"no pseudonym key: set ${KEY_ENV} or write a random key to {KEY_FILE} (outside git), "
        "or pass key='demo' for synthetic data"
    )


#: Hex digits written as the letters a–p, so that a pseudonym never contains a digit (and can never
#: look like a national ID or a phone number to a PII scan).
_HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def pseudonymize(values: Iterable[str], key: PseudonymKey, *, prefix: str = "H", length: int = 16) -> list[str]:
    """Stable pseudonyms of each value: ``prefix`` + the first ``length`` hex digits of
    ``HMAC-SHA256(key, value)`` written with the letters a–p (0→a, …, f→p)."""
    out = []
    for v in values:
        digest = hmac.new(key.key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()
        out.append(prefix + digest[:length].translate(_HEX_TO_LETTERS))
    return out
