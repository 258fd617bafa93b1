"""The OpenAPI document's links, followed against a running ``cloud-bridge serve``: create
something, then act on what was created (read it, change it, pay it, cancel it) with the
key the reply carried. Every reply must fit the document; and
the links must lead somewhere (a link whose target answers 404 for the key just created is
a broken link, which the single-operation fuzz run cannot see)."""

from __future__ import annotations

import pytest
import requests
from hypothesis import Phase, settings
from hypothesis.errors import Flaky
from schemathesis.core.failures import FailureGroup

from cloud_bridge.app import all_routes
from cloud_bridge.config import BridgeConfig
from cloud_bridge.openapi import build_document

from .mp_pay.sandbox_proc import payment_sandbox_env
from .test_openapi_fuzz import CHECKS, _problem, budget, load_schema, served

__all__ = ["payment_sandbox_env", "served"]


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
            own = set(model.model_json_schema().get("properties", {}))
            assert fields == own, (route.method, route.path, ref)
    # The price-book upload takes any object and is documented as the PriceBook it must be.
    upload = doc["paths"]["/api/v1/admin/stores/{store}/catalog"]["put"]["requestBody"]
    name = upload["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"version", "products"} <= set(doc["components"]["schemas"][name]["properties"])


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


# Scenarios the state machine plays on PostgreSQL (half as many on SQLite when both are
# tested: ``budget``), each up to this many linked calls.
SCENARIOS = 120
STEPS = 6


@pytest.mark.timeout(600)
def test_links_lead_to_what_was_created(served, db_url, pg_session_url):
    """Schemathesis' state machine over the document's links: creates, then calls along
    their links with the key each reply carried (the other inputs generated). Every reply
    must fit the document, and a read of what was just created (``GET .../{key}``) must
    find it."""
    base, admin, mp, proc = served
    wanted = budget(SCENARIOS, db_url, pg_session_url)
    # Logging out would end the token every other call uses (a CI run's admin calls all
    # answered 401 after some scenario did), as in the fuzz.
    schema = load_schema(base).exclude(method="DELETE", path="/api/v1/admin/session")
    # Only the links the document declares: a check of ours, not of schemathesis' guesses.
    schema.config.phases.stateful.inference.algorithms = []
    session = requests.Session()
    failures: list[str] = []
    created: dict[str, int] = {}
    followed: dict[str, set[int]] = {}
    broken: list[str] = []
    scenarios = 0

    class Links(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            token = admin if case.path.startswith("/api/v1/admin") else mp
            # On the case as well: in CI some calls went out with no Authorization at all
            # when it was only passed to the call.
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            return {"session": session, "timeout": 10,
                    "headers": {"Authorization": f"Bearer {token}"}}

        def step(self, input):
            output = super().step(input)
            case, status = input.case, output.response.status_code
            if input.transition is None:
                if 200 <= status < 300 and case.method == "POST":
                    created[case.operation.label] = created.get(case.operation.label, 0) + 1
            elif input.is_applied:
                followed.setdefault(case.operation.label, set()).add(status)
                keys = [name for name in case.path_parameters
                        if case.path.endswith("{" + name + "}")]
                if case.method == "GET" and keys and status == 404:
                    broken.append(f"{input.transition.parent_id} -> {case.operation.label} "
                                  f"{case.path_parameters}: {output.response.text[:200]}")
            return output

        def teardown(self):
            nonlocal scenarios
            scenarios += 1
            super().teardown()

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(response, checks=CHECKS,
                                       headers=kwargs.get("headers"))
            except FailureGroup as err:
                failures.append(_problem(case.operation, case, response, err))

    # The server's state decides which links can be followed, so Hypothesis sometimes sees
    # the same draws lead elsewhere and stops with Flaky; schemathesis' own runner then
    # starts a new suite, and so does this, until the scenarios are played.
    def reached() -> set[str]:
        return {op for op, statuses in followed.items() if any(200 <= s < 300 for s in statuses)}

    # Which links a random scenario follows to a success is chance: a CI run's budget
    # reached only 4 operations. Short of 5 creates or 5 reached operations, more
    # scenarios are played (up to 4x the budget), so a miss means links that do not work.
    def more() -> bool:
        return scenarios < wanted or (
            (len(created) < 5 or len(reached()) < 5) and scenarios < 4 * wanted)

    restarts = 0
    while more():
        try:
            Links.run(settings=settings(max_examples=max(wanted - scenarios, 10), deadline=None,
                                        stateful_step_count=STEPS, database=None,
                                        phases=[Phase.generate]))
        except Flaky:
            restarts += 1
            assert restarts <= 20, f"{scenarios} scenarios in {restarts} suites"
    assert proc.proc.poll() is None, "the server died"
    assert not failures, "\n".join(failures[:10])
    assert not broken, "\n".join(broken[:10])
    # Creates succeeded and their links were followed to replies that used the key.
    assert len(created) >= 5, created
    assert len(reached()) >= 5, followed
