"""Client of WeChat Pay's e-invoice API (数电发票) and its red-letter confirmations.

It rides on the configured WeChat Pay client (:class:`WechatPayProvider`): the same
merchant key signs every request and every response is checked against the platform
key, so an invoice number never comes from an unverified answer. The routes are
described in :mod:`cloud_bridge.payments.sandbox.wechat_fapiao`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

P = "/v3/new-tax-control-fapiao"


class FapiaoError(Exception):
    """The platform refused a request (4xx with its code): the document cannot go on as is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class FapiaoUnavailable(Exception):
    """The platform did not answer usably (5xx, timeout, untrusted): try again later."""


class SignedWechat(Protocol):
    """What the client needs of the WeChat Pay client."""

    base_url: str

    async def call(self, method: str, path: str,
                   payload: dict | None = None) -> tuple[int, dict]: ...

    def authorization(self, method: str, path: str, body: str) -> str: ...

    @property
    def session(self) -> aiohttp.ClientSession: ...


@dataclass(frozen=True, slots=True)
class Result:
    """The platform's view of one document: status and, once issued, its number."""

    status: str
    number: str | None = None
    code: str | None = None
    issued_at: str | None = None
    tax: int | None = None
    confirmation_no: str | None = None


class FapiaoClient:
    """Signed calls to the e-invoice API through a WeChat Pay client."""

    def __init__(self, wechat: SignedWechat) -> None:
        self.wechat = wechat

    async def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        try:
            status, data = await self.wechat.call(method, path, payload)
        except Exception as err:  # transport, timeout, untrusted signature
            raise FapiaoUnavailable(f"{method} {path}: {type(err).__name__}") from err
        if status >= 500:
            raise FapiaoUnavailable(f"{method} {path}: HTTP {status}")
        if status >= 400:
            raise FapiaoError(str(data.get("code", status)), str(data.get("message", "")))
        return data

    async def apply(self, payload: dict) -> None:
        """Ask for a blue invoice (202: accepted, issued later)."""
        await self._call("POST", f"{P}/fapiao-applications", payload)

    async def query(self, apply_id: str) -> Result:
        data = await self._call("GET", f"{P}/fapiao-applications/{apply_id}")
        info = data["fapiao_information"][0]
        blue = info.get("blue_fapiao") or {}
        return Result(str(info["status"]), blue.get("fapiao_number"), blue.get("fapiao_code"),
                      blue.get("fapiao_time"), info.get("tax_amount"))

    async def blue_file(self, apply_id: str) -> bytes:
        data = await self._call("GET", f"{P}/fapiao-applications/{apply_id}/fapiao-files")
        return await self._download(data)

    async def confirm_red(self, payload: dict) -> Result:
        """File a 红字发票信息确认单; CONFIRMED, or PENDING_BUYER for an organisation."""
        data = await self._call("POST", f"{P}/red-letter-confirmations", payload)
        return Result(str(data["status"]), confirmation_no=str(data["confirmation_no"]))

    async def red_status(self, confirmation_no: str) -> Result:
        data = await self._call("GET", f"{P}/red-letter-confirmations/{confirmation_no}")
        red = data.get("red_fapiao") or {}
        return Result(str(data["status"]), red.get("fapiao_number"), red.get("fapiao_code"),
                      red.get("fapiao_time"), red.get("tax_amount"), confirmation_no)

    async def issue_red(self, confirmation_no: str) -> None:
        await self._call("POST", f"{P}/red-letter-confirmations/{confirmation_no}/issue")

    async def red_file(self, confirmation_no: str) -> bytes:
        data = await self._call(
            "GET", f"{P}/red-letter-confirmations/{confirmation_no}/fapiao-files")
        return await self._download(data)

    async def _download(self, data: dict) -> bytes:
        """The file behind a download URL; the download is signed like any request."""
        url = data["fapiao_download_info_list"][0]["download_url"]
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not url.startswith(self.wechat.base_url):
            raise FapiaoUnavailable("download URL is not on the platform's host")
        auth = await asyncio.to_thread(self.wechat.authorization, "GET", path, "")
        try:
            async with self.wechat.session.get(url, headers={"Authorization": auth}) as resp:
                body = await resp.read()
        except Exception as err:
            raise FapiaoUnavailable(f"download: {type(err).__name__}") from err
        if resp.status != 200 or not body.startswith(b"%PDF-"):
            raise FapiaoUnavailable(f"download: HTTP {resp.status}, not a PDF")
        return body
