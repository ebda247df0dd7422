"""Study step: the study's description (villages by region and province, eligibility funnel, sample sizes)."""

from __future__ import annotations

import pandas as pd

import welfare_eval.reference as ref

__all__ = ["design_table", "eligibility_funnel", "sample_sizes"]


def design_table(villages: pd.DataFrame, provinces: pd.DataFrame | None = None) -> pd.DataFrame:
    """The study villages by inspection region and province: one row per pair.

    ``provinces`` is the province table of the region scheme in use (``province_code``, ``province_th``,
    ``province_en``); default ``welfare_eval.reference.provinces()`` (the packaged scheme).
    """
    prov = (ref.provinces() if provinces is None else provinces).set_index("province_code")
    v = villages.copy()
    v["province_code"] = v["village_id"].astype(str).str[:2]
    v["province_th"] = v["province_code"].map(prov["province_th"])
    v["province_en"] = v["province_code"].map(prov["province_en"])
    pil = v[v["arm"] == "pilot"].set_index("pair_id")
    com = v[v["arm"] == "comparison"].set_index("pair_id")
    out = pd.DataFrame(
        {
            "region": pil["region"],
            "pilot_village_id": pil["village_id"],
            "pilot_province_th": pil["province_th"],
            "pilot_province_en": pil["province_en"],
            "pilot_n_households": pil["n_households"],
            "comparison_village_id": com["village_id"].reindex(pil.index),
            "comparison_province_th": com["province_th"].reindex(pil.index),
            "comparison_province_en": com["province_en"].reindex(pil.index),
            "comparison_n_households": com["n_households"].reindex(pil.index),
        }
    )
    out.index.name = "pair_id"
    return out.reset_index().sort_values(["region", "pair_id"], kind="mergesort").reset_index(drop=True)


def eligibility_funnel(frame: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """Frame → eligible → pilots / comparison villages, by region with a total row (``region`` 0)."""
    f = frame.copy()
    f["eligible"] = pd.to_numeric(f["eligible"], errors="coerce").fillna(0).astype(int)
    arms = villages.set_index("village_id")["arm"]
    f["arm"] = f["village_id"].map(arms)
    g = f.groupby("region", sort=True)
    out = pd.DataFrame(
        {
            "n_frame": g.size(),
            "n_eligible": g["eligible"].sum(),
            "n_pilot": g["arm"].apply(lambda s: int((s == "pilot").sum())),
            "n_comparison": g["arm"].apply(lambda s: int((s == "comparison").sum())),
        }
    ).reset_index()
    total = out.drop(columns="region").sum().to_frame().T
    total.insert(0, "region", 0)  # 0 = all regions
    return pd.concat([out, total], ignore_index=True).astype("int64")


def sample_sizes(households: pd.DataFrame) -> pd.DataFrame:
    """Villages, sampled and interviewed households, response rate and panel share by wave and arm."""
    hh = households.copy()
    hh["wave"] = pd.Categorical(hh["wave"].astype(str), categories=list(ref.WAVES), ordered=True)
    g = hh.groupby(["wave", "arm"], observed=True, sort=True)
    out = pd.DataFrame(
        {
            "n_villages": g["village_id"].nunique(),
            "n_sampled": g.size(),
            "n_interviewed": g["interviewed"].sum(),
            "n_panel": g["panel"].sum(),
        }
    ).reset_index()
    out["response_rate"] = out["n_interviewed"] / out["n_sampled"]
    out["wave"] = out["wave"].astype(str)
    return out
