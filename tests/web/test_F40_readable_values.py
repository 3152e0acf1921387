"""F-40: readable values on every staff page.

Every view registered in the back office (discovered from the app, not listed here) is rendered
for seeded data with at least one row each, list and detail, as an admin; the /sales/ pages as an
agent; in Italian and English. No page may show `None`, `True`/`False`, a dict or list repr, an
enum value, an e-mail template key or another raw key, an ISO date-time (`T`, fractions of a
second) or an amount in the wrong locale's format.
"""
from __future__ import annotations

import re

import lxml.html
import pytest
from flask_appbuilder.api import BaseApi
from flask_appbuilder.baseviews import BaseCRUDView

from app.models.base import LabeledEnum
from app.roles import ADMIN, AGENT
from tests.web.readable_seed import seed_every_view

# Elements whose text is code or a form's own value, not a value shown to read.
SKIP_TAGS = {"script", "style", "code", "pre", "textarea", "option", "noscript", "template"}
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T| )\d{2}:\d{2}|\d{2}:\d{2}:\d{2}\.\d+")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
REPR = re.compile(r"\{'|\{\"|\['|\[\"|\[\]|\{\}|<app\.models|object at 0x")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
URL = re.compile(r"https?://\S+")
DOT_EURO = re.compile(r"\d\.\d{2}\s?€|€\s?\d+\.\d{2}\b")
COMMA_EURO = re.compile(r"\d,\d{2}\s?€|€\s?\d+,\d{2}\b")
# Status words stored as plain strings (runs, e-mails, jobs) and not as enums.
RAW_WORDS = {"ok", "failed", "running", "sent", "pending", "sending", "interrupted", "job", "cli",
             "login", "manual", "it", "en"}


def _enum_values() -> set[str]:
    values, todo = set(), list(LabeledEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        values.update(m.value for m in cls)
    return values


def _texts(html: str):
    """Each visible text of the page's body, by element."""
    doc = lxml.html.fromstring(html)
    body = doc.find("body") if doc.find("body") is not None else doc
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in SKIP_TAGS:
            continue
        if any(a.tag in SKIP_TAGS for a in el.iterancestors()):
            continue
        for text in (el.text, el.tail if el.getparent() is not None and el.getparent().tag not in SKIP_TAGS else None):
            text = " ".join((text or "").split())
            if text:
                yield el.tag, text


def problems(html: str, language: str, forbidden: set[str]) -> list[str]:
    """What a user would notice as not readable on the page."""
    found = []
    for tag, text in _texts(html):
        text = JINJA.sub("", text)  # a message template's own source, as the admin edits it
        if text in forbidden or text in RAW_WORDS:
            found.append(f"raw value {text!r}")
        if text in ("None", "True", "False") or (language == "it" and re.search(r"\b(None|True|False)\b", text)):
            found.append(f"Python value in {text!r}")
        for pattern, what in ((ISO_DATETIME, "ISO date-time"), (ISO_DATE, "ISO date"), (REPR, "repr"),
                              (RAW_KEY, "raw key")):
            if pattern.search(URL.sub("", text)):  # an address (the billing URL) is shown as it is
                found.append(f"{what} in {text!r}")
        if (DOT_EURO if language == "it" else COMMA_EURO).search(text):
            found.append(f"amount in the wrong format in {text!r}")
    return found


def _rules(app, prefix: str):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(prefix) and "GET" in (rule.methods or ()):
            yield rule


def _fill(rule, values: dict) -> str | None:
    from flask import url_for

    args = {}
    for name in rule.arguments:
        if name not in values:
            return None
        args[name] = values[name]
    return url_for(rule.endpoint, **args)


# Pages that are not pages: downloads, redirects, raw parts, API.
NOT_PAGES = re.compile(r"\.(download|csv|document|commissions_pdf|html|part|raw|api\w*|action|delete|"
                       r"back|login|logout|this_form_post)$|^LocaleView\.")


def staff_pages(app, client, seeds) -> tuple[list[str], list]:
    """The URLs of every GET page of every registered view (lists, then each list's first detail)."""
    views = [v for v in app.appbuilder.baseviews if not isinstance(v, BaseApi)]
    values = {"customer_id": seeds["customer"].id, "job_id": "alignment", "name": "missing"}
    urls = []
    for view in views:
        if isinstance(view, BaseCRUDView):
            list_url = f"{view.route_base}/list/"
            urls.append(list_url)
            page = client.get(list_url).get_data(as_text=True)
            assert "action_check" in page or "/show/" in page or "<td" in page, f"no row in {list_url}: seed one"
            if "can_show" not in view.base_permissions:
                continue
            show = re.search(rf'href="({re.escape(view.route_base)}/show/[^"?]+)', page)
            assert show, f"no row to show in {list_url}: seed one"
            urls.append(show.group(1))
            continue
        for rule in _rules(app, f"{view.endpoint}."):
            if NOT_PAGES.search(rule.endpoint):
                continue
            url = _fill(rule, values)
            if url:
                urls.append(url)
    return urls, views


def sales_pages(app, seeds) -> list[str]:
    from app.services.sales import wizard

    contract = seeds["draft"]
    urls = []
    for rule in _rules(app, "sales."):
        if NOT_PAGES.search(rule.endpoint):
            continue
        if "step" in rule.arguments:
            urls += [_fill(rule, {"contract_id": contract.id, "step": s}) for s in wizard.STEPS]
            continue
        url = _fill(rule, {"contract_id": seeds["contracts_by_agent"].id, "prospect_id": seeds["prospect"].id})
        if url:
            urls.append(url)
    return urls


def _render(client, urls, language, forbidden, report):
    client.get(f"/lang/{language}")
    rendered = 0
    for url in urls:
        resp = client.get(url)
        if resp.status_code != 200 or not resp.content_type.startswith("text/html"):
            # The commission reconciliation is the managers' (an agent gets the sales 403 page).
            allowed = (200, 302, 403, 404) if "/sales/commissions/reconciliation" in url else (200, 302, 404)
            assert resp.status_code in allowed, (url, resp.status_code)
            continue
        rendered += 1
        for issue in problems(resp.get_data(as_text=True), language, forbidden):
            report.append(f"{language} {url}: {issue}")
    return rendered


@pytest.mark.sweep
def test_F40_every_staff_page_shows_readable_values(app, client, db, make_user, login_as, capsys):
    from flask import current_app

    from app.services.mailing import mail
    from app.services.sales import wizard
    from tests.conftest import staff_login

    agent_user, agent_password = make_user(AGENT)
    admin = login_as(ADMIN)
    seeds = seed_every_view(admin, agent_user)
    seeds["draft"] = wizard.new_draft(agent_user)
    seeds["contracts_by_agent"] = next(iter(seeds["contracts"].values()))
    forbidden = (_enum_values() | set(mail.template_names())) - {""}
    report: list[str] = []
    with current_app.test_request_context():
        urls, views = staff_pages(app, client, seeds)
    staff = {lang: _render(client, urls, lang, forbidden, report) for lang in ("it", "en")}
    sales_client = app.test_client()
    staff_login(sales_client, agent_user.username, agent_password)
    with current_app.test_request_context():
        sales = sales_pages(app, seeds)
    sales_count = {lang: _render(sales_client, sales, lang, forbidden, report) for lang in ("it", "en")}
    with capsys.disabled():
        print(f"\nreadable values: {staff['it']} staff pages and {sales_count['it']} /sales/ pages per "
              f"language rendered for {len(views)} registered views")
    assert not report, "\n".join(report)
    assert staff["it"] >= len(views), (staff, len(views))
    assert staff["en"] == staff["it"] and sales_count["it"] >= 5


def test_F40_role_form_and_page_name_permissions_by_area(app, client, db, login_as):
    login_as(ADMIN)
    role = app.appbuilder.sm.find_role("Back office")
    for url in (f"/roles/show/{role.id}", f"/roles/edit/{role.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "Dati di fatturazione" in page and "Clienti" in page, url
        assert "can list on CustomerView" not in page and "can_list" not in page, url
    assert "Dati di fatturazione · Clienti: elenco" in page  # the form's choices


def test_F40_login_asks_in_the_users_language(app, client, db):
    resp = client.get("/sales/", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Accedi per aprire questa pagina." in page
    assert "Please log in" not in page


def test_F40_a_role_saved_from_the_form_keeps_the_chosen_permissions(app, client, db, login_as):
    from tests.conftest import csrf_token

    login_as(ADMIN)
    sm = app.appbuilder.sm
    role = sm.add_role("Field team")
    wanted = [sm.find_permission_view_menu("can_list", "CustomerView"),
              sm.find_permission_view_menu("can_show", "CustomerView")]
    form = client.get(f"/roles/edit/{role.id}").get_data(as_text=True)
    resp = client.post(f"/roles/edit/{role.id}", data={"csrf_token": csrf_token(form), "name": "Field team",
                                                       "permissions": [str(pv.id) for pv in wanted]})
    assert resp.status_code == 302
    db.session.expire_all()
    held = {(pv.permission.name, pv.view_menu.name) for pv in sm.find_role("Field team").permissions}
    assert held == {("can_list", "CustomerView"), ("can_show", "CustomerView")}
    page = client.get(f"/roles/show/{role.id}").get_data(as_text=True)
    assert "Clienti" in page and "dettaglio, elenco" in page
