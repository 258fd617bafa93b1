"""The demo's member journey (issue 13's proof), over the real APIs and CLIs.

A shopper registers as a member in the mini-program (sandbox code2session) and gives a
birthday; the daily birthday job gives a birthday coupon; a kiosk sale with the member
code the mini-program shows earns points (the points job); the next sale at the kiosk
redeems points (the ``KIOSK:USE_POINTS`` card); then, with the shop offline, the member
pays from stored value and uses the birthday coupon (the QR from the coupon wallet, one
of the kiosk's pre-reserved slots). Back online, the cloud takes the points and uses the
coupon once; the ledgers are read back and must balance.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import codes

from . import kit, scenario, term
from .procs import AdminClient, cli, run_cli

if TYPE_CHECKING:
    from .system import Shopper

BIRTHDAY_TEMPLATE = {"name_zh": "生日券 满5减2", "name_en": "Birthday: 2 off 5",
                     "kind": "fixed", "value": 200, "threshold": 500, "total_limit": 1000,
                     "valid_days": 7}
#: Stored value the member tops up before the offline sale (fen).
TOP_UP = 5000
# Two more synthetic WeChat payment codes (the sandbox takes each code once).
WECHAT_CODES = ("134567890123456723", "134567890123456734")


def _card(label: str, text: str) -> scenario.Card:
    return (label, text, codes.QRCODE)


def _mp(bridge_url: str) -> AdminClient:
    shopper = AdminClient(bridge_url)  # a JSON client; the mp session as bearer
    shopper.token = shopper.call("POST", "/api/v1/mp/session",
                                 {"code": "demo-member-journey"})["token"]
    return shopper


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def _kiosk_book(journal: Path) -> str | None:
    with _ro(journal) as db:
        row = db.execute("SELECT version FROM catalog_versions WHERE is_current=1").fetchone()
        return row[0] if row else None


def ledgers(bridge_db: Path, member_id: str) -> dict[str, Any]:
    """The member's points ledger and coupons as the cloud holds them (read-only)."""
    with _ro(bridge_db) as db:
        rows = db.execute("SELECT kind, source_type, points FROM mem_points_ledger "
                          "WHERE member_id=?", (member_id,)).fetchall()
        balance = db.execute("SELECT points FROM mem_members WHERE id=?",
                             (member_id,)).fetchone()[0]
        coupons = dict(db.execute("SELECT status, count(*) FROM mkt_coupons WHERE owner=? "
                                  "GROUP BY status", (member_id,)).fetchall())
        issued = db.execute("SELECT count(*) FROM mkt_coupons WHERE owner=?",
                            (member_id,)).fetchone()[0]
        used_by = [r[0] for r in db.execute("SELECT order_no FROM mkt_coupons WHERE owner=? "
                                            "AND status='used'", (member_id,))]
        slots = db.execute("SELECT count(*) FROM mkt_coupon_slots WHERE status='used'"
                           ).fetchone()[0]
    earned = sum(p for k, _, p in rows if p > 0)
    redeemed = -sum(p for k, src, p in rows if src == "order_redeem")
    return {"earned": earned, "redeemed": redeemed, "balance": balance,
            "ledger_sum": sum(p for _, _, p in rows), "coupons_issued": issued,
            "coupons_used": coupons.get("used", 0), "coupons_unused": coupons.get("unused", 0),
            "coupons_locked": coupons.get("locked", 0),
            "coupons_expired": coupons.get("expired", 0), "used_by": used_by,
            "slots_used": slots}


def journey(shopper: Shopper, known: set[str]) -> dict[str, Any]:
    """Run the journey; the ledgers at the end (see :func:`ledgers`)."""
    s, admin = shopper.s, shopper.admin
    env = s.bridge_env()
    mp = _mp(s.bridge_url)
    me = mp.call("POST", "/api/v1/mp/member/register", {"home_store": scenario.STORE})
    member_id = me["member_id"]
    mp.call("PUT", "/api/v1/mp/member/profile", {"birthday": date.today().isoformat()})
    term.ok(f"mini-program: registered member 会员 {member_id}, birthday today 今天生日")

    tpl = admin.call("POST", "/api/v1/admin/marketing/coupon-templates", BIRTHDAY_TEMPLATE)
    out = run_cli([*cli("cloud-bridge"), "marketing", "birthday-coupons", "--template",
                   str(tpl["id"]), "--config", str(s.bridge_config)], env)
    term.ok(f"`cloud-bridge marketing birthday-coupons`: {out.strip()}")
    (coupon,) = [c for c in mp.call("GET", "/api/v1/mp/coupons")["items"]
                 if c["template_id"] == tpl["id"]]
    term.ok(f"coupon wallet 券包: {coupon['name_zh']} ({coupon['id']}, {coupon['channel']})")

    # The store's price book again, now carrying the coupon definitions offline kiosks
    # price with, and the kiosk's offline coupon slots in its signed shadow.
    book = json.loads(scenario.PRICE_BOOK.read_text(encoding="utf-8"))
    book["version"] = f"{book['version']}.m1"
    path = s.out / "pricebook-members.json"
    path.write_text(json.dumps(book, ensure_ascii=False), encoding="utf-8")
    run_cli([*cli("cloud-bridge"), "catalog", "publish", "--store", scenario.STORE, "--file",
             str(path), "--config", str(s.bridge_config)], env)
    run_cli([*cli("cloud-bridge"), "marketing", "coupon-pool", "--store", scenario.STORE,
             "--kiosk", scenario.KIOSK, "--config", str(s.bridge_config)], env)
    pool = s.journal.with_name("coupon_pool.json")
    if not kit.wait_for(lambda: _kiosk_book(s.journal) == book["version"] and pool.exists(),
                        30):
        raise RuntimeError("the kiosk did not take the new price book or its coupon slots")
    slots = len(json.loads(pool.read_text(encoding="utf-8"))["pool"])
    term.ok(f"kiosk: price book {book['version']} with the coupon, {slots} offline coupon slots")

    term.section("会员购物：积分", "The member shops: points earned")
    code = mp.call("GET", "/api/v1/mp/member/code")["code"]
    first = shopper.sale([
        scenario.product("6921168509256", "农夫山泉 550ml"),
        scenario.product("6901899000192", "奥利奥 97g"),
        _card(f"会员码 member code ({member_id}, from the mini-program)", code),
        (f"微信付款码 WeChat payment code ({codes.mask_code(WECHAT_CODES[0])})",
         WECHAT_CODES[0], codes.CODE128)], known)
    if not shopper.in_cloud(first.order_no):
        raise RuntimeError(f"order {first.order_no} did not reach the cloud")
    admin.call("POST", "/api/v1/admin/members/sync")
    points = mp.call("GET", "/api/v1/mp/member")["points"]
    term.ok(f"points job: member {member_id} has {points} points 积分")

    term.section("会员用积分抵扣", "The member pays part with points at the kiosk")
    code = mp.call("GET", "/api/v1/mp/member/code")["code"]
    second = shopper.sale([
        scenario.product("6902335000127", "可口可乐 330ml"),
        _card(f"会员码 member code ({member_id}, {points} points)", code),
        ("操作卡 积分抵扣 action card: use points", "KIOSK:USE_POINTS", codes.QRCODE),
        (f"微信付款码 WeChat payment code ({codes.mask_code(WECHAT_CODES[1])})",
         WECHAT_CODES[1], codes.CODE128)], known)
    term.ok(f"points redeemed 积分抵扣 {second.points_redeemed}")

    term.section("断网：会员用生日券（离线）", "Offline: the member uses the birthday coupon")
    admin.call("POST", f"/api/v1/admin/members/{member_id}/balance/topups",
               {"amount": TOP_UP, "key": f"demo-journey-{member_id}"})
    code = mp.call("GET", "/api/v1/mp/member/code")["code"]
    qr = mp.call("GET", f"/api/v1/mp/coupons/{coupon['id']}/code")["code"]
    s.stop_broker()
    if not kit.wait_for(lambda: (st := shopper.control.try_get("/v1/status"))
                        and st["link"].get("connected") is False, 30):
        raise RuntimeError("the kiosk did not notice the broker going away")
    third = shopper.sale([
        scenario.product("6902261336277", "康师傅 红烧牛肉面"),
        scenario.product("6923036002357", "蒙牛 纯牛奶 250ml"),
        _card(f"会员码 member code ({member_id})", code),
        _card(f"优惠券 coupon QR ({coupon['name_zh']})", qr),
        ("操作卡 储值支付 action card: pay with stored value", "KIOSK:PAY:STORED_VALUE",
         codes.QRCODE)], known)
    if third.coupons != [coupon["id"]]:
        raise RuntimeError(f"the coupon did not apply to {third.order_no} (see logs/agent.log)")
    term.ok(f"offline coupon 离线用券: {third.coupons} "
            f"(-￥{sum(d.amount for d in third.discounts if d.kind == 'coupon') / 100:.2f})")
    s.start_broker()
    if not kit.wait_for(lambda: shopper.in_cloud(third.order_no), 30):
        raise RuntimeError("the offline order did not reach the cloud")
    admin.call("POST", "/api/v1/admin/members/sync")
    found = kit.wait_for(lambda: (got := ledgers(s.bridge_db, member_id))["coupons_used"]
                         and got, 30)
    if not found:
        raise RuntimeError("the offline coupon was not reconciled (see logs/bridge.log)")
    term.ok(f"cloud: coupon used by {found['used_by']}, points ledger sum {found['ledger_sum']}"
            f" = balance {found['balance']}")
    return {"member_id": member_id, "offline_order": third.order_no,
            "redeemed_at_kiosk": second.points_redeemed, **found}
