"""A download token's expiry: at least its lifetime away, on a round hour, whatever the
fraction of the second it is minted in (int() once made it up to a second short)."""

from __future__ import annotations

import pytest

from cloud_bridge.security import download_tokens


@pytest.mark.parametrize("now", [36000.0, 36000.7, 36001.2, 39599.9])
def test_a_token_lives_at_least_its_ttl_to_a_round_hour(now):
    ttl = download_tokens.TOKEN_TTL_S
    expires_at = download_tokens.expiry(now)
    assert now + ttl <= expires_at < now + ttl + 3601
    assert expires_at % 3600 == 0
