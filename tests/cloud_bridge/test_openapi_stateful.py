"""The OpenAPI document's links, followed against a running ``cloud-bridge serve``: create
something, then act on what was created (read it, change it, pay it, cancel it) with the
key the reply carried. Every reply must fit the document; and
the links must lead somewhere (a link whose target answers 404 for the key just created is
a broken link, which the single-operation fuzz run cannot see)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cloud_bridge.app import all_routes
from cloud_bridge.config import BridgeConfig
from cloud_bridge.openapi import build_document

from .mp_pay.sandbox_proc import payment_sandbox_env
from .test_openapi_fuzz import CHECKS, _hypothesis_jsonschema_compat, _problem, served

__all__ = ["_hypothesis_jsonschema_compat", "payment_sandbox_env", "served"]


def _links(doc: dict) -> list[tuple[str, str, dict]]:
    return [(f"{method.upper()} {path}", name, link)
            for path, ops in doc["paths"].items() for method, op in ops.items()
            for reply in op["responses"].values()
            for name, link in reply.get("links", {}).items()]


def test_operation_ids_are_unique_and_links_name_real_operations():
    doc = build_document(all_routes(BridgeConfig()))
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    by_id = {op["operationId"]: path for path, ops in doc["paths"].items() for op in ops.values()}
    links = _links(doc)
    # A create links to what acts on its result, e.g. a mini-program order to paying it.
    assert ("POST /api/v1/mp/orders", "pay_order",
            {"operationId": "pay_order",
             "parameters": {"order_no": "$response.body#/order_no"}}) in links
    assert len(links) >= 40
    for source, _name, link in links:
        target = by_id[link["operationId"]]
        (param, expr), = link["parameters"].items()
        assert "{" + param + "}" in target, (source, link)
        assert expr.startswith("$response.body#/"), (source, link)


def test_each_model_has_its_own_schema():
    """Two request models sharing a class name (the order claim's and the coupon claim's
    ``ClaimBody``) once shared one component, so the document described the order claim
    with the coupon's body and every client sent the wrong fields."""
    routes = all_routes(BridgeConfig())
    doc = build_document(routes)
    owner: dict[str, type] = {}
    for route in routes:
        ops = doc["paths"][route.path][route.method.lower()]
        for model, schema in (
                (route.body, ops.get("requestBody", {}).get("content", {})
                 .get("application/json", {}).get("schema")),
                (route.response, next(iter(ops["responses"][str(route.status)].get(
                    "content", {}).values()), {}).get("schema"))):
            if not isinstance(model, type):
                continue
            ref = schema["$ref"]
            assert owner.setdefault(ref, model) is model, (ref, owner[ref], model)
            fields = set(doc["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {}))
            assert fields == set(model.model_fields), (route.method, route.path, ref)


def test_bounds_are_openapi_30():
    """OpenAPI 3.0 flags an exclusive bound on ``minimum``/``maximum``; a number there (JSON
    Schema 2020-12, as pydantic writes ``gt=0``) made schemathesis refuse the flash-sale,
    group-deal, coupon-template and campaign bodies, so nothing fuzzed them."""
    stack: list[object] = [build_document(all_routes(BridgeConfig()))]
    flags = 0
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
                if flag in node:
                    assert node[flag] is True and bound in node, node
                    flags += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    assert flags > 0


def _pointer(body: object, expr: str) -> object:
    """The value a link's ``$response.body#/a/b`` expression names in a reply body."""
    value = body
    for part in expr.removeprefix("$response.body#/").split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]  # type: ignore[index]
    return value


# Per create operation: enough generated bodies that some are accepted (a random body is
# mostly refused for its content, which the single-operation fuzz run covers).
MAX_EXAMPLES = 6


@pytest.mark.timeout(600)
def test_links_lead_to_what_was_created(served):
    """For every create with links: generated requests; each one that succeeds is followed
    along every link with the key from its reply (the followers' other inputs generated
    too). Every reply must fit the document, and a read of what was just created
    (``GET .../{key}``) must find it."""
    base, admin, mp, proc = served
    schema = schemathesis.from_uri(base + "/api/v1/openapi.json", base_url=base)
    by_id = {r.ok().definition.raw["operationId"]: r.ok() for r in schema.get_all_operations()}
    session = requests.Session()
    failures: list[str] = []
    created: dict[str, int] = {}
    followed: dict[str, set[int]] = {}

    def call(case) -> requests.Response:
        token = admin if case.path.startswith("/api/v1/admin") else mp
        response = case.call(session=session, headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as err:
            failures.append(_problem(case.operation, case, response, err))
        return response

    def follow(source, status: str, links: list) -> None:
        # Everything is drawn before any call, so what Hypothesis generates never depends
        # on the server's state (a stateful server under a state machine makes Hypothesis
        # see "inconsistent data generation").
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=source.as_strategy(),
               followers=st.tuples(*(target.as_strategy() for target, _, _ in links)))
        def run(case, followers) -> None:
            response = call(case)
            if response.status_code != int(status):
                return
            created[source.verbose_name] = created.get(source.verbose_name, 0) + 1
            body = response.json()
            for (target, param, expr), follower in zip(links, followers, strict=True):
                follower.path_parameters = {**(follower.path_parameters or {}),
                                            param: _pointer(body, expr)}
                answer = call(follower)
                followed.setdefault(target.verbose_name, set()).add(answer.status_code)
                if target.method.upper() == "GET" and target.path.endswith(f"{{{param}}}"):
                    assert answer.status_code == 200, (
                        f"{source.verbose_name} created {param}={_pointer(body, expr)!r} "
                        f"but {target.verbose_name} answers {answer.status_code} "
                        f"{answer.text[:200]}")

        run()

    for result in schema.get_all_operations():
        source = result.ok()
        status, reply = next(((st_, r) for st_, r in source.definition.raw["responses"].items()
                              if st_.startswith("2")), ("", {}))
        links = [(by_id[link["operationId"]], *next(iter(link["parameters"].items())))
                 for link in reply.get("links", {}).values()]
        if links:
            follow(source, status, links)
    assert proc.proc.poll() is None, "the server died"
    assert not failures, "\n".join(failures[:10])
    # Creates succeeded and their links were followed to replies that used the key.
    assert len(created) >= 5, created
    reached = {op for op, statuses in followed.items() if any(200 <= s < 300 for s in statuses)}
    assert len(reached) >= 5, followed
