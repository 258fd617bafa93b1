"""Async client of the kiosk agent's control API (HTTP over its Unix socket).

Every failure is one of two exceptions with a message fit for a staff screen:
:class:`AgentUnavailable` (no socket, connection refused, no permission, timeout)
and :class:`ControlError` (the agent answered with an error, e.g. wrong PIN).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp

from common.jsontypes import JsonObject

DEFAULT_SOCKET = "/run/kiosk-agent/control.sock"
#: Per request: the agent answers in milliseconds; hardware calls have their own
#: server-side limit (20 s), so wait a little longer than that.
REQUEST_TIMEOUT_S = 25.0


class ClientError(Exception):
    """Base of the client's errors; ``str()`` is the message to show."""


class AgentUnavailable(ClientError):
    """The agent cannot be reached (not running, socket missing or refused)."""


class ControlError(ClientError):
    """The agent answered with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def locked(self) -> bool:
        """The call needs a (new) staff session."""
        return self.status == 401 and self.code == "locked"


def bad_reply(what: str, value: object) -> ControlError:
    """The error for a reply whose ``what`` is not what the control API sends."""
    return ControlError(200, "bad_reply", f"{what}: unexpected {type(value).__name__} from the agent")


def json_object(value: object, what: str) -> JsonObject:
    """``value`` read from a reply, checked to be a JSON object."""
    if not isinstance(value, dict):
        raise bad_reply(what, value)
    return value


def json_objects(value: object, what: str) -> list[JsonObject]:
    """``value`` read from a reply, checked to be a list of JSON objects."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise bad_reply(what, value)
    return [json_object(v, what) for v in value]


def json_list(value: object, what: str) -> list[object]:
    """``value`` read from a reply, checked to be a JSON array."""
    if not isinstance(value, list):
        raise bad_reply(what, value)
    return value


def json_text(value: object, what: str) -> str:
    """``value`` read from a reply, checked to be a string."""
    if not isinstance(value, str):
        raise bad_reply(what, value)
    return value


def json_number(value: object, what: str) -> int | float:
    """``value`` read from a reply, checked to be a number (fen, seconds, counts)."""
    if not isinstance(value, int | float):
        raise bad_reply(what, value)
    return value


class ControlClient:
    """One connection pool to the control socket; ``async with`` or call :meth:`close`."""

    def __init__(self, socket_path: str | Path = DEFAULT_SOCKET, timeout: float = REQUEST_TIMEOUT_S):
        self.socket_path = str(socket_path)
        self.timeout = timeout
        self.token: str | None = None
        self.idle_lock_s: float | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def _object(
        self, method: str, path: str, *, json: JsonObject | None = None,
        params: dict[str, str] | None = None,
    ) -> JsonObject:
        """A call whose reply is a JSON object (every route of the control API)."""
        return json_object(await self._request(method, path, json=json, params=params), path)

    async def _request(
        self, method: str, path: str, *, json: JsonObject | None = None,
        params: dict[str, str] | None = None, raw: bool = False,
    ) -> object:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with self._http().request(
                method, f"http://kiosk-agent{path}", json=json, params=params, headers=headers
            ) as resp:
                if resp.status >= 400:
                    try:
                        body = await resp.json(content_type=None)
                        code = str(body.get("error", "error"))
                        message = str(body.get("message", ""))
                    except (ValueError, AttributeError):
                        code, message = "error", (await resp.text())[:200]
                    if resp.status == 401 and code == "locked":
                        self.token = None
                    raise ControlError(resp.status, code, message or f"HTTP {resp.status}")
                if raw:
                    return resp.content_type, await resp.read()
                return await resp.json(content_type=None)
        except FileNotFoundError as err:
            raise AgentUnavailable(f"agent not running: no socket at {self.socket_path}") from err
        except aiohttp.ClientConnectorError as err:
            os_err = getattr(err, "os_error", None)
            if isinstance(os_err, FileNotFoundError):
                msg = f"agent not running: no socket at {self.socket_path}"
            elif isinstance(os_err, PermissionError):
                msg = f"no permission to open {self.socket_path} (join the staff group)"
            elif isinstance(os_err, ConnectionRefusedError):
                msg = f"agent not running: connection refused on {self.socket_path}"
            else:
                msg = f"cannot reach the agent on {self.socket_path}: {os_err or err}"
            raise AgentUnavailable(msg) from err
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as err:
            raise AgentUnavailable(f"agent connection lost: {err}") from err
        except TimeoutError as err:
            raise AgentUnavailable("the agent did not answer in time") from err
        except aiohttp.ClientError as err:
            raise AgentUnavailable(f"control API error: {err}") from err

    # ---------------------------------------------------------------- session

    async def login(self, pin: str) -> None:
        """Open a staff session with ``pin`` (raises :class:`ControlError` when wrong)."""
        reply = await self._object("POST", "/v1/session", json={"pin": pin})
        token, idle_lock_s = reply["token"], reply.get("idle_lock_s")
        if not isinstance(token, str):
            raise bad_reply("session token", token)
        self.token = token
        self.idle_lock_s = None if idle_lock_s is None else json_number(idle_lock_s, "idle_lock_s")

    async def unlock_with_badge(self, badge: str) -> JsonObject:
        """Lift the wrong-PIN lockout with a signed staff badge (raises when refused)."""
        return await self._object("POST", "/v1/session/unlock", json={"badge": badge})

    async def logout(self) -> None:
        if self.token:
            try:
                await self._object("DELETE", "/v1/session")
            finally:
                self.token = None

    async def session(self) -> JsonObject:
        reply = await self._object("GET", "/v1/session")
        if self.token and not reply.get("authenticated"):
            self.token = None
        return reply

    @property
    def unlocked(self) -> bool:
        return self.token is not None

    # ---------------------------------------------------------------- reads

    async def status(self) -> JsonObject:
        return await self._object("GET", "/v1/status")

    async def health(self) -> JsonObject:
        return await self._object("GET", "/v1/health")

    async def sales_today(self) -> JsonObject:
        return await self._object("GET", "/v1/sales/today")

    async def orders(self, query: str = "", limit: int = 50) -> list[JsonObject]:
        reply = await self._object("GET", "/v1/orders", params={"q": query, "limit": str(limit)})
        return json_objects(reply["orders"], "orders")

    async def order(self, order_no: str) -> JsonObject:
        return await self._object("GET", f"/v1/orders/{order_no}")

    async def outbox(self) -> JsonObject:
        return await self._object("GET", "/v1/outbox")

    async def config(self) -> list[JsonObject]:
        return json_objects((await self._object("GET", "/v1/config"))["values"], "config")

    async def logs(self, after: int = 0, limit: int = 200, level: str | None = None) -> JsonObject:
        params = {"after": str(after), "limit": str(limit)}
        if level:
            params["level"] = level
        return await self._object("GET", "/v1/logs", params=params)

    async def snapshot(self) -> tuple[str, bytes]:
        """``(content_type, image bytes)`` of one camera frame."""
        reply = await self._object("GET", "/v1/camera/snapshot", params={"format": "json"})
        content_type, data = reply["content_type"], reply["base64"]
        if not isinstance(content_type, str) or not isinstance(data, str):
            raise bad_reply("snapshot", reply)
        return content_type, base64.b64decode(data)

    # ---------------------------------------------------------------- actions (need a session)

    async def retry_dead_letter(self, event_id: str) -> JsonObject:
        return await self._object("POST", f"/v1/dead-letters/{event_id}/retry")

    async def discard_dead_letter(self, event_id: str, reason: str) -> JsonObject:
        return await self._object(
            "POST", f"/v1/dead-letters/{event_id}/discard", json={"reason": reason}
        )

    async def reprint(self, order_no: str) -> JsonObject:
        return await self._object("POST", f"/v1/orders/{order_no}/reprint")

    async def print_test_page(self) -> JsonObject:
        return await self._object("POST", "/v1/printer/test-page")

    async def display_test(self) -> JsonObject:
        return await self._object("POST", "/v1/display/test")

    async def decode_check(self) -> JsonObject:
        return await self._object("POST", "/v1/camera/decode-check")

    async def set_maintenance(self, on: bool, reason: str = "staff") -> JsonObject:
        return await self._object("POST", "/v1/maintenance", json={"on": on, "reason": reason})

    # ---------------------------------------------------------------- cart (staff voids)

    async def cart(self) -> JsonObject:
        return await self._object("GET", "/v1/cart")

    async def set_quantity(self, line_no: int, qty: int, badge: str | None = None) -> JsonObject:
        body: JsonObject = {"qty": qty} | ({"badge": badge} if badge else {})
        return await self._object("PUT", f"/v1/cart/lines/{line_no}", json=body)

    async def remove_line(self, line_no: int, badge: str | None = None) -> JsonObject:
        return await self._object("DELETE", f"/v1/cart/lines/{line_no}",
                                   json={"badge": badge} if badge else {})

    async def void_cart(self, badge: str | None = None) -> JsonObject:
        return await self._object("POST", "/v1/cart/void", json={"badge": badge} if badge else {})

    async def approve_void(self, badge: str) -> JsonObject:
        return await self._object("POST", "/v1/cart/approve", json={"badge": badge})

    async def take_parked(self, park_no: str) -> JsonObject:
        return await self._object("POST", f"/v1/parked/{park_no}/take")

    async def staff_call(self) -> JsonObject | None:
        call = (await self._object("GET", "/v1/staff-call"))["call"]
        return None if call is None else json_object(call, "staff call")

    async def answer_staff_call(self, badge: str | None = None) -> JsonObject:
        return await self._object("POST", "/v1/staff-call/answer",
                                   json={"badge": badge} if badge else {})


    async def stock_alerts(self) -> JsonObject:
        """The store's stock alerts as the bridge last announced them."""
        return await self._object("GET", "/v1/stock-alerts")

    async def mp_orders(self) -> JsonObject:
        """The store's new mini-program orders as the bridge last announced them."""
        return await self._object("GET", "/v1/mp-orders")

    async def ack_mp_order(self, alert_id: int, badge: str | None = None) -> JsonObject:
        """Staff acknowledge a new mini-program order (resolved at the bridge)."""
        return await self._object("POST", f"/v1/mp-orders/{int(alert_id)}/ack",
                                   json={"badge": badge} if badge else {})


async def _probe(socket_path: str) -> int:  # pragma: no cover - manual helper
    async with ControlClient(socket_path) as client:
        print(await client.status())
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    raise SystemExit(asyncio.run(_probe(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOCKET)))
