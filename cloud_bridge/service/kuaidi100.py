"""Kuaidi100 (快递100), the carrier-tracking aggregator most Chinese shops use, as the
bridge speaks to it: subscribe a tracking number with a callback (``/poll``), receive
signed pushes, and query as a fallback (``/poll/query.do``).

Signatures are Kuaidi100's: a push carries ``sign = MD5(param + salt)`` (upper-case hex),
where ``salt`` was given with the subscription; a query is signed
``MD5(param + key + customer)``. The salt of a shipment is derived from the account key
and the tracking number, so any bridge worker can check a push without a lookup first,
and a forger who knows one shipment's salt cannot sign for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp

from common.jsontypes import JsonMapping, JsonObject

# Kuaidi100's ``state`` codes, as a shopper reads them.
STATES = {
    "0": ("in_transit", "运输中", "In transit"),
    "1": ("collected", "已揽收", "Collected"),
    "2": ("problem", "疑难件", "Problem with the parcel"),
    "3": ("delivered", "已签收", "Delivered"),
    "4": ("returned_to_sender", "退签", "Refused, returning"),
    "5": ("out_for_delivery", "派件中", "Out for delivery"),
    "6": ("returning", "退回中", "Returning to sender"),
    "7": ("forwarded", "转投", "Forwarded"),
    "8": ("customs", "清关中", "In customs"),
    "14": ("refused", "拒签", "Refused"),
}
TROUBLE = frozenset({"problem", "returned_to_sender", "returning", "refused"})
FINAL = frozenset({"delivered", "returned_to_sender", "refused"})
CARRIERS = {"SF": "shunfeng", "YTO": "yuantong", "ZTO": "zhongtong", "STO": "shentong",
            "YD": "yunda", "JD": "jd", "EMS": "ems", "JTSD": "jtexpress"}
CN = ZoneInfo("Asia/Shanghai")


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()  # Kuaidi100's scheme, not ours


def salt_for(key: str, com: str, num: str) -> str:
    return hmac.new(key.encode(), f"salt:{com}:{num}".encode(), hashlib.sha256).hexdigest()[:32]


def verify_push(param: str, sign: str, key: str) -> JsonObject:
    """The push's ``lastResult`` when ``sign`` is right for its shipment; raises ValueError."""
    try:
        body = json.loads(param)
        last = body["lastResult"]
        if not isinstance(last, dict):  # as indexing a list or a string would
            raise TypeError("lastResult is not an object")
        com, num = str(last["com"]), str(last["nu"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"unreadable push: {type(err).__name__}") from err
    want = md5_upper(param + salt_for(key, com, num))
    if not hmac.compare_digest(want, sign.upper()):
        raise ValueError(f"bad signature for {com} {num}")
    if not isinstance(last.get("data"), list):
        raise ValueError("push without data")
    return last


@dataclass(slots=True)
class Track:
    at: datetime
    context: str
    area: str | None


def parse_tracks(last: JsonMapping) -> tuple[str | None, list[Track]]:
    """The state and the events of a push's ``lastResult`` or a query's answer."""
    out = []
    data = last.get("data") or []
    if not isinstance(data, list):
        raise TypeError(f"tracking data is {type(data).__name__}, not a list")
    for item in data:
        if not isinstance(item, dict):
            raise TypeError(f"a tracking event is {type(item).__name__}, not an object")
        try:
            at = datetime.strptime(str(item["time"]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CN)
        except (KeyError, ValueError):
            continue
        ctx = str(item.get("context") or "")[:300]
        if ctx:
            out.append(Track(at, ctx, (str(item["areaName"])[:64] if item.get("areaName")
                                       else None)))
    state = STATES.get(str(last.get("state")), (None,))[0]
    return state, out


class Kuaidi100:
    def __init__(self, base_url: str, customer: str, key: str, callback_url: str,
                 timeout_s: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.customer, self.key, self.callback = customer, key, callback_url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _post(self, path: str, form: dict[str, str]) -> JsonObject:
        async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                http.post(self.base + path, data=form) as r:
            if r.status != 200:
                raise RuntimeError(f"kuaidi100 {path}: HTTP {r.status}")
            out: object = await r.json(content_type=None)
        if not isinstance(out, dict):  # the callers read it as an object
            raise TypeError(f"kuaidi100 {path}: the answer is not a JSON object")
        return out

    async def subscribe(self, com: str, num: str, phone: str | None = None) -> None:
        params: dict[str, str] = {"callbackurl": self.callback,
                                  "salt": salt_for(self.key, com, num), "resultv2": "1"}
        if phone:  # SF asks for the receiver's phone (last four digits are enough)
            params["phone"] = phone[-4:]
        param = json.dumps({"company": com, "number": num, "key": self.key,
                            "parameters": params}, ensure_ascii=False)
        out = await self._post("/poll", {"schema": "json", "param": param})
        # 501: already subscribed (a retry after a lost answer): as good as 200.
        if str(out.get("returnCode")) not in ("200", "501"):
            raise RuntimeError(f"kuaidi100 subscribe {com} {num}: {out.get('returnCode')} "
                               f"{out.get('message')}")

    async def query(self, com: str, num: str, phone: str | None = None) -> JsonObject:
        q: dict[str, str] = {"com": com, "num": num, "resultv2": "1"}
        if phone:
            q["phone"] = phone[-4:]
        param = json.dumps(q, ensure_ascii=False)
        out = await self._post("/poll/query.do", {
            "customer": self.customer, "param": param,
            "sign": md5_upper(param + self.key + self.customer)})
        if str(out.get("status", "")) != "200":
            raise RuntimeError(f"kuaidi100 query {com} {num}: {out.get('returnCode')} "
                               f"{out.get('message')}")
        return out
