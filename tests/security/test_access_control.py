"""Access control: deny by default (every back-office list refuses an anonymous visitor, a
signed-in customer and a staff account whose role holds no permission) and FAB actions that
re-check each row through the view's filters (an id the view hides answers 404 and nothing
changes)."""
from __future__ import annotations

import datetime as dt
import importlib
import inspect

from flask_appbuilder import ModelView

from app.roles import AGENT, MANAGER
from app.views import AREAS
from tests.conftest import csrf_token, staff_login
from tests.portal.conftest import make_account, portal_login


def _lists() -> list[str]:
    """Every back-office list, from the registered areas (views added later are covered)."""
    names = set()
    for module in AREAS:
        for name, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if (issubclass(obj, ModelView) and obj.__module__ == module and not name.startswith("_")
                    and getattr(obj, "datamodel", None)):
                names.add(name.lower())
    return [f"/{name}/list/" for name in sorted(names)] + ["/callcenter/", "/statistics/", "/sales/", "/users/list/"]


def _opened(client) -> list[str]:
    return [url for url in _lists() if client.get(url).status_code == 200]


def test_role_matrix_deny_by_default(app, db, client, make_user, customer_graph):
    assert len(_lists()) > 15
    assert _opened(client) == []  # anonymous
    assert client.get("/customerview/list/").headers["Location"].split("?")[0].endswith("/login/")
    customer = app.test_client()
    assert portal_login(customer, make_account(db, app, customer_graph["customer"]).username).status_code == 302
    assert _opened(customer) == []  # a customer signed in to the portal
    sm = app.appbuilder.sm
    sm.add_role("Nothing granted")
    user, password = make_user("Nothing granted")
    staff = app.test_client()
    staff_login(staff, user.username, password)
    assert _opened(staff) == []  # a role an admin made and gave nothing


def test_actions_re_check_ownership_hidden_row_unchanged(client, db, login_as, make_user):
    from app.models import ActivityKind, ActivityStatus, Contact, ContactKind
    from app.services.crm.activities import assign, create_activity
    from app.services.crm.contacts import create_contact
    from tests import factories

    customer = factories.customer()
    manager, _ = make_user(MANAGER)
    agent = login_as(AGENT)
    colleague, _ = make_user(AGENT)
    theirs = create_activity(ActivityKind.GENERAL, subject="Pratica altrui")
    assign(theirs, manager, colleague, dt.datetime(2030, 1, 1, 9))
    appointment = create_contact(ContactKind.APPOINTMENT, colleague, customer_id=customer.id,
                                 subject="Appuntamento altrui", starts_at=dt.datetime(2030, 1, 2, 9))
    token = csrf_token(client.get("/myactivityview/list/").get_data(as_text=True))
    assert client.get(f"/myactivityview/show/{theirs.id}").status_code == 404  # hidden from the agent
    assert client.post("/myactivityview/action_post", data={
        "action": "take_in_charge", "rowid": [str(theirs.id)], "csrf_token": token}).status_code == 404
    assert client.post(f"/mycontactview/action/cancel_appointment/{appointment.id}",
                       data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(type(theirs), theirs.id).status == ActivityStatus.ASSIGNED
    assert db.session.get(Contact, appointment.id).cancelled is False
    assert agent.id != colleague.id
