"""Fixtures of the marketing tests: the member tests' bridge, staff and shoppers."""

from __future__ import annotations

from ..members.conftest import client, member_key, people, register  # noqa: F401

A = "/api/v1/admin/marketing"
M = "/api/v1/mp/coupons"

TEMPLATE = {"name_zh": "满50减10", "name_en": "10 off 50", "kind": "fixed", "value": 1000,
            "threshold": 5000, "total_limit": 100, "per_user_limit": 1, "valid_days": 30}
