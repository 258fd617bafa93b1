"""Knowledge base: versions and publishing, sanitised HTML, Chinese search with synonyms,
suggestions while a shopper types, and what staff of another store and shoppers may not do."""

from __future__ import annotations

import json

from cloud_bridge.service.kb import clean_html, plain_text
from cloud_bridge.textsearch import Bm25Index, synonym_map, tokenize

from .conftest import A, M

RETURNS = ("<p>商品自购买之日起<b>7天内</b>可凭小票到服务台退货退款。"
           "生鲜食品仅限当天。</p><script>alert(1)</script>")
HOURS = "<p>本店每天 8:00 至 22:00 营业，节假日照常营业。</p>"
POINTS = "<p>会员每消费1元积1分，100积分可抵1元现金。</p>"


# ------------------------------------------------------------------ search, unit


def test_chinese_words_and_parts_of_long_words():
    assert {"牛奶", "鲜牛奶", "过期", "退货"} <= set(tokenize("我买的鲜牛奶过期了怎么退货？"))
    assert "的" not in tokenize("我买的牛奶")          # stop words
    assert tokenize("？！。，") == []                      # punctuation only


def test_ranking_prefers_the_title_and_the_shoppers_own_word():
    idx = Bm25Index()
    idx.add(1, "退货政策", plain_text(clean_html(RETURNS)))
    idx.add(2, "营业时间", plain_text(HOURS))
    idx.add(3, "积分规则", plain_text(POINTS))
    idx.add(4, "退钱多久到账", "原路退回，微信1-3天到账")
    assert idx.search("怎么退货")[0][0] == 1
    assert idx.search("积分能抵现金吗")[0][0] == 3
    assert idx.search("火星") == []
    syn = synonym_map([["退款", "退钱"], ["开门", "营业"]])
    # "几点开门" never says 营业: only the synonym finds the opening hours.
    assert idx.search("几点开门")[:1] == []
    assert idx.search("几点开门", synonyms=syn)[0][0] == 2
    # An article with the shopper's own word ranks above one found through a synonym.
    ranked = [i for i, _ in idx.search("退钱", synonyms=syn)]
    assert ranked[0] == 4 and 1 in ranked
    assert idx.search("退货", allowed={2, 3}) == []


def test_html_is_cleaned_by_an_allow_list():
    dirty = ('<p onclick="steal()">hi <a href="javascript:alert(1)">x</a>'
             '<a href="https://example.com/a">ok</a><img src="data:image/png;base64,AA" '
             'onerror="x()"><style>p{}</style><iframe src="https://evil"></iframe></p>'
             '<script>alert(1)</script>')
    out = clean_html(dirty)
    for bad in ("onclick", "javascript:", "<script", "onerror", "<iframe", "<style", "data:"):
        assert bad not in out, (bad, out)
    assert '<a href="https://example.com/a" rel="noopener noreferrer">ok</a>' in out
    assert plain_text(out).startswith("hi")


# ------------------------------------------------------------------ HTTP


async def _article(client, headers, store, title, body, category="returns"):
    r = await client.post(f"{A}/kb/articles", headers=headers,
                          json={"store": store, "category": category, "title": title,
                                "body_html": body})
    assert r.status == 201, await r.text()
    return await r.json()


async def _faq(client, headers, store, q=None, **extra):
    params = {"q": q, **extra} if q else extra
    r = await client.get(f"{M}/stores/{store}/faq", headers=headers, params=params)
    assert r.status == 200, await r.text()
    return [(i["id"], i["title"]) for i in (await r.json())["items"]]


async def test_write_version_publish_and_search(client, people):
    clerk, alice = people["clerk1"], people["alice"]
    art = await _article(client, clerk, "s1", "退货政策", RETURNS)
    aid = art["id"]
    assert art["status"] == "draft" and art["latest_version"] == 1
    assert "<script" not in art["versions"][0]["body_html"]
    # A draft is nobody's answer yet.
    assert await _faq(client, alice, "s1", "怎么退货") == []
    assert (await client.get(f"{M}/faq/{aid}", headers=alice)).status == 404

    r = await client.post(f"{A}/kb/articles/{aid}/publish", headers=clerk, json={})
    assert r.status == 200 and (await r.json())["published_version"] == 1
    assert await _faq(client, alice, "s1", "怎么退货") == [(aid, "退货政策")]
    assert await _faq(client, alice, "s1", "退货", category="payment") == []

    # Version 2 is saved as a draft: shoppers keep reading version 1 until it is published.
    r = await client.put(f"{A}/kb/articles/{aid}", headers=clerk, json={
        "base_version": 1, "title": "退换货政策", "body_html": "<p>30天无理由退换货</p>"})
    assert r.status == 200, await r.text()
    assert (await r.json())["latest_version"] == 2
    page = await (await client.get(f"{M}/faq/{aid}", headers=alice)).json()
    assert page["title"] == "退货政策" and "7天内" in page["body_html"]
    assert "status" not in page and "created_by" not in page   # staff fields stay inside
    # A second editor who started from version 1 would overwrite version 2: refused.
    r = await client.put(f"{A}/kb/articles/{aid}", headers=people["clerk1b"], json={
        "base_version": 1, "title": "x", "body_html": "<p>y</p>"})
    assert r.status == 409
    await client.post(f"{A}/kb/articles/{aid}/publish", headers=clerk, json={"version": 2})
    assert await _faq(client, alice, "s1", "换货") == [(aid, "退换货政策")]
    detail = await (await client.get(f"{A}/kb/articles/{aid}", headers=clerk)).json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    # Rolling back is publishing an earlier version.
    await client.post(f"{A}/kb/articles/{aid}/publish", headers=clerk, json={"version": 1})
    assert (await (await client.get(f"{M}/faq/{aid}", headers=alice)).json())["title"] == "退货政策"

    r = await client.post(f"{A}/kb/articles/{aid}/unpublish", headers=clerk, json={})
    assert (await r.json())["status"] == "draft"
    assert await _faq(client, alice, "s1", "退货") == []


async def test_chain_articles_synonyms_and_store_boundaries(client, people):
    boss, clerk1, clerk2 = people["boss"], people["clerk1"], people["clerk2"]
    alice = people["alice"]
    chain = await _article(client, boss, None, "营业时间", HOURS, category="store")
    own = await _article(client, clerk1, "s1", "积分规则", POINTS, category="membership")
    for a in (chain, own):
        r = await client.post(f"{A}/kb/articles/{a['id']}/publish",
                              headers=boss if a is chain else clerk1, json={})
        assert r.status == 200
    # The chain's article answers in every store; a store's own only in that store.
    assert await _faq(client, alice, "s2", "营业") == [(chain["id"], "营业时间")]
    assert await _faq(client, alice, "s2", "积分") == []
    assert await _faq(client, alice, "s1", "积分") == [(own["id"], "积分规则")]
    listed = {t for _, t in await _faq(client, alice, "s1")}
    assert listed == {"营业时间", "积分规则"}

    # Store staff: no chain-wide articles, nothing of another store, no synonyms.
    r = await client.post(f"{A}/kb/articles", headers=clerk1, json={
        "category": "other", "title": "t", "body_html": "<p>b</p>"})
    assert r.status == 403
    r = await client.post(f"{A}/kb/articles", headers=clerk2, json={
        "store": "s1", "category": "other", "title": "t", "body_html": "<p>b</p>"})
    assert r.status == 403
    r = await client.put(f"{A}/kb/articles/{chain['id']}", headers=clerk1, json={
        "base_version": 1, "title": "营业时间", "body_html": "<p>24小时</p>"})
    assert r.status == 403
    for method, path, body in (
            ("GET", f"{A}/kb/articles/{own['id']}", None),
            ("PUT", f"{A}/kb/articles/{own['id']}",
             {"base_version": 1, "title": "x", "body_html": "<p>x</p>"}),
            ("POST", f"{A}/kb/articles/{own['id']}/unpublish", {"archive": True})):
        r = await client.request(method, path, headers=clerk2, json=body)
        assert r.status == 404, (method, path, r.status)
    titles = [a["title"] for a in (await (await client.get(
        f"{A}/kb/articles", headers=clerk2)).json())["items"]]
    assert titles == ["营业时间"]
    r = await client.put(f"{A}/kb/synonyms", headers=clerk1, json={"groups": [["开门", "营业"]]})
    assert r.status == 403
    # Shoppers cannot reach the staff routes at all.
    assert (await client.get(f"{A}/kb/articles", headers=alice)).status in (401, 403)

    assert await _faq(client, alice, "s1", "几点开门") == []
    r = await client.put(f"{A}/kb/synonyms", headers=boss, json={"groups": [["开门", "营业"]]})
    assert r.status == 200 and (await r.json())["groups"] == [["开门", "营业"]]
    assert await _faq(client, alice, "s1", "几点开门") == [(chain["id"], "营业时间")]

    # Archived: gone for shoppers, and no longer editable.
    await client.post(f"{A}/kb/articles/{own['id']}/unpublish", headers=clerk1,
                      json={"archive": True})
    assert await _faq(client, alice, "s1", "积分") == []
    r = await client.put(f"{A}/kb/articles/{own['id']}", headers=clerk1, json={
        "base_version": 1, "title": "x", "body_html": "<p>x</p>"})
    assert r.status == 409


async def test_bad_input_is_refused(client, people):
    clerk = people["clerk1"]
    for body in ({"store": "s1", "category": "nonsense", "title": "t", "body_html": "<p>b</p>"},
                 {"store": "s1", "category": "other", "title": "", "body_html": "<p>b</p>"},
                 {"store": "s1", "category": "other", "title": "t", "body_html": "x" * 20_001},
                 {"store": "s1", "category": "other", "title": "t\x00", "body_html": "b"}):
        r = await client.post(f"{A}/kb/articles", headers=clerk, json=body)
        assert r.status == 400, (body["title"][:5], r.status)
    r = await client.put(f"{A}/kb/synonyms", headers=people["boss"],
                         json={"groups": [["只有一个"]]})
    assert r.status == 400
    r = await client.get(f"{M}/stores/s1/faq", headers=people["alice"],
                         params={"q": "x" * 201})
    assert r.status == 400
    r = await client.post(f"{A}/kb/articles/999999/publish", headers=clerk, json={})
    assert r.status == 404


async def test_suggestions_while_the_shopper_types(client, people):
    clerk, alice = people["clerk1"], people["alice"]
    art = await _article(client, clerk, "s1", "退货政策", RETURNS)
    await client.post(f"{A}/kb/articles/{art['id']}/publish", headers=clerk, json={})
    r = await client.post(f"{M}/conversations", headers=alice,
                          json={"store": "s1", "subject": "牛奶"})
    conv = (await r.json())["id"]
    ws = await client.ws_connect(f"{M}/conversations/{conv}/chat", headers=alice)
    try:
        await ws.send_str(json.dumps({"type": "typing", "text": "我想退货"}))
        frame = json.loads((await ws.receive(timeout=10)).data)
        while frame["type"] != "suggestions":
            frame = json.loads((await ws.receive(timeout=10)).data)
        assert [i["title"] for i in frame["items"]] == ["退货政策"]
        assert "7天内" in frame["items"][0]["snippet"]
        await ws.send_str(json.dumps({"type": "typing", "text": "火星"}))
        frame = json.loads((await ws.receive(timeout=10)).data)
        while frame["type"] != "suggestions":
            frame = json.loads((await ws.receive(timeout=10)).data)
        assert frame["items"] == []
    finally:
        await ws.close()
