"""F-40: each role's permissions are loaded once per process and kept until the roles' version
stamp changes; a staff page runs at most two permission statements, and a role change made by
an admin on the roles page reaches every process at its next request."""
from __future__ import annotations

import contextlib
import re
import uuid

import pytest
import sqlalchemy as sa

from app.roles import ADMIN, CALL_CENTER, MANAGER
from tests import factories
from tests.conftest import IsolatedClient, csrf_token, staff_login

# What a permission check reads: FAB's security tables and the roles' stamp.
PERMISSION_TABLES = re.compile(r"\bab_(permission|permission_view|permission_view_role|view_menu|role|"
                               r"user_role|group|group_role|user_group)\b", re.I)
BUDGET = 2
ROLES_VERSION_KEY = "roles.version"  # the settings row holding the roles' stamp


@contextlib.contextmanager
def statements(engine):
    """Every SQL statement `engine` runs in the block, with its parameters."""
    seen: list[tuple[str, object]] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", _count)


def permission_statements(seen) -> list[str]:
    return [s for s, params in seen
            if PERMISSION_TABLES.search(s) or ROLES_VERSION_KEY in repr(params)]


@pytest.fixture
def customer(db):
    anna = factories.customer(last_name="Bianchi", first_name="Anna", search_name="bianchi anna")
    factories.supply_point(anna, pdr="00881234567890")
    factories.invoice(anna)
    db.session.commit()
    return anna


@pytest.mark.parametrize("role,url", [
    (CALL_CENTER, "/callcenter/customer/{customer}"),  # the call center's customer page
    (CALL_CENTER, "/callcenter/?q=Bianchi"),  # the search
    (MANAGER, "/activityview/list/"),  # a FAB list with filters and row buttons
    (MANAGER, "/"),  # the start page (work queues)
])
def test_F40_a_staff_page_runs_at_most_two_permission_statements(app, db, client, login_as, customer,
                                                                   role, url):
    login_as(role)
    url = url.format(customer=customer.id)
    assert client.get(url).status_code in (200, 302)  # this process has loaded the role
    with statements(db.engine) as seen:
        resp = client.get(url)
    assert resp.status_code in (200, 302)
    assert len(permission_statements(seen)) <= BUDGET, permission_statements(seen)
    # The first request after a role change elsewhere reloads the role: still within budget.
    from app.permissions import renew_stamp

    renew_stamp(db.session)
    db.session.commit()
    with statements(db.engine) as seen:
        assert client.get(url).status_code == resp.status_code
    assert len(permission_statements(seen)) <= BUDGET, permission_statements(seen)


# --- a role an admin changes ------------------------------------------------------------------

SEARCH = ("can_search", "CallCenterView")
RECORD = ("can_record", "CallCenterView")
TIMELINE = ("can_show", "CustomerTimelineView")


@pytest.fixture
def phone_role(app, db):
    """A role of this test's own that may use the call center; removed after the test."""
    sm = app.appbuilder.sm
    name = f"Telefono {uuid.uuid4().hex[:6]}"
    role = sm.add_role(name)
    for perm, view in (SEARCH, RECORD, TIMELINE):
        sm.add_permission_role(role, sm.find_permission_view_menu(perm, view))
    db.session.commit()
    yield role
    role = sm.find_role(name)
    role.permissions = []
    db.session.delete(role)
    db.session.commit()


def _second_app(database_url, tmp_path):
    """Another create_app on the same database: another process (a web worker) for the cache."""
    from app import create_app
    from config import TestConfig

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")
        SETTINGS_DEFAULTS = {"totp_required_roles": ""}

    other = create_app(Cfg)
    other.test_client_class = IsolatedClient
    return other


@pytest.fixture
def other_app(database_url, tmp_path, app):
    other = _second_app(database_url, tmp_path)
    yield other
    from app.extensions import db as _db

    with other.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _operator(app, make_user, role):
    user, password = make_user(CALL_CENTER)
    user.roles = [role]
    app.appbuilder.sm.session.commit()
    return user, password


def _admin_sets_role(app, make_user, role, pairs) -> None:
    """An admin saves the role's form on the roles page with exactly `pairs`."""
    sm = app.appbuilder.sm
    admin, password = make_user(ADMIN)
    browser = app.test_client()
    staff_login(browser, admin.username, password)
    page = browser.get(f"/roles/edit/{role.id}").get_data(as_text=True)
    ids = [str(sm.find_permission_view_menu(p, v).id) for p, v in pairs]
    for value in ids:
        assert f'value="{value}"' in page  # offered by the form
    resp = browser.post(f"/roles/edit/{role.id}", data={"name": role.name, "permissions": ids,
                                                         "csrf_token": csrf_token(page)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def _opens_search(resp) -> bool:
    return resp.status_code == 200 and 'name="q"' in resp.get_data(as_text=True)


def test_F40_a_role_change_on_the_roles_page_reaches_another_process_at_its_next_request(
        app, db, make_user, phone_role, other_app, customer):
    user, password = _operator(app, make_user, phone_role)
    from app.extensions import db as _db

    worker = other_app.test_client()
    with other_app.app_context():
        staff_login(worker, user.username, password)
        assert _opens_search(worker.get("/callcenter/"))
        with statements(_db.engine) as seen:
            assert _opens_search(worker.get("/callcenter/"))
        assert len(permission_statements(seen)) <= BUDGET  # the other process answers from its cache
        _db.session.remove()

    _admin_sets_role(app, make_user, phone_role, [RECORD, TIMELINE])  # in this process

    with other_app.app_context():
        assert not _opens_search(worker.get("/callcenter/"))  # no restart needed
        _db.session.remove()
    _admin_sets_role(app, make_user, phone_role, [SEARCH, RECORD, TIMELINE])
    with other_app.app_context():
        assert _opens_search(worker.get("/callcenter/"))
        _db.session.remove()


def test_F40_revoking_a_permission_acts_at_once(app, db, client, make_user, phone_role, customer):
    user, password = _operator(app, make_user, phone_role)
    staff_login(client, user.username, password)
    timeline = f"/timeline/{customer.id}"
    assert client.get(timeline).status_code == 200
    with statements(db.engine) as seen:
        assert client.get(timeline).status_code == 200
    assert len(permission_statements(seen)) <= BUDGET  # answered from this process's cache

    _admin_sets_role(app, make_user, phone_role, [SEARCH, RECORD])  # the timeline is taken away

    assert client.get(timeline).status_code != 200
    assert _opens_search(client.get("/callcenter/"))


def test_F40_a_users_roles_act_at_their_next_request_in_every_process(app, db, make_user, phone_role,
                                                                       other_app, customer):
    """A user's roles are read with the stamp at each request: giving or taking a role needs no
    restart and no stamp."""
    user, password = _operator(app, make_user, phone_role)
    from app.extensions import db as _db

    worker = other_app.test_client()
    with other_app.app_context():
        staff_login(worker, user.username, password)
        assert _opens_search(worker.get("/callcenter/"))
        _db.session.remove()
    user.roles = [app.appbuilder.sm.find_role(MANAGER)]  # e.g. an admin's user form
    db.session.commit()
    with other_app.app_context():
        assert worker.get("/callcenter/").status_code == 200  # a manager searches too
        assert worker.get("/activityview/list/").status_code == 200  # and lists requests
        _db.session.remove()
    user.roles = [phone_role]
    db.session.commit()
    with other_app.app_context():
        assert worker.get("/activityview/list/").status_code != 200
        _db.session.remove()


def _stamp(db):
    from app.models import Setting

    return db.session.scalar(sa.select(Setting.value).where(Setting.key == ROLES_VERSION_KEY))


def test_F40_init_and_role_changes_in_code_renew_the_stamp(app, db, phone_role, make_user):
    make_user(ADMIN)  # users exist: init creates no first admin
    before = _stamp(db)
    result = app.test_cli_runner().invoke(args=["sportello", "init", "--no-migrate"])
    assert result.exit_code == 0, result.output
    after_init = _stamp(db)
    assert after_init and after_init != before
    # Any change to a role's permissions through the ORM (a script, sync_roles, reset-role).
    sm = app.appbuilder.sm
    sm.add_permission_role(phone_role, sm.find_permission_view_menu("can_list", "CustomerView"))
    assert _stamp(db) != after_init
    renewed = _stamp(db)
    user = factories.customer()  # unrelated writes leave it alone
    db.session.commit()
    assert user.id and _stamp(db) == renewed


def _menu(html: str) -> str:
    return html.split('<nav class="navbar', 1)[1].split("navbar-right", 1)[0]


def test_F40_the_menu_follows_a_role_change_at_the_next_page(app, db, client, make_user, phone_role):
    """The navigation menu is rendered once per set of visible entries (app.views.layout): an
    entry granted to the role after a page was shown appears on the next page, and goes again."""
    user, password = _operator(app, make_user, phone_role)
    staff_login(client, user.username, password)
    assert 'href="/callcenter/"' not in _menu(client.get("/callcenter/").get_data(as_text=True))

    _admin_sets_role(app, make_user, phone_role, [SEARCH, RECORD, TIMELINE, ("menu_access", "Call center"),
                                                   ("menu_access", "CRM")])
    assert 'href="/callcenter/"' in _menu(client.get("/callcenter/").get_data(as_text=True))

    _admin_sets_role(app, make_user, phone_role, [SEARCH, RECORD, TIMELINE])
    assert 'href="/callcenter/"' not in _menu(client.get("/callcenter/").get_data(as_text=True))
