"""Step 1 of the synthetic study: the CDD candidate frame and the non-random choice of pilots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

import welfare_eval.reference as r
from welfare_eval.simulate._rng import names, stream
from welfare_eval.simulate.config import FrameConfig

__all__ = ["FRAME_COLUMNS", "pilot_selection", "simulate_frame"]

#: Columns of the frame returned by :func:`simulate_frame`, in order.
FRAME_COLUMNS: tuple[str, ...] = (
    "village_id",
    "village_name",
    "region",
    "province_code",
    "district_code",
    "subdistrict_code",
    "n_households",
    "mean_income",
    "share_elderly",
    "share_farm",
    "has_savings_group",
    "sg_age",
    "sg_members",
    "sg_savings",
    "has_fund_institution",
    "has_sufficiency",
    "eligible",
    "pilot",
)


def _village_codes(rng: np.random.Generator, province: np.ndarray) -> tuple[np.ndarray, ...]:
    """District, subdistrict and village numbers giving unique 8-digit codes."""
    n = province.size
    district = rng.integers(1, 21, size=n)
    subdistrict = rng.integers(1, 16, size=n)
    df = pd.DataFrame({"p": province, "d": district, "s": subdistrict, "o": np.arange(n)})
    # village numbers within a subdistrict: 1..k after a random offset 0..3 (real numbering has gaps)
    key = df["p"].astype(str) + df["d"].astype(str).str.zfill(2) + df["s"].astype(str).str.zfill(2)
    codes, inv = np.unique(key.to_numpy(dtype=str), return_inverse=True)
    offset = rng.integers(0, 4, size=codes.size)
    rank = df.groupby(key.to_numpy(dtype=str), sort=False).cumcount().to_numpy()
    village = offset[inv] + rank + 1
    return district, subdistrict, village


def _village_names(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """'บ้าน' + two distinct syllables, unique within each subdistrict (``group``)."""
    syl = names("village_syllable")
    prefix = str(names("village_prefix")[0])
    k = syl.size
    n = group.size
    a = rng.integers(0, k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k  # b != a
    for _ in range(100):
        combo = a * k + b
        dup = pd.DataFrame({"g": group, "c": combo}).duplicated(keep="first").to_numpy()
        if not dup.any():
            break
        m = int(dup.sum())
        a[dup] = rng.integers(0, k, size=m)
        b[dup] = (a[dup] + rng.integers(1, k, size=m)) % k
    else:  # pragma: no cover - needs > k*(k-1) villages in one subdistrict
        raise RuntimeError("could not make village names unique within subdistricts")
    return np.array([prefix + str(syl[i]) + str(syl[j]) for i, j in zip(a, b, strict=True)], dtype=object)


def simulate_frame(*, seed: int = 2568, config: FrameConfig | None = None) -> pd.DataFrame:
    """Simulate the CDD candidate frame: villages in every inspection region with covariates.

    Parameters
    ----------
    seed : int
        Seed of the whole study; the frame uses the named streams ``frame.*``.
    config : FrameConfig, optional
        Sizes, eligibility rates and the pilot-selection model (defaults documented there).

    Returns
    -------
    pandas.DataFrame
        One row per candidate village, columns :data:`FRAME_COLUMNS`, sorted by ``village_id``.
        Exactly one ``pilot`` per region, chosen among the ``eligible`` villages with the
        non-random preference of :func:`pilot_selection`.
    """
    cfg = config or FrameConfig()
    prov = r.provinces()
    regions = sorted(prov["region"].unique())
    rng = stream(seed, "frame.layout")
    sizes = rng.integers(cfg.villages_per_region[0], cfg.villages_per_region[1] + 1, size=len(regions))
    region = np.repeat(np.asarray(regions, dtype=int), sizes)
    province = np.empty(region.size, dtype=object)
    for reg in regions:
        idx = np.flatnonzero(region == reg)
        codes = prov.loc[prov["region"] == reg, "province_code"].to_numpy(dtype=object)
        province[idx] = codes[rng.integers(0, codes.size, size=idx.size)]
    district, subdistrict, village = _village_codes(rng, province)
    vid = np.array(
        [
            f"{p}{d:02d}{s:02d}{v:02d}"
            for p, d, s, v in zip(province, district, subdistrict, village, strict=True)
        ],
        dtype=object,
    )
    n = vid.size
    group = vid.astype(str).astype("<U6")
    vname = _village_names(stream(seed, "frame.names"), group)

    rc = stream(seed, "frame.covariates")
    u = rc.standard_normal(n)  # latent village development
    reg_eff = rc.normal(0.0, 0.15, size=len(regions))[np.searchsorted(regions, region)]
    n_households = rc.integers(cfg.households[0], cfg.households[1] + 1, size=n)
    mean_income = np.round(np.exp(np.log(180_000) + 0.25 * u + reg_eff + rc.normal(0, 0.15, n)), -2)
    share_elderly = np.round(expit(-1.3 - 0.2 * u + rc.normal(0, 0.3, n)), 3)
    share_farm = np.round(expit(0.6 - 0.5 * u + rc.normal(0, 0.5, n)), 3)
    has_sg = rc.random(n) < expit(logit(cfg.p_savings_group) + 0.8 * u)
    has_fi = rc.random(n) < expit(logit(cfg.p_fund_institution) + 0.8 * u)
    has_su = rc.random(n) < expit(logit(cfg.p_sufficiency) + 0.6 * u)
    sg_age = np.clip(np.round(rc.gamma(3.0, 4.0, n) + 2.0 * u), 1, 40).astype(int)
    share_members = expit(-0.3 + 0.4 * u + rc.normal(0, 0.3, n))
    sg_members = np.minimum(np.maximum(rc.binomial(n_households, share_members), 10), n_households)
    per_member = np.exp(np.log(12_000) + 0.3 * u + 0.03 * (sg_age - 10) + rc.normal(0, 0.3, n))
    sg_savings = np.round(sg_members * per_member, -2)
    # every region needs at least one eligible village: the most developed one qualifies
    elig = has_sg & has_fi & has_su
    for reg in regions:
        idx = np.flatnonzero(region == reg)
        if not elig[idx].any():
            best = idx[np.argmax(u[idx])]
            has_sg[best] = has_fi[best] = has_su[best] = True
    elig = has_sg & has_fi & has_su
    frame = pd.DataFrame(
        {
            "village_id": pd.array(vid.astype(str), dtype="string"),
            "village_name": pd.array(vname.astype(str), dtype="string"),
            "region": region.astype(int),
            "province_code": pd.array(province.astype(str), dtype="string"),
            "district_code": pd.array([f"{d:02d}" for d in district], dtype="string"),
            "subdistrict_code": pd.array([f"{s:02d}" for s in subdistrict], dtype="string"),
            "n_households": n_households.astype(int),
            "mean_income": mean_income.astype(float),
            "share_elderly": share_elderly.astype(float),
            "share_farm": share_farm.astype(float),
            "has_savings_group": has_sg.astype(int),
            "sg_age": np.where(has_sg, sg_age, 0).astype(int),
            "sg_members": np.where(has_sg, sg_members, 0).astype(int),
            "sg_savings": np.where(has_sg, sg_savings, 0.0).astype(float),
            "has_fund_institution": has_fi.astype(int),
            "has_sufficiency": has_su.astype(int),
            "eligible": elig.astype(int),
            "pilot": np.zeros(n, dtype=int),
        }
    )
    sel = pilot_selection(frame, config=cfg)
    gumbel = stream(seed, "frame.pilot").gumbel(size=n)
    # Gumbel-max: argmax(score + Gumbel) within a region is a draw with prob ∝ exp(score)
    key = np.where(frame["eligible"].to_numpy() == 1, sel["score"].to_numpy() + gumbel, -np.inf)
    chosen = pd.Series(key).groupby(frame["region"].to_numpy()).idxmax().to_numpy()
    frame.loc[chosen, "pilot"] = 1
    frame = frame.sort_values("village_id", kind="mergesort").reset_index(drop=True)
    if frame["village_id"].duplicated().any():  # pragma: no cover - guarded by construction
        raise RuntimeError("duplicate village codes in simulated frame")
    return frame


def pilot_selection(frame: pd.DataFrame, *, config: FrameConfig | None = None) -> pd.DataFrame:
    """The pilot-selection model evaluated on a frame.

    ``score_v = sum_k coef_k * z_vk`` with ``z_vk`` covariate ``k`` standardised (mean 0, SD 1 with
    ddof 1) over the eligible villages of the frame; within region ``g`` the pilot is drawn among the
    eligible villages with probability ``exp(score_v) / sum_{u eligible in g} exp(score_u)``.

    Returns
    -------
    pandas.DataFrame
        ``village_id``, ``region``, ``eligible``, ``score`` and ``prob`` (0 for ineligible villages),
        in the frame's row order.
    """
    cfg = config or FrameConfig()
    elig = frame["eligible"].to_numpy() == 1
    score = np.zeros(len(frame))
    for col, coef in cfg.selection.items():
        if col not in frame.columns:
            raise ValueError(f"selection covariate {col!r} is not a frame column")
        x = frame[col].to_numpy(dtype=float)
        sd = x[elig].std(ddof=1)
        z = (x - x[elig].mean()) / sd if sd > 0 else np.zeros_like(x)
        score += coef * z
    w = np.where(elig, np.exp(score - score[elig].max()), 0.0)
    tot = pd.Series(w).groupby(frame["region"].to_numpy()).transform("sum").to_numpy()
    prob = np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)
    return pd.DataFrame(
        {
            "village_id": frame["village_id"].to_numpy(),
            "region": frame["region"].to_numpy(),
            "eligible": frame["eligible"].to_numpy(),
            "score": score,
            "prob": prob,
        }
    )
