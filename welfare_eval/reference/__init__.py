"""Bilingual (Thai/English) reference data: the single source of truth for codes and labels.

Everything that needs a region, a province, a welfare type, a success factor, a profit-allocation
category, a Likert label or a display label gets it from here; no other module keeps Thai or English
literals of its own.

Examples
--------
>>> import welfare_eval.reference as r
>>> len(r.regions()), len(r.provinces())
(18, 76)
>>> r.label("arm.pilot", "en")
'Pilot village'
>>> r.split_village_code("12010601").province
'12'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from welfare_eval.reference.villagecode import (
    VillageCode,
    VillageCodeError,
    is_valid_village_code,
    make_village_code,
    split_village_code,
    validate_village_code,
)

__all__ = [
    "ARMS",
    "WAVES",
    "Lang",
    "RegionScheme",
    "VillageCode",
    "VillageCodeError",
    "default_region_scheme",
    "is_valid_village_code",
    "label",
    "labels",
    "likert_band",
    "likert_bands",
    "likert_labels",
    "make_village_code",
    "profit_allocation",
    "province_region",
    "provinces",
    "region_scheme",
    "regions",
    "set_region_scheme",
    "split_village_code",
    "success_factor_items",
    "success_factors",
    "validate_village_code",
    "welfare_types",
]

Lang = Literal["th", "en"]
_DATA = resources.files("welfare_eval.reference") / "data"


def _read_csv(name: str) -> pd.DataFrame:
    with _DATA.joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------------------------------
# Inspection regions and provinces
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionScheme:
    """A mapping of provinces to government inspection regions, with its provenance.

    Attributes
    ----------
    scheme : str
        Short machine name of the scheme, e.g. ``"inspection_regions_2017"``.
    name_th, name_en : str
        Human-readable names.
    date : str
        Date (or year) the grouping came into force.
    source, caveat : str
        Provenance and known caveats, printed in the report's appendix.
    provinces : pandas.DataFrame
        One row per province: ``province_code`` (2-digit string), ``province_th``, ``province_en``,
        ``region`` (int 1..R).
    """

    scheme: str
    name_th: str
    name_en: str
    date: str
    source: str
    caveat: str
    provinces: pd.DataFrame

    @property
    def regions(self) -> pd.DataFrame:
        """One row per region with its Thai/English name and number of provinces."""
        g = self.provinces.groupby("region", sort=True)
        out = pd.DataFrame(
            {
                "region": sorted(self.provinces["region"].unique()),
            }
        )
        out["region_th"] = [f"เขตตรวจราชการที่ {r}" for r in out["region"]]
        out["region_en"] = [f"Inspection Region {r}" for r in out["region"]]
        out["n_provinces"] = g.size().reindex(out["region"]).to_numpy()
        out["provinces_th"] = g["province_th"].agg(", ".join).reindex(out["region"]).to_numpy()
        return out

    @classmethod
    def from_frame(
        cls,
        provinces: pd.DataFrame,
        *,
        scheme: str = "user",
        name_th: str = "",
        name_en: str = "",
        date: str = "",
        source: str = "user-supplied mapping",
        caveat: str = "",
        origin: str = "<DataFrame>",
    ) -> RegionScheme:
        """Build and validate a scheme from a table with ``region`` and ``province_code`` columns.

        ``province_th`` and ``province_en`` are optional; missing names are filled from the default
        scheme by province code.

        Raises
        ------
        ValueError
            If a column is missing, a province code is not two digits, a province appears in more
            than one region, or a region number is not a positive integer.
        """
        required = {"region", "province_code"}
        missing = required - set(provinces.columns)
        if missing:
            raise ValueError(
                f"{origin}: region mapping lacks column(s) {sorted(missing)}; "
                "it needs 'region' and 'province_code' (2-digit DOPA code)"
            )
        df = provinces.copy()
        df["province_code"] = df["province_code"].astype(str).str.strip().str.zfill(2)
        bad = df.loc[~df["province_code"].str.fullmatch(r"\d{2}"), "province_code"]
        if len(bad):
            raise ValueError(f"{origin}: province_code {bad.iloc[0]!r} is not a 2-digit code")
        try:
            df["region"] = pd.to_numeric(df["region"], errors="raise").astype(int)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{origin}: column 'region' must hold whole numbers ({exc})") from None
        if (df["region"] < 1).any():
            raise ValueError(f"{origin}: region numbers must be 1 or more")
        dup = df.loc[df["province_code"].duplicated(keep=False), "province_code"]
        if len(dup):
            raise ValueError(
                f"{origin}: province {dup.iloc[0]} appears in more than one row/region; "
                "each province must belong to exactly one region"
            )
        if {"province_th", "province_en"} - set(df.columns):
            default = _default_scheme().provinces.set_index("province_code")
            for col in ("province_th", "province_en"):
                if col not in df.columns:
                    df[col] = df["province_code"].map(default[col]).fillna("")
        df = df[["region", "province_code", "province_th", "province_en"]]
        df = df.sort_values(["region", "province_code"], kind="mergesort").reset_index(drop=True)
        return cls(scheme, name_th, name_en, date, source, caveat, df)

    def to_dict(self) -> dict[str, Any]:
        """The scheme as plain data (metadata and one record per province), e.g. for a manifest."""
        return {
            "scheme": self.scheme,
            "name_th": self.name_th,
            "name_en": self.name_en,
            "date": self.date,
            "source": self.source,
            "caveat": self.caveat,
            "provinces": [
                {"region": int(reg), "province_code": str(code), "province_th": str(th), "province_en": str(en)}
                for reg, code, th, en in zip(
                    self.provinces["region"].astype(int).tolist(),
                    self.provinces["province_code"],
                    self.provinces["province_th"],
                    self.provinces["province_en"],
                    strict=True,
                )
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "<dict>") -> RegionScheme:
        """Rebuild a scheme from :meth:`to_dict` output (validated like :meth:`from_frame`)."""
        if "provinces" not in data:
            raise ValueError(f"{origin}: region scheme has no provinces")
        meta = {k: str(data.get(k, "")) for k in ("scheme", "name_th", "name_en", "date", "source", "caveat")}
        return cls.from_frame(pd.DataFrame(list(data["provinces"])), origin=origin, **meta)

    @classmethod
    def from_csv(cls, path: str | Path, **meta: str) -> RegionScheme:
        """Read a user-supplied mapping (CSV with ``region``, ``province_code`` and optional names).

        A JSON file of the same stem, if present, supplies ``scheme``, ``name_th``, ``name_en``,
        ``date``, ``source`` and ``caveat``; keyword arguments override it.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: region mapping file not found")
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        side = path.with_suffix(".json")
        info: dict[str, str] = {"scheme": path.stem, "source": f"user-supplied mapping {path.name}"}
        if side.is_file():
            info.update({k: str(v) for k, v in json.loads(side.read_text("utf-8")).items()})
        info.update(meta)
        keep = {k: info[k] for k in ("scheme", "name_th", "name_en", "date", "source", "caveat") if k in info}
        return cls.from_frame(df, origin=str(path), **keep)


@cache
def _default_scheme() -> RegionScheme:
    info = json.loads(_DATA.joinpath("inspection_regions_2017.json").read_text("utf-8"))
    df = _read_csv("inspection_regions_2017.csv")
    return RegionScheme.from_frame(
        df,
        scheme=info["scheme"],
        name_th=info["name_th"],
        name_en=info["name_en"],
        date=info["date"],
        source=info["source"],
        caveat=info["caveat"],
        origin="welfare_eval/reference/data/inspection_regions_2017.csv",
    )


def default_region_scheme() -> RegionScheme:
    """The packaged scheme: the 18 inspection regions of 2017 (B.E. 2560) and their 76 provinces."""
    return _default_scheme()


_active: RegionScheme | None = None


def region_scheme() -> RegionScheme:
    """The region scheme in force (the packaged 2017 scheme unless :func:`set_region_scheme` was called)."""
    return _active if _active is not None else _default_scheme()


def set_region_scheme(scheme: RegionScheme | str | Path | None) -> RegionScheme:
    """Use another province→region mapping for this process (``None`` restores the default).

    Parameters
    ----------
    scheme : RegionScheme, path to a CSV, or None
    """
    global _active
    if scheme is None or isinstance(scheme, RegionScheme):
        _active = scheme
    else:
        _active = RegionScheme.from_csv(scheme)
    return region_scheme()


def regions() -> pd.DataFrame:
    """The inspection regions of the scheme in force (18 by default)."""
    return region_scheme().regions


def provinces() -> pd.DataFrame:
    """The provinces of the scheme in force (76 by default; Bangkok is a separate zone)."""
    return region_scheme().provinces.copy()


def province_region(province_code: str) -> int:
    """Region number of a 2-digit province code.

    Raises
    ------
    KeyError
        If the province is not in any region of the scheme in force.
    """
    p = region_scheme().provinces
    hit = p.loc[p["province_code"] == str(province_code).zfill(2), "region"]
    if hit.empty:
        raise KeyError(f"province code {province_code!r} is in no region of scheme {region_scheme().scheme!r}")
    return int(hit.iloc[0])


# --------------------------------------------------------------------------------------------------
# Code lists
# --------------------------------------------------------------------------------------------------
@cache
def welfare_types() -> pd.DataFrame:
    """The nine welfare types (code, order, th, en, description_en), in the project document's order."""
    df = _read_csv("welfare_types.csv")
    df["order"] = df["order"].astype(int)
    return df


@cache
def success_factors() -> pd.DataFrame:
    """The twelve success factors: six ``internal`` and six ``external`` (code, group, order, th, en)."""
    df = _read_csv("success_factors.csv")
    df["order"] = df["order"].astype(int)
    return df


@cache
def success_factor_items() -> pd.DataFrame:
    """The 36 Likert items of the committee questionnaire, three per success factor
    (item, factor, order, th, en). ``factor`` is a code of :func:`success_factors`."""
    df = _read_csv("success_factor_items.csv")
    df["order"] = df["order"].astype(int)
    return df


@cache
def profit_allocation() -> pd.DataFrame:
    """Profit-allocation categories of community financial organisations (code, order, th, en)."""
    df = _read_csv("profit_allocation.csv")
    df["order"] = df["order"].astype(int)
    return df


def likert_labels(scale: Literal["agreement", "level"] = "level", lang: Lang = "th") -> dict[int, str]:
    """The 5-level Likert labels of a scale, ``{1: ..., 5: ...}``."""
    df = _read_csv("likert.csv")
    df = df[df["scale"] == scale]
    if df.empty:
        raise ValueError(f"unknown Likert scale {scale!r}; use 'agreement' or 'level'")
    return {int(v): str(t) for v, t in zip(df["value"], df[lang], strict=True)}


@cache
def _bands() -> pd.DataFrame:
    df = _read_csv("likert_bands.csv")
    df["low"] = df["low"].astype(float)
    df["high"] = df["high"].astype(float)
    return df


def likert_band(mean: float, lang: Lang = "th") -> str:
    """Thai interpretation band of a mean Likert score (1.00–1.80 … 4.21–5.00).

    The published bands are written to two decimals; a mean between them (e.g. 1.805) is given the
    upper band, i.e. the intervals are (1.80, 2.60], (2.60, 3.40], ... with [1.00, 1.80] first.
    """
    if not 1.0 <= mean <= 5.0:
        raise ValueError(f"Likert mean {mean} is outside 1–5")
    b = _bands()
    idx = int((mean > b["high"].iloc[:-1]).sum())
    return str(b[lang].iloc[idx])


def likert_bands() -> pd.DataFrame:
    """The Thai mean-interpretation bands (low, high, th, en)."""
    return _bands().copy()


#: Survey waves in time order.
WAVES: tuple[str, str, str] = ("baseline", "midline", "endline")
#: Study arms.
ARMS: tuple[str, str] = ("pilot", "comparison")


# --------------------------------------------------------------------------------------------------
# Display labels
# --------------------------------------------------------------------------------------------------
@cache
def labels() -> pd.DataFrame:
    """All display labels (key, th, en), including those derived from the code lists.

    Keys: ``welfare.<code>``, ``factor.<code>``, ``allocation.<code>`` and the rows of ``labels.csv``
    (``arm.pilot``, ``wave.baseline``, ``outcome.savings``, ...).
    """
    parts = [_read_csv("labels.csv")]
    for prefix, df in (
        ("welfare", welfare_types()),
        ("factor", success_factors()),
        ("allocation", profit_allocation()),
    ):
        parts.append(pd.DataFrame({"key": prefix + "." + df["code"], "th": df["th"], "en": df["en"]}))
    out = pd.concat(parts, ignore_index=True)
    dup = out.loc[out["key"].duplicated(), "key"]
    if len(dup):  # pragma: no cover - guards the packaged data
        raise RuntimeError(f"duplicate label key {dup.iloc[0]!r} in reference data")
    return out


@cache
def _label_map() -> dict[str, tuple[str, str]]:
    """key -> (th, en) of :func:`labels` (a dict: label lookups are frequent)."""
    t = labels()
    return {str(k): (str(th), str(en)) for k, th, en in zip(t["key"], t["th"], t["en"], strict=True)}


def label(key: str, lang: Lang | Literal["both"] = "th", *, default: str | None = None) -> str:
    """The display label of ``key`` in Thai, English or ``"both"`` (``"ไทย (English)"``).

    Region keys ``region.<n>`` and province keys ``province.<code>`` are resolved from the scheme
    in force.

    Raises
    ------
    KeyError
        If the key is unknown and no ``default`` is given.
    """
    th, en = _lookup(key, default)
    if lang == "th":
        return th
    if lang == "en":
        return en
    return th if th == en else f"{th} ({en})"


def _lookup(key: str, default: str | None) -> tuple[str, str]:
    if key.startswith("region."):
        r = regions().set_index("region")
        try:
            n = int(key.split(".", 1)[1])
            return str(r.loc[n, "region_th"]), str(r.loc[n, "region_en"])
        except (ValueError, KeyError):
            pass
    elif key.startswith("province."):
        p = region_scheme().provinces.set_index("province_code")
        code = key.split(".", 1)[1]
        if code in p.index:
            return str(p.loc[code, "province_th"]), str(p.loc[code, "province_en"])
    else:
        hit = _label_map().get(key)
        if hit is not None:
            return hit
    if default is not None:
        return default, default
    raise KeyError(f"no label for {key!r}; add it to welfare_eval/reference/data/labels.csv")
