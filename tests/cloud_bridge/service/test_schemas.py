"""The customer-service reply schemas spell their Literals out: they must match the source."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from cloud_bridge.service import schemas, tickets


def test_literals_match_the_tickets_module():
    assert set(get_args(schemas.TicketStatus)) == {s.value for s in tickets.Status}
    assert set(get_args(schemas.TicketChannel)) == {c.value for c in tickets.Channel}
    assert set(get_args(schemas.TicketKind)) == {k.value for k in tickets.Kind}
    assert set(get_args(schemas.Priority)) == set(tickets.PRIORITY_RANK)
    assert set(get_args(schemas.Tier)) == set(tickets.TIER_RANK)
    assert get_args(schemas.Category) == tickets.CATEGORIES


def test_a_status_the_enum_lacks_is_refused():
    status = TypeAdapter(schemas.TicketStatus)
    assert status.validate_python("snoozed") == "snoozed"
    with pytest.raises(ValidationError):
        status.validate_python("archived")
