"""Signed QR tokens (contract.tokens): what verifies, and every way one is refused."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.signing import generate_signing_key, key_id
from contract.tokens import (
    MAX_TOKEN_CHARS,
    RevocationList,
    TokenError,
    TokenVerifier,
    issue_token,
)

NOW = 1_800_000_000
DAY = 86_400


@pytest.fixture(scope="module")
def key():
    """The chain's badge signing key."""
    return generate_signing_key()


@pytest.fixture
def verifier(key):
    """A kiosk's verifier: the chain's public key, badges honoured at most 30 days."""
    return TokenVerifier([key.public_key()], max_lifetime_s=30 * DAY)


def _reason(verifier, text, **kw):
    with pytest.raises(TokenError) as info:
        verifier.verify(text, **{"kind": "staff", "store": "S1", "now": NOW, **kw})
    return info.value.reason


def test_round_trip_claims_and_qr_size(key, verifier):
    text = issue_token(key, kind="staff", subject="emp-007", store="S1", ttl_s=7 * DAY,
                       role="supervisor", now=NOW)
    assert text.startswith("S1.") and len(text) < 300  # fits a version-10 QR code
    tok = verifier.verify(text, kind="staff", store="S1", now=NOW + 10)
    assert (tok.subject, tok.store, tok.role, tok.key_id) == ("emp-007", "S1", "supervisor",
                                                              key_id(key))
    assert tok.issued_at == NOW and tok.effective_expires_at == NOW + 7 * DAY


def test_chain_wide_token_works_in_any_store_and_scope_is_enforced(key, verifier):
    chain = issue_token(key, kind="staff", subject="auditor", ttl_s=DAY, now=NOW)
    assert verifier.verify(chain, kind="staff", store="S9", now=NOW).store == "*"
    scoped = issue_token(key, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW)
    assert _reason(verifier, scoped, store="S2") == "wrong_store"


def test_refusals(key, verifier):
    good = issue_token(key, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW)
    assert _reason(verifier, good, kind="member") == "wrong_kind"
    assert _reason(verifier, good, now=NOW + DAY) == "expired"
    assert _reason(verifier, good, now=NOW - 3600) == "not_yet_valid"
    other = generate_signing_key()
    foreign = issue_token(other, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW)
    assert _reason(verifier, foreign) == "unknown_key"
    # A forged payload (another subject) under our key id with the old signature.
    prefix, payload, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "boss"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _reason(verifier, f"{prefix}.{forged}.{sig}") == "bad_signature"
    for junk in ("STAFF:e1", "S1.a.b", "S1..", "S1.!!.??", "S1." + "A" * MAX_TOKEN_CHARS + ".x"):
        assert _reason(verifier, junk) == "malformed"


def test_expiry_is_capped_by_the_verifier(key, verifier):
    ten_years = issue_token(key, kind="staff", subject="e1", store="S1", ttl_s=3650 * DAY,
                            now=NOW)
    assert verifier.verify(ten_years, kind="staff", store="S1", now=NOW + 29 * DAY)
    assert _reason(verifier, ten_years, now=NOW + 30 * DAY) == "expired"


def test_revocation_by_token_and_by_subject_from_a_time(key, verifier):
    lost = issue_token(key, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW,
                       token_id="lost1")
    assert _reason_after(verifier, lost, RevocationList(token_ids={"lost1"})) == "revoked"
    cut = RevocationList(subjects={"e1": NOW + 5})
    assert _reason_after(verifier, lost, cut) == "revoked"
    reissued = issue_token(key, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW + 6)
    assert verifier.verify(reissued, kind="staff", store="S1", now=NOW + 7).subject == "e1"
    # The list survives its wire form; a malformed list is an error, not an empty list.
    assert RevocationList.from_json(cut.to_json()).subjects == {"e1": NOW + 5}
    with pytest.raises(ValueError):
        RevocationList.from_json({"subjects": ["e1"]})


def _reason_after(verifier, text, revocations):
    verifier.revocations = revocations
    return _reason(verifier, text)


def test_key_rotation_accepts_either_key(key):
    new = generate_signing_key()
    both = TokenVerifier([key.public_key(), new.public_key()], max_lifetime_s=DAY)
    for k in (key, new):
        text = issue_token(k, kind="staff", subject="e1", ttl_s=60, now=NOW)
        assert both.verify(text, kind="staff", store="S1", now=NOW).key_id == key_id(k)


def test_issue_refuses_what_a_verifier_would_refuse(key):
    for kw in ({"subject": "has space"}, {"store": "S 1"}, {"kind": "Staff"}, {"ttl_s": 0}):
        with pytest.raises(ValueError):
            issue_token(key, **{"kind": "staff", "subject": "e1", "ttl_s": 60, **kw})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_verifies_and_never_crashes(text):
    verifier = TokenVerifier([_FIXED_KEY.public_key()], max_lifetime_s=DAY)
    with pytest.raises(TokenError):
        verifier.verify(text, kind="staff", store="S1", now=NOW)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=1))
def test_any_flipped_byte_breaks_the_token(pos, byte):
    text = issue_token(_FIXED_KEY, kind="staff", subject="e1", store="S1", ttl_s=DAY, now=NOW)
    i = pos % len(text)
    flipped = text[:i] + chr((ord(text[i]) ^ (byte[0] | 1)) % 128) + text[i + 1:]
    verifier = TokenVerifier([_FIXED_KEY.public_key()], max_lifetime_s=DAY)
    if flipped == text:
        return
    with pytest.raises(TokenError):
        verifier.verify(flipped, kind="staff", store="S1", now=NOW)


_FIXED_KEY = generate_signing_key()
