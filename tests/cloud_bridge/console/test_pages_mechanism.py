"""A domain's ``console/PAGES`` become pages with navigation for the roles they name."""

from __future__ import annotations

import types

import pytest

from cloud_bridge import auth
from cloud_bridge.console import pages
from cloud_bridge.console.i18n import LABELS
from cloud_bridge.console.pages import Page, PageError

from .conftest import add_user, login


async def ledger(call):
    return {"rows": [call.principal.role, call.t("fake.label")]}


async def post_action(call):
    await call.audit("fake.action", "x", "ok")
    return {"rows": ["done"]}


@pytest.fixture
def fake_domain(tmp_path, monkeypatch):
    """A domain ``fake`` with two pages and a template, found like a real domain folder."""
    folder = tmp_path / "console"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "ledger.html").write_text(
        '{% extends "base.html" %}{% block content %}<ul id="rows">'
        "{% for r in rows %}<li>{{ r }}</li>{% endfor %}</ul>{% endblock %}")
    module = types.SimpleNamespace(
        __file__=str(folder / "__init__.py"),
        PAGES=[Page("fake/ledger", "账本", "Ledger", ledger, "ledger.html", group="fakes",
                    roles=(auth.HEAD_OFFICE, auth.FINANCE)),
               Page("fake/act", "动作", "Act", post_action, "ledger.html", group="fakes",
                    roles=(auth.FINANCE,), method="POST", nav=False)],
        LABELS={"fake.label": ("假的", "fake")},
        GROUPS={"fakes": ("测试", "Fakes", 5)})
    monkeypatch.setattr(pages, "domain_console_modules", lambda: [("fake", module)])
    pages.registry.cache_clear()
    yield module
    pages.registry.cache_clear()


async def test_domain_page_is_served_and_listed_for_its_roles(fake_domain, console, db):
    await add_user(db, "fin", auth.FINANCE)
    await add_user(db, "clerk", auth.STORE_STAFF, "s1")
    r = await login(console, "fin")
    assert r.status == 200
    home = await console.get("/console/")
    text = await home.text()
    assert 'href="/console/fake/ledger"' in text and "测试" in text  # nav group in zh
    r = await console.get("/console/fake/ledger")
    body = await r.text()
    assert r.status == 200 and "<li>finance</li>" in body and "<li>假的</li>" in body
    assert "<title>账本" in body

    await login(console, "clerk")
    text = await (await console.get("/console/")).text()
    assert "/console/fake/ledger" not in text
    r = await console.get("/console/fake/ledger")
    assert r.status == 403


def test_bad_declarations_stop_the_console_at_start(fake_domain):
    fake_domain.PAGES.append(Page("fake/ledger", "重复", "Dup", ledger, "ledger.html",
                                  group="fakes"))
    with pytest.raises(PageError, match="declared by"):
        pages.registry()
    pages.registry.cache_clear()
    fake_domain.PAGES[-1] = Page("fake/x", "x", "x", ledger, "x.html", group="fakes",
                                 roles=("janitor",))
    with pytest.raises(PageError, match="unknown roles"):
        pages.registry()
    pages.registry.cache_clear()
    fake_domain.PAGES[-1] = Page("Fake/X", "x", "x", ledger, "x.html", group="fakes")
    with pytest.raises(PageError, match="path"):
        pages.registry()


def test_every_label_has_both_languages_and_templates_use_known_keys():
    import re
    from pathlib import Path

    import cloud_bridge.console as console_pkg

    for key, (zh, en) in LABELS.items():
        assert zh.strip() and en.strip(), key
    folder = Path(console_pkg.__file__).parent / "templates"
    used = set()
    for path in folder.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_.0-9]+)'\s*[,)]", path.read_text()))
    assert used and not (used - set(LABELS)), sorted(used - set(LABELS))
