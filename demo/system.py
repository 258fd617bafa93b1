"""The whole system on one machine: Mosquitto (the project's ACL), the cloud bridge on
SQLite with the payment sandboxes, one kiosk agent with a replay camera, a file printer
and a customer display on a pseudo-terminal; a scripted shopper walks through it.

Every part is started with the project's own CLIs (``cloud-bridge kiosk add``,
``cloud-bridge sandbox``, ``cloud-bridge migrate``, ``cloud-bridge admin add-user``,
``cloud-bridge serve``, ``kiosk-agent run``), as an operator would.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from common.ports import free_port

from . import finance_close, kit, scenario, term
from .procs import (
    AdminClient,
    Children,
    ControlClient,
    cli,
    mosquitto,
    run_cli,
    wait_port,
)

#: Longest wait for one step (a sale, a delivery) before the demo calls it a failure.
STEP_TIMEOUT_S = 30.0
ADMIN_USER = "demo-admin"


class Unavailable(Exception):
    """A part of the system cannot run on this machine (the demo falls back to local)."""


class System:
    """Starts and stops the parts; holds their addresses."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.children = Children(self.logs)
        self.deploy = out / "cloud"                     # cloud-bridge config dir
        self.bundle = out / "kiosk" / "credentials"     # the kiosk's credentials
        self.broker_dir = out / "broker"
        self.broker_port = free_port()
        self.broker_conf = self.broker_dir / "mosquitto.conf"
        self.bridge_url = ""
        self.admin_secret = secrets.token_urlsafe(12)
        self.manifest = out / "sandbox" / "manifest.json"
        self.agent_config = out / "kiosk" / "kiosk.toml"
        self.control_socket = out / "kiosk" / "control.sock"
        self.journal = out / "kiosk" / "journal.db"
        self.bridge_db = out / "bridge" / "bridge.db"
        self.bridge_config = out / "bridge" / "bridge.toml"
        self.spool = out / "kiosk" / "camera"
        self.printer_file = out / "kiosk" / "printer.bin"

    # -- the parts ---------------------------------------------------------------------
    def provision(self) -> None:
        run_cli([*cli("cloud-bridge"), "kiosk", "add", "--store", scenario.STORE,
                 "--kiosk", scenario.KIOSK, "--config-dir", str(self.deploy),
                 "--out", str(self.bundle), "--mqtt-host", "127.0.0.1",
                 "--mqtt-port", str(self.broker_port)])

    def start_broker(self) -> None:
        binary = mosquitto()
        if binary is None:
            raise Unavailable("mosquitto is not installed (apt install mosquitto)")
        if not self.broker_conf.exists():
            from cloud_bridge.provisioning import Deployment, render_broker_config

            self.broker_dir.mkdir(parents=True, exist_ok=True)
            self.broker_conf.write_text(render_broker_config(
                Deployment(self.deploy), port=self.broker_port,
                persistence_dir=self.broker_dir, log_file=self.broker_dir / "mosquitto.log"))
        self.children.start("mosquitto", [binary, "-c", str(self.broker_conf)])
        if not wait_port(self.broker_port, 10):
            raise RuntimeError(f"mosquitto did not listen on {self.broker_port}")

    def stop_broker(self) -> None:
        self.children.stop("mosquitto")

    def start_sandbox(self) -> None:
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        self.children.start("sandbox", [*cli("cloud-bridge"), "sandbox", "--keys-dir",
                                         str(self.manifest.parent / "keys"),
                                         "--manifest", str(self.manifest)])
        if not kit.wait_for(lambda: self.manifest.exists() or not self.children.alive("sandbox"),
                            20) or not self.manifest.exists():
            raise RuntimeError("the payment sandboxes did not start (see logs/sandbox.log)")

    def bridge_env(self) -> dict[str, str]:
        keys = self.deploy / "keys"
        from cloud_bridge.members.member_code import MEMBER_KEY_FILE

        return {"BRIDGE_MQTT_PASSWORD": (keys / "bridge_mqtt_password").read_text().strip(),
                "BRIDGE_COMMAND_SIGNING_KEY": str(keys / "command_signing.key"),
                # The chain's member key (made by `cloud-bridge kiosk add`): the bridge signs
                # member and coupon codes and checks member sales with it.
                "BRIDGE_MEMBER_SIGNING_KEY": (self.deploy / MEMBER_KEY_FILE).read_text(),
                "DEMO_ADMIN_SECRET": self.admin_secret}

    def http_settings(self) -> str:
        """The bridge's ``[http]`` lines: a free port the kiosk downloads price books from
        (the member journey publishes one; ``cloud-bridge catalog publish`` announces it)."""
        port = free_port()
        return f'port = {port}\npublic_url = "http://127.0.0.1:{port}"'

    def start_bridge(self) -> None:
        self.bridge_db.parent.mkdir(parents=True, exist_ok=True)
        self.bridge_config.write_text(f"""# Written by the demo.
[bridge]
worker_id = "demo-bridge"

[database]
url = "sqlite+aiosqlite:///{self.bridge_db}"

[mqtt]
port = {self.broker_port}
username = "bridge"
reconnect_min_s = 0.2
reconnect_max_s = 1.0

[ingest]
batch_wait_ms = 5

[http]
{self.http_settings()}

[mp]
sandbox = true
price_book = "{scenario.PRICE_BOOK}"

[payments]
manifest = "{self.manifest}"
settle_interval_s = 5.0

[logging]
level = "INFO"
""", encoding="utf-8")
        env = self.bridge_env()
        run_cli([*cli("cloud-bridge"), "migrate", "--config", str(self.bridge_config)], env)
        run_cli([*cli("cloud-bridge"), "admin", "add-user", "--config", str(self.bridge_config),
                 "--username", ADMIN_USER, "--role", "head_office", "--secret-env",
                 "DEMO_ADMIN_SECRET"], env)
        proc = self.children.start("bridge", [*cli("cloud-bridge"), "serve", "--config",
                                              str(self.bridge_config)], env, stdout_pipe=True)
        end = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < end:
            line = proc.stdout.readline().decode(errors="replace")
            if not line:
                break
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.bridge_url = m.group(1)
                return
        raise RuntimeError("the cloud bridge did not start (see logs/bridge.log)")

    def start_agent(self, display_path: str) -> None:
        self.agent_config.write_text(f"""# Written by the demo: the provisioned bundle's settings + fakes.
[kiosk]
store_id = "{scenario.STORE}"
kiosk_id = "{scenario.KIOSK}"

[journal]
path = "{self.journal}"
seed_price_book = "{scenario.PRICE_BOOK}"

[mqtt]
host = "127.0.0.1"
port = {self.broker_port}
keepalive_s = 5

[outbox]
ack_timeout_s = 3.0

[telemetry]
interval_s = 5.0

[camera]
kind = "replay"
replay_path = "{self.spool}"
replay_spool = true
replay_fps = 15

[decoder]
debounce_s = 1.0

[printer]
kind = "file"
file_path = "{self.printer_file}"
retry_s = 1.0

[display]
kind = "serial"
port = "{display_path}"

[payments]
charge_timeout_s = 15.0
settle_timeout_s = 30.0

[control]
socket_path = "{self.control_socket}"
socket_group = ""
staff_pin_hash = "{_pin_hash()}"
""", encoding="utf-8")
        env = {"CREDENTIALS_DIRECTORY": str(self.bundle),
               "KIOSK_MEMBER_CODE_KEY": scenario.MEMBER_KEY}
        self.children.start("agent", [*cli("kiosk-agent"), "run", "--config",
                                      str(self.agent_config)], env)

    def stop_all(self) -> None:
        self.children.stop_all()


# -- reading real data ----------------------------------------------------------------------


#: The demo's staff PIN for kiosk-tui (a demo value).
STAFF_PIN = "2468"


def _pin_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(STAFF_PIN)


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def journal_facts(path: Path) -> dict[str, Any]:
    """What the kiosk's journal holds (read-only, beside the running agent)."""
    with _ro(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        return {
            "orders": [r[0] for r in db.execute("SELECT order_no FROM orders")],
            "paid": db.execute("SELECT count(*) FROM payment_attempts WHERE status='paid'")
            .fetchone()[0],
            "parked": db.execute("SELECT count(*) FROM parked_orders").fetchone()[0],
            "created": int(meta.get("outbox_seq", 0)),
            "pending": {r[0] for r in db.execute("SELECT event_id FROM outbox")}
            | {r[0] for r in db.execute("SELECT event_id FROM dead_letters")},
        }


def bridge_facts(path: Path) -> dict[str, Any]:
    """What the cloud stored for the kiosk (read-only, beside the running bridge)."""
    k = (scenario.STORE, scenario.KIOSK)
    with _ro(path) as db:
        rows = db.execute("SELECT event_id, seq FROM events WHERE store=? AND kiosk=?", k)
        events = list(rows)
        return {
            "event_ids": {e for e, _ in events},
            "rows": len(events),
            "distinct_seq": len({s for _, s in events}),
            "orders": [r[0] for r in db.execute(
                "SELECT order_no FROM orders WHERE store=? AND kiosk=?", k)],
            # the kiosk's (the mini-program's order is paid without a kiosk)
            "payments": db.execute("SELECT count(*) FROM payments WHERE status='paid' "
                                   "AND kiosk IS NOT NULL")
            .fetchone()[0],
            "refunds": db.execute("SELECT count(*) FROM payment_refunds WHERE status='success'")
            .fetchone()[0],
            "balance": (db.execute("SELECT balance FROM member_balances WHERE member_id=?",
                                   (scenario.MEMBER_ID,)).fetchone() or [None])[0],
        }


def run(out: Path, fast: bool = False, keep_running: bool = False) -> int:
    """The whole-system demo; raises :class:`Unavailable` when it cannot run here."""
    import logging

    logging.basicConfig(filename=out / "demo.log", level=logging.INFO, force=True)
    system = System(out)
    display: kit.DisplayMonitor | None = None
    try:
        term.section("启动系统", "Starting the system")
        system.provision()
        term.ok(f"kiosk provisioned: `cloud-bridge kiosk add` -> {system.bundle}")
        system.start_broker()
        term.ok(f"Mosquitto on 127.0.0.1:{system.broker_port} (password file + per-kiosk ACL)")
        system.start_sandbox()
        term.ok("payment sandboxes (WeChat Pay v3, Alipay, card, PayPal): `cloud-bridge sandbox`")
        system.start_bridge()
        term.ok(f"cloud bridge {system.bridge_url} (SQLite {system.bridge_db})")
        display = kit.DisplayMonitor()
        system.start_agent(display.path)
        control = ControlClient(system.control_socket)
        if not kit.wait_for(lambda: (s := control.try_get("/v1/status")) and
                            s["link"].get("connected"), STEP_TIMEOUT_S):
            raise RuntimeError("the kiosk agent did not connect (see logs/agent.log)")
        term.ok(f"kiosk agent {scenario.STORE}/{scenario.KIOSK} online; display on {display.path}")
        admin = AdminClient(system.bridge_url)
        admin.login(ADMIN_USER, system.admin_secret)
        return Shopper(system, control, admin, display, fast).play(keep_running)
    finally:
        system.stop_all()
        if display is not None:
            display.close()


class Shopper:
    def __init__(self, system: System, control: ControlClient, admin: AdminClient,
                 display: kit.DisplayMonitor, fast: bool) -> None:
        self.s = system
        self.control = control
        self.admin = admin
        self.display = display
        self.camera = kit.Camera(system.spool)
        from kiosk_agent.config import load_config

        self.config = load_config(system.agent_config)
        self.balance_before = 0   # the member's stored value after the top-up (fen)
        self.stored_value_sale = 0
        self.member: dict[str, Any] = {}  # the member journey's ledgers (demo.member_journey)
        # The member shows the code the bridge signs (GET /api/v1/mp/member/code does the
        # same): the chain's member key made by `cloud-bridge kiosk add`, the balance as
        # the bridge knows it when the code is shown (the offline kiosk spends within it).
        from cloud_bridge.members.member_code import ensure_member_key, issue_member_code
        from contract.signing import load_private_key

        member_key = load_private_key(ensure_member_key(system.deploy))
        scenario.member_code_issuer = lambda: issue_member_code(
            member_key, scenario.MEMBER_ID, "regular", 0, self.balance_before)

    def orders(self) -> list[dict[str, Any]]:
        got = self.control.try_get("/v1/orders?limit=50")
        items = got.get("orders", got) if isinstance(got, dict) else got
        return list(items or [])

    def hold_up(self, cards: list[scenario.Card]) -> None:
        for label, text, sym in cards:
            term.step(label)
            self.camera.show(text, sym)

    def sale(self, cards: list[scenario.Card], known: set[str]) -> Any:
        from contract.wire.events import OrderCompletedData

        self.hold_up(cards)
        new = kit.wait_for(lambda: [o for o in journal_facts(self.s.journal)["orders"]
                                    if o not in known], STEP_TIMEOUT_S)
        if not new:
            raise RuntimeError("the sale did not complete (see logs/agent.log)")
        order_no = new[0]
        known.add(order_no)
        detail = self.control.get(f"/v1/orders/{order_no}")
        order = OrderCompletedData.model_validate(detail.get("order", detail))
        tender = order.tenders[0]
        term.ok(f"已付款 paid {order_no}  ￥{order.total / 100:.2f}  "
                f"({tender.method}{', offline 离线' if tender.offline else ''})")
        return order

    def in_cloud(self, order_no: str) -> Any:
        return kit.wait_for(lambda: self.admin.order(order_no), STEP_TIMEOUT_S, 0.2)

    def play(self, keep_running: bool) -> int:
        known: set[str] = set()
        term.section("顾客一：三件商品 + 会员码 + 微信付款码",
                     "Shopper 1: three items, a member code, a WeChat payment code")
        order = self.sale(scenario.shopper_one(), known)
        kit.show_receipt(order, self.config, self.s.out)
        cloud = self.in_cloud(order.order_no)
        if not cloud:
            raise RuntimeError(f"order {order.order_no} did not reach the cloud")
        term.ok(f"admin API: GET /api/v1/admin/orders/{order.order_no} -> "
                f"{cloud.get('status', '?')}, ￥{cloud.get('total', 0) / 100:.2f}")

        term.section("会员储值充值", "A member tops up stored value at the counter")
        topup = self.admin.call(
            "POST", f"/api/v1/admin/members/{scenario.MEMBER_ID}/balance/topups",
            {"amount": scenario.TOP_UP, "key": "demo-counter-1"})
        self.balance_before = topup["balance"]
        term.ok(f"admin API: member {scenario.MEMBER_ID} stored value 储值余额 "
                f"￥{self.balance_before / 100:.2f}")

        term.section("断网：停止 MQTT 代理", "The shop's internet drops: the broker is stopped")
        self.s.stop_broker()
        if not kit.wait_for(lambda: (st := self.control.try_get("/v1/status"))
                            and st["link"].get("connected") is False, STEP_TIMEOUT_S):
            raise RuntimeError("the kiosk did not notice the broker going away")
        term.ok("kiosk link down 离线")
        term.section("顾客二（离线）：会员储值支付", "Shopper 2 (offline): member stored value")
        offline_order = self.sale(scenario.shopper_stored_value(), known)
        self.stored_value_sale = offline_order.total
        term.section("顾客三（离线）：挂单", "Shopper 3 (offline): park the cart")
        self.hold_up(scenario.shopper_park())
        if not kit.wait_for(lambda: journal_facts(self.s.journal)["parked"] >= 1, STEP_TIMEOUT_S):
            raise RuntimeError("the cart was not parked")
        term.ok("parked 已挂单")
        queued = len(journal_facts(self.s.journal)["pending"])
        term.ok(f"events waiting in the kiosk's outbox 待上传: {queued}")

        term.section("恢复网络：重新启动代理", "The internet is back: the broker restarts")
        self.s.start_broker()
        if not kit.wait_for(lambda: not journal_facts(self.s.journal)["pending"], STEP_TIMEOUT_S):
            raise RuntimeError("the outbox did not drain")
        if not self.in_cloud(offline_order.order_no):
            raise RuntimeError("the offline order did not reach the cloud")
        term.ok(f"outbox drained; offline order {offline_order.order_no} is in the cloud")
        balance = self.admin.call("GET", f"/api/v1/admin/members/{scenario.MEMBER_ID}/balance")
        term.ok(f"admin API: stored value 储值余额 ￥{self.balance_before / 100:.2f} -> "
                f"￥{balance['balance'] / 100:.2f} (offline sale ￥{offline_order.total / 100:.2f})")

        term.section("顾客四：支付宝，然后退款", "Shopper 4: Alipay, then a refund")
        ali = self.sale(scenario.shopper_alipay(), known)
        if not self.in_cloud(ali.order_no):
            raise RuntimeError(f"order {ali.order_no} did not reach the cloud")
        refund = self.refund(ali)
        term.ok(f"退款 refund {refund['out_refund_no']}: ￥{refund['amount'] / 100:.2f} "
                f"{refund['status']}")
        self.finance = finance_close.close_the_day(self.admin)
        term.section("小程序顾客：下单并微信支付，门店收到提醒",
                     "A mini-program shopper orders and pays in WeChat; the store is told")
        from . import mini_program

        self.mp_order = mini_program.order_and_pay(self.s.bridge_url, self.s.manifest, self.admin,
                                                    self.control)
        term.section("会员：注册、积分、生日券", "A member registers, earns points, gets a birthday coupon")
        from . import member_journey

        self.member = member_journey.journey(self, known)
        return self.summary(keep_running)

    def refund(self, order: Any) -> dict[str, Any]:
        """Staff refund in the console: the admin API stores the request and the bridge
        executes it with the provider (the reply or the order detail has the outcome)."""
        amount = order.lines[0].amount
        req = self.admin.call("POST", f"/api/v1/admin/orders/{order.order_no}/refunds",
                              {"amount": amount, "reason": "顾客退货 customer return"})
        term.ok(f"admin API: POST /api/v1/admin/orders/{order.order_no}/refunds -> "
                f"{req['status']}")

        def done() -> dict[str, Any] | None:
            detail = self.admin.order(order.order_no) or {}
            mine = [r for r in detail.get("refunds", []) if r["id"] == req["id"]]
            return mine[0] if mine and mine[0]["status"] in ("succeeded", "failed") else None

        return kit.wait_for(done, STEP_TIMEOUT_S, 0.2) or req

    def summary(self, keep_running: bool) -> int:
        kiosk = journal_facts(self.s.journal)
        cloud = bridge_facts(self.s.bridge_db)
        created = kiosk["created"]
        accounted = cloud["event_ids"] | kiosk["pending"]
        lost = max(created - len(accounted), 0)
        duplicates = cloud["rows"] - cloud["distinct_seq"]
        missing_orders = set(kiosk["orders"]) - set(cloud["orders"])
        term.section("汇总", "Summary")
        term.table(["", "kiosk 收银机", "cloud 云端"], [
            ["订单 orders", str(len(kiosk["orders"])), str(len(cloud["orders"]))],
            ["支付 payments (paid)", str(kiosk["paid"]), str(cloud["payments"])],
            ["退款 refunds", "-", str(cloud["refunds"])],
            [f"储值 stored value {scenario.MEMBER_ID}", "-",
             f"{self.balance_before} -> {cloud['balance']}"],
            ["挂单 parked", str(kiosk["parked"]), "-"],
            ["事件 events created / delivered", str(created), str(len(cloud["event_ids"]))],
            ["丢失 lost", "", str(lost)],
            ["重复 duplicates", "", str(duplicates)],
        ])
        term.note("payments in the cloud: the ones charged through it; the offline stored-value"
                  " tender arrives inside its order")
        m = self.member
        points_ok = m["ledger_sum"] == m["balance"] >= 0
        coupons_ok = m["coupons_issued"] == (m["coupons_used"] + m["coupons_unused"]
                                             + m["coupons_locked"] + m["coupons_expired"])
        term.table(["", f"会员 member {m['member_id']}", ""], [
            ["积分 points earned / redeemed", str(m["earned"]), str(m["redeemed"])],
            ["积分 ledger sum / balance", str(m["ledger_sum"]), str(m["balance"])],
            ["券 coupons issued / used", str(m["coupons_issued"]), str(m["coupons_used"])],
            ["券 used by (offline)", ", ".join(m["used_by"]), f"slots {m['slots_used']}"],
        ])
        print(f"MEMBERS member={m['member_id']} points_earned={m['earned']} "
              f"points_redeemed={m['redeemed']} points_redeemed_at_kiosk={m['redeemed_at_kiosk']} "
              f"points_balance={m['balance']} points_ledger_sum={m['ledger_sum']} "
              f"points_balanced={'yes' if points_ok else 'no'} "
              f"coupons_issued={m['coupons_issued']} coupons_used={m['coupons_used']} "
              f"coupons_unused={m['coupons_unused']} coupons_locked={m['coupons_locked']} "
              f"coupon_used_offline={'yes' if m['used_by'] == [m['offline_order']] else 'no'} "
              f"coupons_balanced={'yes' if coupons_ok else 'no'} slots_used={m['slots_used']}",
              flush=True)
        print(f"SUMMARY mode=system orders={len(kiosk['orders'])} "
              f"cloud_orders={len(cloud['orders'])} payments={cloud['payments']} "
              f"refunds={cloud['refunds']} parked={kiosk['parked']} events={created} "
              f"stored_value_before={self.balance_before} "
              f"stored_value_sale={self.stored_value_sale} "
              f"stored_value_after={cloud['balance']} "
              f"delivered={len(cloud['event_ids'])} lost={lost} duplicates={duplicates} "
              f"day_closed={self.finance['day_closed']} "
              f"close_mismatches={self.finance['mismatches']} "
              f"revenue_fen={self.finance['revenue']} net_profit_fen={self.finance['net_profit']} "
              f"mp_order={self.mp_order['status']}",
              flush=True)
        ok = not lost and not duplicates and not missing_orders and not kiosk["pending"] \
            and points_ok and coupons_ok
        self.console_hint()
        if keep_running:
            self.wait_for_ctrl_c()
        return 0 if ok else 1

    def console_hint(self) -> None:
        """Where the merchant console is and a login for it (the demo's head-office user)."""
        term.out(f"    merchant console 商户后台: {self.s.bridge_url}/console/  "
                 f"(login 用户名 {ADMIN_USER}, password 密码 {self.s.admin_secret}; "
                 "DEMO_ARGS=--keep-running keeps it up)")

    def wait_for_ctrl_c(self) -> None:
        term.section("系统保持运行", "The system keeps running (Ctrl-C stops it)")
        term.out(f"    kiosk-tui --socket {self.s.control_socket}   (staff PIN {STAFF_PIN})")
        term.out(f"    admin API: {self.s.bridge_url}/api/v1/admin/orders  "
                 f"(POST /api/v1/admin/session {{\"username\": \"{ADMIN_USER}\", "
                 f"\"secret\": \"{self.s.admin_secret}\"}})")
        term.out(f"    console: {self.s.bridge_url}/console/  ({ADMIN_USER} / "
                 f"{self.s.admin_secret})")
        term.out(f"    OpenAPI: {self.s.bridge_url}/api/v1/openapi.json")
        term.out(f"    MQTT: mosquitto_sub -p {self.s.broker_port} -u bridge -P \"$(cat "
                 f"{self.s.deploy / 'keys' / 'bridge_mqtt_password'})\" -t 'kiosk/v1/#' -v")
        try:
            while all(self.s.children.alive(n) for n in ("mosquitto", "bridge", "agent")):
                time.sleep(0.5)
            term.warn("a part of the system stopped; shutting down")
        except KeyboardInterrupt:
            term.out()

