"""F-17: prospects — pipeline per role, history, consents, contacts and follow-ups, convert to a
contract, e-mail only with consent, erasure after the retention period, the managers'
statistics and CSV, ownership on every URL."""
import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from app.models import (Activity, ActivityStatus, AuditLog, ConsentChannel, ConsentSource, Contact, Channel,
                        Contract, LostReason, OutgoingMail, Prospect, ProspectHistory, ProspectStatus)
from app.models.base import utcnow
from app.roles import AGENT, BACK_OFFICE, MANAGER
from app.services.sales import prospects as svc
from tests.conftest import csrf_token, staff_login
from tests.sales.helpers import TAX_CODE, agent_for

S = ProspectStatus


def _prospect(user, **kw) -> Prospect:
    values = {"kind": "person", "last_name": "Bianchi", "first_name": "Anna", "tax_code": TAX_CODE,
              "phone": "333 1234567", "email": "anna.bianchi@example.com", "town": "Torino",
              "source": "referral", "notes": "Vuole risparmiare"}
    values.update(kw.pop("values", {}))
    interests = kw.pop("interests", {"gas": 1200, "electricity": 2700})
    return svc.create_prospect(user, values, interests, kw.pop("consents", {}))


@pytest.fixture
def agent(make_user, db):
    user, password = make_user(AGENT)
    agent_for(user)
    return user, password


def _signed_in(app, user, password):
    client = app.test_client()
    staff_login(client, user.username, password)
    return client


def _session_token(app, client) -> str:
    """A valid CSRF token of the client's session (for users whose pages hold no form)."""
    from itsdangerous import URLSafeTimedSerializer

    with client.session_transaction() as session:
        raw = session["csrf_token"]
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def _post(client, page_url, url, **data):
    page = client.get(page_url)
    assert page.status_code == 200, page_url
    data["csrf_token"] = csrf_token(page.get_data(as_text=True))
    return client.post(url, data=data)


# --- the pipeline's transition table, per role ----------------------------------------------------

@pytest.mark.parametrize("start,action,expected", [
    (S.NEW, "contact", S.CONTACTED), (S.NEW, "offer", S.OFFER_MADE), (S.CONTACTED, "offer", S.OFFER_MADE),
    (S.OFFER_MADE, "lose", S.LOST), (S.LOST, "reopen", S.CONTACTED),
])
def test_F17_owner_agent_moves_the_pipeline(start, action, expected, agent, db):
    user, _ = agent
    p = _prospect(user)
    p.status = start
    db.session.commit()
    svc.transition(p, action, user, "fatto", reason=LostReason.PRICE if action == "lose" else None)
    assert p.status == expected
    step = svc.history_of(p)[-1]
    assert (step.from_status, step.to_status, step.action, step.actor_id) == (start, expected, action, user.id)
    assert step.created_at is not None


@pytest.mark.parametrize("start,action", [(S.NEW, "reopen"), (S.CONTACTED, "contact"), (S.WON, "lose"),
                                          (S.LOST, "offer"), (S.WON, "convert"), (S.LOST, "convert")])
def test_F17_steps_not_in_the_table_are_refused(start, action, agent, db):
    user, _ = agent
    p = _prospect(user)
    p.status = start
    db.session.commit()
    with pytest.raises(svc.ProspectError, match="non è possibile"):
        svc.transition(p, action, user, reason=LostReason.PRICE)
    assert p.status == start


@pytest.mark.parametrize("role", [MANAGER, BACK_OFFICE, AGENT])
def test_F17_only_the_owner_moves_a_prospect(role, agent, make_user, db):
    owner, _ = agent
    p = _prospect(owner)
    other, _ = make_user(role)
    if role == AGENT:
        agent_for(other)
    for action in ("contact", "offer", "lose"):
        with pytest.raises(svc.ProspectError, match="Non hai i permessi"):
            svc.transition(p, action, other, reason=LostReason.PRICE)
    with pytest.raises(svc.ProspectError):
        svc.convert(p, other)
    assert p.status == S.NEW and len(svc.history_of(p)) == 1


def test_F17_lost_needs_a_reason_and_keeps_it(agent, db):
    user, _ = agent
    p = _prospect(user)
    with pytest.raises(svc.ProspectError, match="perché"):
        svc.transition(p, "lose", user, "caro")
    svc.transition(p, "lose", user, "Ha un'offerta migliore", reason=LostReason.COMPETITOR)
    assert (p.status, p.lost_reason, p.lost_note) == (S.LOST, LostReason.COMPETITOR, "Ha un'offerta migliore")
    assert p.closed_at is not None
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.entity_type == "prospect",
                                                        AuditLog.action == "lose")) is not None


def test_F17_pipeline_buttons_over_http_with_history_on_the_page(app, agent, db):
    user, password = agent
    p = _prospect(user)
    client = _signed_in(app, user, password)
    url = f"/sales/prospects/{p.id}"
    resp = _post(client, url, f"{url}/action/offer", action="offer")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert "Fatto: Offerta fatta" in page and "Offerta fatta" in page.split('id="prospect-status"')[1][:60]
    resp = _post(client, url, f"{url}/action/lose", action="lose", lost_reason="", reason="")
    page = client.get(url).get_data(as_text=True)
    assert "Scegli perché il potenziale cliente è stato perso." in page
    _post(client, url, f"{url}/action/lose", action="lose", lost_reason="price", reason="Troppo caro")
    page = client.get(url).get_data(as_text=True)
    assert "Prezzo troppo alto – Troppo caro" in page
    history = page.split('id="history"')[1]
    assert history.count(user.username) == 3 and "Inserito" in history and "OFFER_MADE" not in page


# --- access and ownership on every URL ------------------------------------------------------------

def _urls(p_id: int, activity_id: int = 1) -> list[tuple[str, str]]:
    base = f"/sales/prospects/{p_id}"
    return [("GET", base), ("GET", f"{base}/edit"), ("POST", f"{base}/edit"),
            ("POST", f"{base}/action/contact"), ("POST", f"{base}/consent"), ("POST", f"{base}/contact"),
            ("POST", f"{base}/email"), ("POST", f"{base}/follow-up"),
            ("POST", f"{base}/follow-up/{activity_id}/close"), ("POST", f"{base}/convert")]


def test_F17_another_agents_prospect_answers_404_by_url(app, agent, make_user, db):
    owner, _ = agent
    p = _prospect(owner)
    intruder, password = make_user(AGENT)
    agent_for(intruder)
    client = _signed_in(app, intruder, password)
    token = csrf_token(client.get("/sales/prospects/new").get_data(as_text=True))
    for method, url in _urls(p.id):
        resp = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token, "action": "contact"})
        assert resp.status_code == 404, (method, url, resp.status_code)
    listing = client.get("/sales/prospects/").get_data(as_text=True)
    assert "Bianchi" not in listing
    assert "Bianchi" not in client.get("/sales/prospects/export.csv").get_data(as_text=True)
    db.session.refresh(p)
    assert p.status == S.NEW


def test_F17_manager_reads_every_pipeline_but_changes_nothing(app, agent, make_user, db):
    owner, _ = agent
    p = _prospect(owner)
    manager, password = make_user(MANAGER)
    client = _signed_in(app, manager, password)
    listing = client.get(f"/sales/prospects/?agent={p.agent_id}&status=NEW").get_data(as_text=True)
    assert "Bianchi Anna" in listing and p.agent.code in listing
    page = client.get(f"/sales/prospects/{p.id}").get_data(as_text=True)
    assert "Bianchi Anna" in page and 'id="convert"' not in page and 'id="consent-form"' not in page
    token = _session_token(app, client)
    for method, url in _urls(p.id)[1:]:
        if method == "POST":
            resp = client.post(url, data={"csrf_token": token, "action": "contact"})
            assert resp.status_code in (302, 403), (url, resp.status_code)
    db.session.refresh(p)
    assert p.status == S.NEW and p.contract_id is None
    assert client.get("/sales/prospects/new").status_code == 403


@pytest.mark.parametrize("role", [BACK_OFFICE, "Credit check"])
def test_F17_other_roles_have_no_prospect_pages(role, app, agent, make_user, db):
    owner, _ = agent
    p = _prospect(owner)
    user, password = make_user(role)
    client = _signed_in(app, user, password)
    for url in ("/sales/prospects/", f"/sales/prospects/{p.id}", "/sales/prospects/statistics",
                "/sales/prospects/export.csv"):
        assert client.get(url).status_code == 403, url
    assert "/sales/prospects/" not in client.get("/sales/").get_data(as_text=True)


def test_F17_agents_have_prospects_in_the_sales_navigation_managers_in_their_menu(app, agent, make_user, db):
    user, password = agent
    nav = _signed_in(app, user, password).get("/sales/").get_data(as_text=True)
    assert 'href="/sales/prospects/"' in nav.split('class="nav nav-pills"')[1].split("</ul>")[0]
    manager, mpassword = make_user(MANAGER)
    menu = _signed_in(app, manager, mpassword).get("/").get_data(as_text=True).split('<nav class="navbar', 1)[1]
    assert 'href="/sales/prospects/"' in menu and 'href="/sales/prospects/statistics"' in menu
    assert 'href="/sales/prospects/"' not in _signed_in(app, user, password).get("/").get_data(as_text=True) \
        .split('<nav class="navbar', 1)[1].split("navbar-right", 1)[0]


# --- entering, consents, contacts, e-mail, follow-ups ---------------------------------------------

def test_F17_agent_enters_a_prospect_with_services_and_consents(app, agent, db):
    user, password = agent
    client = _signed_in(app, user, password)
    resp = _post(client, "/sales/prospects/new", "/sales/prospects/new", kind="company", company_name="Forno Rossi srl",
                 vat_number="02114560010", phone="011 5550000", town="Asti", source="event",
                 interest_gas="y", consumption_gas="4500", interest_telecom="y", consent_phone="y",
                 consent_source="signed_form")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Prospetto inserito" not in page and "Forno Rossi srl" in page
    assert "Gas metano: 4.500 Smc/anno" in page and "Telecomunicazioni" in page and "Evento o fiera" in page
    consents = page.split('id="consents"')[1].split("</table>")[0]
    assert "Dato" in consents.split('id="consent-phone"')[1].split("</tr>")[0]
    assert "Non chiesto" in consents.split('id="consent-email"')[1].split("</tr>")[0]
    p = db.session.scalar(sa.select(Prospect))
    assert p.vat_number == "02114560010" and {i.service.value: i.annual_consumption for i in p.interests} == \
        {"gas": 4500, "telecom": None}


def test_F17_entry_form_errors_next_to_the_fields(app, agent, db):
    user, password = agent
    client = _signed_in(app, user, password)
    resp = _post(client, "/sales/prospects/new", "/sales/prospects/new", kind="person", last_name="Neri",
                 tax_code="RSSMRA80A01H501X", phone="", email="", source="website")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Il codice fiscale non è valido" in page
    assert db.session.scalar(sa.select(sa.func.count(Prospect.id))) == 0


def test_F17_consent_given_and_revoked_keeps_its_history(agent, db):
    user, _ = agent
    p = _prospect(user)
    svc.set_consent(p, user, ConsentChannel.EMAIL, True, ConsentSource.SIGNED_FORM)
    assert svc.has_consent(p, ConsentChannel.EMAIL)
    assert svc.set_consent(p, user, ConsentChannel.EMAIL, True, ConsentSource.VERBAL) is None  # already given
    svc.set_consent(p, user, ConsentChannel.EMAIL, False, ConsentSource.EMAIL)
    assert not svc.has_consent(p, ConsentChannel.EMAIL)
    rows = [(c.channel, c.given, c.source) for c in p.consents]
    assert rows == [(ConsentChannel.EMAIL, True, ConsentSource.SIGNED_FORM),
                    (ConsentChannel.EMAIL, False, ConsentSource.EMAIL)]
    assert all(c.recorded_at and c.actor_id == user.id for c in p.consents)


def test_F17_email_refused_without_consent_then_sent_with_it(app, agent, smtp_server, db):
    from app.services.mailing.mail import deliver_mail

    user, password = agent
    p = _prospect(user)
    client = _signed_in(app, user, password)
    url = f"/sales/prospects/{p.id}"
    assert "non ha acconsentito a essere contattato per e-mail" in client.get(url).get_data(as_text=True)
    resp = _post(client, url, f"{url}/email", subject="La nostra offerta", body="Ecco i dettagli")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert "Questo potenziale cliente non ha acconsentito a essere contattato per e-mail: registra prima il consenso." in page
    assert db.session.scalar(sa.select(sa.func.count(OutgoingMail.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0
    # a logged e-mail contact is refused the same way
    with pytest.raises(svc.ProspectError):
        svc.log_contact(p, user, __import__("app.models", fromlist=["ContactKind"]).ContactKind.EMAIL, "scritto")
    _post(client, url, f"{url}/consent", channel="email", given="1", source="signed_form")
    resp = _post(client, url, f"{url}/email", subject="La nostra offerta", body="Ecco i dettagli")
    page = client.get(url).get_data(as_text=True)
    assert "E-mail in coda per anna.bianchi@example.com." in page
    deliver_mail()
    [msg] = smtp_server.messages
    assert msg["To"] == "anna.bianchi@example.com" and msg["Subject"] == "La nostra offerta"
    assert "Ecco i dettagli" in msg.get_body(("plain",)).get_content()
    contact = db.session.scalar(sa.select(Contact))
    assert (contact.channel, contact.prospect_id) == (Channel.AGENT, p.id)
    db.session.refresh(p)
    assert p.status == S.CONTACTED
    # revoked: refused again
    _post(client, url, f"{url}/consent", channel="email", given="0", source="email")
    _post(client, url, f"{url}/email", subject="Ancora", body="Ciao")
    assert db.session.scalar(sa.select(sa.func.count(OutgoingMail.id))) == 1


def test_F17_logged_call_is_an_agent_contact_linked_to_the_prospect(app, agent, db):
    user, password = agent
    p = _prospect(user)
    client = _signed_in(app, user, password)
    url = f"/sales/prospects/{p.id}"
    resp = _post(client, url, f"{url}/contact", kind="phone_call", notes="Richiamare a gennaio")
    assert resp.headers["Location"].endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert "Contatto registrato." in page and "Richiamare a gennaio" in page
    contact = db.session.scalar(sa.select(Contact))
    assert (contact.channel, contact.prospect_id, contact.operator_id) == (Channel.AGENT, p.id, user.id)
    db.session.refresh(p)
    assert p.status == S.CONTACTED  # the first contact moves a new prospect on


def test_F17_follow_up_sends_the_invitation_and_its_reminders(app, agent, smtp_server, db):
    from app.services.crm.reminders import send_reminders
    from app.services.mailing.mail import deliver_mail

    user, password = agent
    p = _prospect(user)
    client = _signed_in(app, user, password)
    url = f"/sales/prospects/{p.id}"
    day = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    resp = _post(client, url, f"{url}/follow-up", **{"follow-subject": "Portare il contratto firmato",
                                                      "follow-day": day, "follow-time": "10:30"})
    assert resp.headers["Location"].endswith(url)
    page = client.get(url).get_data(as_text=True)
    assert "Portare il contratto firmato" in page.split('id="follow-ups"')[1].split("</table>")[0]
    activity = db.session.scalar(sa.select(Activity))
    assert (activity.status, activity.assignee_id, activity.prospect_id) == (ActivityStatus.ASSIGNED, user.id, p.id)
    deliver_mail()
    [invite] = smtp_server.messages
    assert invite["To"] == user.email
    ics = next(part for part in invite.walk() if part.get_content_type() == "text/calendar").get_content()
    assert "METHOD:REQUEST" in ics and "DTSTART;TZID=Europe/Rome:" in ics and "T103000" in ics
    counts = send_reminders(now=dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(8)))
    assert counts["reminder"] == 1
    # losing the prospect closes its open follow-ups (no more reminders)
    svc.transition(p, "lose", user, reason=LostReason.UNREACHABLE)
    assert activity.status == ActivityStatus.CLOSED


# --- convert to a contract ------------------------------------------------------------------------

def test_F17_convert_opens_the_wizard_prefilled_and_marks_the_prospect_won(app, agent, db):
    user, password = agent
    p = _prospect(user)
    client = _signed_in(app, user, password)
    url = f"/sales/prospects/{p.id}"
    resp = _post(client, url, f"{url}/convert")
    assert resp.status_code == 302
    match = re.search(r"/sales/contracts/(\d+)/customer$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    form = page.split('id="customer-form"')[1]
    for value in ("Bianchi", "Anna", TAX_CODE, "333 1234567", "anna.bianchi@example.com", "Torino"):
        assert f'value="{value}"' in form, value
    assert "Contratto" in page and "aperto per Bianchi Anna" in page
    supply = client.get(f"/sales/contracts/{match.group(1)}/supply").get_data(as_text=True)
    assert 'value="1200"' in supply
    db.session.refresh(p)
    contract = db.session.get(Contract, int(match.group(1)))
    assert p.status == S.WON and p.contract_id == contract.id and contract.agent_id == p.agent_id
    assert "Convertito in contratto" in client.get(url).get_data(as_text=True)
    # converted once: no second contract
    _post(client, url, f"{url}/convert")
    assert db.session.scalar(sa.select(sa.func.count(Contract.id))) == 1


def test_F17_the_wizard_search_finds_the_agents_own_open_prospects_only(app, agent, make_user, db):
    user, password = agent
    mine = _prospect(user, values={"last_name": "Zanardelli"})
    other_user, _ = make_user(AGENT)
    agent_for(other_user)
    _prospect(other_user, values={"last_name": "Zanardelli", "first_name": "Piero"})
    client = _signed_in(app, user, password)
    page = client.get("/sales/contracts/new?q=zanardelli").get_data(as_text=True)
    results = page.split('id="search-results"')[1].split("</table>")[0]
    assert f'href="/sales/prospects/{mine.id}"' in results and "Apri il potenziale cliente" in results
    assert "Piero" not in results  # another agent's prospect stays hidden
    svc.transition(mine, "lose", user, "", reason=LostReason.PRICE)
    assert mine.status == S.LOST
    page = client.get("/sales/contracts/new?q=zanardelli").get_data(as_text=True)
    assert f"/sales/prospects/{mine.id}" not in page  # a closed prospect is no longer offered


# --- privacy: erasure after the retention period --------------------------------------------------

def test_F17_lost_prospect_personal_data_erased_after_the_retention_period(app, agent, make_user, smtp_server, db):
    import json

    from app.models import ActivityHistory, ContactKind
    from app.services.core import settings
    from app.services.mailing.mail import deliver_mail

    user, password = agent
    p = _prospect(user, consents={"email": (True, "signed_form")})
    svc.update_prospect(p, user, {"kind": "person", "last_name": "Bianchi", "first_name": "Anna", "tax_code": TAX_CODE,
                                  "phone": "347 7654321", "email": "anna.bianchi@example.com", "town": "Torino",
                                  "source": "referral", "notes": "Vuole risparmiare"}, {"gas": 1200})
    svc.log_contact(p, user, ContactKind.PHONE_CALL, "Anna dice che ci pensa", subject="Telefonata con Anna")
    svc.send_email(p, user, "Offerta per Anna Bianchi", "Cara Anna, ecco i dettagli")
    deliver_mail()
    assert [m["To"] for m in smtp_server.messages] == ["anna.bianchi@example.com"]
    follow_up = svc.plan_follow_up(p, user, utcnow() + dt.timedelta(days=3), "Richiamare Anna Bianchi",
                                   note="Anna preferisce la sera")
    svc.close_follow_up(p, user, follow_up.id, note="Anna non risponde")  # its invitation is still queued
    svc.transition(p, "lose", user, "Anna Bianchi ha già un fornitore", reason=LostReason.COMPETITOR)
    keep = _prospect(user, values={"last_name": "Verdi"})  # not lost: kept whatever its age
    keep.created_at = utcnow() - dt.timedelta(days=900)
    db.session.commit()
    settings.update({"prospect_retention_days": 30}, None)
    lost_at = p.closed_at
    assert svc.erase_due(now=lost_at + dt.timedelta(days=29)) == {"erased": 0}
    assert p.last_name == "Bianchi"
    assert svc.erase_due(now=lost_at + dt.timedelta(days=31)) == {"erased": 1}
    db.session.expire_all()
    p = db.session.get(Prospect, p.id)
    assert p.erased_at is not None
    assert [getattr(p, f) for f in ("last_name", "first_name", "tax_code", "phone", "email", "notes", "lost_note")] == [""] * 7
    assert (p.status, p.lost_reason, p.town) == (S.LOST, LostReason.COMPETITOR, "Torino")
    personal = ("Anna", "Bianchi", TAX_CODE, TAX_CODE[-4:], "1234567", "7654321", "anna.bianchi", "risparmiare",
                "fornitore", "sera", "risponde")

    def clean(value) -> bool:
        text = json.dumps(value, ensure_ascii=False, default=str)
        return not any(word in text for word in personal)

    contacts = list(db.session.scalars(sa.select(Contact).where(Contact.prospect_id == p.id)))
    assert len(contacts) == 2 and all(clean([c.subject, c.notes, c.location]) for c in contacts)
    assert clean([h.note for h in p.history])
    follow_up = db.session.get(Activity, follow_up.id)
    assert clean([follow_up.subject, follow_up.contact_name, follow_up.contact_phone, follow_up.contact_email])
    steps = db.session.scalars(sa.select(ActivityHistory).where(ActivityHistory.activity_id == follow_up.id)).all()
    assert len(steps) >= 3 and all(step.note == "" for step in steps)
    # the audit keeps each fact (who, when, which fields) without the values
    rows = db.session.scalars(sa.select(AuditLog).where(sa.or_(
        sa.and_(AuditLog.entity_type == "prospect", AuditLog.entity_id == str(p.id)),
        sa.and_(AuditLog.entity_type == "contact", AuditLog.entity_id.in_([str(c.id) for c in contacts])),
        sa.and_(AuditLog.entity_type == "activity", AuditLog.entity_id == str(follow_up.id))))).all()
    assert [row.changes for row in rows if not clean(row.changes)] == []
    audit = {(row.entity_type, row.action): row for row in rows}
    created = audit["prospect", "create"].changes
    assert {f: created[f] for f in ("last_name", "first_name", "tax_code", "phone", "email")} == {
        f: ["", "[erased]"] for f in ("last_name", "first_name", "tax_code", "phone", "email")}
    assert audit["prospect", "create"].actor_id == user.id and created["town"] == ["", "Torino"]
    assert audit["prospect", "edit"].changes == {"phone": ["[erased]", "[erased]"]}
    assert audit["prospect", "lose"].changes == {"status": [S.CONTACTED.value, S.LOST.value],
                                                 "lost_reason": [None, LostReason.COMPETITOR.value]}
    assert audit["prospect", "erase"].actor_label == "system"
    reader, reader_password = make_user(MANAGER)
    shown = _signed_in(app, reader, reader_password).get(f"/auditlogview/show/{audit['prospect', 'create'].id}")
    assert shown.status_code == 200
    shown = shown.get_data(as_text=True)
    assert shown.count("Dati personali cancellati") >= 5 and "Torino" in shown and "Bianchi" not in shown
    # the e-mail to the prospect keeps neither address nor text; the follow-up's mails keep no text
    mails = db.session.scalars(sa.select(OutgoingMail)).all()
    assert {m.template for m in mails} >= {"prospect_message", "activity_assigned"}
    assert all(clean([m.recipients, m.context, m.ics]) for m in mails)
    [to_prospect] = [m for m in mails if m.template == "prospect_message"]
    assert (to_prospect.recipients, to_prospect.status) == ([], "sent")
    deliver_mail()  # the invitation still queued at erasure time is not sent any more
    assert len(smtp_server.messages) == 1
    assert db.session.get(Prospect, keep.id).last_name == "Verdi"
    assert svc.erase_due(now=lost_at + dt.timedelta(days=400)) == {"erased": 0}  # once
    # the anonymous row still counts, and its page says what happened
    manager = db.session.get(type(user), user.id)
    stats = svc.statistics(manager)
    assert stats.total.lost == 1 and stats.total.entered == 2
    page = _signed_in(app, user, password).get(f"/sales/prospects/{p.id}").get_data(as_text=True)
    assert "I dati personali di questo potenziale cliente sono stati cancellati" in page
    assert 'id="action-reopen"' not in page and "Anna" not in page


def test_F17_the_prospects_job_is_scheduled_and_calls_the_erasure(app, db):
    from app.jobs import get_job

    job = get_job("prospects")
    assert job.trigger(app)["trigger"] == "cron"
    assert job.func() == {"erased": 0}


# --- managers: statistics and CSV -----------------------------------------------------------------

def _at(year, month, day=15):
    return dt.datetime(year, month, day, 10, 0)


def test_F17_manager_statistics_equal_a_hand_count(app, agent, make_user, db):
    one, _ = agent
    two, _ = make_user(AGENT)
    agent_for(two)
    plan = [  # (owner, entered, outcome, decided)
        (one, _at(2026, 10, 3), "won", _at(2026, 10, 20)),
        (one, _at(2026, 10, 5), "lost", _at(2026, 11, 2)),
        (one, _at(2026, 10, 9), None, None),
        (one, _at(2026, 11, 1), "won", _at(2026, 11, 10)),
        (two, _at(2026, 10, 12), "lost", _at(2026, 10, 30)),
        (two, _at(2026, 11, 4), None, None),
    ]
    for owner, entered, outcome, decided in plan:
        p = _prospect(owner)
        p.created_at = entered
        if outcome:
            p.status, p.closed_at = (S.WON if outcome == "won" else S.LOST), decided
    db.session.commit()
    manager, password = make_user(MANAGER)
    client = _signed_in(app, manager, password)
    a1, a2 = (svc.agent_of(u) for u in (one, two))
    expected = {  # by hand: (month, agent code) -> entered, won, lost, rate
        ("2026-11", a1.code): (1, 1, 1, "50,0%"),
        ("2026-11", a2.code): (1, 0, 0, "–"),
        ("2026-10", a1.code): (3, 1, 0, "100,0%"),
        ("2026-10", a2.code): (1, 0, 1, "0,0%"),
    }
    page = client.get("/sales/prospects/statistics").get_data(as_text=True)
    table = page.split('id="prospect-stats"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\S+) [^<]*</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>"
                      r"<td[^>]*>(\d+)</td>\s*<td[^>]*>([^<]*)</td></tr>", table)
    got = {(m, code): (int(e), int(w), int(lo), r) for m, code, e, w, lo, r in rows}
    labels = {"2026-11": "Novembre 2026", "2026-10": "Ottobre 2026"}
    assert got == {(labels[m], c): v for (m, c), v in expected.items()}
    assert re.search(r'id="total-entered">6<.*id="total-won">2<.*id="total-lost">2<.*id="total-rate">50,0%<',
                     table, re.S)
    one_agent = client.get(f"/sales/prospects/statistics?agent={a2.id}").get_data(as_text=True)
    assert a1.code not in one_agent.split('id="prospect-stats"')[1]
    body = client.get("/sales/prospects/statistics.csv?month=2026-10").get_data(as_text=True).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert lines[0] == ["month", "agent", "entered", "won", "lost", "conversion_rate"]
    assert sorted(lines[1:]) == sorted([["2026-10", a1.code, "3", "1", "0", "1.0000"],
                                        ["2026-10", a2.code, "1", "0", "1", "0.0000"]])


def test_F17_csv_export_neutralises_formulas(app, agent, make_user, db):
    user, _ = agent
    _prospect(user, values={"last_name": "=HYPERLINK(\"http://x\")", "first_name": "", "town": "+39 Roma",
                            "phone": "", "email": "@evil@example.com"})
    _prospect(user, values={"last_name": "-Neri", "town": "\tTab", "email": "ok@example.com"})
    manager, password = make_user(MANAGER)
    body = _signed_in(app, manager, password).get("/sales/prospects/export.csv")
    assert body.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    cells = [c for row in rows[1:] for c in row]
    assert "'=HYPERLINK(\"http://x\")" in cells, cells
    assert "'+39 Roma" in cells and "'-Neri Anna" in cells and "'@evil@example.com" in cells
    assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") for c in cells)
    assert svc.safe_cell("\rx") == "'\rx" and svc.safe_cell("\nx") == "'\nx" and svc.safe_cell("Roma") == "Roma"
    assert "Nuovo" in cells  # states readable, not enum names
