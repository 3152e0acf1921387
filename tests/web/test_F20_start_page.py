"""F-20: the start page shows each role the work queues it may act on; every count is a link
to a list holding exactly that many rows; visitors at the bare domain get the two ways in."""
import re

import pytest

from app.roles import ADMIN, AGENT, BACK_OFFICE, CALL_CENTER, CREDIT_CHECK, MANAGER
from app.services.core import queues
from tests.web.staff_queues import seed_every_queue

QUEUE = re.compile(r'<li class="list-group-item[^"]*" data-queue="([^"]+)"(?: data-count="(\d+)")?>\s*'
                   r'<a href="([^"]+)"[^>]*>([^<]+)</a>')
# Which queues each built-in role meets, written out from SPEC.md's roles (not read from code).
EXPECTED = {
    ADMIN: {"sales.to_validate", "sales.to_approve", "sales.to_activate", "crm.new", "crm.overdue",
            "crm.due_today", "crm.my_overdue", "crm.my_due_today", "sync.refused", "sync.waiting",
            "sync.age", "mailing.refused", "mailing.mail_refused", "portal.mandates"},
    MANAGER: {"crm.new", "crm.overdue", "crm.due_today", "crm.my_overdue", "crm.my_due_today",
              "sync.refused", "sync.waiting", "sync.age", "mailing.refused"},
    BACK_OFFICE: {"sales.to_validate", "sales.to_activate", "crm.new", "crm.overdue", "crm.due_today",
                  "crm.my_overdue", "crm.my_due_today", "sync.refused", "sync.waiting",
                  "mailing.refused", "mailing.mail_refused", "portal.mandates"},
    CREDIT_CHECK: {"sales.to_approve", "crm.my_overdue", "crm.my_due_today"},
    CALL_CENTER: {"crm.my_overdue", "crm.my_due_today"},
    AGENT: {"crm.my_overdue", "crm.my_due_today", "sales.own_draft", "sales.own_processing",
            "sales.own_validated", "sales.own_approved", "sales.own_activated"},
}


def _rows_in(html: str, url: str) -> int:
    """How many records a list page shows: FAB lists link each row's page, the sales list each
    contract's page."""
    if url.startswith("/sales/"):
        return len(set(re.findall(r'href="/sales/contracts/(\d+)"', html)))
    endpoint = url.split("/")[1]
    return len(set(re.findall(rf'href="/{endpoint}/show/(\d+)', html)))


def _queues(html: str) -> dict:
    return {key: {"count": count, "url": url, "text": text.strip()} for key, count, url, text in QUEUE.findall(html)}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_F20_every_count_equals_the_rows_of_its_list(role, client, login_as, db):
    user = login_as(role)
    seed_every_queue(user)
    page = client.get("/")
    assert page.status_code == 200
    shown = _queues(page.get_data(as_text=True))
    assert set(shown) == EXPECTED[role]
    for key, q in shown.items():
        if not q["count"]:
            continue  # the alignment's age is not a number of rows
        count = int(q["count"])
        assert count >= 1, (role, key)  # the seed fills every queue
        assert q["text"].startswith(f"{count} "), q
        listed = client.get(q["url"])
        assert listed.status_code == 200, (role, key, q["url"])
        assert _rows_in(listed.get_data(as_text=True), q["url"]) == count, (role, key, q)


def test_F20_counts_read_as_sentences_in_italian(client, login_as, db):
    seed_every_queue(login_as(BACK_OFFICE))
    shown = _queues(client.get("/").get_data(as_text=True))
    assert shown["sales.to_validate"]["text"] == "3 contratti da convalidare"  # the agent's one too
    assert shown["sales.to_activate"]["text"] == "2 contratti da attivare"
    assert shown["crm.due_today"]["text"] == "1 richiesta in scadenza oggi"
    assert shown["crm.overdue"]["text"] == "2 richieste scadute"
    assert shown["sync.refused"]["text"] == "1 scrittura rifiutata dal sistema di fatturazione"
    assert shown["portal.mandates"]["text"] == "1 mandato di addebito diretto da decidere"
    assert shown["mailing.mail_refused"]["text"] == "1 e-mail a un cliente o al personale rifiutata"


def test_F20_agent_sees_own_contracts_by_state(client, login_as, db):
    user = login_as(AGENT)
    seed_every_queue(user)
    shown = _queues(client.get("/").get_data(as_text=True))
    assert shown["sales.own_draft"]["text"] == "1 mia bozza da completare"
    assert shown["sales.own_draft"]["url"] == "/sales/?status=DRAFT"


def test_F20_alignment_age_in_words(client, login_as, db):
    seed_every_queue(login_as(MANAGER))
    shown = _queues(client.get("/").get_data(as_text=True))
    assert shown["sync.age"]["text"] == "I dati del sistema di fatturazione risalgono a 2 ore fa"


def test_F20_queue_lists_name_the_customer(client, login_as, db):
    user = login_as(ADMIN)
    data = seed_every_queue(user)
    name = data["customer"].display_name
    for url in ("/newactivityview/list/", "/overdueactivityview/list/", "/duetodayactivityview/list/",
                "/failedoutboxview/list/", "/invoiceemaillogview/list/?_flt_0_outcome=FAILED",
                "/mandatequeueview/list/", "/mandateview/list/", "/refusedmailview/list/",
                "/outgoingmailview/list/"):
        assert name in client.get(url).get_data(as_text=True), url
    html = client.get("/validationqueueview/list/").get_data(as_text=True)
    assert "Verdi Giuseppe" in html  # the wizard's customer, before billing has a record


def test_F20_a_new_queue_needs_no_page_edit(client, login_as, db):
    queue = queues.register(queues.Queue(
        "test.extra", lambda n: f"{n} extra things", ("can_list", "ContractView"), lambda user: 7,
        "ContractView.list", area="Extra", order=999))
    try:
        login_as(MANAGER)
        shown = _queues(client.get("/").get_data(as_text=True))
        assert shown["test.extra"] == {"count": "7", "url": "/contractview/list/", "text": "7 extra things"}
    finally:
        queues._QUEUES.pop(queue.key)


def test_F20_bare_domain_offers_portal_and_staff_login(client, db):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="start-portal" href="/portal/"' in html
    assert 'id="start-staff-login" href="/login/"' in html
    assert "Vai all&#39;area clienti" in html or "Vai all'area clienti" in html


def test_F20_customer_account_goes_to_the_portal(client, make_user, db):
    from flask_login import login_user  # noqa: F401 - the portal login is tested elsewhere
    from tests import factories

    user, password = make_user("Customer")
    user.customer_id = factories.customer().id
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
        sess["sv"] = user.session_version or 0
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/home")
