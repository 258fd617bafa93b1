"""Community: members only, the word filter (and its evasions), rate limits, reports that
hold an item for review, staff moderation per store, and what other shoppers see."""

from __future__ import annotations

import pytest

from cloud_bridge.service import community
from cloud_bridge.service.community import WordMatcher, normalise

from ..test_api import mp_login
from .conftest import A, M
from .test_tickets import png_bytes

C = "/community"


# ------------------------------------------------------------------ filter, unit


def test_normalise_folds_width_case_and_drops_separators():
    assert normalise("ＦＯＯ　Bar") == "foobar"
    assert normalise("代 开-发.票！") == "代开发票"
    assert normalise("代\u200b开\u3000发\t票") == "代开发票"   # zero-width and ideographic spaces
    assert normalise("１２３") == "123"


def test_matcher_finds_words_inside_chinese_text_block_first():
    m = WordMatcher({"代开发票": "block", "加微信": "review", "spam": "block"})
    assert m.find("本店可以代·开·发·票哦") == ("代开发票", "block")
    assert m.find("有事请加 微 信") == ("加微信", "review")
    assert m.find("加微信，也可 代开发票") == ("代开发票", "block")
    assert m.find("ＳＰＡＭ here") == ("spam", "block")
    assert m.find("牛奶很新鲜") is None
    assert WordMatcher({}).find("anything") is None


# ------------------------------------------------------------------ HTTP


async def _member(client, headers):
    r = await client.post("/api/v1/mp/member/register", json={}, headers=headers)
    assert r.status == 200, await r.text()


@pytest.fixture
async def members(client, people):
    for name in ("alice", "bob", "carol"):
        await _member(client, people[name])
    return people


async def _post(client, headers, text="今天的草莓很甜", store="s1", status=201, **extra):
    r = await client.post(f"{M}{C}/posts", headers=headers,
                          json={"store": store, "text": text, **extra})
    assert r.status == status, await r.text()
    return await r.json()


async def _listed(client, headers, store="s1"):
    r = await client.get(f"{M}{C}/posts", headers=headers, params={"store": store})
    assert r.status == 200, await r.text()
    return {p["id"]: p for p in (await r.json())["items"]}


async def _words(client, headers, words, status=200):
    r = await client.put(f"{A}{C}/words", headers=headers, json={"words": words})
    assert r.status == status, await r.text()
    return await r.json()


async def test_only_members_post_comment_and_report(client, members):
    dan, _ = await mp_login(client, "dan-code")
    body = await _post(client, dan, status=403)
    assert "会员" in body["detail"] and "member" in body["detail"]
    post = await _post(client, members["alice"])
    assert post["mine"] and post["status"] == "visible" and post["author"].startswith("会员")
    r = await client.post(f"{M}{C}/posts/{post['id']}/comments", headers=dan,
                          json={"text": "真的吗"})
    assert r.status == 403
    r = await client.post(f"{M}{C}/reports", headers=dan,
                          json={"kind": "post", "id": post["id"], "reason": "spam"})
    assert r.status == 403
    r = await client.post(f"{M}{C}/images", headers=dan, data=png_bytes(),
                          params={"store": "s1"})
    assert r.status == 403
    # Reading is open to every shopper.
    assert post["id"] in await _listed(client, dan)
    r = await client.post(f"{M}{C}/posts/{post['id']}/comments", headers=members["bob"],
                          json={"text": "真的吗"})
    assert r.status == 201, await r.text()
    r = await client.get(f"{M}{C}/posts/{post['id']}", headers=dan)
    detail = await r.json()
    assert detail["comments"] == 1 and detail["comment_items"][0]["text"] == "真的吗"
    assert not detail["mine"]


async def test_images_up_to_six_of_my_own(client, members):
    alice, bob = members["alice"], members["bob"]
    ids = []
    for _ in range(7):
        r = await client.post(f"{M}{C}/images", headers=alice, data=png_bytes(),
                              params={"store": "s1"})
        assert r.status == 201, await r.text()
        ids.append((await r.json())["id"])
    await _post(client, alice, image_ids=ids, status=400)      # seven
    await _post(client, bob, image_ids=ids[:1], status=400)     # not bob's upload
    post = await _post(client, alice, image_ids=ids[:6])
    assert post["images"] == ids[:6]
    await _post(client, alice, image_ids=ids[:1], status=400)   # used already
    r = await client.get(f"{M}/attachments/{ids[0]}", headers=bob)
    assert r.status == 200                                      # a visible post's image
    r = await client.get(f"{M}/attachments/{ids[6]}", headers=bob)
    assert r.status == 404                                      # never posted


async def test_word_filter_blocks_holds_and_resists_evasion(client, members):
    boss, clerk, alice, bob = (members[k] for k in ("boss", "clerk1", "alice", "bob"))
    await _words(client, clerk, [{"word": "代开发票", "action": "block"}], status=403)
    out = await _words(client, boss, [{"word": "代开 发票", "action": "block"},
                                      {"word": "ＷeChat", "action": "review"},
                                      {"word": "加微信", "action": "review"}])
    assert {"word": "wechat", "action": "review"} in out["words"]
    assert {"word": "代开发票", "action": "block"} in out["words"]
    for evasion in ("代开发票", "本店 代 开 发 票", "代.开.发.票", "代\u3000开\u3000发\u3000票",
                    "代-开_发/票！"):
        body = await _post(client, alice, text=evasion, status=400)
        assert "不允许" in body["detail"]
    for evasion in ("加我 W E C H A T", "ｗｅｃｈａｔ：abc", "请加·微·信"):
        held = await _post(client, alice, text=evasion)
        assert held["status"] == "held" and held["hidden"]
        assert held["id"] not in await _listed(client, bob)      # others don't see it
        mine = await _listed(client, alice)
        assert mine[held["id"]]["hidden"]                        # the author does, marked
    ok = await _post(client, bob, text="发票在服务台开")
    r = await client.post(f"{M}{C}/posts/{ok['id']}/comments", headers=alice,
                          json={"text": "代 开 发 票找我"})
    assert r.status == 400
    # Staff find the held posts and restore one.
    r = await client.get(f"{A}{C}/queue", headers=clerk, params={"status": "held"})
    queue = await r.json()
    assert len(queue["posts"]) == 3 and all(p["held_reason"] == "word" for p in queue["posts"])
    first = queue["posts"][0]["id"]
    r = await client.post(f"{A}{C}/posts/{first}/moderate", headers=clerk,
                          json={"action": "restore", "note": "误判"})
    restored = await r.json()
    assert restored["status"] == "visible" and restored["moderated_by"] == "admin:clerk1"
    assert first in await _listed(client, bob)
    # An edited list takes effect at once.
    await _words(client, boss, [])
    assert (await _post(client, bob, text="代开发票"))["status"] == "visible"


async def test_rate_limits_answer_429_with_retry_after(client, members, monkeypatch):
    monkeypatch.setattr(community, "POSTS_PER_HOUR", 2)
    monkeypatch.setattr(community, "COMMENTS_PER_MINUTE", 2)
    alice, bob = members["alice"], members["bob"]
    post = await _post(client, alice)
    await _post(client, alice, text="第二条")
    r = await client.post(f"{M}{C}/posts", headers=alice, json={"store": "s1", "text": "三"})
    assert r.status == 429
    assert 3000 < int(r.headers["Retry-After"]) <= 3601
    await _post(client, bob, text="bob 还可以发")              # per member
    for n in range(2):
        r = await client.post(f"{M}{C}/posts/{post['id']}/comments", headers=bob,
                              json={"text": f"评论{n}"})
        assert r.status == 201
    r = await client.post(f"{M}{C}/posts/{post['id']}/comments", headers=bob,
                          json={"text": "评论3"})
    assert r.status == 429 and 0 < int(r.headers["Retry-After"]) <= 61


async def test_reports_hold_at_the_threshold_and_staff_decide(client, members, monkeypatch):
    monkeypatch.setattr(community, "REPORT_HIDE_AT", 2)
    alice, bob, carol = members["alice"], members["bob"], members["carol"]
    clerk1, clerk2, boss = members["clerk1"], members["clerk2"], members["boss"]
    post = await _post(client, alice, text="广告广告")
    rep = {"kind": "post", "id": post["id"], "reason": "spam"}
    r = await client.post(f"{M}{C}/reports", headers=alice, json=rep)
    assert r.status == 400                                       # not my own
    r = await client.post(f"{M}{C}/reports", headers=bob, json=rep)
    assert r.status == 201
    r = await client.post(f"{M}{C}/reports", headers=bob, json=rep)
    assert r.status == 409                                       # once per member
    assert post["id"] in await _listed(client, carol)
    r = await client.post(f"{M}{C}/reports", headers=carol, json=rep)
    assert r.status == 201
    assert post["id"] not in await _listed(client, carol)
    r = await client.get(f"{M}{C}/posts/{post['id']}", headers=carol)
    assert r.status == 404
    r = await client.get(f"{M}{C}/posts/{post['id']}", headers=alice)
    assert (await r.json())["status"] == "held"                 # the author sees it, marked
    r = await client.get(f"{A}{C}/queue", headers=clerk1, params={"status": "reported"})
    item = (await r.json())["posts"][0]
    assert item["report_count"] == 2 and item["held_reason"] == "reports"
    # Staff of another store: not even its existence; their queue is empty.
    r = await client.post(f"{A}{C}/posts/{post['id']}/moderate", headers=clerk2,
                          json={"action": "delete"})
    assert r.status == 404
    r = await client.get(f"{A}{C}/queue", headers=clerk2, params={"status": "held"})
    assert (await r.json())["posts"] == []
    r = await client.get(f"{A}{C}/queue", headers=clerk2, params={"store": "s1"})
    assert r.status == 403
    r = await client.post(f"{A}{C}/posts/{post['id']}/moderate", headers=clerk1,
                          json={"action": "delete", "note": "广告"})
    gone = await r.json()
    assert gone["status"] == "deleted" and gone["moderated_by"] == "admin:clerk1"
    assert gone["moderated_at"]
    assert post["id"] not in await _listed(client, alice)       # gone for the author too
    r = await client.post(f"{A}{C}/posts/{post['id']}/moderate", headers=clerk1,
                          json={"action": "restore"})
    assert r.status == 409
    # A chain-wide topic: only head office moderates it.
    topic = await _post(client, bob, store=None, text="大家最喜欢哪家店？")
    r = await client.post(f"{A}{C}/posts/{topic['id']}/moderate", headers=clerk1,
                          json={"action": "hide"})
    assert r.status == 403
    r = await client.post(f"{A}{C}/posts/{topic['id']}/moderate", headers=boss,
                          json={"action": "hide"})
    assert (await r.json())["status"] == "hidden"
    assert topic["id"] not in await _listed(client, alice, store="s2")
    assert (await _listed(client, bob, store="s2"))[topic["id"]]["hidden"]


async def test_comments_hidden_by_staff_and_reported(client, members, monkeypatch):
    monkeypatch.setattr(community, "REPORT_HIDE_AT", 2)
    alice, bob, carol = members["alice"], members["bob"], members["carol"]
    clerk1, clerk2 = members["clerk1"], members["clerk2"]
    post = await _post(client, alice, store="s2")
    r = await client.post(f"{M}{C}/posts/{post['id']}/comments", headers=bob,
                          json={"text": "难吃"})
    cid = (await r.json())["id"]
    r = await client.post(f"{A}{C}/comments/{cid}/moderate", headers=clerk1,
                          json={"action": "hide"})
    assert r.status == 404                                       # s2's comment
    r = await client.post(f"{A}{C}/comments/{cid}/moderate", headers=clerk2,
                          json={"action": "hide", "note": "不文明"})
    assert (await r.json())["held_reason"] == "staff"
    r = await client.get(f"{M}{C}/posts/{post['id']}", headers=carol)
    assert (await r.json())["comment_items"] == []
    r = await client.get(f"{M}{C}/posts/{post['id']}", headers=bob)
    mine = (await r.json())["comment_items"]
    assert mine[0]["hidden"] and mine[0]["mine"]
    r = await client.post(f"{M}{C}/reports", headers=carol,
                          json={"kind": "comment", "id": cid, "reason": "abuse"})
    assert r.status == 404                                       # carol can't see it
