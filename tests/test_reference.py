"""Tests of the bilingual reference data and village-code helpers."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import welfare_eval.reference as r


def test_18_regions_76_provinces_each_in_exactly_one_region() -> None:
    prov = r.provinces()
    assert len(r.regions()) == 18
    assert len(prov) == 76
    assert prov["province_code"].is_unique
    assert set(prov["region"]) == set(range(1, 19))
    assert "10" not in set(prov["province_code"])  # Bangkok is a separate zone
    assert r.regions()["n_provinces"].sum() == 76


def test_import_gives_18_and_76_in_fresh_process() -> None:
    code = "import welfare_eval.reference as r; print(len(r.regions()), len(r.provinces()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["18", "76"]


def test_region_table_matches_shared_reference(shared_reference) -> None:
    shared = pd.read_csv(shared_reference / "thailand/inspection_regions_2017.csv", dtype=str)
    ours = r.provinces()
    merged = ours.merge(shared, on="province_code", suffixes=("", "_ref"))
    assert len(merged) == 76
    assert (merged["region"].astype(str) == merged["region_ref"]).all()
    assert (merged["province_th"] == merged["province_th_ref"]).all()


def test_scheme_keeps_provenance() -> None:
    s = r.region_scheme()
    assert s.scheme == "inspection_regions_2017"
    assert "2017" in s.date
    assert "re-checked" in s.caveat


def test_user_supplied_mapping(tmp_path) -> None:
    p = tmp_path / "my_regions.csv"
    p.write_text("region,province_code\n1,12\n1,13\n2,50\n", encoding="utf-8")
    try:
        s = r.set_region_scheme(p)
        assert s.scheme == "my_regions"
        assert len(r.regions()) == 2
        assert r.province_region("50") == 2
        assert r.label("province.50", "en") == "Chiang Mai"
        with pytest.raises(r.VillageCodeError, match="no inspection region"):
            r.validate_village_code("20010101")
    finally:
        r.set_region_scheme(None)
    assert len(r.regions()) == 18


def test_user_mapping_rejects_province_in_two_regions(tmp_path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("region,province_code\n1,12\n2,12\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.csv: province 12 .* exactly one region"):
        r.RegionScheme.from_csv(p)


def test_user_mapping_missing_column(tmp_path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("zone,province_code\n1,12\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks column"):
        r.RegionScheme.from_csv(p)


def test_code_lists() -> None:
    wt = r.welfare_types()
    assert list(wt["code"]) == [
        "childbirth", "illness", "elderly", "death", "disadvantaged",
        "occupation", "education", "disaster", "other",
    ]
    sf = r.success_factors()
    assert len(sf) == 12
    assert (sf["group"].value_counts() == 6).all()
    items = r.success_factor_items()
    assert len(items) == 36 and set(items["factor"]) == set(sf["code"])
    assert items.groupby("factor").size().eq(3).all()
    pa = r.profit_allocation()
    assert set(pa["code"]) == {
        "administration", "dividend", "public_benefit", "committee_remuneration", "expenses", "reserve", "welfare",
    }
    for df in (wt, sf, pa, items):
        assert (df["th"].str.len() > 0).all() and (df["en"].str.len() > 0).all()


def test_likert_labels_and_bands() -> None:
    lv = r.likert_labels("level", "th")
    assert lv[5] == "มากที่สุด" and lv[1] == "น้อยที่สุด"
    assert r.likert_labels("agreement", "en")[1] == "Strongly disagree"
    assert r.likert_band(1.0) == "น้อยที่สุด"
    assert r.likert_band(1.80) == "น้อยที่สุด"
    assert r.likert_band(1.805) == "น้อย"
    assert r.likert_band(3.41, "en") == "High"
    assert r.likert_band(4.20, "en") == "High"
    assert r.likert_band(4.21, "en") == "Very high"
    assert r.likert_band(5.0) == "มากที่สุด"
    with pytest.raises(ValueError):
        r.likert_band(5.5)
    with pytest.raises(ValueError):
        r.likert_labels("frequency")  # type: ignore[arg-type]


def test_labels_unique_and_bilingual() -> None:
    lab = r.labels()
    assert lab["key"].is_unique
    assert r.label("welfare.death", "en") == "Death"
    assert r.label("factor.policy", "th") == "นโยบายของรัฐบาล"
    assert r.label("arm.pilot", "both") == "หมู่บ้านนำร่อง (Pilot village)"
    assert r.label("region.18", "en") == "Inspection Region 18"
    assert r.label("nonexistent.key", default="x") == "x"
    with pytest.raises(KeyError, match=r"labels\.csv"):
        r.label("nonexistent.key")


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("12010601", True),
        (" 12010601 ", True),
        ("1201060", False),
        ("120106011", False),
        ("12a10601", False),
        ("12000601", False),
        ("12010600", False),
        ("10010101", False),  # Bangkok: not in an inspection region
        ("๑๒๐๑๐๖๐๑", False),  # Thai digits must be normalised by the cleaning stage first
        (12010601, False),
    ],
)
def test_validate_village_code(code: object, ok: bool) -> None:
    assert r.is_valid_village_code(code) is ok


def test_split_and_make_village_code() -> None:
    parts = r.split_village_code("12010601")
    assert parts == ("12", "01", "06", "01")
    assert parts.code == "12010601"
    assert r.make_village_code(12, 1, 6, 1) == "12010601"
    with pytest.raises(r.VillageCodeError, match="not a string"):
        r.validate_village_code(12010601)
    with pytest.raises(r.VillageCodeError):
        r.make_village_code(12, 0, 6, 1)
