"""Tests of welfare_eval.match.screen_eligibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval.match import screen_eligibility


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": ["11010101", "11010102", "11010103", "11010104", "11010105"],
            "region": [1, 1, 1, 2, 2],
            "has_sufficiency": [1, 0, 1, 1, np.nan],
            "has_savings_group": [1, 1, 0, 1, 1],
            "has_fund_institution": [1, 1, 0, 1, 1],
            "n_households": [120, 80, 30, 40, 200],
        }
    )


def test_cdd_criteria_and_reasons(frame: pd.DataFrame) -> None:
    out = screen_eligibility(frame)
    assert len(out) == len(frame)  # every candidate is listed
    assert out["eligible"].tolist() == [1, 0, 0, 1, 0]
    assert out["reason"].tolist() == [
        "",
        "has_sufficiency = 0",
        "has_savings_group = 0; has_fund_institution = 0",
        "",
        "has_sufficiency missing",
    ]
    assert out["n_failed"].tolist() == [0, 1, 2, 0, 1]
    assert out["region"].tolist() == [1, 1, 1, 2, 2]
    assert out["has_sufficiency"].isna().tolist() == [False, False, False, False, True]


def test_user_rules(frame: pd.DataFrame) -> None:
    out = screen_eligibility(
        frame, rules={"size": "n_households >= 50", "not_r2": lambda f: f["region"] != 2}
    )
    assert out["eligible"].tolist() == [1, 0, 0, 0, 0]
    assert out.loc[3, "reason"] == "rule size not met; rule not_r2 not met"
    assert out.loc[2, "reason"] == "has_savings_group = 0; has_fund_institution = 0; rule size not met"
    assert out["rule_size"].tolist() == [True, True, False, False, True]


def test_bad_input(frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="not in the frame"):
        screen_eligibility(frame.drop(columns="has_savings_group"))
    f = frame.copy()
    f.loc[0, "has_sufficiency"] = 2
    with pytest.raises(ValueError, match="0/1"):
        screen_eligibility(f)
    with pytest.raises(ValueError, match="rule 'x'"):
        screen_eligibility(frame, rules={"x": "no_such_column > 1"})
    with pytest.raises(ValueError, match="more than once"):
        screen_eligibility(pd.concat([frame, frame.iloc[[0]]]))


def test_yes_no_text_flags(frame: pd.DataFrame) -> None:
    f = frame.copy()
    f["has_fund_institution"] = ["yes", "Yes", "no", "1", None]
    out = screen_eligibility(f)
    assert out["has_fund_institution"].tolist()[:4] == [True, True, False, True]
    assert "has_fund_institution missing" in out.loc[4, "reason"]
