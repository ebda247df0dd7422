"""pandera schemas of the processed tables (the contract between cleaning and analysis).

Every listed column must be present with its type and checks; tables may carry further columns
from the codebook (never personal data: :func:`welfare_eval.clean.core.clean_all` drops and scans
for it separately). Keys are unique.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pandera.pandas as pa

import welfare_eval.reference as ref
from welfare_eval.clean.io import CleaningError

__all__ = ["SCHEMAS", "schemas", "validate_table"]

_VID = pa.Check.str_matches(r"^\d{8}$")
_HHID = pa.Check.str_matches(r"^H[a-p]{16}$")
_01 = pa.Check.isin([0, 1])


def _flag(nullable: bool = True) -> pa.Column:
    return pa.Column("Int64", _01, nullable=nullable, required=False)


def _money(nullable: bool = True, *, required: bool = True, lo: float | None = 0.0) -> pa.Column:
    checks = [pa.Check.ge(lo)] if lo is not None else []
    return pa.Column("float64", checks, nullable=nullable, required=required)


def _likert(required: bool = False) -> pa.Column:
    return pa.Column("Int64", pa.Check.in_range(1, 5), nullable=True, required=required)


@cache
def schemas(n_regions: int = 18) -> dict[str, pa.DataFrameSchema]:
    """The schemas by table name: frame, villages, households, benefits, admin, committee.

    ``n_regions`` is the number of regions of the region scheme the data are checked against (18 in the
    packaged 2017 scheme).
    """
    region = pa.Column("int64", pa.Check.in_range(1, n_regions))
    arm = pa.Column("string", pa.Check.isin(list(ref.ARMS)))
    treated = pa.Column("int64", _01)
    wave = pa.Column(pd.CategoricalDtype(list(ref.WAVES), ordered=True))
    welfare = list(ref.welfare_types()["code"])
    items = list(ref.success_factor_items()["item"])
    factors = list(ref.success_factors()["code"])
    alloc = {
        f"alloc_{c}": pa.Column("float64", nullable=True, required=False) for c in ref.profit_allocation()["code"]
    }
    return {
        "frame": pa.DataFrameSchema(
            {
                "village_id": pa.Column("string", _VID, unique=True),
                "village_name": pa.Column("string", nullable=True, required=False),
                "region": region,
                "province_code": pa.Column("string", pa.Check.str_matches(r"^\d{2}$"), nullable=True),
                "n_households": pa.Column("Int64", pa.Check.ge(1), nullable=True),
                "mean_income": pa.Column("float64", pa.Check.ge(0), nullable=True, required=False),
                "share_elderly": pa.Column("float64", pa.Check.in_range(0, 1), nullable=True, required=False),
                "share_farm": pa.Column("float64", pa.Check.in_range(0, 1), nullable=True, required=False),
                "has_savings_group": _flag(),
                "has_fund_institution": _flag(),
                "has_sufficiency": _flag(),
                "eligible": _flag(),
                "pilot": _flag(),
            },
            name="frame",
        ),
        "villages": pa.DataFrameSchema(
            {
                "village_id": pa.Column("string", _VID, unique=True),
                "region": region,
                "arm": arm,
                "treated": treated,
                "pair_id": pa.Column("int64", pa.Check.ge(1)),
                "n_households": pa.Column("int64", pa.Check.ge(1)),
                "n_sampled": pa.Column("int64", pa.Check.ge(1)),
            },
            checks=[
                pa.Check(lambda d: (d["treated"] == (d["arm"] == "pilot").astype("int64")).all(), error="treated = arm is pilot"),
                pa.Check(lambda d: (d["n_sampled"] <= d["n_households"]).all(), error="n_sampled <= n_households"),
            ],
            name="villages",
        ),
        "households": pa.DataFrameSchema(
            {
                "hh_id": pa.Column("string", _HHID),
                "village_id": pa.Column("string", _VID),
                "region": region,
                "pair_id": pa.Column("int64", pa.Check.ge(1)),
                "arm": arm,
                "treated": treated,
                "wave": wave,
                "status": pa.Column("string", pa.Check.isin(["interviewed", "refused", "not_at_home", "moved"])),
                "interviewed": pa.Column("int64", _01),
                "panel": pa.Column("int64", _01),
                "n_population": pa.Column("int64", pa.Check.ge(1)),
                "n_sampled": pa.Column("int64", pa.Check.ge(1)),
                "head_age": pa.Column("Int64", pa.Check.in_range(15, 100), nullable=True, required=False),
                "hh_size": pa.Column("Int64", pa.Check.in_range(1, 20), nullable=True, required=False),
                "savings": _money(required=False),
                "debt": _money(required=False),
                "any_welfare": _flag(),
                "n_welfare_types": pa.Column("Int64", pa.Check.in_range(0, len(welfare)), nullable=True, required=False),
                "welfare_amount": _money(required=False),
                "qol_index": pa.Column("float64", pa.Check.in_range(1, 5), nullable=True, required=False),
                "self_reliance_index": pa.Column("float64", pa.Check.in_range(1, 5), nullable=True, required=False),
                "welfare_satisfaction": _likert(),
            },
            checks=[
                pa.Check(lambda d: ~d.duplicated(["hh_id", "wave"]), error="one row per household and wave"),
                pa.Check(lambda d: (d["interviewed"] == (d["status"] == "interviewed").astype("int64")).all(),
                         error="interviewed = status is interviewed"),
                pa.Check(lambda d: (d["treated"] == (d["arm"] == "pilot").astype("int64")).all(), error="treated = arm is pilot"),
            ],
            name="households",
        ),
        "benefits": pa.DataFrameSchema(
            {
                "hh_id": pa.Column("string", _HHID),
                "village_id": pa.Column("string", _VID),
                "wave": wave,
                "welfare_type": pa.Column("string", pa.Check.isin(welfare)),
                "received": pa.Column("Int64", _01, nullable=True),
                "amount": _money(),
            },
            unique=["hh_id", "wave", "welfare_type"],
            name="benefits",
        ),
        "admin": pa.DataFrameSchema(
            {
                "village_id": pa.Column("string", _VID),
                "region": region,
                "pair_id": pa.Column("int64", pa.Check.ge(1)),
                "arm": arm,
                "treated": treated,
                "year": pa.Column("int64", pa.Check.in_range(1957, 2157)),
                "members": pa.Column("Int64", pa.Check.ge(0), nullable=True, required=False),
                "savings": _money(required=False),
                "loans": _money(required=False),
                "profit": _money(required=False, lo=None),
                "welfare_payout": _money(required=False),
                "welfare_share": _money(required=False, lo=None),
                "fund_opening": _money(required=False),
                "fund_income_other": _money(required=False),
                "fund_income": _money(required=False),
                "fund_closing": _money(required=False),
                **alloc,
            },
            unique=["village_id", "year"],
            name="admin",
        ),
        "committee": pa.DataFrameSchema(
            {
                "village_id": pa.Column("string", _VID),
                "arm": arm,
                "treated": treated,
                "member_no": pa.Column("int64", pa.Check.ge(1)),
                "role": pa.Column("string", nullable=True),
                "item": pa.Column("string", pa.Check.isin(items)),
                "factor": pa.Column("string", pa.Check.isin(factors)),
                "score": _likert(required=True),
            },
            unique=["village_id", "member_no", "item"],
            name="committee",
        ),
    }


SCHEMAS = ("frame", "villages", "households", "benefits", "admin", "committee")


def validate_table(name: str, df: pd.DataFrame, *, n_regions: int | None = None) -> pd.DataFrame:
    """Validate a processed table by its schema (all failures collected).

    ``n_regions`` defaults to the number of regions of ``welfare_eval.reference.region_scheme()``.

    Raises
    ------
    CleaningError
        Naming the table, the first failing column and check, and the number of failures.
    """
    sch = schemas(len(ref.regions()) if n_regions is None else int(n_regions)).get(name)
    if sch is None:
        return df
    try:
        return sch.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        first = fc.iloc[0]
        raise CleaningError(
            f"processed table {name!r} fails its schema: column {first['column']!r} check {first['check']!r} "
            f"(e.g. {first['failure_case']!r}; {len(fc)} failure(s)); fix the codebook or report a bug"
        ) from None
