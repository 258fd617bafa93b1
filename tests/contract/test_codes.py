"""Code classification, check digits, member codes and masking (kiosk_agent/codes.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contract import codes
from contract.codes import classify, make_member_code, mask_code, verify_member_code

KEY = "test-member-key"


def test_ean_upc_check_digits() -> None:
    assert classify("6901234567892", "EAN13") == "product"
    assert classify("6901234567893", "EAN13") == "unknown"  # bad check digit
    assert classify("96385074", "EAN8") == "product"
    assert classify("96385075", "EAN8") == "unknown"
    assert classify("036000291452", "UPCA") == "product"
    assert classify("036000291453", "UPCA") == "unknown"
    assert classify("04252614", "UPCE") == "product"  # expands to 042100005264
    assert classify("04252615", "UPCE") == "unknown"
    assert classify("690123456789", "EAN13") == "unknown"  # wrong length


def test_unknown_symbology_only_trusts_gtins() -> None:
    assert classify("6901234567892", "") == "product"
    assert classify("6901234567892", "unknown") == "product"
    assert classify("ABC-123", "") == "unknown"


def test_code128_products_and_reserved_payment_range() -> None:
    assert classify("SKU-000123", "CODE128") == "product"
    assert classify("20123456", "CODE128") == "product"
    # all digits, 16-24 long, but no payment rule: a misread, never a product
    assert classify("190000000000000000", "CODE128") == "unknown"
    assert classify("ab", "CODE128") == "unknown"


def test_payment_codes() -> None:
    assert classify("134567890123456712", "CODE128") == "wechat"
    assert classify("104567890123456712", "QRCODE") == "wechat"
    assert classify("154567890123456712", "") == "wechat"
    assert classify("164567890123456712", "CODE128") == "unknown"  # prefix 16
    assert classify("13456789012345671", "CODE128") == "unknown"  # 17 digits
    assert classify("2845678901234567", "CODE128") == "alipay"  # 16 digits
    assert classify("304567890123456789012345", "QRCODE") == "alipay"  # 24 digits
    assert classify("3045678901234567890123456", "QRCODE") == "unknown"  # 25 digits
    assert classify("244567890123456789", "CODE128") == "unknown"
    # A payment code cannot come from an EAN symbol.
    assert classify("134567890123456712", "EAN13") == "unknown"


def test_member_code_round_trip_and_expiry() -> None:
    code = make_member_code("m123", KEY, ttl_s=60, now=1_000_000)
    assert code.startswith("M1.m123.1000060.")
    assert classify(code, "QRCODE", member_key=KEY, now=1_000_010) == "member"
    assert verify_member_code(code, KEY, now=1_000_010) == codes.MemberCode("m123", 1_000_060)
    assert classify(code, "QRCODE", member_key=KEY, now=1_000_061) == "unknown"  # expired
    assert classify(code, "QRCODE", member_key="other", now=1_000_010) == "unknown"
    assert classify(code, "QRCODE", member_key=None, now=1_000_010) == "unknown"
    forged = code.replace("m123", "m124")
    assert classify(forged, "QRCODE", member_key=KEY, now=1_000_010) == "unknown"


def test_member_key_from_environment(monkeypatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("KIOSK_MEMBER_CODE_KEY", KEY)
    from kiosk_agent.config import member_code_key

    assert member_code_key() == KEY


def test_staff_badge() -> None:
    assert classify("STAFF:s001", "CODE128") == "staff"
    assert classify("STAFF:s001", "QRCODE") == "staff"
    assert classify("STAFF:", "QRCODE") == "unknown"
    assert classify("STAFF:a b", "QRCODE") == "unknown"
    assert codes.staff_id_of("STAFF:s001") == "s001"


def test_mask_code() -> None:
    assert mask_code("134567890123456712") == "1345************12"
    assert mask_code("12345") == "*****"
    assert codes.display_text("134567890123456712", "wechat") == "1345************12"
    assert codes.display_text("6901234567892", "product") == "6901234567892"
    # looks like a payment code even if it failed the rules: still masked
    assert codes.display_text("190000000000000000", "unknown") == "1900************00"


@given(st.text(min_size=10, max_size=40))
def test_mask_code_hides_all_but_six(text: str) -> None:
    masked = mask_code(text)
    assert len(masked) == len(text)
    assert masked[4:-2] == "*" * (len(text) - 6)


@given(st.text(max_size=40), st.sampled_from(["EAN13", "EAN8", "UPCA", "CODE128", "QRCODE", ""]))
def test_classify_never_raises(text: str, symbology: str) -> None:
    assert classify(text, symbology) in {"product", "wechat", "alipay", "member", "staff",
                                          "unknown"}


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_exactly_one_check_digit_is_valid(body: str) -> None:
    valid = [d for d in "0123456789" if codes.valid_gtin(body + d)]
    assert valid == [str(codes.gtin_check_digit(body))]
