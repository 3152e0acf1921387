"""F-14 / F-53: customers deleted or merged in billing reach the local copy at the next
alignment: archived with their history, never dropped; a merge hands the portal account and the
requests to the surviving customer. The deletion and merge tests run once on each billing flavour
(`each_billing_sim`: NAV's Change Log Entry, SAP's archiving flag)."""
import sqlalchemy as sa

from app.models import Activity, ActivityKind, Customer, SportelloUser
from app.services.crm.activities import create_activity
from app.services.portal import accounts
from app.services.sync.alignment import align
from tests.portal.conftest import PASSWORD, make_account, portal_login

CLOSED = "Il tuo contratto di fornitura è stato chiuso"


def _two_customers(db):
    assert align(full=True).status == "ok"
    return db.session.scalars(sa.select(Customer).order_by(Customer.code).limit(2)).all()


def _nav_key(sim, code: str) -> str:
    """The simulator's own key of a customer or supply point (its control endpoint takes
    those); SAP names them business partner 0000000001, installation 4000000001."""
    if sim.flavour != "sap":
        return code
    from simulator.sap import anlage_no, partner_no

    return anlage_no(code) or partner_no(code)


def test_F53_customer_deleted_in_billing_is_archived_after_the_next_alignment(each_billing_sim,
                                                                               db, client, app):
    sim = each_billing_sim
    victim, _ = _two_customers(db)
    user = make_account(db, app, victim)
    activity = create_activity(ActivityKind.GENERAL, customer_id=victim.id, subject="Richiesta")
    db.session.commit()
    assert portal_login(client, user.username).status_code == 302
    client.get("/portal/logout")
    sim.delete("customer", _nav_key(sim, victim.code))
    assert align().status == "ok"
    db.session.expire_all()
    victim = db.session.get(Customer, victim.id)
    assert victim is not None and victim.archived_at is not None  # kept, with its history
    assert db.session.get(Activity, activity.id).customer_id == victim.id
    assert db.session.get(SportelloUser, user.id).active is False
    page = portal_login(client, user.username).get_data(as_text=True)
    assert CLOSED in page and "/portal/home" not in page
    assert "Nome utente o password errati" in portal_login(client, user.username, "wrong pw!").get_data(
        as_text=True)  # a wrong password learns nothing
    assert align().status == "ok"  # applying it again changes nothing


def test_F53_merge_in_billing_moves_account_and_requests_to_the_survivor(each_billing_sim, db,
                                                                        client, app):
    duplicate, survivor = _two_customers(db)
    user = make_account(db, app, duplicate)
    activity = create_activity(ActivityKind.GENERAL, customer_id=duplicate.id, subject="Richiesta")
    db.session.commit()
    moved = [sp.code for sp in duplicate.supply_points]
    each_billing_sim.delete("customer", _nav_key(each_billing_sim, duplicate.code),
                            merged_into=_nav_key(each_billing_sim, survivor.code))
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(Customer, duplicate.id).merged_into_code == survivor.code
    assert db.session.get(Activity, activity.id).customer_id == survivor.id
    assert db.session.get(SportelloUser, user.id).customer_id == survivor.id
    assert set(moved) <= {sp.code for sp in db.session.get(Customer, survivor.id).supply_points}
    assert accounts.authenticate(user.username, PASSWORD) is not None  # still signs in
    assert portal_login(client, user.username).status_code == 302


def test_F53_supply_point_deleted_in_billing_ends_mandate_and_invoice_emails(each_billing_sim, db):
    import datetime as dt

    from app.models import (DirectDebitMandate, InvoiceDeliverySetting, MandateStatus, SupplyPoint,
                            SupplyStatus)

    assert align(full=True).status == "ok"
    sp, other = db.session.scalars(sa.select(SupplyPoint).where(SupplyPoint.status == SupplyStatus.ACTIVE)
                                   .order_by(SupplyPoint.code).limit(2)).all()
    for s in (sp, other):
        db.session.add(DirectDebitMandate(supply_point_id=s.id, reference=f"MND-T-{s.code}",
                                          status=MandateStatus.ACTIVE, iban="IT60X0542811101000000123456",
                                          signed_on=dt.date(2026, 1, 10)))
        db.session.add(InvoiceDeliverySetting(supply_point_id=s.id, enabled=True))
    db.session.commit()
    each_billing_sim.delete("supply_point", _nav_key(each_billing_sim, sp.code))
    assert align().status == "ok"
    db.session.expire_all()

    def state(s):
        mandate = db.session.scalar(sa.select(DirectDebitMandate).where(DirectDebitMandate.supply_point_id == s.id))
        setting = db.session.scalar(sa.select(InvoiceDeliverySetting)
                                    .where(InvoiceDeliverySetting.supply_point_id == s.id))
        return db.session.get(SupplyPoint, s.id).status, mandate.status, setting.enabled
    assert state(sp) == (SupplyStatus.CEASED, MandateStatus.REVOKED, False)
    assert state(other) == (SupplyStatus.ACTIVE, MandateStatus.ACTIVE, True)  # only the deleted one


def test_F53_archived_customer_and_supply_point_are_marked_on_staff_pages(billing_sim, db, client,
                                                                           login_as):
    """Back office: what billing deleted carries an "Archiviato" mark on the list and the detail
    page, and the customer list filters archived customers in or out."""
    from app.models import SupplyPoint
    from app.roles import BACK_OFFICE

    victim, kept = _two_customers(db)
    sp = victim.supply_points[0]
    billing_sim.delete("supply_point", sp.code)
    billing_sim.delete("customer", victim.code)
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(SupplyPoint, sp.id).archived_at is not None
    login_as(BACK_OFFICE)
    mark = 'archived-mark">Archiviato</span>'

    def row(page, code):
        import lxml.html

        tree = lxml.html.fromstring(page)
        rows = [tr for tr in tree.iter("tr") if code in tr.text_content()]
        return lxml.html.tostring(rows[0], encoding="unicode") if rows else ""

    listed = client.get("/customerview/list/?psize_CustomerView=100").get_data(as_text=True)
    assert mark in row(listed, victim.code) and mark not in row(listed, kept.code)
    shown = client.get(f"/customerview/show/{victim.id}").get_data(as_text=True)
    assert mark in shown
    assert mark not in client.get(f"/customerview/show/{kept.id}").get_data(as_text=True)
    archived_only = client.get("/customerview/list/?_flt_0_archived_at=yes").get_data(as_text=True)
    assert victim.code in archived_only and kept.code not in archived_only
    live_only = client.get("/customerview/list/?_flt_0_archived_at=no&psize_CustomerView=100"
                           ).get_data(as_text=True)
    assert victim.code not in live_only and kept.code in live_only
    search = client.get("/customerview/list/").get_data(as_text=True)
    assert "Non archiviato" in search  # the filter's choice in the search form
    sp_list = client.get("/supplypointview/list/?psize_SupplyPointView=100").get_data(as_text=True)
    assert mark in row(sp_list, sp.code)
    assert mark in client.get(f"/supplypointview/show/{sp.id}").get_data(as_text=True)


def test_F53_merge_into_a_customer_with_its_own_account_keeps_that_one_and_closes_the_other(
        billing_sim, db, client, app, smtp_server):
    """One customer, one account: the survivor's stays; the duplicate's is closed (its API
    tokens revoked), its owner is told by e-mail which account to use, and signing in with it
    says the same rather than "wrong password"."""
    from app.models import ApiToken, TokenScope
    from app.services.mailing.mail import deliver_mail
    from app.services.portal import api_tokens

    duplicate, survivor = _two_customers(db)
    closed = make_account(db, app, duplicate)
    kept = make_account(db, app, survivor)
    token, secret = api_tokens.create_token(closed, "Foglio di calcolo", TokenScope.READ)
    activity = create_activity(ActivityKind.GENERAL, customer_id=duplicate.id, subject="Richiesta")
    db.session.commit()
    billing_sim.delete("customer", duplicate.code, merged_into=survivor.code)
    assert align().status == "ok"
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).customer_id == survivor.id  # history follows
    assert [u.id for u in db.session.scalars(sa.select(SportelloUser).where(
        SportelloUser.customer_id == survivor.id, SportelloUser.active.is_(True)))] == [kept.id]
    assert db.session.get(SportelloUser, closed.id).active is False
    assert api_tokens.token_for(secret) is None
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert client.get("/api/portal/v1/me", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 401

    page = portal_login(client, closed.username).get_data(as_text=True)
    assert "sono stati riuniti" in page and "/portal/home" not in page
    assert "Nome utente o password errati" in portal_login(
        client, closed.username, "wrong pw!").get_data(as_text=True)
    assert portal_login(client, kept.username).status_code == 302  # the survivor's account works

    deliver_mail()
    [message] = [m for m in smtp_server.messages if "chiuso" in m["Subject"]]
    assert message.envelope_rcpt == [duplicate.email]
    body = message.get_payload(decode=True).decode() if not message.is_multipart() else \
        message.get_body(("plain",)).get_content()
    assert closed.username in message["Subject"] and survivor.code in body
    assert kept.username not in body  # the other account's name is not sent to this address
    assert align().status == "ok" and deliver_mail()["sent"] == 0  # told once
    # Each registration's welcome and "request received" e-mails, and this one notice.
    assert len(smtp_server.messages) == 5, [m["Subject"] for m in smtp_server.messages]


def test_F53_merge_moves_the_duplicates_api_tokens_with_its_account(billing_sim, db, client, app):
    from app.models import TokenScope
    from app.services.portal import api_tokens

    duplicate, survivor = _two_customers(db)
    user = make_account(db, app, duplicate)
    _token, secret = api_tokens.create_token(user, "Domotica", TokenScope.READ)
    db.session.commit()
    billing_sim.delete("customer", duplicate.code, merged_into=survivor.code)
    assert align().status == "ok"
    db.session.expire_all()
    token = api_tokens.token_for(secret)
    assert token is not None and token.customer_id == survivor.id
    me = client.get("/api/portal/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["code"] == survivor.code
