"""The console in a real browser (headless Debian chromium) against a real bridge process
with a real Mosquitto: every role walks every page (accessibility and keyboard checks,
screenshots), a refund, a price-book publish and a signed kiosk command are done by
clicking, and what the pages show is checked against the database and the broker.

One browser and one bridge for the whole module (they take seconds to start); the
bridge's database is a SQLite file (the HTTP tests cover PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cloud_bridge import catalog, fleet
from cloud_bridge.console.models import ConsoleAudit
from cloud_bridge.db import Database
from cloud_bridge.models import Order, RefundRequest
from common.mosquitto import Broker
from contract.signing import load_private_key, verify_command
from contract.wire.commands import Command
from contract.wire.presence import KioskStatus

from ..bridge_process import BridgeProcess, write_config
from .browser import (
    check_accessibility,
    check_keyboard,
    chromium_driver,
    console_errors,
    screenshot,
)
from .seed import BOOK, seed, seed_today

pytestmark = pytest.mark.slow
WAIT_S = 10.0


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Broker, a seeded SQLite database and a `cloud-bridge serve` process with a signing key."""
    tmp = tmp_path_factory.mktemp("console-browser")
    broker = Broker(tmp / "mosquitto").start()
    db_url = f"sqlite+aiosqlite:///{tmp / 'bridge.db'}"

    async def prepare() -> None:
        async with Database(db_url) as db:
            await db.create_all()
            await seed(db)
            await seed_today(db)

    asyncio.run(prepare())
    key_hex = os.urandom(32).hex()
    cfg = write_config(tmp / "bridge.toml", db_url=db_url, worker="console", mqtt_port=broker.port)
    proc = BridgeProcess(cfg, tmp / "bridge.log",
                         env={"BRIDGE_COMMAND_SIGNING_KEY": key_hex}).start()
    try:
        _wait_mqtt(proc.url)
        yield {"url": proc.url, "db_url": db_url, "broker": broker, "tmp": tmp,
               "public_key": load_private_key(key_hex.encode()).public_key()}
    finally:
        proc.stop()
        broker.kill()


@pytest.fixture(scope="module")
def browser(system):
    """One headless chromium for the module."""
    driver = chromium_driver()
    try:
        yield driver
    finally:
        driver.quit()


def _wait_mqtt(base: str) -> None:
    import requests

    deadline = time.monotonic() + WAIT_S
    while requests.get(base + "/api/v1/health", timeout=5).json()["mqtt"] is not True:
        assert time.monotonic() < deadline, "bridge did not connect to the broker"
        time.sleep(0.05)


def db_run(system, work):
    async def run():
        async with Database(system["db_url"]) as db, db.session() as s:
            return await work(s)

    return asyncio.run(run())


def wait_for(predicate, what: str, timeout: float = WAIT_S):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None  # the page is being replaced
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def find(driver, element_id: str):
    """The element once the page that has it has loaded (after a click that navigates)."""
    from selenium.webdriver.common.by import By

    try:
        return wait_for(lambda: driver.find_element(By.ID, element_id), f"#{element_id}")
    except AssertionError:
        body = driver.find_element(By.TAG_NAME, "body").text[:500]
        raise AssertionError(f"#{element_id} not on {driver.current_url}: {body}") from None


def login(driver, system, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(system["url"] + "/console/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "secret").send_keys(f"secret-{username}")
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: "/console/login" not in driver.current_url, f"{username} logged in")


def nav_links(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "nav.side a")]


# Domain pages (cloud_bridge/<domain>/console/) are in the navigation too.
ROLE_PAGES = {
    "boss": {"/console/", "/console/orders", "/console/refunds", "/console/stock",
             "/console/catalog", "/console/fleet", "/console/payments", "/console/users",
             "/console/audit", "/console/fleet/updates", "/console/analytics/metrics"},
    "clerk": {"/console/", "/console/orders", "/console/refunds", "/console/stock",
              "/console/catalog", "/console/fleet", "/console/audit",
              "/console/fleet/updates", "/console/analytics/metrics"},
    "fin": {"/console/", "/console/orders", "/console/refunds", "/console/payments",
            "/console/audit", "/console/analytics/metrics"},
    "buyer": {"/console/", "/console/stock", "/console/catalog"},
}


def test_every_role_walks_every_page_accessibly(browser, system):
    from selenium.webdriver.common.by import By

    browser.get(system["url"] + "/console/login")
    check_accessibility(browser, "login")
    check_keyboard(browser, "login")
    screenshot(browser, "login")
    for username, expected in ROLE_PAGES.items():
        login(browser, system, username)
        links = nav_links(browser)
        assert {re.sub(r"^https?://[^/]+", "", u) for u in links} == expected, username
        for link in links:
            browser.get(link)
            path = re.sub(r"^https?://[^/]+", "", link)
            where = f"{username} {path}"
            assert browser.find_element(By.TAG_NAME, "h1").text, where
            check_accessibility(browser, where)
            if username == "boss":
                check_keyboard(browser, where)
                screenshot(browser, "boss-" + (path[len("/console/"):].replace("/", "-")
                                               or "dashboard"))
        for detail in ("/console/orders/S1-0", "/console/fleet/s1/k1"):
            if detail.rsplit("/", 1)[0].rsplit("/", 1)[0] not in expected and \
                    detail.rsplit("/", 1)[0] not in expected:
                continue
            browser.get(system["url"] + detail)
            check_accessibility(browser, f"{username} {detail}")
            if username == "clerk":
                check_keyboard(browser, f"{username} {detail}")
                screenshot(browser, "clerk-" + detail[len("/console/"):].replace("/", "-"))
    assert console_errors(browser) == []


def test_dashboard_and_orders_show_the_database_in_both_languages(browser, system):
    from selenium.webdriver.common.by import By

    login(browser, system, "boss")
    browser.get(system["url"] + "/console/?date=2026-03-01")

    async def totals(s):
        rows = (await s.scalars(select(Order).where(Order.business_date == "2026-03-01"))).all()
        return len(rows), sum(o.total for o in rows)

    count, revenue = db_run(system, totals)
    assert browser.find_element(By.ID, "kpi-orders").text == str(count)
    assert browser.find_element(By.ID, "kpi-revenue").text == f"¥{revenue // 100}.{revenue % 100:02d}"
    browser.find_element(By.CSS_SELECTOR, "header form button[type=submit]").click()  # English
    wait_for(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en",
             "English")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dashboard"
    assert "Orders" in browser.find_element(By.CSS_SELECTOR, "nav.side").text
    browser.get(system["url"] + "/console/orders?sort=total_desc&size=20"
                "&date_from=2026-03-01&date_to=2026-03-01")
    rows = browser.find_elements(By.CSS_SELECTOR, "#orders-table tbody tr")
    assert len(rows) == count
    screenshot(browser, "boss-orders-en")
    browser.find_element(By.CSS_SELECTOR, "header form button[type=submit]").click()  # back to 中文
    wait_for(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN",
             "Chinese")


def test_refund_by_clicking(browser, system):
    from selenium.webdriver.common.by import By

    login(browser, system, "clerk")
    browser.get(system["url"] + "/console/orders/S1-0")
    browser.find_element(By.ID, "refund-amount").send_keys("3.50")
    browser.find_element(By.ID, "refund-reason").send_keys("包装破损")
    browser.find_element(By.CSS_SELECTOR, "#refund-form button[type=submit]").click()
    question = find(browser, "confirm-q").text
    assert "¥3.50" in question and "S1-0" in question
    assert db_run(system, lambda s: s.scalar(select(RefundRequest.id))) is None
    screenshot(browser, "clerk-refund-confirm")
    browser.find_element(By.ID, "confirm").click()
    status_text = find(browser, "refund-status").text
    assert browser.find_element(By.ID, "refund-amount").text == "¥3.50"

    async def refund(s):
        return (await s.execute(select(RefundRequest.amount, RefundRequest.status,
                                       RefundRequest.requested_by))).one()

    amount, status, by = db_run(system, refund)
    assert (amount, by) == (350, "admin:clerk")
    labels = {"requested": "已申请", "processing": "处理中", "succeeded": "成功", "failed": "失败"}
    assert labels[status] in status_text
    screenshot(browser, "clerk-refund-done")

    async def audit(s):
        return (await s.execute(select(ConsoleAudit.action, ConsoleAudit.target,
                                       ConsoleAudit.actor))).all()

    assert ("refund", "S1-0", "admin:clerk") in db_run(system, audit)


def _subscribe(system, topic: str) -> queue.Queue:
    import paho.mqtt.client as mqtt

    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, msg: got.put(msg.payload)
    client.connect("127.0.0.1", system["broker"].port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    got.client = client  # type: ignore[attr-defined]
    return got


def test_publish_price_book_by_clicking(browser, system):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    path = system["tmp"] / "book-v9.json"
    path.write_text(json.dumps(dict(BOOK, version="v9")), encoding="utf-8")
    login(browser, system, "boss")
    browser.get(system["url"] + "/console/catalog")
    Select(browser.find_element(By.ID, "f-store")).select_by_value("s1")
    browser.find_element(By.ID, "book-file").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "#publish-form button[type=submit]").click()
    assert "v9" in find(browser, "confirm-q").text
    browser.find_element(By.ID, "confirm").click()
    assert "v9" in find(browser, "published").text

    async def current(s):
        return (await catalog.current_info(s, "s1")).version

    assert db_run(system, current) == "v9"
    pointers = _subscribe(system, "kiosk/v1/s1/catalog")  # retained: arrives on subscribe
    try:
        pointer = json.loads(pointers.get(timeout=WAIT_S))
        assert pointer["version"] == "v9"
    finally:
        pointers.client.loop_stop()  # type: ignore[attr-defined]


def test_fleet_updates_live_and_a_signed_command_reaches_the_kiosk(browser, system):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    login(browser, system, "clerk")
    browser.get(system["url"] + "/console/fleet")
    wait_for(lambda: browser.find_element(By.ID, "live-status").get_attribute("class") == "live",
             "live stream")
    browser.execute_script("window.__noReload = 42;")
    cell = 'tr[data-key="s1/k2"] [data-cell="version"]'
    assert browser.find_element(By.CSS_SELECTOR, cell).text == "1.4.2"

    async def change(s):
        await fleet.apply_status(s, "s1", "k2", KioskStatus(state="online", version="1.6.0",
                                                            ts=datetime.now(UTC)))

    db_run(system, change)
    wait_for(lambda: browser.find_element(By.CSS_SELECTOR, cell).text == "1.6.0",
             "the new version without a reload")
    state = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="s1/k2"] [data-cell="state"]')
    assert state.text == "在线"
    assert browser.find_element(By.ID, "online-count").text == "2 / 2"
    assert browser.execute_script("return window.__noReload") == 42
    screenshot(browser, "clerk-fleet-live")

    commands = _subscribe(system, "kiosk/v1/s1/k1/cmd")
    try:
        browser.get(system["url"] + "/console/fleet/s1/k1")
        Select(browser.find_element(By.ID, "cmd-name")).select_by_value("ping")
        browser.find_element(By.CSS_SELECTOR, "#command-form button[type=submit]").click()
        assert "ping" in find(browser, "confirm-q").text
        assert commands.empty()  # nothing sent before the confirmation
        browser.find_element(By.ID, "confirm").click()
        shown = find(browser, "sent-cmd-id").text
        command = Command.model_validate_json(commands.get(timeout=WAIT_S))
        verify_command(command, system["public_key"])  # signed with head office's key
        assert (command.cmd_id, command.name, command.store, command.kiosk) == (
            shown, "ping", "s1", "k1")
    finally:
        commands.client.loop_stop()  # type: ignore[attr-defined]

    async def audit(s):
        return (await s.scalars(select(ConsoleAudit).where(
            ConsoleAudit.action == "kiosk.command"))).one()

    row = db_run(system, audit)
    assert (row.actor, row.target, row.outcome, row.detail["cmd_id"]) == (
        "admin:clerk", "s1/k1", "ok", shown)

    # Desired configuration: confirmed, then retained on the kiosk's shadow/desired topic.
    box = browser.find_element(By.ID, "shadow-config")
    box.clear()
    box.send_keys('{"log_level": "DEBUG", "idle_timeout_s": 90}')
    browser.find_element(By.CSS_SELECTOR, "#shadow-form button[type=submit]").click()
    assert "s1/k1" in find(browser, "confirm-q").text
    browser.find_element(By.ID, "confirm").click()
    assert find(browser, "sent-shadow").text == "1"
    desired = _subscribe(system, "kiosk/v1/s1/k1/shadow/desired")  # retained
    try:
        message = json.loads(desired.get(timeout=WAIT_S))
    finally:
        desired.client.loop_stop()  # type: ignore[attr-defined]
    assert message["version"] == 1
    assert message["config"] == {"log_level": "DEBUG", "idle_timeout_s": 90}
    assert console_errors(browser) == []
