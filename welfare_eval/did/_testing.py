"""Small synthetic matched-pair panels for tests, benchmarks and Monte Carlo checks of the DiD module.

Not the project's simulator (that is :mod:`welfare_eval.simulate`); this one only needs the shape of
the design: pairs of villages (one pilot, one comparison), households per village, waves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["matched_pair_panel", "savings_group_panel"]

WAVES = ("baseline", "midline", "endline")


def matched_pair_panel(
    *,
    pairs: int = 18,
    households: int = 30,
    waves: int = 3,
    effect: float = 0.0,
    seed: int = 0,
    weighted: bool = True,
    pair_sd: float = 1.0,
    village_sd: float = 0.5,
    shock_sd: float = 0.4,
    hh_sd: float = 1.0,
) -> pd.DataFrame:
    """Household × wave rows of a matched-pair design with a planted effect in post waves.

    Outcome = pair effect + village effect + pair × wave shock + village × wave shock (the cluster-level
    noise that makes few-cluster inference hard) + household noise (+ ``effect`` for pilot households
    after baseline). Weights (if ``weighted``) vary between villages and households.
    """
    rng = np.random.default_rng(seed)
    names = list(WAVES[:waves]) if waves <= 3 else [f"w{k}" for k in range(waves)]
    rows = []
    for p in range(1, pairs + 1):
        a_p = rng.normal(0, pair_sd)
        for arm in (1, 0):
            vid = f"{p:02d}{arm}"
            a_v = rng.normal(0, village_sd)
            base_w = rng.uniform(20, 80)
            for w_i, wave in enumerate(names):
                s_pw = rng.normal(0, shock_sd) if arm == 1 else 0.0
                s_vw = rng.normal(0, shock_sd)
                post = int(w_i > 0)
                for h in range(households):
                    y = a_p + a_v + s_pw + s_vw + rng.normal(0, hh_sd) + effect * arm * post
                    rows.append(
                        {
                            "pair_id": p,
                            "village_id": vid,
                            "hh_id": f"{vid}-{h:03d}",
                            "treated": arm,
                            "wave": wave,
                            "wave_no": w_i,
                            "post": post,
                            "y": y,
                            "x1": rng.normal(),
                            "weight": base_w * rng.uniform(0.5, 1.5) if weighted else 1.0,
                        }
                    )
    df = pd.DataFrame(rows)
    df["wave"] = pd.Categorical(df["wave"], categories=names, ordered=True)
    df["y"] = df["y"] + 0.3 * df["x1"]
    return df


def savings_group_panel(
    *,
    pairs: int = 18,
    groups: int = 2,
    years: tuple[int, int] = (2015, 2024),
    start: int = 2020,
    effect: float = 0.0,
    pretrend: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Yearly savings-group panel: ``groups`` groups per village, pilot villages start in ``start``.

    Outcome = group effect + pair × year shock + village × year shock + noise, plus ``effect`` for
    pilot groups from ``start`` on and a linear ``pretrend`` (per year) for pilot groups throughout.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(1, pairs + 1):
        pair_year = {y: rng.normal(0, 0.5) for y in range(years[0], years[1] + 1)}
        for arm in (1, 0):
            vid = f"{p:02d}{arm}"
            v_eff = rng.normal(0, 1)
            for y in range(years[0], years[1] + 1):
                vy = rng.normal(0, 0.3)
                for g in range(groups):
                    rows.append({
                        "pair_id": p, "village_id": vid, "group_id": f"{vid}-{g}", "treated": arm,
                        "year": y, "start": float(start) if arm == 1 else np.nan,
                        "savings": v_eff + pair_year[y] + vy + rng.normal(0, 0.5)
                        + (effect if arm == 1 and y >= start else 0.0) + (pretrend * (y - start) if arm else 0.0),
                    })
    return pd.DataFrame(rows)


def layout_panel(
    *,
    households: int = 10_000,
    pairs: int = 18,
    waves: int = 3,
    comparisons: int = 1,
    effect: float = 0.3,
    unbalanced: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Vectorised matched-pair household panel for benchmarks and layout tests (millions of rows).

    ``pairs`` matched sets of one pilot and ``comparisons`` comparison villages, about ``households`` in
    total spread evenly over the villages, ``waves`` survey rounds. ``unbalanced`` is the share of
    household-waves dropped at random (every village keeps each wave). Columns: ``pair_id``,
    ``village_id``, ``hh_id`` (integers), ``treated``, ``wave`` (categorical), ``wave_no``, ``post``,
    ``y``, ``x1`` (time-varying covariate), ``weight`` (varies over waves), ``hh_weight`` (constant
    within household).
    """
    rng = np.random.default_rng(seed)
    villages = pairs * (1 + comparisons)
    per_village = max(2, round(households / villages))
    n_hh = villages * per_village
    v_of_hh = np.repeat(np.arange(villages), per_village)
    pair_of_v = np.repeat(np.arange(pairs), 1 + comparisons)
    treated_v = np.tile(np.r_[1, np.zeros(comparisons, dtype=int)], pairs)
    names = list(WAVES[:waves]) if waves <= 3 else [f"w{k}" for k in range(waves)]
    hh = np.repeat(np.arange(n_hh), waves)
    wave_no = np.tile(np.arange(waves), n_hh)
    vil = v_of_hh[hh]
    pair = pair_of_v[vil]
    tr = treated_v[vil]
    post = (wave_no > 0).astype(int)
    a_p = rng.normal(0, 1.0, pairs)
    a_v = rng.normal(0, 0.5, villages)
    s_vw = rng.normal(0, 0.4, (villages, waves))
    s_pw = rng.normal(0, 0.4, (pairs, waves))
    a_h = rng.normal(0, 1.0, n_hh)
    base_w = rng.uniform(20, 80, villages)[v_of_hh] * rng.uniform(0.6, 1.4, n_hh)
    x1 = rng.normal(size=hh.size)
    y = (a_p[pair] + a_v[vil] + s_vw[vil, wave_no] + tr * s_pw[pair, wave_no] + a_h[hh]
         + rng.normal(0, 1.0, hh.size) + effect * tr * post + 0.3 * x1)
    df = pd.DataFrame({
        "pair_id": pair + 1, "village_id": vil + 1, "hh_id": hh + 1, "treated": tr,
        "wave": pd.Categorical(np.asarray(names, dtype=object)[wave_no], categories=names, ordered=True), "wave_no": wave_no,
        "post": post, "y": y, "x1": x1, "weight": base_w[hh] * rng.uniform(0.7, 1.3, hh.size),
        "hh_weight": base_w[hh],
    })
    if unbalanced > 0:
        drop = rng.random(hh.size) < unbalanced
        df = df.loc[~drop].reset_index(drop=True)
    return df
