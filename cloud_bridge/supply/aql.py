"""Acceptance sampling by attributes, GB/T 2828.1 (= ISO 2859-1): single sampling plans for
normal inspection.

:data:`CODE_LETTERS` is Table 1 (sample size code letters) for the general inspection
levels I, II and III; :data:`SINGLE_NORMAL` is Table 2-A (single sampling plans for normal
inspection, master table) typed row by row, one cell per AQL column of
:data:`AQL_COLUMNS`. A cell is ``Ac/Re`` or an arrow: ``↓`` use the first plan below the
arrow (a larger sample), ``↑`` the first plan above it. When the sample size reaches the
lot size the whole lot is inspected (same Ac/Re).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# Table 1: upper bound of each lot-size range -> code letter per general inspection level.
LOT_RANGES = (8, 15, 25, 50, 90, 150, 280, 500, 1200, 3200, 10000, 35000, 150000, 500000,
              None)  # None: 500 001 and over
CODE_LETTERS = {
    "I":   "AABCCDEFGHJKLMN",
    "II":  "ABCDEFGHJKLMNPQ",
    "III": "BCDEFGHJKLMNPQR",
}
SAMPLE_SIZES = {"A": 2, "B": 3, "C": 5, "D": 8, "E": 13, "F": 20, "G": 32, "H": 50, "J": 80,
                "K": 125, "L": 200, "M": 315, "N": 500, "P": 800, "Q": 1250, "R": 2000}
LETTERS = "ABCDEFGHJKLMNPQR"

AqlColumn = Literal["0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40",
                    "0.65", "1.0", "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65",
                    "100", "150", "250", "400", "650", "1000"]
AQL_COLUMNS: tuple[AqlColumn, ...] = get_args(AqlColumn)

# Table 2-A, normal inspection, single sampling: one row per code letter.
SINGLE_NORMAL = {
    "A": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31",
    "B": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45",
    "C": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ↑",
    "D": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ↑ ↑",
    "E": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ↑ ↑ ↑",
    "F": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑",
    "G": "↓ ↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "H": "↓ ↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "J": "↓ ↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "K": "↓ ↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "L": "↓ ↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "M": "↓ ↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "N": "↓ ↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "P": "↓ 0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "Q": "0/1 ↑ ↓ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
    "R": "↑ ↑ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑ ↑",
}
_CELLS = {letter: row.split() for letter, row in SINGLE_NORMAL.items()}


class SamplingError(ValueError):
    """A lot size, level or AQL the tables do not have."""


@dataclass(frozen=True, slots=True)
class SamplingPlan:
    """What to inspect and how to decide: sample ``n``, accept at ``ac``, reject at ``re``."""

    lot_size: int
    level: str
    aql: str
    code_letter: str  # from Table 1
    plan_letter: str  # the row the arrows led to
    sample_size: int
    ac: int
    re: int

    def decide(self, defects: int) -> str:
        """``accept`` with at most ``ac`` nonconforming items in the sample, else ``reject``."""
        # Up to AQL 10 the count is of nonconforming items (at most the sample); above,
        # of nonconformities per hundred units, which may exceed the sample size.
        limit = self.sample_size if float(self.aql) <= 10 else None
        if defects < 0 or (limit is not None and defects > limit):
            raise SamplingError(f"defects must be between 0 and {limit}")
        return "accept" if defects <= self.ac else "reject"


def code_letter(lot_size: int, level: str = "II") -> str:
    """Table 1: the sample size code letter of a lot size at a general inspection level."""
    if level not in CODE_LETTERS:
        raise SamplingError(f"inspection level must be one of {', '.join(CODE_LETTERS)}")
    if lot_size < 2:
        raise SamplingError("a lot has at least 2 units")
    for i, bound in enumerate(LOT_RANGES):
        if bound is None or lot_size <= bound:
            return CODE_LETTERS[level][i]
    raise AssertionError("unreachable: the last range is open")


def normalise_aql(aql: str | float) -> str:
    """The AQL column named by ``aql`` (``1``, ``1.0`` and ``"1.0"`` are the same column)."""
    for col in AQL_COLUMNS:
        if float(col) == float(aql):
            return col
    raise SamplingError(f"AQL must be one of {', '.join(AQL_COLUMNS)}")


def single_normal_plan(lot_size: int, aql: str | float, level: str = "II") -> SamplingPlan:
    """The single sampling plan for normal inspection (Table 1, then Table 2-A's arrows)."""
    column = normalise_aql(aql)
    j = AQL_COLUMNS.index(column)
    letter = code_letter(lot_size, level)
    i = LETTERS.index(letter)
    for _ in range(len(LETTERS)):
        cell = _CELLS[LETTERS[i]][j]
        if cell == "↓":
            i += 1
        elif cell == "↑":
            i -= 1
        else:
            ac, re = (int(x) for x in cell.split("/"))
            n = SAMPLE_SIZES[LETTERS[i]]
            return SamplingPlan(lot_size, level, column, letter, LETTERS[i], min(n, lot_size),
                                ac, re)
    raise AssertionError("unreachable: every arrow of the table leads to a plan")
