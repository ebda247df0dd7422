"""8-digit Thai village codes: province (2) + district (2) + subdistrict (2) + village number (2).

Village codes are always kept as strings (``"12010601"``), never as integers, so leading zeros and
the code structure survive every file format.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "VillageCode",
    "VillageCodeError",
    "is_valid_village_code",
    "make_village_code",
    "split_village_code",
    "validate_village_code",
]

_PATTERN = re.compile(r"\d{8}")


class VillageCodeError(ValueError):
    """A village code that is not a valid 8-digit code."""


class VillageCode(NamedTuple):
    """The parts of an 8-digit village code (all 2-digit strings)."""

    province: str
    district: str
    subdistrict: str
    village: str

    @property
    def code(self) -> str:
        return self.province + self.district + self.subdistrict + self.village


def validate_village_code(code: object, *, check_province: bool = True) -> str:
    """Return the code as an 8-digit string or raise :class:`VillageCodeError` saying why.

    Rules: exactly eight ASCII digits (surrounding spaces are stripped; integers and floats are
    refused because they lose leading zeros); district, subdistrict and village parts are not
    ``00``; with ``check_province`` the province is one of the scheme in force.
    """
    if not isinstance(code, str):
        raise VillageCodeError(
            f"village code {code!r} is a {type(code).__name__}, not a string; read codes as text"
        )
    s = code.strip()
    if not _PATTERN.fullmatch(s):
        raise VillageCodeError(f"village code {code!r} is not 8 digits")
    parts = VillageCode(s[0:2], s[2:4], s[4:6], s[6:8])
    for name in ("district", "subdistrict", "village"):
        if getattr(parts, name) == "00":
            raise VillageCodeError(f"village code {s!r} has {name} part 00")
    if check_province:
        from welfare_eval.reference import region_scheme

        known = set(region_scheme().provinces["province_code"])
        if parts.province not in known:
            raise VillageCodeError(
                f"village code {s!r}: province {parts.province} is in no inspection region "
                f"of scheme {region_scheme().scheme!r}"
            )
    return s


def is_valid_village_code(code: object, *, check_province: bool = True) -> bool:
    """``True`` if :func:`validate_village_code` accepts the code."""
    try:
        validate_village_code(code, check_province=check_province)
    except VillageCodeError:
        return False
    return True


def split_village_code(code: object, *, check_province: bool = True) -> VillageCode:
    """Split a valid code into province, district, subdistrict and village parts."""
    s = validate_village_code(code, check_province=check_province)
    return VillageCode(s[0:2], s[2:4], s[4:6], s[6:8])


def make_village_code(province: int | str, district: int, subdistrict: int, village: int) -> str:
    """Compose an 8-digit code from its parts (each 1..99, province a known 2-digit code)."""
    parts = [int(province), int(district), int(subdistrict), int(village)]
    if not all(1 <= p <= 99 for p in parts):
        raise VillageCodeError(f"village code parts {parts} must each be 1..99")
    return validate_village_code("".join(f"{p:02d}" for p in parts))
