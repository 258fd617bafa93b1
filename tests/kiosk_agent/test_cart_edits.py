"""Cart edits at the kiosk (kiosk_agent.cart_edits): the shopper's own edits, and voids
that need a signed staff badge, through the agent's scan path and the control API on a
real Unix socket; every edit journalled as a ``cart.edited`` event."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract.codes import classify
from contract.signing import generate_signing_key, public_key_pem
from contract.tokens import issue_token
from contract.wire.cart import CART_EDITED
from kiosk_agent.agent import Agent
from kiosk_agent.cart_edits import cart_edits
from kiosk_agent.checkout import Refusal, State
from kiosk_agent.config import AgentConfig
from kiosk_agent.control import control_component, hash_pin
from tests.kiosk_agent.sales import FakePayments, Outcome, make_book
from tui.client import ControlClient, ControlError

KEY = generate_signing_key()
PIN = "1357"


def badge(staff="e7", store="store1", key=KEY):
    return issue_token(key, kind="staff", subject=staff, store=store, ttl_s=3600)


def product(code):
    return SimpleNamespace(kind="product", text=code, symbology="CODE128")


def scan(text):
    return SimpleNamespace(kind=classify(text, "QRCODE"), text=text, symbology="QRCODE")


@pytest.fixture(scope="module")
def pin_hash() -> str:
    """An argon2 hash of the test PIN (slow: once per module)."""
    return hash_pin(PIN)


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch, pin_hash):
    """A started agent (no MQTT) with the test chain's badge key and a control socket."""
    monkeypatch.setenv("KIOSK_BADGE_PUBKEY", public_key_pem(KEY).decode())
    sock = Path(tempfile.mkdtemp(prefix="kcart", dir="/tmp"))
    config = AgentConfig.model_validate({
        "journal": {"path": str(tmp_path / "j.db")}, "mqtt": {"enabled": False},
        "staff": {"free_voids": 1},
        "control": {"socket_path": str(sock / "a.sock"), "staff_pin_hash": pin_hash,
                    "socket_group": None}})
    a = Agent(config, payments=FakePayments(Outcome("failed", reason="declined")),
              book=make_book())
    a.add_component("control", control_component(a))
    runner = asyncio.create_task(a.run())
    await asyncio.wait_for(a.started.wait(), 5)
    yield a
    a.stop()
    await asyncio.wait_for(runner, 10)
    shutil.rmtree(sock, ignore_errors=True)


async def edits_in_journal(agent) -> list[dict]:
    def q(conn):
        return [json.loads(bytes(r[0]))["data"] for r in conn.execute(
            "SELECT payload FROM outbox WHERE type = ? ORDER BY seq", (CART_EDITED,))]
    return await agent.journal.read(q)


async def test_shopper_removes_and_lowers_freely_then_needs_a_badge(agent):
    for code in ("SKU-WATER", "SKU-WATER", "SKU-CHIPS", "SKU-BEER"):
        assert await agent.handle_scan(product(code)) is None
    co, edits = agent.checkout, cart_edits(agent)
    assert [i.qty for i in co.items] == [2, 1, 1]
    # Remove mode (KIOSK:REMOVE): the next scan of water takes one water out, free (1st void).
    edits.start_remove_mode()
    assert await agent.handle_scan(product("SKU-WATER")) is None
    assert [i.qty for i in co.items] == [1, 1, 1]
    assert co.priced.total == 200 + 650 + 800
    # Raising a quantity is never a void.
    assert await edits.set_quantity(2, 3) == "done"
    # The second void in this cart needs staff: refused, the cart unchanged, it waits.
    assert await edits.remove_line(2) == "pending"
    assert [i.qty for i in co.items] == [1, 3, 1]
    # A forged badge (another chain's key) does nothing.
    refusal = await agent.handle_scan(scan(badge(key=generate_signing_key())))
    assert refusal is not None and refusal.code == "badge_unknown_key"
    assert len(co.items) == 3 and edits.pending is not None
    # A valid badge carries it out, and is recorded as the approver.
    assert await agent.handle_scan(scan(badge("boss"))) is None
    assert [i.product.product_id for i in co.items] == ["P1", "P3"]
    assert co.needs_staff  # the beer still needs its age check: the void was not one
    (approval,) = await agent.journal.staff_approvals()
    assert (approval.staff_id, approval.action) == ("boss", "void_line")
    logged = await edits_in_journal(agent)
    assert [(e["action"], e["product_id"], e["qty_before"], e["qty_after"], e["staff_id"])
            for e in logged] == [("set_quantity", "P1", 2, 1, None),
                                 ("set_quantity", "P2", 1, 3, None),
                                 ("remove_line", "P2", 3, 0, "boss")]
    assert logged[-1]["amount_before"] - logged[-1]["amount_after"] == 3 * 650


async def test_after_asking_to_pay_every_void_needs_a_badge(agent):
    co, edits = agent.checkout, cart_edits(agent)
    await agent.handle_scan(product("SKU-WATER"))
    await agent.handle_scan(product("SKU-CHIPS"))
    co.request_payment()
    assert await edits.remove_line(1) == "pending"  # first void, but on the payment screen
    assert co.state == State.AWAITING_PAYMENT and len(co.items) == 2
    await agent.handle_scan(scan(badge()))
    assert co.state == State.SCANNING and [i.product.product_id for i in co.items] == ["P2"]


async def test_voiding_the_whole_cart_after_a_payment_was_tried(agent):
    co, edits = agent.checkout, cart_edits(agent)
    await agent.handle_scan(product("SKU-CHIPS"))
    # A declined payment: the order number is reserved and stays with the cart.
    await agent.handle_scan(SimpleNamespace(kind="wechat", text="134567890123456789"))
    assert co.state == State.AWAITING_PAYMENT and co.attempt_no == 1
    assert await edits.void_cart() == "pending"
    assert co.state == State.AWAITING_PAYMENT and co.items  # nothing voided without staff
    await agent.handle_scan(scan(badge("e9")))
    assert co.state == State.IDLE and not co.items
    (approval,) = await agent.journal.staff_approvals()
    assert (approval.staff_id, approval.action) == ("e9", "void_cart")

    def types(conn):
        return [r[0] for r in conn.execute("SELECT type FROM outbox ORDER BY seq")]
    assert types_tail(await agent.journal.read(types)) == [
        "staff.approved", "order.voided", "cart.edited"]


def types_tail(types: list[str]) -> list[str]:
    return [t for t in types if t in ("staff.approved", "order.voided", "cart.edited")]


async def test_no_edit_while_a_payment_is_unknown(agent):
    agent.payments.outcomes[:] = [TimeoutError()]
    co, edits = agent.checkout, cart_edits(agent)
    await agent.handle_scan(product("SKU-CHIPS"))
    await agent.handle_scan(SimpleNamespace(kind="wechat", text="134567890123456789"))
    with pytest.raises(Refusal) as err:
        await edits.void_cart(staff=None)
    assert err.value.code == "payment_confirming"
    assert co.items and await edits_in_journal(agent) == []


async def test_control_api_refuses_voids_without_a_badge(agent):
    co = agent.checkout
    for code in ("SKU-WATER", "SKU-CHIPS"):
        await agent.handle_scan(product(code))
    async with ControlClient(agent.config.control.socket_path) as client:
        cart = await client.cart()
        assert [(ln["line_no"], ln["product_id"]) for ln in cart["lines"]] == [(1, "P1"), (2, "P2")]
        # each line's amount as priced (it read a field priced lines do not have: always null)
        assert [ln["amount"] for ln in cart["lines"]] == [200, 650]
        assert cart["total"] == 850
        with pytest.raises(ControlError) as err:  # no staff session
            await client.remove_line(1)
        assert err.value.status == 401
        await client.login(PIN)
        assert (await client.remove_line(1))["result"] == "done"  # the one free void
        with pytest.raises(ControlError) as err:
            await client.set_quantity(1, 0)
        assert (err.value.status, err.value.code) == (409, "bad_qty")
        await client.set_quantity(1, 2)  # raising: free
        with pytest.raises(ControlError) as err:
            await client.set_quantity(1, 1)
        assert (err.value.status, err.value.code) == (409, "void_needs_staff")
        with pytest.raises(ControlError) as err:
            await client.void_cart(badge="STAFF:e1")  # the old printable badge
        assert err.value.code == "badge_unsigned"
        with pytest.raises(ControlError) as err:
            await client.void_cart(badge=badge(store="store2"))
        assert err.value.code == "badge_wrong_store"
        assert [i.qty for i in co.items] == [2]
        # The shopper's pending lowering is approved from the TUI with a badge.
        assert (await client.approve_void(badge("e3")))["cart"]["lines"][0]["qty"] == 1
        done = await client.void_cart(badge=badge("e3"))
        assert done["cart"]["state"] == "idle" and done["cart"]["lines"] == []
    assert [a.action for a in await agent.journal.staff_approvals()] == ["void_cart", "void_line"]
