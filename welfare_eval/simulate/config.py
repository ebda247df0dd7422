"""Configuration of the synthetic study (all defaults documented in :mod:`welfare_eval.simulate`)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MATCH_COVARIATES", "DefectConfig", "FieldworkConfig", "FrameConfig"]

#: Village covariates of the demo's matching of comparison villages (the same list as the packaged analysis
#: plan's ``matching.covariates``; a test keeps them equal, and the pipeline passes the plan's list).
MATCH_COVARIATES: tuple[str, ...] = (
    "mean_income",
    "share_elderly",
    "share_farm",
    "sg_age",
    "sg_members",
    "sg_savings",
    "n_households",
)


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a rate in [0, 1), got {value!r}")


@dataclass(frozen=True)
class FrameConfig:
    """The candidate frame and the (non-random) choice of pilot villages.

    Attributes
    ----------
    villages_per_region : (int, int)
        Inclusive range of candidate villages per inspection region (uniform).
    households : (int, int)
        Inclusive range of the number of households per village (uniform).
    p_savings_group, p_fund_institution, p_sufficiency : float
        Average probabilities of the three CDD eligibility criteria (logit-linear in village
        development, so they are positively correlated).
    selection : dict
        Coefficients of the pilot-selection model: among the eligible villages of a region the pilot
        is drawn with probability proportional to ``exp(sum_k coef_k * z_k)``, ``z_k`` the
        covariate standardised over the eligible villages of the whole frame. Keys are frame columns.

    The frame's savings-group figures refer to the end of the year before the pilot starts
    (``FieldworkConfig.start_year - 1``).
    """

    villages_per_region: tuple[int, int] = (30, 100)
    households: tuple[int, int] = (80, 400)
    p_savings_group: float = 0.75
    p_fund_institution: float = 0.70
    p_sufficiency: float = 0.75
    selection: dict[str, float] = field(
        default_factory=lambda: {"sg_age": 1.0, "sg_savings": 1.0, "mean_income": 0.5}
    )

    def __post_init__(self) -> None:
        lo, hi = self.villages_per_region
        if not 1 <= lo <= hi <= 99 * 99:
            raise ValueError(f"villages_per_region must be 1 <= low <= high, got {self.villages_per_region}")
        lo, hi = self.households
        if not 1 <= lo <= hi:
            raise ValueError(f"households must be 1 <= low <= high, got {self.households}")
        for k in ("p_savings_group", "p_fund_institution", "p_sufficiency"):
            v = getattr(self, k)
            if not 0.0 < v < 1.0:
                raise ValueError(f"FrameConfig.{k} must be in (0, 1), got {v!r}")


@dataclass(frozen=True)
class DefectConfig:
    """Rates of the defects planted in the raw exports (``write_raw_exports``).

    Each rate is turned into an exact count ``round(rate * n_eligible)`` of rows/cells chosen at
    random without replacement, and every planted defect is listed in ``truth.defects``.

    Attributes
    ----------
    exact_duplicate : float
        Share of interviewed household submissions exported twice (every column identical except
        the row counter ``_index``).
    changed_resubmission : float
        Share of interviewed submissions sent twice with a new ``_uuid``: the EARLIER submission has a
        wrong ``finance/savings`` answer, the later one (later ``_submission_time``) the true one.
    misspelt_village_name : float
        Share of household submissions whose typed village name is misspelt (the code is right).
    out_of_range : float
        Share of interviewed submissions with one out-of-range value (head age, household size or a
        Likert item).
    missing_code : float
        Share of interviewed submissions with one answer replaced by a missing-value code
        (``99`` for Likert items and household size, ``-9`` for money and age).
    stray_space : float
        Share of submissions with leading/trailing/double spaces in the head-of-household name.
    zero_width : float
        Share of submissions with a zero-width space (U+200B) inside the head's name or the typed
        village name.
    thai_digits : float
        Share of money cells in the savings-group workbook written with Thai digits.
    baht_suffix : float
        Share of money cells in the savings-group workbook written with the suffix " บาท".
    """

    exact_duplicate: float = 0.01
    changed_resubmission: float = 0.01
    misspelt_village_name: float = 0.03
    out_of_range: float = 0.005
    missing_code: float = 0.01
    stray_space: float = 0.03
    zero_width: float = 0.02
    thai_digits: float = 0.05
    baht_suffix: float = 0.10

    def __post_init__(self) -> None:
        for k, v in self.__dict__.items():
            _check_rate(f"DefectConfig.{k}", v)


@dataclass(frozen=True)
class FieldworkConfig:
    """The fieldwork: household samples, waves, outcome model, admin panel, committee and defects.

    Attributes
    ----------
    n_per_village : int
        Households sampled per village and wave (simple random sample without replacement; the
        whole village when it has fewer households).
    attrition : float
        Probability that a panel household of the previous wave leaves the panel before the next
        wave; it is replaced by a new draw from the village's not-yet-sampled households.
    nonresponse : float
        Probability that a sampled household is not interviewed in a wave (status ``refused``,
        ``not_at_home`` or ``moved`` with probabilities 0.4/0.4/0.2; answers left empty).
    start_year : int
        CE year in which the pilot starts (default 2023 = BE 2566). Waves are fielded in
        ``start_year`` (baseline, before the pilot's activities), ``start_year + 1`` (midline) and
        ``start_year + 2`` (endline); the savings-group panel covers ``start_year - 8`` ...
        ``start_year + 2``.
    effect_scale : float
        Multiplies every planted household and admin-panel effect (0 gives a null study).
    midline_share : float
        Share of the full (endline) effect reached at midline.
    violate_parallel_trends : bool
        If true, the pilots' savings-group outcomes follow a differential linear trend
        (``pretrend_slope`` per year, all years) so event-study pre-trends are non-zero.
    pretrend_slope : float
        Slope (percentage points of profit per year) of that differential trend for ``welfare_share``;
        the payout per member gets ``pretrend_slope * 10`` baht per year.
    committee_size : (int, int)
        Inclusive range of committee members rating the 36 success-factor items per village.
    sd_village, sd_pair_wave, sd_village_wave : float
        Standard deviations (latent index units) of the village random effect, the pair × wave
        shock shared by the two villages of a pair, and the village × wave shock.
    defects : DefectConfig
        Defects planted in the raw exports.
    exhausting_pilots : int
        Pilot villages (with a savings group) whose welfare fund is planted on a path to exhaustion:
        after the start they pay the new benefits like the other pilots but get no top-up from the
        other community organisations, so they run down their reserve (``truth.funds``).
    """

    n_per_village: int = 30
    attrition: float = 0.10
    nonresponse: float = 0.05
    start_year: int = 2023
    effect_scale: float = 1.0
    midline_share: float = 0.5
    violate_parallel_trends: bool = False
    pretrend_slope: float = 1.0
    committee_size: tuple[int, int] = (5, 15)
    sd_village: float = 0.30
    sd_pair_wave: float = 0.10
    sd_village_wave: float = 0.10
    defects: DefectConfig = field(default_factory=DefectConfig)
    exhausting_pilots: int = 2

    def __post_init__(self) -> None:
        if self.exhausting_pilots < 0:
            raise ValueError(f"FieldworkConfig.exhausting_pilots must be >= 0, got {self.exhausting_pilots}")
        if self.n_per_village < 2:
            raise ValueError(f"FieldworkConfig.n_per_village must be at least 2, got {self.n_per_village}")
        _check_rate("FieldworkConfig.attrition", self.attrition)
        _check_rate("FieldworkConfig.nonresponse", self.nonresponse)
        if not 0.0 <= self.midline_share <= 1.0:
            raise ValueError("FieldworkConfig.midline_share must be in [0, 1]")
        lo, hi = self.committee_size
        if not 1 <= lo <= hi:
            raise ValueError(f"committee_size must be 1 <= low <= high, got {self.committee_size}")
        for k in ("sd_village", "sd_pair_wave", "sd_village_wave"):
            if getattr(self, k) < 0:
                raise ValueError(f"FieldworkConfig.{k} must be non-negative")
