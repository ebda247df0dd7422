"""Matching of pilot villages to comparison villages within inspection region.

Algorithm (documented here and in :func:`match_villages`)
--------------------------------------------------------
1. **Matching population.** Pilots (``treat == 1``) plus the eligible untreated villages of the frame
   (``eligible == 1``). Rows are put in a canonical order (sorted by ``village_id``) before anything
   is computed, so no number depends on the order of the input rows.
2. **Distance.** Mahalanobis distance with the covariance of the covariates over the matching
   population (see :mod:`welfare_eval.match.distance`), or ``|Δ logit propensity score|``.
3. **Exact strata.** Pilots are matched only to villages with the same value of every ``exact``
   column (``region`` by default).
4. **Caliper.** If ``caliper`` is given, a pair is admissible only if ``|Δ logit PS| <= caliper × SD``
   of the logit PS over the matching population. The caliper is applied *inside* every exact stratum
   and with every method (for ``method="mahalanobis"`` this is Mahalanobis matching within a
   propensity-score caliper).
5. **Assignment within each stratum, without replacement.**
   ``algorithm="optimal"`` (default): the assignment that first maximises the number of admissible
   pairs and then minimises the total distance (``scipy.optimize.linear_sum_assignment``; inadmissible
   pairs carry a cost larger than any admissible assignment). For ``ratio = k > 1`` this is done in
   ``k`` rounds, each an optimal 1:1 assignment of the still-available villages, so that every pilot
   gets its first match before any pilot gets a second one.
   ``algorithm="greedy"``: closest pair first — repeatedly the admissible (pilot, comparison) pair with
   the smallest distance among pilots still needing a match in the current round and unused
   comparison villages is fixed (R ``MatchIt`` ``m.order = "closest"``), again in ``k`` rounds.
6. **Ties.** Inside each stratum pilots and candidates are ordered by a seeded hash of the village id
   (BLAKE2b of ``"<seed>|<village_id>"``), then by the id. Exactly tied distances are resolved by
   this order (first pilot, then candidate), i.e. by ``seed`` and never by row position.
7. **Reporting.** Pilots with fewer than ``ratio`` matches appear in ``.unmatched`` with a reason;
   up to ``n_reserves`` reserve villages per pilot (the nearest admissible candidates of its stratum
   that are not used as a primary match by any pilot) appear in ``.reserves``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import linear_sum_assignment

from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.match.distance import Covariance, covariance_matrix, logit_propensity, mahalanobis_matrix

__all__ = ["MatchResult", "match_villages", "tie_key"]

Method = Literal["mahalanobis", "propensity"]
Algorithm = Literal["optimal", "greedy"]
MissingPolicy = Literal["error", "impute", "exclude"]
FloatArray = npt.NDArray[np.float64]

PAIR_COLUMNS = ["pair_id", "treated_id", "control_id", "region", "distance", "ps_distance", "match_rank"]


def tie_key(village_id: str, seed: int) -> int:
    """Seeded, platform-independent tie-breaking key of a village id (64-bit BLAKE2b)."""
    h = hashlib.blake2b(f"{int(seed)}|{village_id}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big")


# --------------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class MatchResult(ResultBase):
    """Result of :func:`match_villages`.

    Attributes
    ----------
    pairs : DataFrame
        One row per (pilot, comparison) match: ``pair_id`` (int, 1..; one per pilot, shared by its
        ``k`` comparisons), ``treated_id``, ``control_id``, ``region``, ``distance`` (the matching
        distance), ``ps_distance`` (``|Δ logit PS|``, NaN when no propensity score was fitted),
        ``match_rank`` (1..k) and one column per extra exact-matching variable.
    unmatched : DataFrame
        Pilots with fewer than ``ratio`` matches: ``treated_id``, ``region``, ``n_matched``, ``reason``.
    reserves : DataFrame
        Reserve comparison villages: ``pair_id``, ``treated_id``, ``reserve_rank``, ``control_id``,
        ``region``, ``distance``, ``ps_distance``.
    data : DataFrame
        The matching population in canonical order with ``treated`` (0/1), ``logit_ps`` (if fitted)
        and the (possibly imputed) covariates.
    imputed : DataFrame
        Covariate values imputed under ``missing="impute"`` (``village_id``, ``covariate``, ``value``).
    excluded : DataFrame
        Villages left out of the matching population, with the reason (ineligible candidates are not
        listed; they are counted in ``info``).
    """

    pairs: pd.DataFrame
    unmatched: pd.DataFrame
    reserves: pd.DataFrame
    data: pd.DataFrame
    covariates: list[str]
    treat: str
    method: str
    algorithm: str
    ratio: int
    caliper: float | None
    caliper_width: float | None
    exact: list[str]
    seed: int
    covariance: FloatArray | None
    imputed: pd.DataFrame = field(default_factory=pd.DataFrame)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    info: dict[str, Any] = field(default_factory=dict)
    title: str = "Matched comparison villages"

    def tidy(self) -> pd.DataFrame:
        """The pair table (pairs and distances)."""
        return self.pairs.copy()

    def notes(self) -> list[str]:
        out = [
            f"{self.method} distance, {self.algorithm} matching 1:{self.ratio} without replacement "
            f"within {', '.join(self.exact) if self.exact else 'the whole frame'}; seed {self.seed}.",
        ]
        if self.method == "mahalanobis":
            out.append(
                "Mahalanobis covariance: "
                + (
                    "sample covariance over pilots + eligible candidates (all regions pooled)."
                    if self.info.get("covariance_kind") == "frame"
                    else "pooled within-group covariance."
                )
            )
        if self.caliper is not None:
            out.append(
                f"Caliper {self.caliper} SD of the logit propensity score = {self.caliper_width:.4g} on the logit scale."
            )
        out.append(
            f"{self.info.get('n_pilots', 0)} pilots, {self.info.get('n_candidates', 0)} eligible candidates "
            f"({self.info.get('n_ineligible', 0)} ineligible untreated villages not used)."
        )
        if len(self.unmatched):
            out.append(
                f"{len(self.unmatched)} pilot(s) with fewer than {self.ratio} match(es): see .unmatched."
            )
        if len(self.imputed):
            out.append(
                f"{len(self.imputed)} covariate value(s) imputed by the population mean: see .imputed."
            )
        if len(self.excluded):
            out.append(f"{len(self.excluded)} village(s) excluded from matching: see .excluded.")
        if self.info.get("ineligible_pilots"):
            out.append(
                f"Pilot(s) not flagged eligible in the frame (matched anyway): {self.info['ineligible_pilots']}."
            )
        return out

    def matched_data(self) -> pd.DataFrame:
        """The matched villages with ``pair_id`` and ATT matching ``weight``.

        Pilots get weight 1; each comparison village gets ``1 / (number of comparisons of its pilot)``
        (all 1 for 1:1 matching), as in R ``MatchIt`` for the ATT before rescaling.
        """
        p = self.pairs
        if p.empty:
            return self.data.iloc[0:0].assign(pair_id=pd.Series(dtype="Int64"), weight=pd.Series(dtype=float))
        size = p.groupby("pair_id")["control_id"].transform("size")
        ctrl = pd.DataFrame({"village_id": p["control_id"], "pair_id": p["pair_id"], "weight": 1.0 / size})
        trt = p.drop_duplicates("pair_id")[["treated_id", "pair_id"]].rename(
            columns={"treated_id": "village_id"}
        )
        trt = trt.assign(weight=1.0)
        both = pd.concat([trt, ctrl], ignore_index=True)
        out = both.merge(self.data, on="village_id", how="left", validate="one_to_one")
        out.insert(2, "arm", np.where(out[self.treat] == 1, "pilot", "comparison"))
        return out.sort_values(
            ["pair_id", self.treat, "village_id"], ascending=[True, False, True]
        ).reset_index(drop=True)

    def balance_tests(
        self,
        *,
        weights: str | None = None,
        fixed_effects: str | Sequence[str] | None = "pair_id",
        cluster: str | None = None,
        vce: Literal["ols", "hc1", "cluster"] | None = None,
        covariates: Sequence[str] | None = None,
    ) -> Any:
        """``iebaltab``-style tests on the matched sample (pair fixed effects by default).

        With ``fixed_effects="pair_id"`` the difference is the matching-weighted mean within-pair
        difference (for 1:1 pairs and ``vce="ols"`` the t test is the paired t test). Matching
        weights are multiplied by the survey ``weights`` when given.
        """
        from welfare_eval.match.baltab import balance_tests

        md = self.matched_data()
        w = md["weight"].to_numpy(dtype=float)
        if weights is not None:
            w = w * pd.to_numeric(md[weights], errors="coerce").to_numpy(dtype=float)
        covs = list(covariates) if covariates is not None else list(self.covariates)
        res = balance_tests(
            md,
            treat=self.treat,
            covariates=covs,
            weights=w,
            cluster=cluster,
            fixed_effects=fixed_effects,
            vce=vce,
        )
        res.weighted = weights is not None
        res.matching_weights = True
        res.title = "Balance tests in the matched sample (difference = pilot - comparison)"
        return res

    def balance(
        self,
        *,
        weights: str | None = None,
        covariates: Sequence[str] | None = None,
        sd_denominator: Literal["own", "before"] = "own",
    ) -> Any:
        """Balance before (pilots vs all eligible candidates: the naive comparison) and after matching.

        Parameters
        ----------
        weights : str, optional
            Column of survey weights in the frame; multiplied by the matching weights after matching.
        covariates : sequence of str, optional
            Defaults to the matching covariates; others must be columns of the frame.
        sd_denominator : {"own", "before"}
            SMD denominator after matching: the matched sample's own pooled SD (default) or the
            pooled SD before matching (R ``cobalt``'s default). Reported in ``smd_denominator``.

        Returns
        -------
        welfare_eval.match.BalanceResult
        """
        from welfare_eval.match.report import BalanceResult

        covs = list(covariates) if covariates is not None else list(self.covariates)
        if self.pairs.empty:
            raise ValueError("no pilot was matched (see .unmatched); there is no matched sample to assess")
        after = self.matched_data()
        wa = after["weight"].to_numpy(dtype=float)
        if weights is not None:
            if weights not in after.columns:
                raise ValueError(f"weights column {weights!r} is not in the frame")
            wa = wa * pd.to_numeric(after[weights], errors="coerce").to_numpy(dtype=float)
        return BalanceResult.from_samples(
            before=self.data,
            after=after,
            treat=self.treat,
            covariates=covs,
            weights_before=weights,
            weights_after=wa,
            survey_weighted=weights is not None,
            sd_denominator=sd_denominator,
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Love plot of |SMD| before and after matching (see :meth:`BalanceResult.plot`)."""
        return self.balance().plot(ax=ax, **kwargs)


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------
def _as_01(s: pd.Series, name: str) -> pd.Series:
    if s.dtype == bool:
        return s.astype(int)
    v = pd.to_numeric(s, errors="coerce")
    if v.isna().any():
        raise ValueError(
            f"column {name!r} has {int(v.isna().sum())} missing/non-numeric value(s); it must be 0/1"
        )
    if not v.isin([0, 1]).all():
        raise ValueError(f"column {name!r} must be 0/1; found {v[~v.isin([0, 1])].iloc[0]!r}")
    return v.astype(int)


def _prepare(
    frame: pd.DataFrame,
    *,
    treat: str | Collection[str],
    covariates: Sequence[str],
    exact: list[str],
    eligible: str | None,
    id_col: str,
    missing: MissingPolicy,
    ps_covariates: list[str],
) -> tuple[pd.DataFrame, str, pd.DataFrame, pd.DataFrame, list[str], dict[str, Any]]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("frame must be a pandas DataFrame")
    if id_col not in frame.columns:
        raise ValueError(f"frame has no {id_col!r} column (8-digit village code)")
    ids = frame[id_col]
    if ids.isna().any():
        raise ValueError(f"column {id_col!r} has {int(ids.isna().sum())} missing value(s)")
    ids = ids.astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValueError(
            f"village_id {dup.iloc[0]!r} appears more than once in the frame; ids must be unique"
        )
    df = frame.copy()
    df[id_col] = ids
    if id_col != "village_id":
        df = df.rename(columns={id_col: "village_id"})
    unmatched_extra: list[dict[str, Any]] = []
    if isinstance(treat, str):
        if treat not in df.columns:
            raise ValueError(f"treatment column {treat!r} is not in the frame")
        tname = treat
        df[tname] = _as_01(df[tname], tname)
    else:
        pilots = [str(p) for p in treat]
        if not pilots:
            raise ValueError("treat= is an empty list of pilot village ids")
        tname = "treated"
        if tname in df.columns:
            raise ValueError("frame already has a 'treated' column; pass treat='treated' or drop it")
        known = set(df["village_id"])
        for p in sorted(set(pilots) - known):
            unmatched_extra.append(
                {"treated_id": p, "region": pd.NA, "n_matched": 0, "reason": "pilot not in the frame"}
            )
        df[tname] = df["village_id"].isin(pilots).astype(int)
    covariates = list(covariates)
    if not covariates:
        raise ValueError("covariates= is empty; give at least one covariate")
    needed = list(dict.fromkeys([*covariates, *ps_covariates, *exact]))
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise ValueError(f"column(s) {absent} are not in the frame; columns are {list(df.columns)}")
    if tname in covariates or tname in exact:
        raise ValueError(f"the treatment column {tname!r} cannot be a covariate or exact variable")
    for c in dict.fromkeys([*covariates, *ps_covariates]):
        col = df[c].astype(float) if df[c].dtype == bool else df[c]
        num = pd.to_numeric(col, errors="coerce")
        if (num.isna() & col.notna()).any():
            raise ValueError(
                f"covariate {c!r} is not numeric (e.g. {col[num.isna() & col.notna()].iloc[0]!r})"
            )
        df[c] = num.astype(float)
    if eligible is None:
        elig = pd.Series(1, index=df.index)
    else:
        if eligible not in df.columns:
            raise ValueError(
                f"frame has no {eligible!r} column; run welfare_eval.match.screen_eligibility first "
                "or pass eligible=None to use every untreated village"
            )
        elig = _as_01(df[eligible], eligible)
    is_t = df[tname] == 1
    in_pop = is_t | (elig == 1)
    info: dict[str, Any] = {
        "n_pilots": int(is_t.sum()),
        "n_ineligible": int((~in_pop).sum()),
        "ineligible_pilots": sorted(df.loc[is_t & (elig == 0), "village_id"].tolist()),
    }
    pop = df.loc[in_pop].sort_values("village_id", kind="mergesort").reset_index(drop=True)
    if is_t.sum() == 0:
        raise ValueError(f"no pilot villages: treatment column {tname!r} is 0 everywhere")
    for c in exact:
        miss = pop[c].isna()
        if miss.any():
            raise ValueError(
                f"exact-matching column {c!r} is missing for village(s) {pop.loc[miss, 'village_id'].tolist()[:5]}"
            )
    # Missing covariates.
    allcov = list(dict.fromkeys([*covariates, *ps_covariates]))
    miss_mask = pop[allcov].isna()
    imputed = pd.DataFrame(columns=["village_id", "covariate", "value"])
    excluded = pd.DataFrame(columns=["village_id", "treated", "reason"])
    if miss_mask.to_numpy().any():
        rows_with = miss_mask.any(axis=1)
        if missing == "error":
            first = pop.loc[rows_with].iloc[0]
            cols = [c for c in allcov if pd.isna(first[c])]
            raise ValueError(
                f"{int(rows_with.sum())} village(s) in the matching population have missing covariates "
                f"(first: village {first['village_id']} lacks {cols}); fix the data or pass "
                "missing='impute' (population mean, flagged) or missing='exclude' (reported)"
            )
        if missing == "impute":
            recs = []
            for c in allcov:
                m = pop[c].isna()
                if m.all():
                    raise ValueError(f"covariate {c!r} is missing for every village; drop it")
                if m.any():
                    val = float(pop.loc[~m, c].mean())
                    recs += [
                        {"village_id": v, "covariate": c, "value": val} for v in pop.loc[m, "village_id"]
                    ]
                    pop.loc[m, c] = val
            imputed = pd.DataFrame(recs, columns=["village_id", "covariate", "value"])
        elif missing == "exclude":
            gone = pop.loc[rows_with]
            excluded = pd.DataFrame(
                {
                    "village_id": gone["village_id"].to_numpy(),
                    "treated": gone[tname].to_numpy(),
                    "reason": [
                        "missing covariate(s) " + ", ".join(c for c in allcov if pd.isna(r[c]))
                        for _, r in gone.iterrows()
                    ],
                }
            )
            for _, r in gone.loc[gone[tname] == 1].iterrows():
                unmatched_extra.append(
                    {
                        "treated_id": r["village_id"],
                        "region": r["region"] if "region" in gone.columns else pd.NA,
                        "n_matched": 0,
                        "reason": "missing covariate(s) " + ", ".join(c for c in allcov if pd.isna(r[c])),
                    }
                )
            pop = pop.loc[~rows_with].reset_index(drop=True)
        else:
            raise ValueError(f"missing must be 'error', 'impute' or 'exclude', not {missing!r}")
    info["n_candidates"] = int((pop[tname] == 0).sum())
    info["unmatched_extra"] = unmatched_extra
    return pop, tname, imputed, excluded, allcov, info


# --------------------------------------------------------------------------------------------------
# Assignment algorithms within a stratum
# --------------------------------------------------------------------------------------------------
def _greedy_round(
    dist: FloatArray, ok: npt.NDArray[np.bool_], rows: list[int], avail: npt.NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """Closest-pair-first greedy 1:1 assignment of ``rows`` to available columns."""
    out: list[tuple[int, int]] = []
    d = np.where(ok, dist, np.inf)
    active = np.zeros(dist.shape[0], dtype=bool)
    active[rows] = True
    d = np.where(active[:, None] & avail[None, :], d, np.inf)
    while True:
        flat = int(
            np.argmin(d)
        )  # first minimum in row-major order: ties by pilot order, then candidate order
        i, j = divmod(flat, d.shape[1])
        if not np.isfinite(d[i, j]):
            break
        out.append((i, j))
        d[i, :] = np.inf
        d[:, j] = np.inf
    return out


def _optimal_round(
    dist: FloatArray, ok: npt.NDArray[np.bool_], rows: list[int], avail: npt.NDArray[np.bool_]
) -> list[tuple[int, int]]:
    """Optimal 1:1 assignment: max number of admissible pairs, then min total distance."""
    cols = np.flatnonzero(avail)
    if not rows or cols.size == 0:
        return []
    r_idx = np.asarray(rows, dtype=np.intp)
    sub = dist[np.ix_(r_idx, cols)]
    sub_ok = ok[np.ix_(r_idx, cols)]
    if not sub_ok.any():
        return []
    n_assign = min(len(rows), cols.size)
    # An inadmissible pair costs more than any full assignment of admissible pairs, so the solver
    # first maximises the number of admissible pairs (see module docstring).
    big = float(n_assign * (np.max(sub[sub_ok]) + 1.0) + 1.0)
    cost = np.where(sub_ok, sub, big)
    r, c = linear_sum_assignment(cost)
    return [(rows[i], int(cols[j])) for i, j in zip(r, c, strict=True) if sub_ok[i, j]]


# --------------------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------------------
def match_villages(
    frame: pd.DataFrame,
    *,
    treat: str | Collection[str],
    covariates: Sequence[str],
    exact: str | Sequence[str] | None = "region",
    method: Method = "mahalanobis",
    caliper: float | None = None,
    ratio: int = 1,
    seed: int = 0,
    algorithm: Algorithm = "optimal",
    n_reserves: int = 2,
    eligible: str | None = "eligible",
    id_col: str = "village_id",
    missing: MissingPolicy = "error",
    covariance: Covariance = "frame",
    ps_covariates: Sequence[str] | None = None,
) -> MatchResult:
    """Match each pilot village to comparison villages of the same stratum (region by default).

    Parameters
    ----------
    frame : DataFrame
        Candidate frame, one row per village, with ``village_id``, the treatment column, the
        ``eligible`` flag (0/1), the exact-matching columns and the covariates.
    treat : str or collection of str
        Name of the 0/1 pilot column, or the list of pilot village ids (ids not in the frame are
        reported in ``.unmatched`` with reason ``"pilot not in the frame"``).
    covariates : sequence of str
        Numeric covariates for the distance (and for the propensity score unless ``ps_covariates``).
    exact : str, sequence of str or None
        Columns matched exactly (``"region"`` by default; a list adds more; ``None`` = none).
    method : {"mahalanobis", "propensity"}
        Distance: Mahalanobis on ``covariates``, or absolute difference of the logit propensity score.
    caliper : float, optional
        Width in SD of the logit propensity score (e.g. 0.2). With ``method="mahalanobis"`` this gives
        Mahalanobis matching within a propensity-score caliper. Applied inside exact strata.
    ratio : int
        Comparisons per pilot (1:k), without replacement.
    seed : int
        Seed of the tie-breaking order (see module docstring). Results never depend on row order.
    algorithm : {"optimal", "greedy"}
        Optimal assignment within each stratum (default) or closest-pair-first greedy.
    n_reserves : int
        Number of reserve comparison villages listed per pilot.
    eligible : str or None
        0/1 column of eligibility; candidates must have 1. ``None`` uses every untreated village.
    id_col : str
        Village id column (kept as string).
    missing : {"error", "impute", "exclude"}
        Policy for missing covariate values in the matching population: raise (default); impute the
        population mean and flag in ``.imputed``; or leave the village out and report it in
        ``.excluded`` (pilots also in ``.unmatched``).
    covariance : {"frame", "pooled_within"}
        Covariance of the Mahalanobis distance (see :mod:`welfare_eval.match.distance`).
    ps_covariates : sequence of str, optional
        Covariates of the propensity-score logit (default: ``covariates``).

    Returns
    -------
    MatchResult
        ``.pairs``, ``.unmatched``, ``.reserves``, ``.balance()``, ``.matched_data()``.

    Raises
    ------
    ValueError
        On bad input: missing columns, duplicate ids, non-0/1 treatment or eligibility, a covariate
        without variance, collinear covariates, missing covariates under ``missing="error"``,
        a propensity score that cannot be estimated, or invalid options.
    """
    if method not in ("mahalanobis", "propensity"):
        raise ValueError(f"method must be 'mahalanobis' or 'propensity', not {method!r}")
    if algorithm not in ("optimal", "greedy"):
        raise ValueError(f"algorithm must be 'optimal' or 'greedy', not {algorithm!r}")
    if isinstance(ratio, bool) or not isinstance(ratio, int | np.integer) or ratio < 1:
        raise ValueError(f"ratio must be a positive integer, not {ratio!r}")
    ratio = int(ratio)
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        raise ValueError(f"caliper must be a positive number of SDs (or None), not {caliper!r}")
    if missing not in ("error", "impute", "exclude"):
        raise ValueError(f"missing must be 'error', 'impute' or 'exclude', not {missing!r}")
    if covariance not in ("frame", "pooled_within"):
        raise ValueError(f"covariance must be 'frame' or 'pooled_within', not {covariance!r}")
    if n_reserves < 0:
        raise ValueError("n_reserves must be >= 0")
    exact_cols: list[str] = [] if exact is None else ([exact] if isinstance(exact, str) else list(exact))
    ps_covs = list(ps_covariates) if ps_covariates is not None else list(covariates)

    pop, tname, imputed, excluded, _allcov, info = _prepare(
        frame,
        treat=treat,
        covariates=covariates,
        exact=exact_cols,
        eligible=eligible,
        id_col=id_col,
        missing=missing,
        ps_covariates=ps_covs if (method == "propensity" or caliper is not None) else [],
    )
    covs = list(covariates)
    t = pop[tname].to_numpy(dtype=int)
    info["covariance_kind"] = covariance

    cov_mat: FloatArray | None = None
    if method == "mahalanobis":
        cov_mat = covariance_matrix(pop[covs], t, kind=covariance)
    need_ps = method == "propensity" or caliper is not None
    caliper_width: float | None = None
    if need_ps:
        if t.sum() == len(t):
            raise ValueError("no eligible comparison villages at all; cannot fit a propensity score")
        flat = [c for c in ps_covs if pop[c].nunique() < 2]
        if flat:
            raise ValueError(
                f"propensity-score covariate(s) {flat} have no variance in the matching population; drop them"
            )
        lp = logit_propensity(pop[ps_covs], t)
        pop["logit_ps"] = lp
        if caliper is not None:
            caliper_width = float(caliper * np.std(lp, ddof=1))

    xall = pop[covs].to_numpy(dtype=float)
    ids = pop["village_id"].to_numpy(dtype=object)
    keys = np.array([tie_key(v, seed) for v in ids], dtype=np.uint64)
    region_col = "region" if "region" in pop.columns else None

    if exact_cols:
        by: str | list[str] = exact_cols[0] if len(exact_cols) == 1 else exact_cols
        codes = pop.groupby(by, sort=True, dropna=False).ngroup().to_numpy()  # strata in sorted order
        groups = [np.flatnonzero(codes == k) for k in range(int(codes.max()) + 1)]
    else:
        groups = [np.arange(len(pop))]

    pair_rows: list[dict[str, Any]] = []
    reserve_rows: list[dict[str, Any]] = []
    unmatched_rows: list[dict[str, Any]] = list(info.pop("unmatched_extra"))

    strata_done: list[tuple[Any, ...]] = []
    for g in progress(groups, desc="matching strata", total=len(groups)):
        g_t = g[t[g] == 1]
        g_c = g[t[g] == 0]
        if g_t.size == 0:
            continue
        # Canonical seeded order within the stratum.
        g_t = g_t[np.lexsort((ids[g_t].astype(str), keys[g_t]))]
        g_c = g_c[np.lexsort((ids[g_c].astype(str), keys[g_c]))]
        stratum_vals = tuple(pop.loc[g_t[0], c] for c in exact_cols)
        strata_done.append(stratum_vals)
        if g_c.size == 0:
            for i in g_t:
                unmatched_rows.append(
                    {
                        "treated_id": ids[i],
                        "region": pop.loc[i, region_col] if region_col else pd.NA,
                        "n_matched": 0,
                        "reason": "no eligible comparison village in the stratum",
                    }
                )
            continue
        if method == "mahalanobis":
            assert cov_mat is not None
            dist = mahalanobis_matrix(xall[g_t], xall[g_c], cov_mat)
        else:
            lp_all = pop["logit_ps"].to_numpy(dtype=float)
            dist = np.abs(lp_all[g_t][:, None] - lp_all[g_c][None, :])
        if need_ps:
            lp_all = pop["logit_ps"].to_numpy(dtype=float)
            psd = np.abs(lp_all[g_t][:, None] - lp_all[g_c][None, :])
        else:
            psd = np.full(dist.shape, np.nan)
        ok = np.ones(dist.shape, dtype=bool) if caliper_width is None else psd <= caliper_width
        avail = np.ones(g_c.size, dtype=bool)
        matches: dict[int, list[int]] = {i: [] for i in range(g_t.size)}
        assign = _optimal_round if algorithm == "optimal" else _greedy_round
        for _round in range(ratio):
            rows = [i for i in range(g_t.size) if len(matches[i]) == _round]
            got = assign(dist, ok, rows, avail)
            if not got:
                break
            for i, j in got:
                matches[i].append(j)
                avail[j] = False
        for i in range(g_t.size):
            n_ok = int(ok[i].sum())
            nm = len(matches[i])
            if nm < ratio:
                if n_ok == 0:
                    reason = "no comparison village within the caliper"
                elif nm == 0:
                    reason = "all admissible comparison villages are used by other pilots"
                else:
                    reason = f"only {nm} of {ratio} matches available (admissible villages exhausted)"
                unmatched_rows.append(
                    {
                        "treated_id": ids[g_t[i]],
                        "region": pop.loc[g_t[i], region_col] if region_col else pd.NA,
                        "n_matched": nm,
                        "reason": reason,
                    }
                )
            # Matches of a pilot are ranked by distance (ties: candidate order).
            drow = dist[i]
            ranked = sorted(matches[i], key=lambda j: (float(drow[j]), j))
            for rank, j in enumerate(ranked, start=1):
                rec = {
                    "_stratum": len(strata_done),
                    "treated_id": ids[g_t[i]],
                    "control_id": ids[g_c[j]],
                    "region": pop.loc[g_t[i], region_col] if region_col else pd.NA,
                    "distance": float(dist[i, j]),
                    "ps_distance": float(psd[i, j]),
                    "match_rank": rank,
                }
                for c in exact_cols:
                    if c != "region":
                        rec[c] = pop.loc[g_t[i], c]
                pair_rows.append(rec)
            # Reserves: nearest admissible candidates not used by any pilot of the stratum.
            if n_reserves:
                cand = [j for j in range(g_c.size) if avail[j] and ok[i, j]]
                cand.sort(key=lambda j: (float(drow[j]), j))
                for rank, j in enumerate(cand[:n_reserves], start=1):
                    reserve_rows.append(
                        {
                            "_stratum": len(strata_done),
                            "treated_id": ids[g_t[i]],
                            "reserve_rank": rank,
                            "control_id": ids[g_c[j]],
                            "region": pop.loc[g_t[i], region_col] if region_col else pd.NA,
                            "distance": float(dist[i, j]),
                            "ps_distance": float(psd[i, j]),
                        }
                    )

    extra_exact = [c for c in exact_cols if c != "region"]
    pairs = pd.DataFrame(pair_rows, columns=["_stratum", *PAIR_COLUMNS[1:], *extra_exact])
    # pair_id: one per matched pilot, numbered in stratum order, then by pilot village id.
    first = pairs.drop_duplicates("treated_id")[["_stratum", "treated_id"]].sort_values(
        ["_stratum", "treated_id"], kind="mergesort"
    )
    pid = pd.Series(np.arange(1, len(first) + 1), index=first["treated_id"].to_numpy())
    pairs.insert(0, "pair_id", pairs["treated_id"].map(pid).astype("int64"))
    pairs = (
        pairs.sort_values(["pair_id", "match_rank"], kind="mergesort")
        .drop(columns="_stratum")
        .reset_index(drop=True)
    )
    if region_col:
        pairs["region"] = pairs["region"].astype(pop[region_col].dtype)

    reserves = pd.DataFrame(
        reserve_rows,
        columns=["_stratum", "treated_id", "reserve_rank", "control_id", "region", "distance", "ps_distance"],
    )
    reserves.insert(0, "pair_id", reserves["treated_id"].map(pid).astype("Int64"))
    reserves = reserves.sort_values(["_stratum", "treated_id", "reserve_rank"], kind="mergesort")
    reserves = reserves.drop(columns="_stratum").reset_index(drop=True)

    unmatched = pd.DataFrame(unmatched_rows, columns=["treated_id", "region", "n_matched", "reason"])
    unmatched = unmatched.sort_values(["treated_id"], kind="mergesort").reset_index(drop=True)

    keep_cols = list(dict.fromkeys(["village_id", tname, *exact_cols, *covs, *ps_covs]))
    if "region" in pop.columns and "region" not in keep_cols:
        keep_cols.insert(2, "region")
    extra = [c for c in pop.columns if c not in keep_cols]
    data = pop[keep_cols + extra]
    return MatchResult(
        pairs=pairs,
        unmatched=unmatched,
        reserves=reserves,
        data=data,
        covariates=covs,
        treat=tname,
        method=method,
        algorithm=algorithm,
        ratio=ratio,
        caliper=caliper,
        caliper_width=caliper_width,
        exact=exact_cols,
        seed=seed,
        covariance=cov_mat,
        imputed=imputed,
        excluded=excluded,
        info=info,
    )
