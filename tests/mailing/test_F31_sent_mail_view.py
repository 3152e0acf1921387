"""F-31: staff read every e-mail that is not an invoice (customer notices, staff e-mails,
invitations) — its kind and state in words, the customer it went to, its text with the link
secrets hidden — and the ones the mail server refused are a start-page queue whose count is the
number of rows of its list."""
import re

import lxml.html
import pytest
import sqlalchemy as sa

from app.models import OutgoingMail
from app.roles import ADMIN, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.services.mailing import mail
from tests import factories
from tests.portal.conftest import customer_graph, mailed_reset_link, make_account, post_form  # noqa: F401 - a fixture
from tests.web.test_F40_menus import menu_links


def _rows(html: str, view: str) -> set[str]:
    return set(re.findall(rf'href="/{view}/show/(\d+)', html))


def _cells(html: str) -> list[str]:
    """The text of the list's cells, as the user reads them."""
    return [td.text_content().strip() for td in lxml.html.fromstring(html).xpath("//table//td")]


def _reset_requested(client, db, customer, smtp_server):
    """The customer asks for a password reset on the portal and receives it: the message row
    and the token of the link in the e-mail (the only place the link ever is)."""
    user = make_account(db, None, customer)
    path = mailed_reset_link(client, smtp_server, user.username)
    row = db.session.scalar(sa.select(OutgoingMail).where(OutgoingMail.template == "password_reset"))
    return row, path.rsplit("/", 1)[1]


def test_F31_refused_notices_are_a_queue_counted_as_its_list(app, client, db, login_as, smtp_server):
    customer = factories.customer(last_name="Bianchi", first_name="Anna", email="anna.bianchi@example.com")
    other = factories.customer(last_name="Verdi", first_name="Carla", email="carla.verdi@example.com")
    db.session.commit()
    smtp_server.refuse["anna.bianchi@example.com"] = (550, "5.1.1 mailbox unavailable")
    for target in (customer, other):
        mail.queue_mail("password_changed", "it", [target.email], {"name": target.first_name})
    db.session.commit()
    mail.deliver_mail()
    refused = db.session.scalars(sa.select(OutgoingMail).where(OutgoingMail.status == "failed")).all()
    assert [r.recipients for r in refused] == [["anna.bianchi@example.com"]]

    login_as(BACK_OFFICE)
    start = client.get("/").get_data(as_text=True)
    link = re.search(r'data-queue="mailing.mail_refused" data-count="(\d+)">\s*<a href="([^"]+)"[^>]*>([^<]+)<',
                     start)
    assert link, "the start page offers no queue of refused e-mails"
    count, url, text = int(link.group(1)), link.group(2), link.group(3).strip()
    assert (count, text) == (1, "1 e-mail a un cliente o al personale rifiutata")
    listed = client.get(url)
    assert listed.status_code == 200
    html = listed.get_data(as_text=True)
    assert len(_rows(html, "refusedmailview")) == count
    assert "Bianchi Anna" in html and "Verdi Carla" not in html  # the customer's name
    assert "Password cambiata" in html and "Rifiutata" in html  # kind and state in words
    cells = _cells(html)
    assert "password_changed" not in cells and "failed" not in cells
    assert "anna.bianchi@example.com: 550 5.1.1 mailbox unavailable" in cells  # what the server answered

    everything = client.get("/outgoingmailview/list/").get_data(as_text=True)
    assert len(_rows(everything, "outgoingmailview")) == 2
    assert "Bianchi Anna" in everything and "Verdi Carla" in everything and "Inviata" in everything
    # A filter by state: only the sent one.
    sent = client.get("/outgoingmailview/list/?_flt_0_status=sent").get_data(as_text=True)
    assert len(_rows(sent, "outgoingmailview")) == 1 and "Verdi Carla" in sent and "Bianchi Anna" not in sent
    # ... and by kind, offered as words.
    search_form = everything.replace("\\u003c", "<").replace("\\u003e", ">").replace('\\"', '"')
    assert '<option value="password_changed">Password cambiata</option>' in search_form
    assert '<option value="failed">Rifiutata</option>' in search_form


def test_F31_a_message_with_a_reset_link_never_shows_the_token(app, client, db, login_as, customer_graph,
                                                               smtp_server):
    portal = app.test_client()
    row, token = _reset_requested(portal, db, customer_graph["customer"], smtp_server)
    login_as(ADMIN)
    page = client.get(f"/outgoingmailview/show/{row.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert token not in html
    assert "Inviata" in html  # sent: the row keeps who and when, never the link
    assert customer_graph["customer"].display_name in html
    listed = client.get("/outgoingmailview/list/").get_data(as_text=True)
    assert token not in listed


def test_F31_a_link_token_in_any_value_is_hidden(app, client, db, login_as):
    customer = factories.customer()
    row = mail.queue_mail("password_reset", "it", [customer.email],
                          {"name": "Mario", "username": "mario", "minutes": 30,
                           "link": "https://sportello.example.it/portal/reset/s3cr3t-t0ken"})
    # An address the kind did not mark secret still carries a token in its query.
    other = mail.queue_mail("activity_assigned", "it", ["operatore@example.com"],
                            {"name": "Luca", "activity_id": 7, "subject": "Bolletta", "kind": "Rettifica",
                             "customer": "Rossi Mario", "deadline": "03/12/26, 16:00", "note": "",
                             "url": "https://sportello.example.it/activityview/show/7?t=abcdef123456"})
    db.session.commit()
    login_as(BACK_OFFICE)
    for r in (row, other):
        html = client.get(f"/outgoingmailview/show/{r.id}").get_data(as_text=True)
        assert "s3cr3t-t0ken" not in html and "abcdef123456" not in html
        assert "[token]" in html


@pytest.mark.parametrize("role", [ADMIN, BACK_OFFICE])
def test_F31_sent_and_refused_e_mails_are_in_the_menu(role, client, db, login_as):
    login_as(role)
    menu = menu_links(client.get("/").get_data(as_text=True))
    assert {"/outgoingmailview/list/", "/refusedmailview/list/"} <= menu


@pytest.mark.parametrize("role", [MANAGER, CREDIT_CHECK, CALL_CENTER])
def test_F31_other_roles_do_not_read_the_e_mails(role, client, db, login_as):
    login_as(role)
    assert "/outgoingmailview/list/" not in menu_links(client.get("/").get_data(as_text=True))
    for url in ("/outgoingmailview/list/", "/refusedmailview/list/"):
        assert client.get(url).status_code in (302, 403), (role, url)


def test_F31_sent_mail_searched_by_customer_and_named_with_one_query(app, client, db, login_as, smtp_server):
    """The list of sent e-mails is searched by a typed customer (name, code, tax code) and names
    each row's customer without one query per row."""
    people = [factories.customer(last_name=last, first_name="Anna", search_name=f"{last.lower()} anna",
                                 tax_code=f"{last[:3].upper()}NNA80A41H501{n}", email=f"{last.lower()}_a@example.com")
              for n, last in enumerate(("Bianchi", "Verdi", "Neri", "Gialli", "Rossi"))]
    db.session.commit()
    for person in people:
        mail.queue_mail("password_changed", "it", [person.email], {"name": person.first_name})
    mail.queue_mail("password_changed", "it", ["bianchixa@example.com"], {"name": "Nessuno"})  # "_" is no wildcard
    db.session.commit()
    mail.deliver_mail()
    login_as(BACK_OFFICE)
    for typed in ("bianchi", people[0].code, people[0].tax_code):
        html = client.get("/outgoingmailview/list/", query_string={"_flt_0_customer": typed}).get_data(as_text=True)
        assert len(_rows(html, "outgoingmailview")) == 1 and "Bianchi Anna" in html, typed
        assert "Verdi Anna" not in html
    none = client.get("/outgoingmailview/list/", query_string={"_flt_0_customer": "Nessuno Cosi"})
    assert none.status_code == 200 and not _rows(none.get_data(as_text=True), "outgoingmailview")

    statements = []

    def count(conn, cursor, statement, *args):
        if "FROM customers" in statement:
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        html = client.get("/outgoingmailview/list/").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(_rows(html, "outgoingmailview")) == 6
    assert all(f"{p.last_name} Anna" in html for p in people)
    assert len(statements) == 1, statements
