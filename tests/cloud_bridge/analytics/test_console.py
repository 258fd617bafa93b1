"""The analytics console page over HTTP: the metric's table and chart as the API has them,
the PNG behind its link, scoped by role."""

from __future__ import annotations

import html
import re

from cloud_bridge.console.fmt import money
from tests.cloud_bridge.console.conftest import console
from tests.cloud_bridge.console.conftest import login as console_login
from tests.cloud_bridge.test_api import client, login

from .test_api import A, chain, period, tiny_year
from .test_charts import bar_lengths, decode

__all__ = ["chain", "client", "console", "tiny_year"]

PAGE = "/console/analytics/metrics"


def table_rows(text: str) -> list[str]:
    body = text[text.index('id="metric-table"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


async def test_the_page_shows_the_apis_table_and_chart(console, client, chain):
    q = period(chain)
    api = await (await client.get(f"{A}/metrics/sales_by_store?{q}",
                                  headers=await login(client, "boss"))).json()
    assert (await console_login(console, "boss")).status == 200
    home = await (await console.get("/console/")).text()
    assert f'href="{PAGE}"' in home and "经营分析" in home
    r = await console.get(f"{PAGE}?metric=sales_by_store&{q}")
    text = await r.text()
    assert r.status == 200, text
    assert "<title>经营分析" in text and '<figure class="card" id="metric-chart"><svg' in text
    rows = table_rows(text)
    assert len(rows) == len(api["rows"]) == 2
    for row, want in zip(rows, api["rows"], strict=True):
        assert f"<td>{want['key']}</td>" in row
        assert html.escape(money(want["revenue"])) in row
    link = re.search(r'id="metric-png" href="([^"]+)"', text).group(1)
    r = await console.get(html.unescape(link))
    assert r.status == 200 and r.content_type == "image/png"
    assert len(bar_lengths(decode(await r.read()))) == 2
    r = await console.get(f"{PAGE}?metric=kiosk_sessions&by=kiosk&{q}")
    assert r.status == 200 and "此期间没有数据" in await r.text()  # no kiosk sent any
    assert (await console.get(f"{PAGE}?metric=no_such&{q}")).status == 404
    assert (await console.get(f"{PAGE}?start=2026-02-02&end=2026-02-01")).status == 400
    assert (await console.get(f"{PAGE}?{q}&by=phone")).status == 400


async def test_store_staff_see_their_store_and_buyers_nothing(console, chain):
    q = period(chain)
    assert (await console_login(console, "clerk1")).status == 200
    text = await (await console.get(f"{PAGE}?metric=sales_by_store&{q}")).text()
    assert [re.search(r"<td>(\w+)</td>", r).group(1) for r in table_rows(text)] == ["S1"]
    assert (await console.get(f"{PAGE}?metric=sales_by_store&{q}&store=S2")).status == 403
    assert (await console.get(f"{PAGE}/png?metric=sales_by_store&{q}&store=S2")).status == 403
    assert (await console_login(console, "buyer")).status == 200
    assert (await console.get(f"{PAGE}?{q}")).status == 403
