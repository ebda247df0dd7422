"""Step 2 of the synthetic study: household populations, samples, three waves, admin panel, committee.

The equations are documented in :mod:`welfare_eval.simulate`; the constants below are their
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr

import welfare_eval.reference as r
from welfare_eval._results import ResultBase
from welfare_eval.simulate._rng import names, stream
from welfare_eval.simulate.config import FieldworkConfig
from welfare_eval.simulate.truth import Truth

__all__ = [
    "ADMIN_EFFECTS",
    "FACTOR_COEFFICIENTS",
    "FUND_COLUMNS",
    "WELFARE_MODEL",
    "Fieldwork",
    "national_id_check_digit",
    "sample_village",
    "simulate_fieldwork",
]

#: welfare type -> (baseline probability of receipt in 12 months, full effect in percentage points
#: for a fully eligible household, median amount in baht given receipt)
WELFARE_MODEL: dict[str, tuple[float, float, float]] = {
    "childbirth": (0.04, 2.0, 1000.0),
    "illness": (0.15, 8.0, 500.0),
    "elderly": (0.20, 10.0, 1200.0),
    "death": (0.04, 2.0, 3000.0),
    "disadvantaged": (0.06, 4.0, 1000.0),
    "occupation": (0.08, 5.0, 2000.0),
    "education": (0.06, 0.0, 800.0),
    "disaster": (0.03, 2.0, 1500.0),
    "other": (0.04, 1.0, 500.0),
}

#: Full (endline) effect parameters of the other household outcomes, on the model's scale:
#: percentage points for probabilities, baht for money, latent units for the Likert scales.
OUTCOME_PARAMETERS: dict[str, float] = {
    "coped": 12.0,
    "savings": 3000.0,
    "debt": 0.0,
    "qol_latent": 0.40,
    "self_reliance_latent": 0.30,
    "member_savings_group": 5.0,
    "member_welfare_fund": 15.0,
    "member_village_fund": 0.0,
}

#: Effect modification of a pilot village by its latent success-factor scores f_vk (standard normal):
#: multiplier m_v = max(0, 1 + sum_k beta_k f_vk). Factors not listed have beta 0.
FACTOR_COEFFICIENTS: dict[str, float] = {"committee": 0.15, "cooperation": 0.12, "fund": 0.10}

#: Event-time effects (event time e = year - start_year) on the pilots' savings-group panel:
#: ``welfare_share`` in percentage points of profit, ``welfare_payout_per_member`` in baht.
ADMIN_EFFECTS: dict[str, dict[int, float]] = {
    "welfare_share": {0: 3.0, 1: 5.0, 2: 7.0},
    "welfare_payout_per_member": {0: 50.0, 1: 100.0, 2: 150.0},
}

#: Welfare-fund columns of the savings-group panel (baht): the identity is
#: ``fund_opening + fund_income - welfare_payout = fund_closing`` with
#: ``fund_income = alloc_welfare + fund_income_other``.
FUND_COLUMNS: tuple[str, ...] = ("fund_opening", "fund_income_other", "fund_income", "fund_closing")

#: Default profit-allocation shares (percent) of a savings group, by reference code.
BASE_ALLOCATION: dict[str, float] = {
    "administration": 10.0,
    "dividend": 40.0,
    "public_benefit": 10.0,
    "committee_remuneration": 8.0,
    "expenses": 7.0,
    "reserve": 15.0,
    "welfare": 10.0,
}

_FAMILIES = (
    "receipt",
    "coping",
    "savings",
    "debt",
    "qol",
    "self_reliance",
    "member_savings_group",
    "member_welfare_fund",
    "member_village_fund",
)
_QOL_B = np.array([0.2, 0.0, -0.2, 0.1, -0.1])
_SR_B = np.array([0.1, -0.1, 0.0, 0.2])
_STATUS = ("refused", "not_at_home", "moved")
_STATUS_P = (0.4, 0.4, 0.2)
_ROLES = ("chair", "vice_chair", "secretary", "treasurer")


def national_id_check_digit(first12: np.ndarray) -> np.ndarray:
    """Check digit of Thai 13-digit national IDs: ``(11 - sum_{i=1..12} d_i (14 - i) mod 11) mod 10``.

    Parameters
    ----------
    first12 : array of shape (n, 12)
        The first twelve digits.
    """
    d = np.asarray(first12, dtype=np.int64)
    w = 14 - np.arange(1, 13)
    return (11 - (d @ w) % 11) % 10


@dataclass(frozen=True)
class Fieldwork(ResultBase):
    """The fieldwork of a study (tidy tables, PII included; the raw exports are made from these).

    Attributes
    ----------
    villages : DataFrame
        Study villages: frame covariates, ``arm``, ``treated``, ``pair_id``, ``n_households`` (N)
        and ``n_sampled`` (n per wave).
    households : DataFrame
        One row per sampled household × wave with ``status`` (interviewed/refused/not_at_home/
        moved), ``design_weight`` = N/n, ``n_population``, PII, submission metadata and outcomes
        (missing unless interviewed).
    benefits : DataFrame
        Interviewed household × wave × welfare type: ``received`` (0/1), ``amount`` (baht).
    admin : DataFrame
        Savings group × CE year: members, savings, loans, profit, its allocation (``alloc_<code>``,
        baht), ``welfare_share`` (percent of profit), ``welfare_payout``, ``welfare_payout_per_member``.
    committee : DataFrame
        Committee member × item: ``village_id``, ``member_no``, ``role``, ``item``, ``factor``, ``score``.
    truth : Truth
        The planted truths (without the frame's selection model, which :func:`simulate_study` adds).
    config : FieldworkConfig
    """

    villages: pd.DataFrame
    households: pd.DataFrame
    benefits: pd.DataFrame
    admin: pd.DataFrame
    committee: pd.DataFrame
    truth: Truth
    config: FieldworkConfig = field(default_factory=FieldworkConfig)

    title = "Simulated fieldwork"

    def tidy(self) -> pd.DataFrame:
        """Interviews by wave, arm and status."""
        h = self.households
        return h.groupby(["wave", "arm", "status"], sort=True, observed=True).size().rename("n").reset_index()


def _check_study(frame: pd.DataFrame, study: pd.DataFrame) -> pd.DataFrame:
    need = {"village_id", "arm", "pair_id"}
    miss = need - set(study.columns)
    if miss:
        raise ValueError(f"study table lacks column(s) {sorted(miss)}; it needs village_id, arm, pair_id")
    s = study[["village_id", "arm", "pair_id"]].copy()
    s["village_id"] = s["village_id"].astype(str)
    s["arm"] = s["arm"].astype(str)
    bad = s.loc[~s["arm"].isin(r.ARMS), "arm"]
    if len(bad):
        raise ValueError(f"study: arm {bad.iloc[0]!r} is not one of {r.ARMS}")
    dup = s.loc[s["village_id"].duplicated(), "village_id"]
    if len(dup):
        raise ValueError(f"study: village {dup.iloc[0]} appears twice; each study village once")
    unknown = s.loc[~s["village_id"].isin(frame["village_id"].astype(str)), "village_id"]
    if len(unknown):
        raise ValueError(f"study: village {unknown.iloc[0]} is not in the frame")
    s["pair_id"] = s["pair_id"].astype(int)
    fr = frame.copy()
    fr["village_id"] = fr["village_id"].astype(str)
    out = s.merge(fr, on="village_id", how="left", validate="1:1")
    out = out.sort_values("village_id", kind="mergesort").reset_index(drop=True)
    out["treated"] = (out["arm"] == "pilot").astype(int)
    return out


def _z(frame: pd.DataFrame, col: str, values: pd.Series, *, log: bool = False) -> np.ndarray:
    """Standardise ``values`` by the mean and SD of ``col`` over the whole frame."""
    ref = frame[col].to_numpy(dtype=float)
    x = values.to_numpy(dtype=float)
    if log:
        ref, x = np.log1p(ref), np.log1p(x)
    sd = ref.std(ddof=1)
    return (x - ref.mean()) / sd if sd > 0 else np.zeros_like(x)


def _factor_scores(seed: int, vids: np.ndarray) -> pd.DataFrame:
    """Latent success-factor scores f_vk: two correlated higher-order groups (corr 0.4), loading 0.7."""
    sf = r.success_factors()
    rng = stream(seed, "fieldwork.factors")
    n = vids.size
    g = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.4], [0.4, 1.0]], size=n)
    xi = rng.standard_normal((n, len(sf)))
    grp = (sf["group"] == "external").to_numpy().astype(int)
    f = 0.7 * g[:, grp] + np.sqrt(1 - 0.49) * xi
    out = pd.DataFrame(f, columns=list(sf["code"]))
    out.insert(0, "village_id", vids)
    return out


def simulate_fieldwork(
    frame: pd.DataFrame,
    study: pd.DataFrame,
    *,
    seed: int = 2568,
    config: FieldworkConfig | None = None,
) -> Fieldwork:
    """Simulate the fieldwork of a study: samples, three waves of outcomes, admin panel, committee.

    Parameters
    ----------
    frame : DataFrame
        The candidate frame (:func:`~welfare_eval.simulate.simulate_frame`).
    study : DataFrame
        Study villages: ``village_id``, ``arm`` (pilot/comparison), ``pair_id``.
    seed : int
        Seed; the fieldwork uses the named streams ``fieldwork.*``.
    config : FieldworkConfig, optional

    Returns
    -------
    Fieldwork
    """
    cfg = config or FieldworkConfig()
    vil = _check_study(frame, study)
    nv = len(vil)
    vids = vil["village_id"].to_numpy(dtype=str)
    waves = r.WAVES
    nt = len(waves)
    lam = np.array([0.0, cfg.midline_share, 1.0]) * cfg.effect_scale
    treated = vil["treated"].to_numpy()

    # ---- village covariates (standardised over the whole frame) ------------------------------
    z_inc = _z(frame, "mean_income", vil["mean_income"], log=True)
    z_sgs = _z(frame, "sg_savings", vil["sg_savings"], log=True)
    z_eld = _z(frame, "share_elderly", vil["share_elderly"])
    z_farm = _z(frame, "share_farm", vil["share_farm"])
    sg_share = np.clip(vil["sg_members"].to_numpy() / vil["n_households"].to_numpy(), 0.05, 0.95)

    # ---- success factors and effect multipliers ------------------------------------------------
    fs = _factor_scores(seed, vids)
    mult = 1.0 + sum(b * fs[k].to_numpy() for k, b in FACTOR_COEFFICIENTS.items())
    mult = np.maximum(mult, 0.0)
    dm = treated * mult  # effect multiplier, 0 in comparison villages

    # ---- village effects, pair x wave and village x wave shocks -------------------------------
    rv = stream(seed, "fieldwork.village_effects")
    nf = len(_FAMILIES)
    a = rv.normal(0.0, cfg.sd_village, size=(nv, nf))
    e = rv.normal(0.0, cfg.sd_village_wave, size=(nv, nt, nf))
    pairs = np.unique(vil["pair_id"].to_numpy())
    rp = stream(seed, "fieldwork.pair_shocks")
    s_pair = rp.normal(0.0, cfg.sd_pair_wave, size=(pairs.size, nt, nf))
    pidx = np.searchsorted(pairs, vil["pair_id"].to_numpy())
    shock = a[:, None, :] + s_pair[pidx] + e  # (nv, nt, nf)
    fam = {k: i for i, k in enumerate(_FAMILIES)}

    # ---- household populations ----------------------------------------------------------------
    N = vil["n_households"].to_numpy().astype(int)
    vi = np.repeat(np.arange(nv), N)  # village index of each population household
    line = np.concatenate([np.arange(1, k + 1) for k in N])
    P = vi.size
    rh = stream(seed, "fieldwork.population")
    hh_size = np.clip(1 + rh.poisson(2.4, P), 1, 12)
    female = rh.random(P) < 0.3
    head_age0 = np.clip(
        np.round(rh.normal(50 + 40 * (vil["share_elderly"].to_numpy()[vi] - 0.22), 13)), 20, 90
    )
    farm = rh.random(P) < vil["share_farm"].to_numpy()[vi]
    elderly = (head_age0 >= 60) | (rh.random(P) < 0.25)
    h = rh.standard_normal(P)  # persistent household wellbeing
    has_debt = rh.random(P) < expit(0.5 + 0.3 * h)
    b_sav = np.exp(np.log(20_000) + 0.35 * z_inc[vi] + 0.25 * z_sgs[vi] + 0.5 * h)
    b_debt = np.exp(np.log(60_000) + 0.3 * z_inc[vi] + 0.5 * rh.standard_normal(P))
    z_persist = rh.standard_normal((P, 4))  # persistence of the membership and coping draws

    # ---- outcomes for every population household and wave (potential outcomes 0 and 1) --------
    ro = stream(seed, "fieldwork.outcomes")
    tt = np.arange(nt)[None, :]
    lam_m = lam[None, :] * dm[vi][:, None]  # (P, nt) effect factor lambda_t * D_v * m_v
    sh = shock[vi]  # (P, nt, nf)
    po: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    subset: dict[str, np.ndarray] = {}

    def binary(key: str, p0: np.ndarray, tau_pp: np.ndarray | float, u: np.ndarray) -> None:
        p1 = np.clip(p0 + lam_m * np.asarray(tau_pp) / 100.0, 0.0, 1.0)
        po[key] = ((u < p0).astype(float), (u < p1).astype(float))

    # welfare receipt and amounts
    elig = {
        "elderly": np.where(elderly, 1.0, 0.1),
        "childbirth": np.where((hh_size >= 3) & (head_age0 < 50), 1.0, 0.2),
        "education": np.where(hh_size >= 3, 1.0, 0.3),
    }
    lat_r = sh[:, :, fam["receipt"]] + 0.25 * z_sgs[vi][:, None] + 0.03 * tt
    amount_pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for code in r.welfare_types()["code"]:
        base, tau, med = WELFARE_MODEL[code]
        el = elig.get(code, np.ones(P))[:, None]
        b = min(0.9, base / float(el.mean()))
        p0 = el * expit(logit(b) + lat_r + 0.2 * h[:, None])
        u = ro.random((P, nt))
        binary(f"received_{code}", p0, tau * el, u)
        amt = np.round(np.exp(np.log(med) + 0.1 * z_inc[vi][:, None] + ro.normal(0, 0.4, (P, nt))), -1)
        r0, r1 = po[f"received_{code}"]
        po[f"amount_{code}"] = (r0 * amt, r1 * amt)
        amount_pairs.append(po[f"amount_{code}"])
    rec0 = np.stack([po[f"received_{c}"][0] for c in r.welfare_types()["code"]])
    rec1 = np.stack([po[f"received_{c}"][1] for c in r.welfare_types()["code"]])
    po["any_welfare"] = (rec0.max(axis=0), rec1.max(axis=0))
    po["n_welfare_types"] = (rec0.sum(axis=0), rec1.sum(axis=0))
    po["welfare_amount"] = (
        np.sum([p[0] for p in amount_pairs], axis=0),
        np.sum([p[1] for p in amount_pairs], axis=0),
    )

    # savings and debt (baht; village shocks scaled to baht, common wave trend)
    eps = ro.standard_normal((P, nt))
    sav0 = np.maximum(
        b_sav[:, None] * np.exp(0.25 * eps - 0.25**2 / 2) + 10_000 * sh[:, :, fam["savings"]] + 1500 * tt, 0.0
    )
    po["savings"] = (np.round(sav0), np.round(sav0 + lam_m * OUTCOME_PARAMETERS["savings"]))
    eps = ro.standard_normal((P, nt))
    debt0 = has_debt[:, None] * np.maximum(
        b_debt[:, None] * np.exp(0.25 * eps - 0.25**2 / 2) + 20_000 * sh[:, :, fam["debt"]] + 2000 * tt, 0.0
    )
    debt0 = np.round(debt0, -2)
    po["debt"] = (debt0, debt0 + lam_m * OUTCOME_PARAMETERS["debt"])

    # health shock (not affected) and coping given a shock
    shock_hh = ro.random((P, nt)) < (0.18 + 0.10 * (head_age0 >= 60) + 0.05 * elderly)[:, None]
    p0 = expit(-0.2 + 0.3 * z_inc[vi][:, None] + 0.3 * h[:, None] + sh[:, :, fam["coping"]] + 0.03 * tt)
    binary("coped", p0, OUTCOME_PARAMETERS["coped"], ro.random((P, nt)))
    subset["coped"] = shock_hh

    # Likert scales: latent + item noise, rounded and clipped to 1..5
    def likert(fkey: str, latent: np.ndarray, b: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
        noise = ro.normal(0.0, 0.6, size=(P, nt, b.size))
        x0 = 3.0 + b[None, None, :] + 0.8 * latent[:, :, None] + noise
        x1 = x0 + 0.8 * (lam_m * tau)[:, :, None]
        return np.clip(np.round(x0), 1, 5), np.clip(np.round(x1), 1, 5)

    lat_q = (
        0.3 * z_inc[vi][:, None]
        - 0.1 * z_eld[vi][:, None]
        + 0.4 * h[:, None]
        + sh[:, :, fam["qol"]]
        + 0.05 * tt
        + 0.4 * ro.standard_normal((P, nt))
    )
    q0, q1 = likert("qol", lat_q, _QOL_B, OUTCOME_PARAMETERS["qol_latent"])
    lat_s = (
        0.25 * z_inc[vi][:, None]
        + 0.2 * z_farm[vi][:, None]
        + 0.4 * h[:, None]
        + sh[:, :, fam["self_reliance"]]
        + 0.03 * tt
        + 0.4 * ro.standard_normal((P, nt))
    )
    s0, s1 = likert("self_reliance", lat_s, _SR_B, OUTCOME_PARAMETERS["self_reliance_latent"])
    po["qol_index"] = (q0.mean(axis=2), q1.mean(axis=2))
    po["self_reliance_index"] = (s0.mean(axis=2), s1.mean(axis=2))

    # memberships (persistent draws: u = Phi(0.8 z_i + 0.6 z_it))
    def persistent(col: int) -> np.ndarray:
        return ndtr(0.8 * z_persist[:, col][:, None] + 0.6 * ro.standard_normal((P, nt)))

    p0 = expit(
        logit(sg_share[vi])[:, None] + 0.5 * h[:, None] + sh[:, :, fam["member_savings_group"]] + 0.02 * tt
    )
    binary("member_savings_group", p0, OUTCOME_PARAMETERS["member_savings_group"], persistent(0))
    p0 = expit(
        -0.8 + 0.3 * z_sgs[vi][:, None] + 0.5 * h[:, None] + sh[:, :, fam["member_welfare_fund"]] + 0.03 * tt
    )
    binary("member_welfare_fund", p0, OUTCOME_PARAMETERS["member_welfare_fund"], persistent(1))
    p0 = expit(0.9 + 0.3 * h[:, None] + sh[:, :, fam["member_village_fund"]])
    binary("member_village_fund", p0, OUTCOME_PARAMETERS["member_village_fund"], persistent(2))

    # observed = potential outcome under the village's own arm
    d_hh = treated[vi].astype(bool)[:, None]
    obs = {k: np.where(d_hh, v[1], v[0]) for k, v in po.items()}
    q_obs = np.where(d_hh[:, :, None], q1, q0)
    s_obs = np.where(d_hh[:, :, None], s1, s0)

    # ---- planted household effects: ATT over the pilot villages' whole population --------------
    effects = _household_effects(po, subset, vi, treated, lam, cfg, vids)

    # ---- samples: panel with attrition and replacement, nonresponse ----------------------------
    rs = stream(seed, "fieldwork.sample")
    rr = stream(seed, "fieldwork.response")
    rows: list[pd.DataFrame] = []
    start = np.concatenate([[0], np.cumsum(N)])
    for j in range(nv):
        n_j = min(cfg.n_per_village, int(N[j]))
        for t, (cur, panel, status) in enumerate(
            sample_village(
                rs, rr, int(N[j]), n_j, attrition=cfg.attrition, nonresponse=cfg.nonresponse, waves=nt
            )
        ):
            rows.append(
                pd.DataFrame(
                    {
                        "pop": start[j] + cur,
                        "vidx": j,
                        "t": t,
                        "panel": panel,
                        "status": status,
                        "n_sampled": n_j,
                    }
                )
            )
    smp = pd.concat(rows, ignore_index=True)
    pi = smp["pop"].to_numpy()
    ti = smp["t"].to_numpy()
    vj = smp["vidx"].to_numpy()
    ok = smp["status"].to_numpy() == "interviewed"

    def pick(arr: np.ndarray) -> np.ndarray:
        return np.where(ok, arr[pi, ti], np.nan)

    hh = pd.DataFrame(
        {
            "village_id": vids[vj],
            "pair_id": vil["pair_id"].to_numpy()[vj],
            "region": vil["region"].to_numpy()[vj],
            "arm": vil["arm"].to_numpy()[vj],
            "treated": treated[vj],
            "wave": np.asarray(waves, dtype=object)[ti],
            "year": cfg.start_year + ti,
            "hh_line": line[pi],
            "panel": smp["panel"].to_numpy(),
            "status": smp["status"].to_numpy(),
            "interviewed": ok.astype(int),
            "n_population": N[vj],
            "n_sampled": smp["n_sampled"].to_numpy(),
        }
    )
    hh["hh_id"] = hh["village_id"] + "-" + hh["hh_line"].map(lambda x: f"{x:03d}")
    hh["design_weight"] = hh["n_population"] / hh["n_sampled"]
    pii = _pii(seed, P, female, head_age0)
    for key, vals in pii.items():
        hh[key] = pd.Series(vals[pi]).where(ok, None).to_numpy()
    hh["hh_size"] = np.where(ok, hh_size[pi], np.nan)
    hh["head_age"] = np.where(ok, head_age0[pi] + ti, np.nan)
    hh["head_sex"] = pd.Series(np.where(female[pi], "female", "male")).where(ok, None).to_numpy()
    hh["farm"] = np.where(ok, farm[pi].astype(float), np.nan)
    for code in r.welfare_types()["code"]:
        hh[f"received_{code}"] = pick(obs[f"received_{code}"])
        hh[f"amount_{code}"] = pick(obs[f"amount_{code}"])
    for k in ("any_welfare", "n_welfare_types", "welfare_amount", "savings", "debt"):
        hh[k] = pick(obs[k])
    hh["had_health_shock"] = pick(shock_hh.astype(float))
    hh["coped"] = np.where(hh["had_health_shock"] == 1, pick(obs["coped"]), np.nan)
    for i in range(_QOL_B.size):
        hh[f"qol_{i + 1}"] = np.where(ok, q_obs[pi, ti, i], np.nan)
    for i in range(_SR_B.size):
        hh[f"self_reliance_{i + 1}"] = np.where(ok, s_obs[pi, ti, i], np.nan)
    hh["qol_index"] = pick(obs["qol_index"])
    hh["self_reliance_index"] = pick(obs["self_reliance_index"])
    for k in ("member_savings_group", "member_welfare_fund", "member_village_fund"):
        hh[k] = pick(obs[k])
    # satisfaction with community welfare: asked from midline on, of households that received any
    sat = np.clip(np.round(3.8 + 0.7 * stream(seed, "fieldwork.satisfaction").standard_normal(len(hh))), 1, 5)
    hh["welfare_satisfaction"] = np.where((ti > 0) & (hh["any_welfare"].to_numpy() == 1), sat, np.nan)
    _add_submission_meta(hh, seed, cfg.start_year)
    hh = hh.sort_values(["village_id", "wave", "hh_line"], key=_wave_key, kind="mergesort").reset_index(
        drop=True
    )
    hh = _typed(hh)

    benefits = _benefits(hh)
    admin, fund_truth = _admin_panel(seed, vil, cfg)
    committee, loadings = _committee(seed, vil, fs, cfg)
    event = _event_effects(cfg)
    v_eff = _village_effects(po, subset, vi, treated, lam, vids, fs, mult)
    truth = Truth(
        seed=seed,
        start_year=cfg.start_year,
        effects=effects,
        village_effects=v_eff,
        factor_scores=fs,
        factor_coefficients=dict(FACTOR_COEFFICIENTS),
        item_loadings=loadings,
        event_time_effects=event,
        pretrend_slope=(cfg.pretrend_slope if cfg.violate_parallel_trends else 0.0),
        selection={},
        pilot_probabilities=pd.DataFrame(),
        defects=pd.DataFrame(),
        config={"fieldwork": _cfg_dict(cfg)},
        funds=fund_truth,
    )
    villages = vil.copy()
    villages["n_sampled"] = np.minimum(cfg.n_per_village, N)
    return Fieldwork(villages, hh, benefits, admin, committee, truth, cfg)


def sample_village(
    rs: np.random.Generator,
    rr: np.random.Generator,
    N: int,
    n: int,
    *,
    attrition: float,
    nonresponse: float,
    waves: int = 3,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Household samples of one village over the waves.

    Wave 0: simple random sample of ``n`` of the ``N`` households (0-based line numbers). Later
    waves: each household of the previous wave stays with probability ``1 - attrition``; leavers are
    replaced by a simple random sample from the never-sampled households (from all households not
    in the sample when those run out). Every household then answers with probability
    ``1 - nonresponse``; otherwise its status is refused / not_at_home / moved (0.4 / 0.4 / 0.2).
    The procedure is exchangeable in the households, so each is in a wave's sample with
    probability n/N.

    Returns
    -------
    list of (lines, panel, status)
        Per wave: sampled line numbers, 1 for households kept from the previous wave, status.
    """
    out = []
    ever = np.zeros(N, dtype=bool)
    cur = rs.choice(N, size=n, replace=False)
    ever[cur] = True
    for t in range(waves):
        panel = np.zeros(n, dtype=int)
        if t > 0:
            stay = rs.random(n) >= attrition
            kept = cur[stay]
            pool = np.flatnonzero(~ever)
            if pool.size < n - kept.size:
                pool = np.setdiff1d(np.arange(N), kept)
            new = rs.choice(pool, size=n - kept.size, replace=False)
            ever[new] = True
            cur = np.concatenate([kept, new])
            panel = np.concatenate([np.ones(kept.size, int), np.zeros(new.size, int)])
        resp = rr.random(n) >= nonresponse
        reason = rr.choice(len(_STATUS), size=n, p=_STATUS_P)
        status = np.where(resp, "interviewed", np.asarray(_STATUS, dtype=object)[reason])
        out.append((cur, panel, status))
    return out


def _wave_key(s: pd.Series) -> pd.Series:
    if s.name == "wave":
        return s.map({w: i for i, w in enumerate(r.WAVES)})
    return s


def _cfg_dict(cfg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cfg.__dict__.items():
        out[k] = (
            _cfg_dict(v) if hasattr(v, "__dataclass_fields__") else (list(v) if isinstance(v, tuple) else v)
        )
    return out


def _typed(hh: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer dtypes for 0/1, counts and Likert items; strings for text."""
    ints = [
        "hh_size",
        "head_age",
        "farm",
        "had_health_shock",
        "coped",
        "n_welfare_types",
        "welfare_satisfaction",
    ]
    ints += [c for c in hh.columns if c.startswith(("received_", "qol_", "self_reliance_", "member_"))]
    ints += ["any_welfare"]
    for c in ints:
        if c in ("qol_index", "self_reliance_index"):
            continue
        hh[c] = hh[c].astype("Float64").astype("Int64")
    for c in (
        "village_id",
        "arm",
        "wave",
        "status",
        "hh_id",
        "head_name",
        "national_id",
        "phone",
        "head_sex",
        "submission_uuid",
    ):
        hh[c] = hh[c].astype("string")
    return hh


def _pii(seed: int, P: int, female: np.ndarray, age: np.ndarray) -> dict[str, np.ndarray]:
    """Head-of-household name with title, 13-digit national ID (valid check digit), mobile phone."""
    rng = stream(seed, "fieldwork.pii")
    mg, fg = names("male_given"), names("female_given")
    sa, sb = names("surname_a"), names("surname_b")
    given = np.where(female, fg[rng.integers(0, fg.size, P)], mg[rng.integers(0, mg.size, P)])
    surname = sa[rng.integers(0, sa.size, P)] + sb[rng.integers(0, sb.size, P)]
    married = rng.random(P) < np.where(age >= 30, 0.85, 0.3)
    title = np.where(
        female,
        np.where(married, names("title_female_married")[0], names("title_female_single")[0]),
        names("title_male")[0],
    )
    full = np.array([f"{a}{b} {c}" for a, b, c in zip(title, given, surname, strict=True)], dtype=object)
    # national IDs: first digit 1..8, eleven random digits, mod-11 check digit; unique
    ids = np.empty(P, dtype=object)
    taken: set[str] = set()
    todo = np.arange(P)
    while todo.size:
        d = np.column_stack([rng.integers(1, 9, todo.size), rng.integers(0, 10, (todo.size, 11))])
        chk = national_id_check_digit(d)
        s = ["".join(map(str, row)) + str(c) for row, c in zip(d, chk, strict=True)]
        again = []
        for i, v in zip(todo, s, strict=True):
            if v in taken:
                again.append(i)
            else:
                taken.add(v)
                ids[i] = v
        todo = np.asarray(again, dtype=int)
    pre = rng.choice(np.array(["06", "08", "09"]), size=P)
    rest = rng.integers(0, 10, (P, 8))
    phone = np.array(
        [f"{p}{x[0]}-{x[1]}{x[2]}{x[3]}-{x[4]}{x[5]}{x[6]}{x[7]}" for p, x in zip(pre, rest, strict=True)],
        dtype=object,
    )
    return {"head_name": full, "national_id": ids, "phone": phone}


def _add_submission_meta(hh: pd.DataFrame, seed: int, start_year: int) -> None:
    """Interview date (Feb–Apr of the wave's year), submission time and a seeded ``_uuid``."""
    rng = stream(seed, "fieldwork.submission")
    n = len(hh)
    day = rng.integers(0, 80, n)
    minute = rng.integers(8 * 60, 18 * 60, n)
    base = pd.to_datetime(hh["year"].astype(str) + "-02-01").to_numpy()
    interview = base + day.astype("timedelta64[D]") + minute.astype("timedelta64[m]")
    delay = rng.integers(5, 3 * 24 * 60, n).astype("timedelta64[m]")
    hh["interview_date"] = pd.to_datetime(interview).normalize()
    hh["submitted_at"] = pd.to_datetime(interview + delay)
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hx = [bytes(row).hex() for row in b]
    hh["submission_uuid"] = [f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}" for x in hx]
    hh["interview_start"] = pd.to_datetime(interview)
    hh["interview_end"] = pd.to_datetime(interview + rng.integers(20, 61, n).astype("timedelta64[m]"))
    order = np.lexsort((hh["submission_uuid"].to_numpy(dtype=str), hh["submitted_at"].to_numpy()))
    sid = np.empty(n, dtype=np.int64)
    sid[order] = 100_001 + np.arange(n)
    hh["submission_id"] = sid


def _benefits(hh: pd.DataFrame) -> pd.DataFrame:
    ok = hh[hh["interviewed"] == 1]
    parts = []
    for code in r.welfare_types()["code"]:
        parts.append(
            pd.DataFrame(
                {
                    "hh_id": ok["hh_id"].to_numpy(),
                    "village_id": ok["village_id"].to_numpy(),
                    "wave": ok["wave"].to_numpy(),
                    "welfare_type": code,
                    "received": ok[f"received_{code}"].to_numpy(),
                    "amount": ok[f"amount_{code}"].to_numpy(dtype=float),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["welfare_type"] = out["welfare_type"].astype("string")
    return out


_UNITS = {
    "received": "percentage points",
    "amount": "baht",
    "any_welfare": "percentage points",
    "n_welfare_types": "types",
    "welfare_amount": "baht",
    "savings": "baht",
    "debt": "baht",
    "coped": "percentage points",
    "qol_index": "index points (1-5)",
    "self_reliance_index": "index points (1-5)",
    "member": "percentage points",
}


def _unit(key: str) -> tuple[str, float]:
    for prefix, unit in _UNITS.items():
        if key == prefix or key.startswith(prefix + "_"):
            return unit, (100.0 if unit == "percentage points" else 1.0)
    raise KeyError(key)  # pragma: no cover


def _parameter(key: str) -> float:
    """The nominal full effect parameter (for a fully eligible household with m_v = 1)."""
    if key.startswith("received_"):
        return WELFARE_MODEL[key.removeprefix("received_")][1]
    if key in OUTCOME_PARAMETERS:
        return OUTCOME_PARAMETERS[key]
    return float("nan")


def _household_effects(
    po: dict[str, tuple[np.ndarray, np.ndarray]],
    subset: dict[str, np.ndarray],
    vi: np.ndarray,
    treated: np.ndarray,
    lam: np.ndarray,
    cfg: FieldworkConfig,
    vids: np.ndarray,
) -> pd.DataFrame:
    tr = treated[vi].astype(bool)
    rows = []
    for key, (y0, y1) in po.items():
        unit, scale = _unit(key)
        for t, w in enumerate(r.WAVES):
            mask = tr & subset.get(key, np.ones_like(y0, dtype=bool))[:, t]
            diff = (y1[:, t] - y0[:, t])[mask]
            eff = float(diff.mean()) if diff.size else 0.0
            rows.append(
                {
                    "outcome": key,
                    "column": key,
                    "wave": w,
                    "unit": unit,
                    "effect": eff * scale,
                    "effect_data_scale": eff,
                    "parameter": _parameter(key) * lam[t],
                    "n_population_treated": int(mask.sum()),
                    "zero_effect": bool(np.all(y1[:, t][tr] == y0[:, t][tr])),
                }
            )
    return pd.DataFrame(rows)


def _village_effects(
    po: dict[str, tuple[np.ndarray, np.ndarray]],
    subset: dict[str, np.ndarray],
    vi: np.ndarray,
    treated: np.ndarray,
    lam: np.ndarray,
    vids: np.ndarray,
    fs: pd.DataFrame,
    mult: np.ndarray,
) -> pd.DataFrame:
    """Endline ATT of every pilot village on the headline outcomes, with its multiplier."""
    keys = ["any_welfare", "welfare_amount", "member_welfare_fund", "savings", "qol_index", "coped"]
    t = len(r.WAVES) - 1
    out = pd.DataFrame({"village_id": vids[treated == 1], "multiplier": mult[treated == 1]})
    for key in keys:
        y0, y1 = po[key]
        _, scale = _unit(key)
        m = subset.get(key, np.ones_like(y0, dtype=bool))[:, t]
        d = pd.Series((y1[:, t] - y0[:, t])[m] * scale).groupby(vi[m]).mean()
        idx = np.flatnonzero(treated == 1)
        out[f"effect_{key}"] = d.reindex(idx).to_numpy()
    return out


def _event_effects(cfg: FieldworkConfig) -> pd.DataFrame:
    rows = []
    for outcome, eff in ADMIN_EFFECTS.items():
        unit = "percentage points" if outcome == "welfare_share" else "baht per member"
        slope = (
            (cfg.pretrend_slope * (1.0 if outcome == "welfare_share" else 10.0))
            if cfg.violate_parallel_trends
            else 0.0
        )
        for e in range(-8, 3):
            rows.append(
                {
                    "outcome": outcome,
                    "event_time": e,
                    "year": cfg.start_year + e,
                    "effect": eff.get(e, 0.0) * cfg.effect_scale,
                    "unit": unit,
                    "differential_trend": slope * e,
                }
            )
    return pd.DataFrame(rows)


def _admin_panel(seed: int, vil: pd.DataFrame, cfg: FieldworkConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Yearly savings-group records from ``start_year - 8`` (or the founding year) to ``start_year + 2``,
    and the welfare fund's planted truth (one row per village with a savings group)."""
    rng = stream(seed, "fieldwork.admin")
    years = np.arange(cfg.start_year - 8, cfg.start_year + 3)
    ny = years.size
    nv = len(vil)
    frame_year = cfg.start_year - 1
    e = years - cfg.start_year
    pairs = np.unique(vil["pair_id"].to_numpy())
    pidx = np.searchsorted(pairs, vil["pair_id"].to_numpy())
    pair_share = rng.normal(0, 0.8, (pairs.size, ny))[pidx]
    pair_pay = rng.normal(0, 15.0, (pairs.size, ny))[pidx]
    growth = rng.normal(0.06, 0.02, nv)
    mem_growth = rng.normal(0.03, 0.01, nv)
    base_w = np.clip(rng.normal(10.0, 2.0, nv), 3.0, 20.0)
    # drawn to keep the order of this stream; the payout level c_v is set by the welfare fund below
    rng.normal(150.0, 30.0, nv)
    loan_ratio = rng.uniform(0.6, 0.9, (nv, ny))
    interest = rng.normal(0.06, 0.01, (nv, ny))
    noise_share = rng.normal(0, 1.0, (nv, ny))
    noise_pay = rng.normal(0, 20.0, (nv, ny))
    noise_mem = rng.normal(0, 0.02, (nv, ny))
    other_codes = [c for c in r.profit_allocation()["code"] if c != "welfare"]
    base_other = np.array([BASE_ALLOCATION[c] for c in other_codes])
    dir_other = rng.dirichlet(base_other * 2.0, nv)  # village-specific mix of the other categories
    d = vil["treated"].to_numpy()[:, None]
    slope = cfg.pretrend_slope if cfg.violate_parallel_trends else 0.0
    eff_share = np.array([ADMIN_EFFECTS["welfare_share"].get(int(k), 0.0) for k in e]) * cfg.effect_scale
    eff_pay = (
        np.array([ADMIN_EFFECTS["welfare_payout_per_member"].get(int(k), 0.0) for k in e]) * cfg.effect_scale
    )
    share = (
        base_w[:, None]
        + 0.2 * e[None, :]
        + pair_share
        + noise_share
        + d * (eff_share[None, :] + slope * e[None, :])
    )
    share = np.clip(share, 0.5, 60.0)
    m0 = vil["sg_members"].to_numpy(dtype=float)[:, None]
    s0 = vil["sg_savings"].to_numpy(dtype=float)[:, None]
    dt = (years - frame_year)[None, :]
    members = np.maximum(np.round(m0 * np.exp(mem_growth[:, None] * dt + noise_mem)), 5)
    savings = np.round(s0 * np.exp(growth[:, None] * dt), -2)
    loans = np.round(savings * loan_ratio, -2)
    profit = np.round(loans * np.maximum(interest, 0.01))
    founded = frame_year - vil["sg_age"].to_numpy()
    w_alloc = np.round(profit * share / 100.0)  # the savings group's welfare allocation (baht)
    trend_pay = 5.0 * e[None, :] + d * (eff_pay[None, :] + 10.0 * slope * e[None, :])
    fund = _fund_parameters(seed, vil, e, members, w_alloc, founded, years, trend_pay, cfg)
    ppm = fund["c"][:, None] + trend_pay + pair_pay + noise_pay
    ppm = np.maximum(ppm, 0.0)
    expected_ppm = fund["expected_ppm"]
    rows = []
    fund_rows = []
    for j in range(nv):
        if vil["has_savings_group"].iloc[j] != 1:
            continue
        keep = years >= founded[j]
        df = pd.DataFrame(
            {
                "village_id": vil["village_id"].iloc[j],
                "pair_id": int(vil["pair_id"].iloc[j]),
                "arm": vil["arm"].iloc[j],
                "treated": int(vil["treated"].iloc[j]),
                "year": years[keep],
                "event_time": e[keep],
                "members": members[j, keep].astype(int),
                "savings": savings[j, keep],
                "loans": loans[j, keep],
                "profit": profit[j, keep],
            }
        )
        w_amt = w_alloc[j, keep]
        rest = profit[j, keep] - w_amt
        other = np.round(rest[:, None] * dir_other[j][None, :])
        other[:, 0] += rest - other.sum(axis=1)  # rounding remainder to administration: sums exactly
        for k, c in enumerate(other_codes):
            df[f"alloc_{c}"] = other[:, k]
        df["alloc_welfare"] = w_amt
        df["welfare_share"] = 100.0 * w_amt / profit[j, keep]
        desired = np.round(ppm[j, keep] * members[j, keep])
        expected = expected_ppm[j, keep] * members[j, keep]
        bal = _fund_balances(j, fund, e[keep], w_amt, members[j, keep], desired, expected)
        df["welfare_payout"] = bal["payout"]
        df["welfare_payout_per_member"] = df["welfare_payout"] / df["members"]
        df["fund_opening"] = bal["opening"]
        df["fund_income_other"] = bal["other"]
        df["fund_income"] = w_amt + bal["other"]
        df["fund_closing"] = bal["closing"]
        rows.append(df)
        gap = float(expected[-1] - (w_amt[-1] + bal["other"][-1]))
        fund_rows.append(
            {
                "village_id": vil["village_id"].iloc[j],
                "arm": vil["arm"].iloc[j],
                "planted_exhaustion": bool(fund["planted"][j]),
                "kappa": float(fund["kappa"][j]),
                "payout_level": float(fund["c"][j]),
                "expected_payout_last": float(expected[-1]),
                "income_last": float(w_amt[-1] + bal["other"][-1]),
                "closing_last": float(bal["closing"][-1]),
                "years_to_exhaustion": float(bal["closing"][-1] / gap) if gap > 0 else float("inf"),
                "capped_years": int(np.sum(bal["payout"] < desired)),
            }
        )
    cols = ["alloc_" + c for c in r.profit_allocation()["code"]]
    if not rows:  # no study village has a savings group
        lead = [
            "village_id",
            "pair_id",
            "arm",
            "treated",
            "year",
            "event_time",
            "members",
            "savings",
            "loans",
        ]
        tail = ["profit", "welfare_share", "welfare_payout", "welfare_payout_per_member", *FUND_COLUMNS]
        return pd.DataFrame(columns=[*lead, "profit", *cols, *tail[1:]]), pd.DataFrame(columns=_FUND_TRUTH)
    out = pd.concat(rows, ignore_index=True)
    lead = [c for c in out.columns if not c.startswith("alloc_")]
    out = out[lead[:10] + cols + lead[10:]]
    out["village_id"] = out["village_id"].astype("string")
    out["arm"] = out["arm"].astype("string")
    ft = pd.DataFrame(fund_rows, columns=_FUND_TRUTH)
    ft["village_id"] = ft["village_id"].astype("string")
    ft["arm"] = ft["arm"].astype("string")
    return out, ft


_FUND_TRUTH = (
    "village_id",
    "arm",
    "planted_exhaustion",
    "kappa",
    "payout_level",
    "expected_payout_last",
    "income_last",
    "closing_last",
    "years_to_exhaustion",
    "capped_years",
)


def _fund_parameters(
    seed: int,
    vil: pd.DataFrame,
    e: np.ndarray,
    members: np.ndarray,
    w_alloc: np.ndarray,
    founded: np.ndarray,
    years: np.ndarray,
    trend_pay: np.ndarray,
    cfg: FieldworkConfig,
) -> dict[str, np.ndarray]:
    """Village parameters of the welfare fund (stream ``fieldwork.fund``; see :mod:`welfare_eval.simulate`).

    Returns arrays over villages: ``kappa`` (target payout / income ratio), ``c`` (payout level per
    member), ``contribution`` (members' contributions, baht per member and year), ``opening_years``
    (opening balance in years of income), ``reserve_end`` (planted villages' last closing balance as
    a share of the last payout), ``planted`` (0/1) and ``treated``; and ``expected_ppm`` (villages ×
    years, the expected payout per member without noise).
    """
    rng = stream(seed, "fieldwork.fund")
    nv = len(vil)
    kappa = rng.uniform(0.70, 0.85, nv)
    opening_years = rng.uniform(1.0, 2.5, nv)
    reserve_end = rng.uniform(0.5, 0.8, nv)
    order = rng.permutation(nv)
    treated = vil["treated"].to_numpy(dtype=int)
    exists: np.ndarray = np.asarray(years[None, :] >= founded[:, None])
    pre: np.ndarray = np.asarray(exists & (e[None, :] < 0))
    has_pre = np.asarray(pre.any(axis=1), dtype=bool)
    pre = np.asarray(np.where(has_pre[:, None], pre, exists))
    apm = w_alloc / members
    a_bar = np.array([float(apm[j, pre[j]].mean()) if pre[j].any() else 0.0 for j in range(nv)])
    # payout level: pre-period payouts about kappa x the savings group's welfare allocation per member
    # (mean pre-period event time is -4.5, so the common trend 5e averages -22.5); at least 90 baht so
    # that the trend and noise rarely push a payout below zero
    c = np.maximum(kappa * a_bar + 22.5, 90.0)
    expected_ppm = np.maximum(c[:, None] + trend_pay, 0.0)
    # members' contributions per member: the expected shortfall per member at the end of the village's
    # own years (pilots: before the start) -- expected payout / kappa less the mean allocation of the
    # last three -- so that the fund keeps pace with the payouts' trend
    contribution = np.zeros(nv)
    shortfall = np.zeros(nv)
    for j in range(nv):
        own = np.flatnonzero(exists[j] & ((e < 0) if treated[j] else np.ones_like(e, dtype=bool)))
        if own.size == 0:
            continue
        last = own[-3:]
        contribution[j] = max(0.0, expected_ppm[j, own[-1]] / kappa[j] - float(apm[j, last].mean()))
        # share of the last year's expected payout that allocation + contributions leave uncovered
        tail = np.flatnonzero(exists[j])[-3:]
        cover = float(apm[j, tail].mean()) + contribution[j]
        shortfall[j] = 1.0 - cover / max(float(expected_ppm[j, -1]), 1e-9)
    planted = np.zeros(nv, dtype=int)
    eligible = [
        int(j)
        for j in order
        if treated[int(j)] == 1 and vil["has_savings_group"].iloc[int(j)] == 1 and shortfall[int(j)] >= 0.2
    ]
    for j in eligible[: cfg.exhausting_pilots]:
        planted[j] = 1
    return {
        "kappa": kappa,
        "c": c,
        "contribution": contribution,
        "opening_years": opening_years,
        "reserve_end": reserve_end,
        "planted": planted,
        "treated": treated,
        "expected_ppm": expected_ppm,
    }


def _fund_balances(
    j: int,
    fund: dict[str, np.ndarray],
    e: np.ndarray,
    alloc: np.ndarray,
    members: np.ndarray,
    desired: np.ndarray,
    expected: np.ndarray,
) -> dict[str, np.ndarray]:
    """One village's welfare fund: other income, opening balance, payouts and closing balance.

    Other income is the members' contributions and, for pilots that are not planted, from the start
    year the welfare allocation of the community fund management institution, which tops the fund's
    income up to the expected payout / kappa. The first opening balance is the larger of
    ``opening_years`` x the first year's income and what keeps every closing balance at or above three
    months of payouts (planted pilots: exactly what leaves ``reserve_end`` x the last payout at the
    end). Payouts never exceed opening balance + income (the fund identity).
    """
    kappa = float(fund["kappa"][j])
    planted = bool(fund["planted"][j])
    other = float(fund["contribution"][j]) * members
    if fund["treated"][j] and not planted:
        need = np.maximum(expected / kappa - alloc, 0.0)
        other = np.where(e >= 0, np.maximum(other, need), other)
    other = np.round(other)
    income = alloc + other
    cum = np.cumsum(income - desired)
    margin = 0.25 * desired
    if planted:
        margin = margin.copy()
        margin[-1] = float(fund["reserve_end"][j]) * desired[-1]
        opening0 = float(np.ceil(max(0.0, float(np.max(margin - cum)))))
    else:
        opening0 = float(max(np.round(fund["opening_years"][j] * income[0]), np.ceil(np.max(margin - cum))))
    n = e.size
    opening, payout, closing = np.zeros(n), np.zeros(n), np.zeros(n)
    bal = opening0
    for t in range(n):
        opening[t] = bal
        payout[t] = min(desired[t], bal + income[t])
        bal = bal + income[t] - payout[t]
        closing[t] = bal
    return {"opening": opening, "other": other, "payout": payout, "closing": closing}


def _committee(
    seed: int, vil: pd.DataFrame, fs: pd.DataFrame, cfg: FieldworkConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Committee members' 1–5 ratings: 3.3 + b_j + l_j (f_vk + halo_m) + e, rounded, clipped."""
    rng = stream(seed, "fieldwork.committee")
    items = r.success_factor_items()
    sf = r.success_factors()
    items = items.merge(
        sf[["code", "order"]].rename(columns={"code": "factor", "order": "forder"}), on="factor"
    )
    items = items.sort_values(["forder", "order"], kind="mergesort").reset_index(drop=True)
    ni = len(items)
    b = rng.normal(0.0, 0.25, ni)
    load = rng.uniform(0.7, 1.0, ni)
    sizes = rng.integers(cfg.committee_size[0], cfg.committee_size[1] + 1, len(vil))
    vj = np.repeat(np.arange(len(vil)), sizes)
    mno = np.concatenate([np.arange(1, k + 1) for k in sizes])
    nm = vj.size
    halo = rng.normal(0.0, 0.3, nm)
    f = fs[list(items["factor"])].to_numpy()[vj]  # (nm, ni)
    x = 3.3 + b[None, :] + load[None, :] * (f + halo[:, None]) + rng.normal(0.0, 0.55, (nm, ni))
    score = np.clip(np.round(x), 1, 5).astype(int)
    role = np.where(
        mno <= len(_ROLES), np.asarray((*_ROLES, "member"), dtype=object)[np.minimum(mno, 5) - 1], "member"
    )
    out = pd.DataFrame(
        {
            "village_id": np.repeat(vil["village_id"].to_numpy()[vj], ni),
            "member_no": np.repeat(mno, ni),
            "role": np.repeat(role, ni),
            "item": np.tile(items["item"].to_numpy(), nm),
            "factor": np.tile(items["factor"].to_numpy(), nm),
            "score": score.ravel(),
        }
    )
    for c in ("village_id", "role", "item", "factor"):
        out[c] = out[c].astype("string")
    loadings = pd.DataFrame(
        {"item": items["item"], "factor": items["factor"], "intercept": 3.3 + b, "loading": load}
    )
    return out, loadings
