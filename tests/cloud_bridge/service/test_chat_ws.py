"""Live chat over WebSocket: two staff clients and three shoppers, one of whom drops
mid-conversation and reconnects; nothing lost, nothing twice, order kept. Also across
two bridge workers on one database (PostgreSQL LISTEN/NOTIFY; SQLite by the poll)."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from .conftest import A, M, start_client

WAIT_S = 10.0


class Peer:
    """A WebSocket client that keeps every frame it got, by conversation and seq."""

    def __init__(self, client, path: str, headers: dict[str, str]) -> None:
        self.client, self.path, self.headers = client, path, headers
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[dict] = []
        self.acks: dict[str, int] = {}
        self.errors: list[dict] = []
        self.changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def connect(self, query: str = "") -> Peer:
        self.ws = await self.client.ws_connect(self.path + query, headers=self.headers)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for frame in self.ws:
            obj = json.loads(frame.data)
            if obj["type"] == "message":
                self.messages.append(obj)
            elif obj["type"] == "ack":
                self.acks[obj["client_msg_id"]] = obj["seq"]
            elif obj["type"] == "error":
                self.errors.append(obj)
            self.changed.set()

    async def drop(self) -> None:
        await self.ws.close()
        await self._reader

    async def send(self, **frame) -> None:
        await self.ws.send_str(json.dumps({"type": "message", **frame}))

    def last_seq(self, conv: int) -> int:
        return max((m["seq"] for m in self.messages if m["conversation_id"] == conv), default=0)

    def seqs(self, conv: int) -> list[int]:
        return [m["seq"] for m in self.messages if m["conversation_id"] == conv]

    async def wait_for(self, pred, what: str) -> None:
        async def loop() -> None:
            while not pred():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), WAIT_S)
        except TimeoutError as err:
            raise AssertionError(f"{self.path}: waited for {what}; have "
                                 f"{[(m['conversation_id'], m['seq']) for m in self.messages]}"
                                 f" errors {self.errors}") from err


async def _start(client, headers: dict[str, str], subject: str) -> int:
    r = await client.post(f"{M}/conversations", json={"store": "s1", "subject": subject},
                          headers=headers)
    assert r.status == 201, await r.text()
    return (await r.json())["id"]


async def test_two_staff_three_shoppers_one_drops_and_reconnects(client, people):
    shoppers = ("alice", "bob", "carol")
    convs = {who: await _start(client, people[who], f"{who} needs help") for who in shoppers}
    staff = [await Peer(client, f"{A}/stores/s1/chat", people[n]).connect()
             for n in ("clerk1", "clerk1b")]
    peers = {who: await Peer(client, f"{M}/conversations/{convs[who]}/chat",
                             people[who]).connect() for who in shoppers}
    sent: dict[int, list[str]] = {c: [] for c in convs.values()}

    async def shopper_says(who: str, n: int) -> None:
        key = f"{who}-{n}"
        await peers[who].send(client_msg_id=key, body=f"{who} 第{n}条")
        sent[convs[who]].append(key)

    async def staff_says(i: int, who: str, n: int) -> None:
        key = f"staff{i}-{who}-{n}"
        await staff[i].ws.send_str(json.dumps({"type": "message", "conversation_id": convs[who],
                                               "client_msg_id": key, "body": f"您好 {n}"}))
        sent[convs[who]].append(key)

    # Round 1: everyone talks, interleaved, without waiting for each other.
    await asyncio.gather(*(shopper_says(w, n) for w in shoppers for n in range(3)),
                         *(staff_says(i, w, 0) for i in (0, 1) for w in shoppers))
    for who in shoppers:
        await peers[who].wait_for(lambda w=who: len(peers[w].messages) == 5, f"{who} round 1")
    # Carol drops mid-conversation, after having seen some of it.
    seen = peers["carol"].last_seq(convs["carol"])
    await peers["carol"].drop()
    # While she is away: staff answer her, and the others go on.
    await asyncio.gather(*(staff_says(i, "carol", n) for i in (0, 1) for n in (1, 2, 3)),
                         shopper_says("alice", 3), shopper_says("bob", 3))
    # Her resend of a message the server already stored (ack lost in the drop) is not doubled.
    again = Peer(client, f"{M}/conversations/{convs['carol']}/chat", people["carol"])
    await again.connect(f"?last_seq={seen}")
    await again.send(client_msg_id="carol-2", body="carol 第2条")
    await again.wait_for(lambda: "carol-2" in again.acks, "resend ack")
    peers["carol"].messages += again.messages  # what she has after reconnecting, appended
    again.messages = peers["carol"].messages
    peers["carol"] = again
    await shopper_says("carol", 4)
    total = {c: len(keys) for c, keys in sent.items()}
    for who in shoppers:
        c = convs[who]
        await peers[who].wait_for(lambda w=who, c=c: peers[w].last_seq(c) == total[c], who)
    for i in (0, 1):
        await staff[i].wait_for(
            lambda i=i: all(staff[i].last_seq(c) == n for c, n in total.items()), f"staff{i}")

    for who in shoppers:
        c = convs[who]
        # Every message of her conversation once, in order, nothing of anyone else's.
        assert peers[who].seqs(c) == list(range(1, total[c] + 1)), who
        assert {m["conversation_id"] for m in peers[who].messages} == {c}
        assert sorted(m["client_msg_id"] for m in peers[who].messages) == sorted(sent[c])
        # Shoppers see "staff", not the clerk's login.
        assert {m["sender"] for m in peers[who].messages if m["sender_kind"] == "staff"} == {
            "staff"}
    for i in (0, 1):
        for c, n in total.items():
            assert staff[i].seqs(c) == list(range(1, n + 1))
        assert not staff[i].errors
    # The HTTP history agrees with what the sockets delivered.
    r = await client.get(f"{M}/conversations/{convs['carol']}/messages", headers=people["carol"])
    assert [m["client_msg_id"] for m in (await r.json())["items"]] == [
        m["client_msg_id"] for m in peers["carol"].messages]
    for p in [*staff, *peers.values()]:
        await p.drop()


async def test_refusals_on_the_socket(client, people):
    conv = await _start(client, people["alice"], "hi")
    # Another shopper's conversation, another store's staff, a plain GET: all refused.
    r = await client.get(f"{M}/conversations/{conv}/chat", headers=people["bob"])
    assert r.status == 404
    r = await client.get(f"{A}/stores/s1/chat", headers=people["clerk2"])
    assert r.status == 403
    r = await client.get(f"{M}/conversations/{conv}/chat", headers=people["alice"])
    assert r.status == 400 and r.content_type == "application/problem+json"
    r = await client.get(f"{M}/conversations/{conv}/chat")
    assert r.status == 401
    # Staff of s1 cannot post into a conversation of s2 through their socket.
    r = await client.post(f"{M}/conversations", json={"store": "s2", "subject": "x"},
                          headers=people["bob"])
    other = (await r.json())["id"]
    clerk = await Peer(client, f"{A}/stores/s1/chat", people["clerk1"]).connect()
    await clerk.ws.send_str(json.dumps({"type": "message", "conversation_id": other,
                                        "client_msg_id": "x1", "body": "hi"}))
    await clerk.ws.send_str("not json")
    await clerk.wait_for(lambda: len(clerk.errors) == 2, "two errors")
    assert [e["status"] for e in clerk.errors] == [400, 400]
    r = await client.get(f"{M}/conversations/{other}/messages", headers=people["bob"])
    assert (await r.json())["items"] == []
    await clerk.drop()


async def test_fan_out_across_two_workers(client, people, db, db_url):
    """A shopper on worker 1 and staff on worker 2 (same database) hear each other."""
    second = await start_client(db, db_url)
    try:
        conv = await _start(client, people["alice"], "two workers")
        shopper = await Peer(client, f"{M}/conversations/{conv}/chat",
                             people["alice"]).connect()
        clerk = await Peer(second, f"{A}/stores/s1/chat", people["clerk1"]).connect()
        await shopper.send(client_msg_id="a1", body="在吗？")
        await clerk.wait_for(lambda: clerk.last_seq(conv) == 1, "shopper's message")
        await clerk.ws.send_str(json.dumps({"type": "message", "conversation_id": conv,
                                            "client_msg_id": "c1", "body": "在的"}))
        await shopper.wait_for(lambda: shopper.last_seq(conv) == 2, "staff reply")
        assert [m["body"] for m in shopper.messages] == ["在吗？", "在的"]
        await shopper.drop()
        await clerk.drop()
    finally:
        await second.close()
