"""Tests of welfare_eval.match.match_villages (structure, determinism, bad input, algorithms)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from welfare_eval.match import match_villages, tie_key
from welfare_eval.match.distance import covariance_matrix, mahalanobis_matrix

COVS = ["mean_income", "share_elderly", "share_farm", "sg_age", "sg_members", "sg_savings", "n_households"]


def synthetic_frame(
    seed: int = 1, per_region: int = 12, n_regions: int = 18, pilots_per_region: int = 1
) -> pd.DataFrame:
    """Candidate frame with selection bias: pilots have higher income, older/larger savings groups."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(1, n_regions + 1):
        for k in range(per_region):
            rows.append(
                {
                    "village_id": f"{10 + r:02d}{k // 10 + 1:02d}{k % 10 + 1:02d}{(k * 7) % 9 + 1:02d}",
                    "region": r,
                    "eligible": int(rng.random() < 0.85),
                    "mean_income": rng.normal(80000, 15000),
                    "share_elderly": rng.beta(2, 8),
                    "share_farm": rng.beta(5, 3),
                    "sg_age": float(rng.integers(1, 30)),
                    "sg_members": float(rng.integers(20, 300)),
                    "sg_savings": rng.lognormal(13, 1),
                    "n_households": float(rng.integers(50, 400)),
                }
            )
    f = pd.DataFrame(rows)
    f["pilot"] = 0
    score = (
        (f["mean_income"] - 80000) / 15000
        + (f["sg_age"] - 15) / 8
        + (np.log(f["sg_savings"]) - 13)
        + rng.normal(0, 0.5, len(f))
    )
    for r in range(1, n_regions + 1):
        idx = f.index[(f["region"] == r) & (f["eligible"] == 1)]
        top = score[idx].sort_values(ascending=False).index[:pilots_per_region]
        f.loc[top, "pilot"] = 1
    return f


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame()


def test_structure_one_pair_per_region(frame: pd.DataFrame) -> None:
    res = match_villages(frame, treat="pilot", covariates=COVS)
    p = res.pairs
    assert list(p.columns[:5]) == ["pair_id", "treated_id", "control_id", "region", "distance"]
    assert len(p) == 18 and list(p["pair_id"]) == list(range(1, 19))
    assert res.unmatched.empty
    # same region, comparison eligible and untreated, no reuse
    f = frame.set_index("village_id")
    assert (f.loc[p["treated_id"], "region"].to_numpy() == p["region"].to_numpy()).all()
    assert (f.loc[p["control_id"], "region"].to_numpy() == p["region"].to_numpy()).all()
    assert (f.loc[p["control_id"], "eligible"] == 1).all() and (f.loc[p["control_id"], "pilot"] == 0).all()
    assert p["control_id"].is_unique
    # reserves: 2 per pilot, distinct from primary matches, sorted by distance, not nearer than the match
    r = res.reserves
    assert (r.groupby("pair_id").size() == 2).all()
    assert not set(r["control_id"]) & set(p["control_id"])
    m = r.merge(p[["pair_id", "distance"]], on="pair_id", suffixes=("", "_match"))
    assert (m["distance"] >= m["distance_match"] - 1e-12).all()
    assert (r.groupby("pair_id")["distance"].apply(lambda s: s.is_monotonic_increasing)).all()
    # with one pilot per region the optimal match is the nearest eligible village of the region
    d = res.data
    cov = covariance_matrix(d[COVS])
    for _, row in p.iterrows():
        reg = d[(d["region"] == row["region"]) & (d["pilot"] == 0)]
        xt = d.loc[d["village_id"] == row["treated_id"], COVS].to_numpy(dtype=float)
        dd = mahalanobis_matrix(xt, reg[COVS].to_numpy(dtype=float), cov)[0]
        assert row["control_id"] == reg["village_id"].iloc[int(np.argmin(dd))]
        assert row["distance"] == pytest.approx(dd.min(), rel=1e-12)


@pytest.mark.parametrize("algorithm", ["optimal", "greedy"])
@pytest.mark.parametrize("kw", [{}, {"caliper": 0.5}, {"ratio": 2}, {"method": "propensity", "caliper": 0.3}])
def test_invariant_to_row_order(frame: pd.DataFrame, algorithm: str, kw: dict) -> None:
    f2 = synthetic_frame(seed=5, pilots_per_region=3, per_region=14)
    for fr in (frame, f2):
        ref = match_villages(fr, treat="pilot", covariates=COVS, algorithm=algorithm, **kw)
        for s in range(3):
            shuffled = fr.sample(frac=1.0, random_state=s)
            shuffled = shuffled[list(reversed(shuffled.columns))]  # column order too
            res = match_villages(shuffled, treat="pilot", covariates=COVS, algorithm=algorithm, **kw)
            pd.testing.assert_frame_equal(res.pairs, ref.pairs)
            pd.testing.assert_frame_equal(res.unmatched, ref.unmatched)
            pd.testing.assert_frame_equal(res.reserves, ref.reserves)


def test_ties_are_broken_by_seed_not_row_order() -> None:
    # one pilot, three candidates at identical distance (mirror images): the choice depends on the seed only
    f = pd.DataFrame(
        {
            "village_id": ["11010101", "11010102", "11010103", "11010104", "11010105"],
            "region": 1,
            "eligible": 1,
            "pilot": [1, 0, 0, 0, 0],
            "x": [0.0, 1.0, -1.0, 1.0, -1.0],
            "y": [0.0, 1.0, 1.0, -1.0, -1.0],
        }
    )
    chosen = {}
    for seed in range(12):
        got = {
            match_villages(f.sample(frac=1, random_state=s), treat="pilot", covariates=["x", "y"], seed=seed)
            .pairs["control_id"]
            .iloc[0]
            for s in range(4)
        }
        assert len(got) == 1  # row order never matters
        chosen[seed] = got.pop()
        # the winner is the tied candidate with the smallest seeded key
        expect = min(
            ["11010102", "11010103", "11010104", "11010105"], key=lambda v, seed=seed: (tie_key(v, seed), v)
        )
        assert chosen[seed] == expect
    assert len(set(chosen.values())) > 1  # the seed does change the tie-break


def _brute_force(dist: np.ndarray, ok: np.ndarray) -> tuple[int, float]:
    """Max number of admissible pairs, then min total distance, by enumeration."""
    nt, nc = dist.shape
    best = (-1, np.inf)
    for k in range(min(nt, nc), -1, -1):
        for rows in itertools.combinations(range(nt), k):
            for cols in itertools.permutations(range(nc), k):
                if all(ok[r, c] for r, c in zip(rows, cols, strict=True)):
                    tot = float(sum(dist[r, c] for r, c in zip(rows, cols, strict=True)))
                    if (k, -tot) > (best[0], -best[1]):
                        best = (k, tot)
        if best[0] == k:
            break
    return best


@pytest.mark.parametrize("seed", range(8))
def test_optimal_matches_brute_force(seed: int) -> None:
    f = synthetic_frame(seed=seed, per_region=7, n_regions=3, pilots_per_region=3)
    f["eligible"] = 1
    for caliper in (None, 0.4):
        kw = {"caliper": caliper, "ps_covariates": ["mean_income", "sg_age"]}
        res = match_villages(f, treat="pilot", covariates=COVS, **kw)
        d = res.data
        for reg in (1, 2, 3):
            sub = d[d["region"] == reg]
            t, c = sub[sub["pilot"] == 1], sub[sub["pilot"] == 0]
            dist = mahalanobis_matrix(t[COVS].to_numpy(float), c[COVS].to_numpy(float), res.covariance)
            if caliper is None:
                ok = np.ones(dist.shape, dtype=bool)
            else:
                lp_t, lp_c = t["logit_ps"].to_numpy(), c["logit_ps"].to_numpy()
                ok = np.abs(lp_t[:, None] - lp_c[None, :]) <= res.caliper_width
            k, tot = _brute_force(dist, ok)
            got = res.pairs[res.pairs["region"] == reg]
            assert len(got) == k
            assert got["distance"].sum() == pytest.approx(tot, rel=1e-12)
            greedy = match_villages(f, treat="pilot", covariates=COVS, algorithm="greedy", **kw).pairs
            g = greedy[greedy["region"] == reg]
            if len(g) == k:
                assert g["distance"].sum() >= tot - 1e-9


def test_caliper_applied_within_exact_strata(frame: pd.DataFrame) -> None:
    wide = match_villages(frame, treat="pilot", covariates=COVS)
    res = match_villages(frame, treat="pilot", covariates=COVS, caliper=0.1)
    assert (res.pairs["ps_distance"] <= res.caliper_width + 1e-12).all()
    assert res.caliper_width == pytest.approx(0.1 * res.data["logit_ps"].std(ddof=1))
    # every pilot is either matched or reported
    assert set(res.pairs["treated_id"]) | set(res.unmatched["treated_id"]) == set(
        frame.loc[frame["pilot"] == 1, "village_id"]
    )
    assert not set(res.pairs["treated_id"]) & set(res.unmatched["treated_id"])
    assert len(res.unmatched) > 0 and len(res.pairs) < len(wide.pairs)
    assert (res.unmatched["reason"] == "no comparison village within the caliper").all()
    # each unmatched pilot really has no candidate within the caliper in its region
    d = res.data.set_index("village_id")
    for _, u in res.unmatched.iterrows():
        same = d[(d["region"] == u["region"]) & (d["pilot"] == 0)]
        assert (np.abs(same["logit_ps"] - d.loc[u["treated_id"], "logit_ps"]) > res.caliper_width).all()


def test_ratio_two_without_replacement() -> None:
    f = synthetic_frame(seed=3, pilots_per_region=2, per_region=10)
    res = match_villages(f, treat="pilot", covariates=COVS, ratio=2)
    p = res.pairs
    assert p["control_id"].is_unique
    assert (p.groupby("pair_id").size() <= 2).all()
    assert set(p["match_rank"]) <= {1, 2}
    full = p.groupby("pair_id").size()
    short = set(p.loc[p["pair_id"].isin(full[full < 2].index), "treated_id"])
    assert short <= set(res.unmatched["treated_id"])
    md = res.matched_data()
    ctrl_w = md.loc[md["pilot"] == 0].groupby("pair_id")["weight"].sum()
    assert np.allclose(ctrl_w, 1.0)


def test_region_without_comparison_is_reported(frame: pd.DataFrame) -> None:
    f = frame.copy()
    f.loc[(f["region"] == 4) & (f["pilot"] == 0), "eligible"] = 0
    res = match_villages(f, treat="pilot", covariates=COVS)
    assert len(res.pairs) == 17
    u = res.unmatched
    assert len(u) == 1 and u["region"].iloc[0] == 4
    assert u["reason"].iloc[0] == "no eligible comparison village in the stratum"


def test_pilot_list_with_unknown_village(frame: pd.DataFrame) -> None:
    pilots = [*frame.loc[frame["pilot"] == 1, "village_id"], "99999999"]
    res = match_villages(frame.drop(columns="pilot"), treat=pilots, covariates=COVS)
    assert len(res.pairs) == 18
    assert res.unmatched.loc[0, "treated_id"] == "99999999"
    assert res.unmatched.loc[0, "reason"] == "pilot not in the frame"
    ref = match_villages(frame, treat="pilot", covariates=COVS)
    pd.testing.assert_frame_equal(res.pairs, ref.pairs)


def test_bad_input_errors(frame: pd.DataFrame) -> None:
    f = frame.copy()
    f["const"] = 1.0
    with pytest.raises(ValueError, match="no variance"):
        match_villages(f, treat="pilot", covariates=[*COVS, "const"])
    with pytest.raises(ValueError, match="no variance"):
        match_villages(f, treat="pilot", covariates=[*COVS, "const"], method="propensity")
    f = frame.copy()
    f["dup"] = 2 * f["mean_income"]
    with pytest.raises(ValueError, match="linearly dependent"):
        match_villages(f, treat="pilot", covariates=[*COVS, "dup"])
    with pytest.raises(ValueError, match="not in the frame"):
        match_villages(frame, treat="pilot", covariates=["nope"])
    f = pd.concat([frame, frame.iloc[[0]]])
    with pytest.raises(ValueError, match="more than once"):
        match_villages(f, treat="pilot", covariates=COVS)
    f = frame.copy()
    f.loc[f.index[0], "pilot"] = 2
    with pytest.raises(ValueError, match="0/1"):
        match_villages(f, treat="pilot", covariates=COVS)
    with pytest.raises(ValueError, match="eligible"):
        match_villages(frame.drop(columns="eligible"), treat="pilot", covariates=COVS)
    with pytest.raises(ValueError, match="ratio"):
        match_villages(frame, treat="pilot", covariates=COVS, ratio=0)
    with pytest.raises(ValueError, match="caliper"):
        match_villages(frame, treat="pilot", covariates=COVS, caliper=-1)
    with pytest.raises(ValueError, match="method"):
        match_villages(frame, treat="pilot", covariates=COVS, method="nearest")  # type: ignore[arg-type]


def test_missing_covariate_policies(frame: pd.DataFrame) -> None:
    f = frame.copy()
    pilot0 = f.loc[f["pilot"] == 1, "village_id"].iloc[0]
    cand = f.loc[(f["pilot"] == 0) & (f["eligible"] == 1), "village_id"].iloc[3]
    f.loc[f["village_id"] == pilot0, "share_farm"] = np.nan
    f.loc[f["village_id"] == cand, "sg_age"] = np.nan
    with pytest.raises(ValueError, match="missing covariates"):
        match_villages(f, treat="pilot", covariates=COVS)
    imp = match_villages(f, treat="pilot", covariates=COVS, missing="impute")
    assert len(imp.pairs) == 18
    assert set(imp.imputed["village_id"]) == {pilot0, cand}
    pop = f[(f["pilot"] == 1) | (f["eligible"] == 1)]
    assert imp.imputed.set_index("covariate").loc["share_farm", "value"] == pytest.approx(
        pop["share_farm"].mean()
    )
    exc = match_villages(f, treat="pilot", covariates=COVS, missing="exclude")
    assert len(exc.pairs) == 17
    assert set(exc.excluded["village_id"]) == {pilot0, cand}
    assert exc.unmatched["treated_id"].tolist() == [pilot0]
    assert "share_farm" in exc.unmatched["reason"].iloc[0]
    assert cand not in set(exc.pairs["control_id"]) | set(exc.reserves["control_id"])


def test_extra_exact_variable() -> None:
    f = synthetic_frame(seed=7, pilots_per_region=2, per_region=14)
    f["zone"] = (f.index % 2).astype(int)
    res = match_villages(f, treat="pilot", covariates=COVS, exact=["region", "zone"])
    z = f.set_index("village_id")["zone"]
    assert (z.loc[res.pairs["treated_id"]].to_numpy() == z.loc[res.pairs["control_id"]].to_numpy()).all()
    assert "zone" in res.pairs.columns
    assert set(res.pairs["treated_id"]) | set(res.unmatched["treated_id"]) == set(
        f.loc[f["pilot"] == 1, "village_id"]
    )


def test_result_object(frame: pd.DataFrame) -> None:
    res = match_villages(frame, treat="pilot", covariates=COVS)
    assert "Mahalanobis covariance" in res.summary()
    pd.testing.assert_frame_equal(res.tidy(), res.pairs)
    assert "<table" in res._repr_html_()
    ax = res.plot()
    assert len(ax.get_yticklabels()) == len(COVS)
    assert "Mean household income (baht/year)" in [t.get_text() for t in ax.get_yticklabels()]


def _greedy_reference(dist: np.ndarray, ok: np.ndarray, ratio: int) -> list[tuple[int, int]]:
    """Plain-Python closest-pair-first greedy in rounds (ties: lower pilot, then lower candidate index)."""
    nt, nc = dist.shape
    used: set[int] = set()
    count = [0] * nt
    out = []
    for rnd in range(ratio):
        done: set[int] = set()
        while True:
            best = None
            for i in range(nt):
                if count[i] != rnd or i in done:
                    continue
                for j in range(nc):
                    if j in used or not ok[i, j]:
                        continue
                    if best is None or dist[i, j] < best[0]:
                        best = (dist[i, j], i, j)
            if best is None:
                break
            _, i, j = best
            out.append((i, j))
            used.add(j)
            done.add(i)
            count[i] += 1
    return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ratio", [1, 2])
def test_greedy_matches_reference(seed: int, ratio: int) -> None:
    f = synthetic_frame(seed=seed + 100, per_region=9, n_regions=2, pilots_per_region=3)
    res = match_villages(f, treat="pilot", covariates=COVS, algorithm="greedy", ratio=ratio, seed=seed)
    d = res.data
    for reg in (1, 2):
        sub = d[d["region"] == reg]
        t, c = sub[sub["pilot"] == 1], sub[sub["pilot"] == 0]
        # the seeded canonical order used for ties
        t = t.iloc[np.lexsort((t["village_id"].to_numpy(), [tie_key(v, seed) for v in t["village_id"]]))]
        c = c.iloc[np.lexsort((c["village_id"].to_numpy(), [tie_key(v, seed) for v in c["village_id"]]))]
        dist = mahalanobis_matrix(t[COVS].to_numpy(float), c[COVS].to_numpy(float), res.covariance)
        ref = {
            (t["village_id"].iloc[i], c["village_id"].iloc[j])
            for i, j in _greedy_reference(dist, np.ones_like(dist, bool), ratio)
        }
        got = res.pairs[res.pairs["region"] == reg]
        assert set(zip(got["treated_id"], got["control_id"], strict=True)) == ref


def test_reserves_with_several_pilots_per_region() -> None:
    f = synthetic_frame(seed=21, per_region=10, n_regions=3, pilots_per_region=3)
    res = match_villages(f, treat="pilot", covariates=COVS, n_reserves=3)
    used = set(res.pairs["control_id"])
    r = res.reserves
    assert not set(r["control_id"]) & used
    assert (r.groupby("treated_id")["reserve_rank"].max() <= 3).all()
    # reserves of a pilot are the nearest unused candidates of its region
    d = res.data.set_index("village_id")
    for tid, grp in r.groupby("treated_id"):
        reg = d.loc[tid, "region"]
        cand = d[(d["region"] == reg) & (d["pilot"] == 0) & ~d.index.isin(used)]
        dd = mahalanobis_matrix(
            d.loc[[tid], COVS].to_numpy(float), cand[COVS].to_numpy(float), res.covariance
        )[0]
        expect = list(cand.index[np.argsort(dd, kind="stable")][: len(grp)])
        assert list(grp.sort_values("reserve_rank")["control_id"]) == expect
    assert res.reserves["pair_id"].notna().all()


def test_ineligible_pilot_is_matched_and_noted(frame: pd.DataFrame) -> None:
    f = frame.copy()
    pid = f.loc[f["pilot"] == 1, "village_id"].iloc[2]
    f.loc[f["village_id"] == pid, "eligible"] = 0
    res = match_villages(f, treat="pilot", covariates=COVS)
    assert pid in set(res.pairs["treated_id"])
    assert res.info["ineligible_pilots"] == [pid]
    assert any(pid in n for n in res.notes())


def test_nothing_matched_is_reported_not_crashed(frame: pd.DataFrame) -> None:
    res = match_villages(frame, treat="pilot", covariates=COVS, caliper=1e-9)
    assert res.pairs.empty and len(res.unmatched) == 18
    assert list(res.pairs.columns[:5]) == ["pair_id", "treated_id", "control_id", "region", "distance"]
    with pytest.raises(ValueError, match="no pilot was matched"):
        res.balance()
    with pytest.raises(ValueError, match="missing must be"):
        match_villages(frame, treat="pilot", covariates=COVS, missing="drop")  # type: ignore[arg-type]


def test_balance_result_exports_and_thai_plot(frame: pd.DataFrame, tmp_path) -> None:
    bal = match_villages(frame, treat="pilot", covariates=COVS).balance()
    t = bal.tidy()
    assert set(t["sample"]) == {"before", "after"} and len(t) == 2 * len(COVS)
    back = pd.read_csv(bal.to_csv(tmp_path / "bal.csv"))
    np.testing.assert_allclose(back["smd"], t["smd"])
    assert pd.read_excel(bal.to_excel(tmp_path / "bal.xlsx"), sheet_name="notes").shape[0] == len(bal.notes())
    assert "<table" in bal.to_html(tmp_path / "bal.html")
    ax = bal.plot(lang="th")
    assert "สัดส่วนผู้สูงอายุ" in [x.get_text() for x in ax.get_yticklabels()]
    # covariate without a label falls back to its name
    f = frame.assign(extra=np.arange(len(frame), dtype=float) % 7)
    ax2 = match_villages(f, treat="pilot", covariates=[*COVS, "extra"]).plot()
    assert "extra" in [x.get_text() for x in ax2.get_yticklabels()]
