"""Profiles, churn and basket rules against the hand-computed small case."""

from __future__ import annotations

import math
from datetime import date

import pytest

from cloud_bridge.analytics import mining

from .hand_case import hand_frames

AS_OF = date(2026, 3, 15)


@pytest.fixture(scope="module")
def profiles():
    fr = hand_frames()
    return {r["member_id"]: r for r in mining.member_profiles(fr.orders, fr.lines,
                                                              AS_OF).to_dicts()}


def test_rfm_scores_and_segments(profiles):
    a, b, c = profiles["A"], profiles["B"], profiles["C"]
    assert (a["orders"], a["revenue"], a["recency_days"]) == (2, 1500, 12)
    assert (b["orders"], b["revenue"], b["recency_days"]) == (2, 2700, 4)
    # quintiles of three members: ranks 1, 2, 3 -> scores 1, 2, 4; ties share the rank
    assert (a["r_score"], a["f_score"], a["m_score"]) == (2, 3, 2)
    assert (b["r_score"], b["f_score"], b["m_score"]) == (4, 3, 4)
    assert (c["r_score"], c["f_score"], c["m_score"]) == (1, 1, 1)
    assert (a["segment"], b["segment"], c["segment"]) == ("hibernating", "loyal", "lost")


def test_churn_probability_alive_and_lifetime_value(profiles):
    a, b, c = profiles["A"], profiles["B"], profiles["C"]
    assert a["expected_gap_days"] == 1.0 and b["expected_gap_days"] == 8.0
    assert c["expected_gap_days"] is None  # one purchase: the chain's median gap (4.5) is used

    def p_alive(recency: float, gap: float) -> float:
        x = 0.9 * math.exp(-recency / gap)
        return x / (x + 0.1)

    assert b["p_alive"] == pytest.approx(p_alive(4, 8)) and not b["churned"]
    assert a["p_alive"] == pytest.approx(p_alive(12, 1)) and a["churned"]
    assert c["p_alive"] == pytest.approx(p_alive(19, 4.5)) and c["churned"]
    ltv = p_alive(4, 8) * 1350 * (1 - 0.9 ** (365 / 8)) / 0.1
    assert b["ltv"] == round(ltv)


def test_preferences_and_price_sensitivity(profiles):
    a, b = profiles["A"], profiles["B"]
    assert (a["preferred_category"], a["preferred_store"]) == ("饮料", "S1")
    assert a["promo_share"] == pytest.approx(1 / 3)  # one of A's three lines was discounted
    assert (b["preferred_category"], b["preferred_store"]) == ("零食", "S1")  # tie: S1 < S2
    assert b["promo_share"] == 0.0


def test_basket_rules_support_confidence_lift():
    fr = hand_frames()
    rules = {(r["antecedent"], r["consequent"]): r
             for r in mining.basket_rules(fr.lines, min_baskets=1, min_lift=0).to_dicts()}
    # 6 baskets; P1 in 4, P2 in 3, both in 2
    r = rules[("P1", "P2")]
    assert (r["baskets"], r["support"], r["confidence"]) == (2, pytest.approx(2 / 6), 0.5)
    assert r["lift"] == pytest.approx(0.5 / (3 / 6))
    assert rules[("P2", "P1")]["confidence"] == pytest.approx(2 / 3)
    assert ("P1", "P3") not in rules  # never bought together
    assert mining.basket_rules(fr.lines, min_baskets=3).is_empty()
