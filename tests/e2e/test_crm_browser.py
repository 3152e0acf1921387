"""F-20 / F-22 in headless Chromium: a manager assigns a customer's request from the back office,
the operator opens it from their list and closes it with a note; the history shows every step
and the customer's "my requests" shows it closed."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import Activity, ActivityKind, ActivityStatus, OutgoingMail
from app.services.crm.activities import create_activity
from tests import factories

pytestmark = pytest.mark.browser


def _staff_login(page, base, user, password):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def test_F22_manager_assigns_operator_closes_in_the_browser(live_server, page, make_user, db, chromium):
    customer = factories.customer(last_name="Galli", first_name="Sara", search_name="galli sara",
                                  tax_code="GLLSRA85M41L219Y")
    factories.invoice(customer, web_code="WEBE2E0001")
    db.session.commit()
    activity = create_activity(ActivityKind.INVOICE_CORRECTION, customer_id=customer.id,
                               subject="Consumi di ottobre troppo alti")
    manager, manager_pw = make_user("Manager")
    operator, operator_pw = make_user("Back office")

    # The manager assigns it with a deadline.
    _staff_login(page, live_server, manager, manager_pw)
    page.goto(f"{live_server}/activityview/show/{activity.id}")
    page.select_option("select[name=assignee]", str(operator.id))
    page.fill("input[name=deadline]", f"{dt.date.today().year + 1}-03-04T16:30")
    page.fill("textarea[name=note]", "Verificare la lettura")
    page.click("button[value=assign]")
    page.wait_for_url(f"**/activityview/show/{activity.id}")
    assert page.locator(".activity-history", has_text="Verificare la lettura").is_visible()
    page.context.clear_cookies()

    # The operator finds it in their list, opens it and closes it with a note.
    _staff_login(page, live_server, operator, operator_pw)
    page.goto(f"{live_server}/myactivityview/list/")
    row = page.locator("table tbody tr", has_text="Consumi di ottobre troppo alti")
    assert row.is_visible() and "Assegnata" in row.inner_text()
    row.locator("a[href*='/myactivityview/show/']").first.click()
    page.wait_for_url(f"**/myactivityview/show/{activity.id}")
    page.fill("textarea[name=note]", "Lettura corretta, bolletta rettificata")
    page.click("button[value=close]")
    page.wait_for_url(f"**/myactivityview/show/{activity.id}")
    history = page.locator(".activity-history tbody tr")
    assert history.count() == 3
    newest = history.first.inner_text()
    assert "Chiusa" in newest and "Lettura corretta, bolletta rettificata" in newest
    assert operator.username in newest
    assert "Assegnata" in history.nth(1).inner_text() and manager.username in history.nth(1).inner_text()

    db.session.expire_all()
    done = db.session.get(Activity, activity.id)
    assert done.status == ActivityStatus.CLOSED and done.closed_at is not None
    assert db.session.scalar(sa.select(OutgoingMail.template).where(
        OutgoingMail.recipients.is_not(None))) == "activity_assigned"

    # The customer sees it closed in "my requests" (portal).
    from app.services.portal import accounts

    user = accounts.register(accounts.Registration(
        web_code="WEBE2E0001", identifier=customer.tax_code, username="sara.galli",
        password="correct horse battery staple", question="Prima scuola?", answer="Dante"))
    assert user is not None
    page.context.clear_cookies()
    page.goto(f"{live_server}/portal/login")
    page.fill("input[name=username]", "sara.galli")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server}/portal/requests")
    mine = page.locator("body", has_text="Consumi di ottobre troppo alti")
    assert mine.is_visible()
    assert "Chiusa" in page.content()
