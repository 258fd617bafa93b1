"""Member demographics: gender, age band and region, aggregated so no one stands out.

Only what members chose to give counts (the members domain's opt-in profile: a field a
member did not give is not in the table at all), joined with their behaviour profile
(orders, revenue, lifetime value, churn) from the nightly job. Every group shown holds
at least ``MIN_GROUP_SIZE`` members (k-anonymity of the counts and averages):

* a group smaller than that is withheld, not shown at all (not even folded into an
  "other" row: the same table asked with another ``min_group`` would then give a withheld
  group's figures by subtraction); shares are of the members shown, so no withheld size
  can be worked out from them;
* a selection (store, segment) whose members who gave the field number fewer than the
  minimum is refused as a whole (:class:`TooFewMembers`).

Known limit: tables of overlapping selections (a store's and the chain's) can still be
subtracted from each other; the minimum keeps every figure shown an aggregate of at
least ``MIN_GROUP_SIZE`` members, it cannot stop an analyst comparing two of them.

Formulas: ``docs/metrics.md`` (Demographics).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Literal, get_args

import polars as pl

if TYPE_CHECKING:
    from cloud_bridge.members.service import OptInProfile

# The smallest group shown: fewer members could be recognised by someone who knows them.
MIN_GROUP_SIZE = 10
Dimension = Literal["gender", "age_band", "region"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
AGE_BANDS = ((18, "under_18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"),
             (65, "55-64"))


class TooFewMembers(ValueError):
    """The selection has fewer members who gave the field than the minimum group size."""


def age_band(birthday: str | None, today: date) -> str | None:
    """The age band of a ``YYYY-MM-DD`` birthday on ``today`` (None if not given)."""
    if not birthday:
        return None
    try:
        born = date.fromisoformat(birthday)
    except ValueError:
        return None
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    for limit, band in AGE_BANDS:
        if age < limit:
            return band
    return "65+"


def member_frame(profiles: Sequence[OptInProfile], today: date) -> pl.DataFrame:
    """One row per opted-in member: member_id, gender, age_band, region."""
    return pl.DataFrame(
        [(p.member_id, p.gender, age_band(p.birthday, today),
          (p.region or "").strip() or None) for p in profiles],
        schema={"member_id": pl.Utf8, "gender": pl.Utf8, "age_band": pl.Utf8,
                "region": pl.Utf8}, orient="row")


def demographics(members: pl.DataFrame, behaviour: pl.DataFrame, by: str,
                 min_group: int = MIN_GROUP_SIZE) -> tuple[pl.DataFrame, int]:
    """Per value of ``by``: members, buyers, orders, revenue, aov, avg_ltv, churn_rate, share.

    ``members`` is :func:`member_frame` (already narrowed to the selection); ``behaviour``
    has member_id, orders, revenue, ltv, churned (the nightly profiles). Returns the table
    and how many groups were withheld.

    Raises:
        TooFewMembers: fewer than ``min_group`` members gave ``by`` in the selection.
    """
    if by not in DIMENSIONS:
        raise KeyError(by)
    gave = members.filter(pl.col(by).is_not_null()).select("member_id", pl.col(by).alias("key"))
    if gave.height < min_group:
        raise TooFewMembers(f"fewer than {min_group} members in this selection gave their "
                            f"{by}: not shown, so that no one can be singled out")
    joined = gave.join(behaviour, on="member_id", how="left")
    sizes = joined.group_by("key").agg(pl.len().alias("n"))
    withheld = sizes.filter(pl.col("n") < min_group).height
    shown = sizes.filter(pl.col("n") >= min_group).select("key")
    out = joined.join(shown, on="key", how="semi").group_by("key").agg(
        pl.len().cast(pl.Int64).alias("members"),
        pl.col("orders").is_not_null().sum().cast(pl.Int64).alias("buyers"),
        pl.col("orders").fill_null(0).sum().cast(pl.Int64).alias("orders"),
        pl.col("revenue").fill_null(0).sum().cast(pl.Int64).alias("revenue"),
        pl.col("ltv").mean().alias("avg_ltv"),
        pl.col("churned").cast(pl.Float64).mean().alias("churn_rate"))
    out = out.with_columns(
        pl.when(pl.col("orders") > 0).then(pl.col("revenue") / pl.col("orders"))
        .otherwise(None).alias("aov"),
        # of the members shown: a share of everyone who gave the field would let the
        # size of a withheld group be worked out from what is shown
        (pl.col("members") / pl.col("members").sum()).alias("share"))
    return (out.sort("members", "key", descending=[True, False])
            .select("key", "members", "share", "buyers", "orders", "revenue", "aov",
                    "avg_ltv", "churn_rate"), withheld)
