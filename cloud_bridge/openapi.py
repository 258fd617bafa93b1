"""HTTP plumbing: declared routes, problem-details errors, the OpenAPI document.

Every HTTP route of the bridge is a :class:`Route`: the same declaration adds
it to the aiohttp router and describes it in ``/api/v1/openapi.json`` (so the
document cannot miss a route; a test checks the router against it). Request
bodies and query strings are pydantic models, validated before the handler
runs; every error is ``application/problem+json`` with ``type, title, status,
detail``. Success bodies are described by the route's ``response`` model
(:mod:`cloud_bridge.responses`); the schemathesis test checks real replies against it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import IntegrityError

from common.jsontypes import JsonMapping, JsonObject
from common.version import __version__
from contract.wire.base import validation_reason

from .auth import OPERATIONS_ROLES, Principal, resolve_token
from .errors import (
    BridgeError,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooManyRequests,
    Unauthorized,
)

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "https://selfcheckout.example.com/problems/"

# Text without NUL (PostgreSQL refuses it) and bounded, for every string field.
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\x00]+$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ISO_DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
IsoDate = Annotated[str, StringConstraints(pattern=ISO_DATE_PATTERN)]
IDENT_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
_IDENT = re.compile(IDENT_SCHEMA["pattern"])


# Request bodies nest a few levels (an order's lines, a shadow's sections); deeper is an
# attack on the parser and the validators' recursion, answered 400 before them.
MAX_JSON_DEPTH = 32


def json_depth(obj: object) -> int:
    """How deep ``obj`` (parsed JSON) nests; counted without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return deepest


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


@dataclass(slots=True)
class Call:
    """One validated request as the handler sees it."""

    request: web.Request
    # Who called: set for routes with ``auth``, ``None`` on public ones (read it through
    # :attr:`principal`, which the handlers of authenticated routes can rely on).
    caller: Principal | None
    body: BaseModel | None
    query: BaseModel | None
    path: dict[str, str]

    def body_as(self, model: type[B]) -> B:
        """The validated body as the route's declared model (a mismatch is a bug: 500)."""
        if not isinstance(self.body, model):
            raise TypeError(f"route body is {type(self.body).__name__}, not {model.__name__}")
        return self.body

    def query_as(self, model: type[Q]) -> Q:
        """The validated query string as the route's declared model."""
        if not isinstance(self.query, model):
            raise TypeError(f"route query is {type(self.query).__name__}, not {model.__name__}")
        return self.query

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def principal(self) -> Principal:
        """The authenticated caller; only routes declared with ``auth`` have one."""
        if self.caller is None:
            raise Unauthorized("this route has no session")
        return self.caller

    @property
    def openid(self) -> str:
        """The mini-program user who called (routes declared with ``auth="mp"``)."""
        openid = self.principal.openid
        if openid is None:
            raise Unauthorized("this route needs a mini-program session")
        return openid


Handler = Callable[[Call], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: str | None = None  # "admin" | "mp" | None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    path_params: Mapping[str, JsonMapping] = field(default_factory=dict)
    raw: bool = False  # handler returns a web.Response itself
    response_type: str | None = "application/json"  # None: no body (e.g. 204)
    raw_body: tuple[str, JsonMapping] | None = None  # (media type, schema) the handler reads
    # The success body: a pydantic model (its schema goes to components) or a JSON schema.
    response: type[BaseModel] | JsonMapping | None = None
    # Further statuses the route answers with, and what they mean: problem details from
    # 400 up (e.g. {422: "unusable price book"}), no body below (e.g. {304: "not modified"}).
    responses: dict[int, str] = field(default_factory=dict)
    # HTTP Basic the handler checks itself when configured (kiosk credentials): documented
    # as optional, since a bridge without ``[http] kiosk_auth_dir`` serves without it.
    basic_auth: bool = False
    # Admin roles admitted (403 for the others); ``None``: the store-operations roles
    # (head office and store staff). Domain routes name theirs, e.g. (HEAD_OFFICE, FINANCE).
    roles: tuple[str, ...] | None = None

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


# --------------------------------------------------------------------------- errors


def problem(status: int, title: str, detail: str, **extra: object) -> web.Response:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "error"
    body: JsonObject = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="cloud-bridge"'} if status == 401 else None
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type=PROBLEM_TYPE, headers=headers)


@web.middleware
async def problem_middleware(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                             ) -> web.StreamResponse:
    """Every error leaves as problem details; unexpected ones are logged once, as 500."""
    try:
        return await handler(request)
    except BridgeError as err:
        reply = problem(err.status, err.title, err.detail)
        if isinstance(err, TooManyRequests):  # when to come back
            reply.headers["Retry-After"] = str(err.retry_after)
        return reply
    except web.HTTPException as err:
        if err.status < 400:
            raise
        detail = err.text if err.text and not err.text.startswith(str(err.status)) else err.reason
        return problem(err.status, err.reason, detail or err.reason)
    except RecursionError:  # deeply nested input that reached a parser of its own
        log.warning("input nested too deep on %s %s", request.method, request.path)
        return problem(400, "Invalid request", "input nested too deep")
    except IntegrityError as err:
        log.warning("integrity conflict on %s %s: %s", request.method, request.path,
                    str(err.orig).splitlines()[0][:200])
        return problem(409, "Conflict", "the change conflicts with stored data")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal error", "internal error; it has been logged")


# --------------------------------------------------------------------------- routing


TokenResolver = Callable[[web.Request, str], Awaitable[Principal | None]]


async def _principal(request: web.Request, route: Route, resolver: TokenResolver) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    principal = await resolver(request, token.strip())
    if principal is None:
        raise Unauthorized("token unknown or expired")
    if principal.kind != route.auth:
        raise Unauthorized(f"this route needs a {route.auth} session")
    if principal.kind == "admin":
        admitted = route.roles or OPERATIONS_ROLES
        if principal.role not in admitted:
            raise Forbidden(f"role {principal.role} may not use this route")
    return principal


def _wrap(route: Route,
          resolver: TokenResolver) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        path = dict(request.match_info)
        for name, value in path.items():
            schema = route.path_params.get(name, IDENT_SCHEMA)
            if schema is IDENT_SCHEMA and not _IDENT.match(value):
                raise NotFound(f"no {name} {value!r}")
            if schema.get("type") == "integer" and not (value.isdigit() and len(value) < 18):
                raise NotFound(f"no {name} {value!r}")
            # No key has a control character, and PostgreSQL text cannot hold NUL at all
            # (the query would fail with a 500 instead of finding nothing).
            if any(ord(c) < 32 or c == "\x7f" for c in value):
                raise NotFound(f"no {name} {value!r}")
        principal = await _principal(request, route, resolver) if route.auth else None
        query = None
        if route.query is not None:
            try:
                query = route.query.model_validate(dict(request.query))
            except ValidationError as err:
                raise InvalidRequest("query " + validation_reason(err)) from err
        body = None
        if route.body is not None:
            raw = await request.read()
            try:
                obj = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError) as err:
                raise InvalidRequest("body is not JSON") from err
            except RecursionError as err:
                raise InvalidRequest(f"body nested deeper than {MAX_JSON_DEPTH}") from err
            if json_depth(obj) > MAX_JSON_DEPTH:
                raise InvalidRequest(f"body nested deeper than {MAX_JSON_DEPTH}")
            if not isinstance(obj, dict):
                raise InvalidRequest("body must be a JSON object")
            try:
                body = route.body.model_validate(obj)
            except ValidationError as err:
                raise InvalidRequest("body " + validation_reason(err)) from err
        result = await route.handler(Call(request, principal, body, query, path))
        if isinstance(result, web.StreamResponse):
            return result
        if route.raw:
            raise TypeError(f"raw route {route.operation_id} returned no response")
        return web.json_response(result, status=route.status,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    handle.__name__ = route.operation_id
    return handle


def add_routes(app: web.Application, routes: list[Route], resolver: TokenResolver) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, _wrap(route, resolver))


async def db_token_resolver(request: web.Request, token: str) -> Principal | None:
    from .keys import DB_KEY

    # A read: a deferred transaction, so token checks never queue behind writers.
    async with request.app[DB_KEY].read() as session:
        return await resolve_token(session, token)


# --------------------------------------------------------------------------- document


def _oas30(schema: object) -> object:
    """Pydantic's JSON Schema (2020-12) to OpenAPI 3.0: nullable, $defs -> components."""
    if isinstance(schema, list):
        return [_oas30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return _oas30_object(schema)


def _oas30_object(schema: JsonMapping) -> JsonObject:
    """:func:`_oas30` of a schema object."""
    out: JsonObject = {k: _oas30(v) for k, v in schema.items() if k not in ("$defs", "title")}
    properties = schema.get("properties")
    if isinstance(properties, dict):  # property names are not annotations
        out["properties"] = {k: _oas30(v) for k, v in properties.items()}
    for key in ("anyOf", "oneOf"):
        opts = out.get(key)
        if isinstance(opts, list) and any(o == {"type": "null"} for o in opts):
            rest = [o for o in opts if o != {"type": "null"}]
            out.pop(key)
            if len(rest) == 1:
                only = rest[0]
                merged = (dict(only) if isinstance(only, dict) and "$ref" not in only
                          else {"allOf": [only]})
                out.update(merged)
            else:
                out[key] = rest
            out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    # 2020-12's exclusive bounds are numbers; OpenAPI 3.0's are flags on minimum/maximum.
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        limit = out.get(flag)
        if isinstance(limit, (int, float)) and not isinstance(limit, bool):
            out[bound], out[flag] = limit, True
    ref = out.get("$ref")
    if isinstance(ref, str):
        out["$ref"] = ref.replace("#/$defs/", "#/components/schemas/")
    return out


def _model_components(routes: list[Route]) -> tuple[dict[type[BaseModel], str], JsonObject]:
    """Every body and reply model's schema under ``components/schemas``, and each model's name
    there. One pydantic pass over all of them, so two models that share a class name (a
    mini-program order's ``ClaimBody`` and a coupon's) get names qualified by their module
    instead of one silently describing the other's operation."""
    models = sorted({m for r in routes for m in (r.body, r.response) if isinstance(m, type)},
                    key=lambda m: (m.__module__, m.__qualname__))
    refs, top = models_json_schema([(m, "validation") for m in models],
                                   ref_template="#/components/schemas/{model}")
    names = {m: str(refs[m, "validation"]["$ref"]).rsplit("/", 1)[1] for m in models}
    defs = top.get("$defs", {})
    return names, {name: _oas30(sub) for name, sub in sorted(defs.items())}


def _object_at(parent: JsonMapping, key: str) -> JsonObject:
    """``parent[key]`` where the document holds an object there, else ``{}``."""
    child = parent.get(key)
    return child if isinstance(child, dict) else {}


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def build_document(routes: list[Route], title: str = "Self-checkout cloud bridge") -> JsonObject:
    """The OpenAPI 3.0 document describing ``routes``."""
    names, components = _model_components(routes)
    components["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, JsonObject]] = {}

    def model_ref(model: type[BaseModel]) -> JsonObject:
        return {"$ref": f"#/components/schemas/{names[model]}"}
    problem_ref = {"$ref": "#/components/schemas/Problem"}

    def problem_response(text: str) -> JsonObject:
        return {"description": text, "content": {PROBLEM_TYPE: {"schema": problem_ref}}}

    def success_schema(route: Route) -> JsonMapping:
        if route.response is None:
            return {}
        if isinstance(route.response, type):
            return model_ref(route.response)
        return route.response

    ids = _operation_ids(routes)
    for route in routes:
        responses: JsonObject = {
            str(route.status): {
                "description": "OK",
                **({"content": {route.response_type: {"schema": success_schema(route)}}}
                   if route.response_type else {}),
            },
            "400": problem_response("invalid request"),
            "404": problem_response("not found"),
            "409": problem_response("conflict with the current state"),
        }
        op: JsonObject = {
            "operationId": ids[route.method, route.path],
            "summary": route.summary,
            "tags": [route.tag],
            "responses": responses,
        }
        for status, text in sorted(route.responses.items()):
            responses[str(status)] = (problem_response(text) if status >= 400
                                      else {"description": text})
        params: list[JsonObject] = []
        for name in re.findall(r"{(\w+)}", route.path):
            params.append({"name": name, "in": "path", "required": True,
                           "schema": route.path_params.get(name, IDENT_SCHEMA)})
        if route.query is not None:
            qschema = _oas30_object(route.query.model_json_schema(
                ref_template="#/components/schemas/{model}"))
            listed = qschema.get("required", [])
            required = set(listed) if isinstance(listed, list) else set()
            for name, sub in _object_at(qschema, "properties").items():
                params.append({"name": name, "in": "query", "required": name in required,
                               "schema": sub})
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": model_ref(route.body)}},
            }
        elif route.raw_body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {route.raw_body[0]: {"schema": route.raw_body[1]}}}
        if route.auth:
            op["security"] = [{f"{route.auth}Token": []}]
            responses["401"] = problem_response("missing, unknown or expired token")
            responses["403"] = problem_response("not allowed for this caller")
        elif route.basic_auth:
            op["security"] = [{}, {"kioskBasic": []}]
            responses["401"] = problem_response(
                "credentials required (when configured) and missing or wrong")
        paths.setdefault(route.path, {})[route.method.lower()] = op
    _add_links(routes, paths, components, ids, names)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": __version__,
                 "description": "Admin console (/api/v1/admin) and mini-program (/api/v1/mp) "
                                "APIs. Money is integer fen. Errors are RFC 9457 problem "
                                "details."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "adminToken": {"type": "http", "scheme": "bearer",
                               "description": "from POST /api/v1/admin/session"},
                "mpToken": {"type": "http", "scheme": "bearer",
                            "description": "from POST /api/v1/mp/session"},
                "kioskBasic": {"type": "http", "scheme": "basic",
                               "description": "a kiosk's MQTT username ({store}-{kiosk}) and "
                                              "password; required when the bridge sets "
                                              "[http] kiosk_auth_dir"},
            },
        },
    }


def _operation_ids(routes: list[Route]) -> dict[tuple[str, str], str]:
    """Each operation's id: its handler's name, prefixed with where the handler lives when
    two handlers share a name (``cancel`` of appointments and of after-sales become
    ``service_appointments_cancel`` and ``service_aftersales_cancel``): ids are unique."""
    counts: dict[str, int] = {}
    for route in routes:
        counts[route.operation_id] = counts.get(route.operation_id, 0) + 1
    ids = {}
    for route in routes:
        name = route.operation_id
        if counts[name] > 1:
            parts = [p.removeprefix("api_") for p in route.handler.__module__.split(".")[1:]]
            name = "_".join([p for p in parts if p != "api"] + [name])
        ids[route.method, route.path] = name
    return ids


def _add_links(routes: list[Route], paths: dict[str, dict[str, JsonObject]],
               components: JsonObject, ids: dict[tuple[str, str], str],
               names: dict[type[BaseModel], str]) -> None:
    """OpenAPI links from each create to the operations on what it created (stateful
    clients and the schemathesis state machine follow them): a ``POST /x`` answering 201 or
    200 links to every operation on ``/x/{p}...`` whose only path parameter is ``p``, when its
    reply carries the key, as a property named ``p`` or else ``id`` of the parameter's type."""
    for route in routes:
        reply = route.response
        if route.method != "POST" or not isinstance(reply, type):
            continue
        props = _object_at(_object_at(components, names[reply]), "properties")
        op = paths[route.path]["post"]
        for target in routes:
            rest = target.path.removeprefix(route.path + "/{")
            if rest == target.path or target is route:
                continue
            params = re.findall(r"{(\w+)}", target.path)
            if len(params) != 1 or not rest.startswith(params[0] + "}"):
                continue
            kind = target.path_params.get(params[0], IDENT_SCHEMA).get("type")
            field_name = next((f for f in (params[0], "id")
                               if _object_at(props, f).get("type") == kind), None)
            if field_name is None:
                continue
            success = _object_at(_object_at(op, "responses"), str(route.status))
            links = success.setdefault("links", {})
            if not isinstance(links, dict):
                raise TypeError(f"links of {route.path} is not an object")
            links[ids[target.method, target.path]] = {
                "operationId": ids[target.method, target.path],
                "parameters": {params[0]: f"$response.body#/{field_name}"}}
