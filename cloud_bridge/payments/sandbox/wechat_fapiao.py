"""WeChat Pay's e-invoice (数电发票) API in the sandbox, with the tax bureau's red-letter step.

Signed like every WeChat v3 route of :mod:`.wechat` (merchant signature checked,
responses signed with the platform key). Issuing is asynchronous, as on the real
platform: an application is accepted with ``202`` and becomes ``ISSUED`` once the
platform has numbered it and produced its PDF (``issue_delay_s`` plus the rendering),
seen by querying it.

* ``POST /v3/new-tax-control-fapiao/fapiao-applications``: scene, fapiao_apply_id,
  buyer_information{type INDIVIDUAL|ORGANIZATION, name, taxpayer_id, email},
  fapiao_information[{fapiao_id, total_amount, items[{tax_code (19 digits), goods_name,
  quantity, total_amount (fen, tax included), tax_rate (basis points)}]}] -> ``202``.
  The same apply id with the same content is accepted again (a retry); with other
  content, or a bad tax id or tax code, or totals that are not the sum of the items,
  it is ``400 PARAM_ERROR``.
* ``GET .../fapiao-applications/{apply_id}``: status ``ISSUE_ACCEPTED`` -> ``ISSUED``
  with ``blue_fapiao{fapiao_code, fapiao_number, fapiao_time}`` and the amounts; a
  fully reversed invoice is ``REVERSED``.
* ``GET .../fapiao-applications/{apply_id}/fapiao-files``: the download URL of the PDF;
  ``GET /v3/new-tax-control-fapiao/download?token=...`` (signed) serves it.

A red-letter invoice (红字发票) on 数电 needs a 红字发票信息确认单 first. WeChat's own
``/reverse`` reverses a whole invoice; the confirmation routes below follow the tax
bureau's flow so that part of an invoice can be reversed too:

* ``POST /v3/new-tax-control-fapiao/red-letter-confirmations``: fapiao_apply_id of the
  blue invoice, blue_fapiao_number, out_confirmation_id (the merchant's key; a retry
  answers the same confirmation), reason_code (01 开票有误, 02 销货退回, 03 服务中止,
  04 销售折让), total_amount and items to reverse (fen, positive). More than what is
  left of the blue invoice is refused (``RED_EXCEEDS_BLUE``). An individual buyer's
  confirmation is ``CONFIRMED`` at once; an organisation must confirm it
  (``PENDING_BUYER``; ``POST /__sandbox/fapiao/confirmations/{no}`` with
  ``{"accept": bool}`` plays the buyer).
* ``POST .../red-letter-confirmations/{no}/issue`` -> ``202``; ``GET
  .../red-letter-confirmations/{no}`` shows ``CONFIRMED`` -> ``RED_ACCEPTED`` ->
  ``RED_ISSUED`` with ``red_fapiao``; ``.../fapiao-files`` gives its PDF.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from common.jsontypes import JsonList, JsonObject

from .fapiao_pdf import FapiaoItem, render_fapiao
from .ledger import CHINA_TZ

if TYPE_CHECKING:
    from .wechat import WechatGateway

P = "/v3/new-tax-control-fapiao"
TAX_ID = re.compile(r"^([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}|[0-9A-Z]{15}|[0-9A-Z]{20})$")
TAX_CODE = re.compile(r"^\d{19}$")
REASONS = {"01": "开票有误", "02": "销货退回", "03": "服务中止", "04": "销售折让"}
SELLER = {"name": "沙箱自助零售有限公司", "taxpayer_id": "91310000MA1FL0XX2Q", "drawer": "系统"}
# A line's tax may differ from amount x rate by at most 6 fen (the tax bureau's 0.06 yuan
# tolerance): a red line taking back the rest of a blue one carries the rest of its tax.
TAX_TOLERANCE = 6
# How long the platform takes to issue (the tax bureau answers asynchronously).
ISSUE_DELAY_S = 0.3


@dataclass
class Issued:
    """One invoice the platform issued (blue or red) and its file."""

    number: str
    time: str
    items: list[FapiaoItem]
    total: int
    buyer: JsonObject
    red_of: str | None = None
    confirmation_no: str | None = None
    pdf: bytes = b""

    @property
    def tax(self) -> int:
        return sum(i["tax_amount"] for i in self.items)


@dataclass
class Application:
    body: JsonObject  # the request, as sent
    issued: Issued | None = None
    reversed_total: int = 0


@dataclass
class Confirmation:
    no: str
    apply_id: str
    body: JsonObject  # the request, as sent
    status: str
    issued: Issued | None = None
    history: list[str] = field(default_factory=list)


def tax_of(gross: int, rate_bp: int) -> int:
    """Tax in a tax-inclusive amount: gross - round half up(gross / (1 + rate))."""
    net = (2 * gross * 10000 + 10000 + rate_bp) // (2 * (10000 + rate_bp))
    return gross - net


def _obj(value: object) -> JsonObject:
    """``value`` of a request, which must be a JSON object."""
    if not isinstance(value, dict):
        raise TypeError(f"{type(value).__name__} is not an object")
    return value


def _list(value: object) -> JsonList:
    if not isinstance(value, list):
        raise TypeError(f"{type(value).__name__} is not an array")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int | float | str):
        raise TypeError(f"{type(value).__name__} is not a number")
    return int(value)


def _info(body: JsonObject) -> JsonObject:
    """The (one) invoice of an application."""
    return _obj(_list(body["fapiao_information"])[0])


class FapiaoRoutes:
    """The e-invoice routes of one :class:`WechatGateway` (its keys and signing)."""

    def __init__(self, gw: WechatGateway, issue_delay_s: float = ISSUE_DELAY_S) -> None:
        self.gw = gw
        self.issue_delay_s = issue_delay_s
        self.apps: dict[str, Application] = {}
        self.confirmations: dict[str, Confirmation] = {}
        self._by_out_id: dict[str, str] = {}
        self._files: dict[str, bytes] = {}
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(f"{P}/fapiao-applications", self.apply)
        app.router.add_get(f"{P}/fapiao-applications/{{apply_id}}", self.query)
        app.router.add_get(f"{P}/fapiao-applications/{{apply_id}}/fapiao-files", self.files)
        app.router.add_post(f"{P}/red-letter-confirmations", self.confirm)
        app.router.add_get(f"{P}/red-letter-confirmations/{{no}}", self.confirmation)
        app.router.add_post(f"{P}/red-letter-confirmations/{{no}}/issue", self.issue_red)
        app.router.add_get(f"{P}/red-letter-confirmations/{{no}}/fapiao-files", self.red_files)
        app.router.add_get(f"{P}/download", self.download)
        app.router.add_post("/__sandbox/fapiao/confirmations/{no}", self.buyer_decides)

    # ------------------------------------------------------------ helpers
    def _bad(self, message: str, code: str = "PARAM_ERROR") -> web.Response:
        return self.gw.signed(400, {"code": code, "message": message})

    def _not_found(self, what: str) -> web.Response:
        return self.gw.signed(404, {"code": "RESOURCE_NOT_EXISTS", "message": f"{what}不存在"})

    def _number(self) -> str:
        """A 20-digit 数电 number: year, region (31), channel, then a sequence."""
        self._seq += 1
        yy = datetime.now(CHINA_TZ).strftime("%y")
        return f"{yy}312{secrets.randbelow(10**5):05d}{self._seq:010d}"

    async def _issue(self, items: list[FapiaoItem], total: int, buyer: JsonObject,
                     remark: object = "",
                     red_of: str | None = None, confirmation_no: str | None = None) -> Issued:
        """Number the invoice and produce its PDF (in a thread: rendering takes a while)."""
        await asyncio.sleep(self.issue_delay_s)
        done = Issued(self._number(), datetime.now(UTC).astimezone(CHINA_TZ).isoformat(
            timespec="seconds"), items, total, buyer, red_of, confirmation_no)
        amount = total - done.tax
        done.pdf = await asyncio.to_thread(render_fapiao, {
            "number": done.number, "time": done.time, "buyer": buyer, "seller": SELLER,
            "items": items, "amount": amount, "tax_amount": done.tax, "total_amount": total,
            "remark": remark, "red_of": red_of, "confirmation_no": confirmation_no})
        return done

    def _later(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until every accepted application has been issued (for tests and demos)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _file_url(self, pdf: bytes) -> str:
        token = secrets.token_urlsafe(16)
        self._files[token] = pdf
        return f"{self.gw.base_url}{P}/download?token={token}"

    @staticmethod
    def _items(raw: JsonList) -> list[FapiaoItem]:
        items: list[FapiaoItem] = []
        for line in raw:
            it = _obj(line)
            code, rate, gross = str(it["tax_code"]), _int(it["tax_rate"]), _int(it["total_amount"])
            if not TAX_CODE.match(code) or gross <= 0 or not 0 <= rate <= 10000:
                raise ValueError(f"item {it.get('goods_name')}: 税收分类编码/金额/税率不合法")
            tax = _int(it.get("tax_amount", tax_of(gross, rate)))
            if abs(tax - tax_of(gross, rate)) > TAX_TOLERANCE:
                raise ValueError(f"item {it.get('goods_name')}: 税额误差超过允许范围")
            items.append({"tax_code": code, "goods_name": str(it["goods_name"])[:100],
                          "category_name": str(it.get("category_name") or "商品")[:20],
                          "quantity": it.get("quantity", 1), "total_amount": gross,
                          "tax_rate": rate, "tax_amount": tax, "amount": gross - tax})
        return items

    def _blue_json(self, apply_id: str, app: Application) -> JsonObject:
        info = _info(app.body)
        out: JsonObject = {"fapiao_id": info["fapiao_id"], "status": "ISSUE_ACCEPTED",
                               "total_amount": info["total_amount"]}
        if app.issued is not None:
            out["status"] = "REVERSED" if app.reversed_total >= app.issued.total else "ISSUED"
            out.update(tax_amount=app.issued.tax, amount=app.issued.total - app.issued.tax,
                       reversed_amount=app.reversed_total,
                       blue_fapiao={"fapiao_code": "", "fapiao_number": app.issued.number,
                                    "fapiao_time": app.issued.time})
        return {"total_count": 1, "fapiao_apply_id": apply_id, "fapiao_information": [out]}

    async def _produce_blue(self, app: Application) -> None:
        info = _info(app.body)
        app.issued = await self._issue(self._items(_list(info["items"])),
                                       _int(info["total_amount"]),
                                       _obj(app.body["buyer_information"]),
                                       info.get("remark", ""))

    # ------------------------------------------------------------ blue invoices
    async def apply(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            req = _obj(json.loads(body))
            apply_id = str(req["fapiao_apply_id"])
            buyer = _obj(req["buyer_information"])
            info = _list(req["fapiao_information"])
            if len(info) != 1:
                return self._bad("一次申请开具一张发票")
            items = self._items(_list(_obj(info[0])["items"]))
            total = _int(_obj(info[0])["total_amount"])
        except (ValueError, KeyError, TypeError, IndexError) as err:
            return self._bad(f"参数错误: {err}"[:120])
        if buyer.get("type") not in ("INDIVIDUAL", "ORGANIZATION") or not buyer.get("name"):
            return self._bad("购买方信息不完整")
        if buyer["type"] == "ORGANIZATION" and not TAX_ID.match(str(buyer.get("taxpayer_id"))):
            return self._bad("购买方纳税人识别号格式错误", "INVALID_TAXPAYER_ID")
        if total != sum(i["total_amount"] for i in items):
            return self._bad("发票金额与明细合计不一致")
        known = self.apps.get(apply_id)
        if known is not None:
            if known.body != req:
                return self._bad("开票申请单号重复，参数不一致", "INVALID_REQUEST")
            return self.gw.signed(202, None)
        self.apps[apply_id] = Application(req)
        self._later(self._produce_blue(self.apps[apply_id]))
        return self.gw.signed(202, None)

    async def query(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        apply_id = request.match_info["apply_id"]
        app = self.apps.get(apply_id)
        if app is None:
            return self._not_found("开票申请")
        return self.gw.signed(200, self._blue_json(apply_id, app))

    async def files(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        app = self.apps.get(request.match_info["apply_id"])
        if app is None:
            return self._not_found("开票申请")
        if app.issued is None:
            return self.gw.signed(400, {"code": "FAPIAO_NOT_READY", "message": "发票尚未开具"})
        return self.gw.signed(200, {"fapiao_download_info_list": [{
            "fapiao_id": _info(app.body)["fapiao_id"],
            "download_url": self._file_url(app.issued.pdf), "status": "DOWNLOAD_READY"}]})

    async def download(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        pdf = self._files.get(request.query.get("token", ""))
        if pdf is None:
            return self._not_found("文件")
        return web.Response(body=pdf, content_type="application/pdf")

    # ------------------------------------------------------------ red-letter invoices
    async def confirm(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        try:
            req = _obj(json.loads(body))
            apply_id, out_id = str(req["fapiao_apply_id"]), str(req["out_confirmation_id"])
            reason, total = str(req["reason_code"]), _int(req["total_amount"])
            items = self._items(_list(req["items"]))
            number = str(req["blue_fapiao_number"])
        except (ValueError, KeyError, TypeError) as err:
            return self._bad(f"参数错误: {err}"[:120])
        if out_id in self._by_out_id:
            known = self.confirmations[self._by_out_id[out_id]]
            if known.body != req:
                return self._bad("确认单请求号重复，参数不一致", "INVALID_REQUEST")
            return self.gw.signed(200, self._confirmation_json(known))
        app = self.apps.get(apply_id)
        if app is None or app.issued is None or app.issued.number != number:
            return self._not_found("蓝字发票")
        if reason not in REASONS:
            return self._bad("红冲原因不合法")
        if total <= 0 or total != sum(i["total_amount"] for i in items):
            return self._bad("红冲金额与明细合计不一致")
        pending = sum(_int(c.body["total_amount"]) for c in self.confirmations.values()
                      if c.apply_id == apply_id and c.status != "REJECTED")
        if total + pending > app.issued.total:
            return self._bad("红冲金额超过蓝字发票可冲红金额", "RED_EXCEEDS_BLUE")
        buyer_type = _obj(app.body["buyer_information"]).get("type")
        no = f"{datetime.now(CHINA_TZ):%Y%m%d}{len(self.confirmations) + 1:012d}"
        status = "PENDING_BUYER" if buyer_type == "ORGANIZATION" else "CONFIRMED"
        self.confirmations[no] = Confirmation(no, apply_id, req, status, history=[status])
        self._by_out_id[out_id] = no
        return self.gw.signed(200, self._confirmation_json(self.confirmations[no]))

    def _confirmation_json(self, c: Confirmation) -> JsonObject:
        out: JsonObject = {"confirmation_no": c.no, "status": c.status,
                               "fapiao_apply_id": c.apply_id,
                               "total_amount": c.body["total_amount"],
                               "reason_code": c.body["reason_code"]}
        if c.issued is not None:
            out["red_fapiao"] = {"fapiao_code": "", "fapiao_number": c.issued.number,
                                 "fapiao_time": c.issued.time, "tax_amount": c.issued.tax}
        return out

    async def _produce_red(self, c: Confirmation) -> None:
        app = self.apps[c.apply_id]
        assert app.issued is not None
        c.issued = await self._issue(self._items(_list(c.body["items"])),
                                     _int(c.body["total_amount"]),
                                     _obj(app.body["buyer_information"]),
                                     REASONS[str(c.body["reason_code"])],
                                     red_of=app.issued.number, confirmation_no=c.no)
        app.reversed_total += c.issued.total
        c.status = "RED_ISSUED"
        c.history.append(c.status)

    async def confirmation(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        c = self.confirmations.get(request.match_info["no"])
        if c is None:
            return self._not_found("红字确认单")
        return self.gw.signed(200, self._confirmation_json(c))

    async def issue_red(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        c = self.confirmations.get(request.match_info["no"])
        if c is None:
            return self._not_found("红字确认单")
        if c.status in ("RED_ACCEPTED", "RED_ISSUED"):
            return self.gw.signed(202, None)  # a retry
        if c.status != "CONFIRMED":
            return self.gw.signed(400, {"code": "CONFIRMATION_NOT_CONFIRMED",
                                        "message": f"确认单状态为{c.status}，不能开具红字发票"})
        c.status = "RED_ACCEPTED"
        c.history.append(c.status)
        self._later(self._produce_red(c))
        return self.gw.signed(202, None)

    async def red_files(self, request: web.Request) -> web.Response:
        body = await self.gw.authenticate(request)
        if isinstance(body, web.Response):
            return body
        c = self.confirmations.get(request.match_info["no"])
        if c is None:
            return self._not_found("红字确认单")
        if c.issued is None:
            return self.gw.signed(400, {"code": "FAPIAO_NOT_READY", "message": "发票尚未开具"})
        return self.gw.signed(200, {"fapiao_download_info_list": [{
            "fapiao_id": c.no, "download_url": self._file_url(c.issued.pdf),
            "status": "DOWNLOAD_READY"}]})

    async def buyer_decides(self, request: web.Request) -> web.Response:
        c = self.confirmations.get(request.match_info["no"])
        if c is None or c.status != "PENDING_BUYER":
            return web.json_response({"error": "no confirmation waiting for the buyer"},
                                     status=404)
        c.status = "CONFIRMED" if (await request.json()).get("accept") else "REJECTED"
        c.history.append(c.status)
        return web.json_response({"status": c.status})
