"""GB/T 2828.1 / ISO 2859-1 tables: code letters and single sampling plans, normal inspection."""

from __future__ import annotations

import pytest

from cloud_bridge.supply.aql import (
    AQL_COLUMNS,
    SINGLE_NORMAL,
    SamplingError,
    code_letter,
    single_normal_plan,
)


@pytest.mark.parametrize("lot,level,letter", [
    (2, "II", "A"), (8, "II", "A"), (9, "II", "B"), (50, "II", "D"), (51, "II", "E"),
    (500, "II", "H"), (501, "II", "J"), (1000, "II", "J"), (1200, "II", "J"),
    (1201, "II", "K"), (10000, "II", "L"), (35001, "II", "N"), (500001, "II", "Q"),
    (1000, "I", "G"), (1000, "III", "K"), (500001, "III", "R"), (100, "I", "D"),
])
def test_code_letters_from_table_1(lot, level, letter):
    assert code_letter(lot, level) == letter


@pytest.mark.parametrize("lot,aql,n,ac,re,row", [
    (1000, "1.0", 80, 2, 3, "J"),  # the textbook entry
    (1000, "2.5", 80, 5, 6, "J"),
    (1000, "4.0", 80, 7, 8, "J"),
    (1000, "6.5", 80, 10, 11, "J"),
    (1000, "0.65", 80, 1, 2, "J"),
    (1000, "0.15", 80, 0, 1, "J"),
    (1000, "0.25", 50, 0, 1, "H"),  # up arrow: the plan above
    (1000, "0.40", 125, 1, 2, "K"),  # down arrow: the plan below
    (200, "1.0", 50, 1, 2, "H"),  # G at 1.0 is a down arrow
    (60, "1.0", 13, 0, 1, "E"),
    (3000, "1.5", 125, 5, 6, "K"),
    (5000, "0.65", 200, 3, 4, "L"),
    (20, "10", 5, 1, 2, "C"),
    (2, "1000", 2, 30, 31, "A"),
])
def test_single_normal_plans_from_table_2a(lot, aql, n, ac, re, row):
    plan = single_normal_plan(lot, aql)
    assert (plan.sample_size, plan.ac, plan.re, plan.plan_letter) == (n, ac, re, row)


def test_every_row_has_a_cell_per_aql_and_every_arrow_leads_to_a_plan():
    assert all(len(row.split()) == len(AQL_COLUMNS) for row in SINGLE_NORMAL.values())
    for lot in (2, 9, 30, 100, 1000, 5000, 100000, 10**6):
        for level in ("I", "II", "III"):
            for aql in AQL_COLUMNS:
                plan = single_normal_plan(lot, aql, level)
                assert plan.re == plan.ac + 1 and plan.sample_size <= lot


def test_small_lots_are_inspected_whole_and_decisions_follow_ac_re():
    plan = single_normal_plan(10, "0.10")  # down arrows lead to n=125 > lot: all 10
    assert plan.sample_size == 10 and plan.ac == 0
    plan = single_normal_plan(1000, 1.0)
    assert plan.decide(2) == "accept" and plan.decide(3) == "reject"
    with pytest.raises(SamplingError):
        plan.decide(81)
    with pytest.raises(SamplingError):
        single_normal_plan(1000, "0.3")
    with pytest.raises(SamplingError):
        code_letter(1)
