r"""Seeded synthetic study: candidate frame → matched study villages → fieldwork → raw exports.

The study is simulated "in two steps as in real life": :func:`simulate_frame` makes the CDD candidate
frame and picks the pilots; after comparison villages are chosen (by default with
:func:`welfare_eval.match.match_villages`), :func:`simulate_fieldwork` simulates what the field teams
and the savings groups record. :func:`simulate_study` does all of it; :func:`write_raw_exports`
writes files that look and misbehave like the real exports; :class:`Truth` keeps what was planted.

Randomness
----------
Everything follows from one integer ``seed``. Each component draws from its own stream
``default_rng(SeedSequence(seed, spawn_key=(crc32(name),)))`` (names ``frame.layout``,
``frame.names``, ``frame.covariates``, ``frame.pilot``, ``fieldwork.factors``,
``fieldwork.village_effects``, ``fieldwork.pair_shocks``, ``fieldwork.population``,
``fieldwork.outcomes``, ``fieldwork.sample``, ``fieldwork.response``, ``fieldwork.pii``,
``fieldwork.submission``, ``fieldwork.satisfaction``, ``fieldwork.admin``, ``fieldwork.committee``,
``defects``, ``defects.workbook``, ``fieldwork.fund``, ``monitoring``), so changing one component leaves the others' numbers unchanged. The same seed gives
byte-identical raw files.

1. Frame (one row per candidate village v in region g)
------------------------------------------------------
* villages per region ~ U{30..100}; province uniform among the region's provinces; district
  U{1..20}, subdistrict U{1..15}, village number = offset U{0..3} + rank within subdistrict (unique
  8-digit codes); names "บ้าน" + two distinct syllables, unique within subdistrict.
* u_v ~ N(0,1) (latent development), r_g ~ N(0, 0.15²):
  N_v ~ U{80..400} households; income_v = exp(log 180000 + 0.25 u_v + r_g + N(0,0.15²)) (to 100 baht);
  share_elderly = expit(−1.3 − 0.2 u + N(0,0.3²)); share_farm = expit(0.6 − 0.5 u + N(0,0.5²));
  has_savings_group ~ Bern(expit(logit 0.75 + 0.8 u)); has_fund_institution ~ Bern(expit(logit 0.70 + 0.8 u));
  has_sufficiency ~ Bern(expit(logit 0.75 + 0.6 u)); sg_age = clip(round(Gamma(3, 4) + 2u), 1, 40);
  sg_members = clip(Bin(N_v, expit(−0.3 + 0.4u + N(0,0.3²))), 10, N_v);
  sg_savings = sg_members · exp(log 12000 + 0.3u + 0.03(sg_age − 10) + N(0,0.3²)) (to 100 baht);
  savings-group columns are 0 without a group. eligible = all three criteria (if a region has no
  eligible village its most developed village is made eligible).
* Pilot selection (non-random, one per region):
  P(pilot = v | g) = exp(s_v) / Σ_{u eligible in g} exp(s_u),
  s_v = 1.0 z(sg_age) + 1.0 z(sg_savings) + 0.5 z(mean_income), z standardised over the eligible
  villages of the frame (coefficients in ``FrameConfig.selection``). Pilots are therefore older,
  richer groups in richer villages, and the same covariates raise baseline outcomes below, so a naive
  pilot-vs-rest comparison is biased.

2. Fieldwork (study villages v with arm D_v ∈ {0,1}, pair p(v), waves t = 0,1,2)
--------------------------------------------------------------------------------
Village covariates are standardised over the whole frame: x_inc = z(log1p income),
x_sgs = z(log1p sg_savings), x_eld, x_farm. For each outcome family f (receipt, coping, savings,
debt, qol, self_reliance, and each membership): shock_{vtf} = a_{vf} + s_{p(v)tf} + e_{vtf} with
a ~ N(0, 0.30²) (village), s ~ N(0, 0.10²) (pair × wave, shared by the pair), e ~ N(0, 0.10²)
(village × wave). Effects: λ_t = (0, 0.5, 1) · effect_scale (baseline, midline, endline), and the
pilot multiplier m_v = max(0, 1 + 0.15 f_committee + 0.12 f_cooperation + 0.10 f_fund) (other
factors 0); the effect factor is Λ_{vt} = D_v λ_t m_v.

Household populations (all N_v households are simulated): hh_size = clip(1 + Pois(2.4), 1, 12);
female head ~ Bern(0.3); head age = clip(round(N(50 + 40(share_elderly − 0.22), 13²)), 20, 90) + t;
farm ~ Bern(share_farm); elderly member = (age ≥ 60) or Bern(0.25); h_i ~ N(0,1) persistent.
Potential outcomes Y(0), Y(1) share all random numbers (common random numbers); the observed
outcome is Y(D_v).

* Receipt of welfare type k (9 types): Y_k(0) = 1[U < p0], Y_k(1) = 1[U < min(1, p0 + Λ τ_k el_ik/100)],
  p0 = el_ik · expit(logit b_k + shock_receipt + 0.25 x_sgs + 0.03 t + 0.2 h_i), b_k = base_k / mean(el_k);
  eligibility el = 1 except elderly (1 if elderly member else 0.1), childbirth (1 if size ≥ 3 and
  head < 50 else 0.2), education (1 if size ≥ 3 else 0.3). (base_k, τ_k in pp, median amount):
  childbirth (.04, 2, 1000), illness (.15, 8, 500), elderly (.20, 10, 1200), death (.04, 2, 3000),
  disadvantaged (.06, 4, 1000), occupation (.08, 5, 2000), education (.06, 0, 800),
  disaster (.03, 2, 1500), other (.04, 1, 500). Amount = receipt × A, A = round(exp(log median + 0.1 x_inc
  + N(0, 0.4²)), −1) baht (the same A under both arms). any_welfare, n_welfare_types and
  welfare_amount are the max / sum / sum over types.
* Savings (baht): S(0) = max(0, B_i exp(0.25 ε − 0.25²/2) + 10000 shock_savings + 1500 t),
  B_i = exp(log 20000 + 0.35 x_inc + 0.25 x_sgs + 0.5 h_i); S(1) = S(0) + 3000 Λ.
* Debt (baht): Debt(0) = 1[has debt] max(0, C_i exp(0.25 ε − 0.25²/2) + 20000 shock_debt + 2000 t)
  (to 100 baht), has debt ~ Bern(expit(0.5 + 0.3 h_i)), C_i = exp(log 60000 + 0.3 x_inc + 0.5 N(0,1));
  Debt(1) = Debt(0): NO effect.
* Health shock ~ Bern(0.18 + 0.10·1[head ≥ 60] + 0.05·elderly) (not affected by the pilot);
  coped (only asked after a shock): p0 = expit(−0.2 + 0.3 x_inc + 0.3 h_i + shock_coping + 0.03 t),
  effect 12 pp × Λ.
* Quality of life (5 items) and self-reliance (4 items), 1–5:
  item_j(d) = clip(round(3 + b_j + 0.8 (Q_it + d Λ τ) + η_ij), 1, 5), η ~ N(0, 0.6²),
  Q = 0.3 x_inc − 0.1 x_eld + 0.4 h_i + shock_qol + 0.05 t + 0.4 N(0,1), τ = 0.40, b = (.2, 0, −.2, .1, −.1);
  self-reliance: 0.25 x_inc + 0.2 x_farm + 0.4 h_i + shock + 0.03 t + 0.4 N(0,1), τ = 0.30,
  b = (.1, −.1, 0, .2). Indices = item means.
* Memberships use persistent uniforms U_it = Φ(0.8 z_i + 0.6 z_it): savings group
  p0 = expit(logit(clip(sg_members/N, .05, .95)) + 0.5 h + shock + 0.02 t), +5 pp; welfare fund
  p0 = expit(−0.8 + 0.3 x_sgs + 0.5 h + shock + 0.03 t), +15 pp; village fund
  p0 = expit(0.9 + 0.3 h + shock), NO effect.
* welfare_satisfaction (1–5, asked from midline on of households with any welfare) is pure noise.

Planted household effects (``truth.effects``): for outcome Y and wave t,
ATT_t = (1/#) Σ_{v pilot} Σ_{i in population of v} [Y_it(1) − Y_it(0)] over ALL households of the
pilot villages (over those with a health shock for ``coped``), in percentage points for 0/1
outcomes (``effect_data_scale`` on the 0/1 scale), baht for money, index points for the indices.
It is the estimand of a design-weighted DiD (weights N/n). Parallel trends hold in expectation
(the wave terms are common to both arms; the village and pair shocks are mean-zero).

Samples: per village and wave n = min(30, N) households. Baseline: simple random sample without
replacement. Midline/endline: each household of the previous wave leaves with probability 0.10
(attrition) and is replaced by a simple random draw from the never-sampled households. By symmetry
every household's inclusion probability in each wave is n/N, so ``design_weight`` = N/n. Each sampled
household is not interviewed with probability 0.05 (status refused 0.4 / not_at_home 0.4 /
moved 0.2; answers and PII left empty). PII: head's name with title (นาย; นาง or นางสาว),
13-digit national ID with check digit d13 = (11 − Σ_{i=1..12} d_i (14 − i) mod 11) mod 10,
mobile phone 0[689]X-XXX-XXXX.

Savings-group panel (CE years start−8 … start+2 from the founding year on; event time e = year − start):
members and savings grow from the frame values (3 % and N(6 %, 2 %²) per year), loans = savings ×
U(0.6, 0.9), profit = loans × N(6 %, 1 %²). welfare_share (percent of profit) =
w_v + 0.2 e + pair×year N(0, 0.8²) + N(0, 1) + D_v (θ_e + δ e), w_v = clip(N(10, 2²), 3, 20),
θ = (3, 5, 7) pp at e = 0, 1, 2 and 0 before; payout per member = c_v + 5 e + pair×year N(0, 15²) +
N(0, 20²) + D_v (θ'_e + 10 δ e), θ' = (50, 100, 150) baht; δ = 0 unless
``violate_parallel_trends`` (δ = ``pretrend_slope``). The rest of profit is split over the other six
allocation categories by a village-specific Dirichlet mix (allocations sum exactly to profit).

Welfare fund (stream ``fieldwork.fund``; ``truth.funds``): the payout level per member is
c_v = max(κ_v Ā_v + 22.5, 90) (Ā_v the village's pre-period welfare allocation per member, κ_v ~ U(0.70, 0.85),
absorbed by the village effects, so the planted event-time effects are unchanged). Income = the welfare
allocation + other income: members' contributions ν_v × members (ν_v covers the expected shortfall
E[payout]/κ_v − allocation at the end of the village's own years) and, for pilots from the start year, the
community fund management institution's allocation topping income up to E[payout]/κ_v. Two pilots whose
allocation + contributions leave ≥ 20 % of the last expected payout uncovered (``exhausting_pilots``) get
no top-up: they run down their reserve. The opening balance of the first year is the larger of U(1, 2.5)
years of income and what keeps every closing balance at three months of payouts or more (planted pilots:
what leaves U(0.5, 0.8) of the last payout at the end). Payouts never exceed opening balance + income, and
opening + allocation + other income − payouts = closing in every village-year.

Committee: 5–15 members per village rate the 36 items (3 per factor):
score = clip(round(3.3 + b_j + l_j (f_vk + halo_m) + ε), 1, 5), b_j ~ N(0, 0.25²), l_j ~ U(0.7, 1.0),
halo ~ N(0, 0.3²), ε ~ N(0, 0.55²); f_vk = 0.7 g_{v,group(k)} + √0.51 ξ_vk with the internal and external
higher-order scores g correlated 0.4.

National mode
-------------
:mod:`welfare_eval.simulate.national` simulates the expansion phase at national size: ~75,000 villages
(กชช.2ค-like frame), ~12 million households a year (จปฐ.-like outcomes with survey weights), staggered
adoption of ~2,000 villages over 2027–2030 with effects varying by cohort and event time, streamed to
hive-partitioned Parquet (:func:`simulate_national`, ``scale=`` 1.0 = national). Its model is documented
in that module.

3. Raw exports and defects
--------------------------
See :mod:`welfare_eval.simulate.exports` (files and columns) and
:mod:`welfare_eval.simulate.defects` (defects: exact duplicates 1 %, changed re-submissions 1 %,
misspelt village names 3 %, out-of-range values 0.5 %, missing codes 99/−9 1 %, stray spaces 3 %,
zero-width spaces 2 % of submissions; Thai digits 5 % and " บาท" suffix 10 % of money cells in the
savings-group workbook). Every planted defect is listed in ``truth.defects``.
"""

from __future__ import annotations

from welfare_eval.simulate.config import DefectConfig, FieldworkConfig, FrameConfig
from welfare_eval.simulate.exports import RAW_FILES, codebook, write_raw_exports
from welfare_eval.simulate.fieldwork import (
    ADMIN_EFFECTS,
    FACTOR_COEFFICIENTS,
    WELFARE_MODEL,
    Fieldwork,
    national_id_check_digit,
    simulate_fieldwork,
)
from welfare_eval.simulate.frame import FRAME_COLUMNS, pilot_selection, simulate_frame
from welfare_eval.simulate.national import (
    NationalConfig,
    NationalData,
    NationalTruth,
    simulate_national,
    simulate_national_frame,
)
from welfare_eval.simulate.study import MATCH_COVARIATES, Study, default_choose, simulate_study
from welfare_eval.simulate.truth import Truth, write_truth

__all__ = [
    "ADMIN_EFFECTS",
    "FACTOR_COEFFICIENTS",
    "FRAME_COLUMNS",
    "MATCH_COVARIATES",
    "RAW_FILES",
    "WELFARE_MODEL",
    "DefectConfig",
    "Fieldwork",
    "FieldworkConfig",
    "FrameConfig",
    "NationalConfig",
    "NationalData",
    "NationalTruth",
    "Study",
    "Truth",
    "codebook",
    "default_choose",
    "national_id_check_digit",
    "pilot_selection",
    "simulate_fieldwork",
    "simulate_frame",
    "simulate_national",
    "simulate_national_frame",
    "simulate_study",
    "write_raw_exports",
    "write_truth",
]
