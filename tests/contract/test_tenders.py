"""One registry of tenders: every Literal and list of payment methods agrees with it."""

from __future__ import annotations

from typing import get_args

from contract import codes, tenders
from contract.tenders import TENDERS, Tender
from contract.wire.events import TenderData
from contract.wire.payments import ChargeParams


def test_literals_match_the_registry():
    assert set(get_args(tenders.TenderMethod)) == {t.value for t in Tender}
    assert set(get_args(tenders.ChargeMethod)) == set(tenders.CHARGEABLE_TENDERS)
    assert set(get_args(tenders.ScannedCodeTender)) == tenders.SCANNED_CODE_TENDERS
    assert set(TENDERS) == set(Tender)


def test_wire_models_take_exactly_the_registry():
    schema = TenderData.model_json_schema()["properties"]["method"]
    assert set(schema["enum"]) == {t.value for t in Tender}
    charge = ChargeParams.model_json_schema()["properties"]["method"]
    assert set(charge["enum"]) == set(tenders.CHARGEABLE_TENDERS)
    assert "cash" not in charge["enum"]  # cash is taken at a staffed till, never charged


def test_camera_payment_kinds_and_gateways_come_from_the_registry():
    assert codes.PAYMENT_KINDS == {"wechat", "alipay"}
    assert codes.SECRET_KINDS == {"wechat", "alipay", "member", "coupon"}
    from cloud_bridge.payments.config import PROVIDER_KEYS

    assert PROVIDER_KEYS == ("wechat", "alipay", "card", "paypal")


def test_names_for_receipts_and_reports():
    assert tenders.tender_name("wechat") == "微信支付"
    assert tenders.tender_name("stored_value", "en") == "Stored value"
    assert tenders.tender_name("voucher") == "voucher"
