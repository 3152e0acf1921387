"""F-18: the offer catalogue: offers per service and validity window with structured prices,
edited by admins; the wizard sells only the chosen service's offers on sale; the contract PDF
prints the offer's prices and conditions as they were when it was signed."""
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.models import Band, ComponentKind, ContractDocument, Offer, OfferComponent, PriceKind, Service
from app.roles import ADMIN, AGENT, BACK_OFFICE
from app.services.catalog import offers as catalog
from tests.crm.helpers import any_csrf_token
from tests.sales.helpers import agent_for, entered_contract, supply_step
from tests.security.fixtures_auth import staff_logout

TODAY = dt.date.today()


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _offer(db, code, service, name, *, start=None, end=None, components=()):
    offer = Offer(code=code, service=service, name=name, price_kind=PriceKind.FIXED, arera_code=f"ARERA-{code}",
                  valid_from=start or TODAY - dt.timedelta(days=30), valid_until=end, conditions="Condizioni di prova.")
    offer.components = [OfferComponent(position=i, kind=k, band=b, price=Decimal(p))
                        for i, (k, b, p) in enumerate(components)]
    db.session.add(offer)
    db.session.commit()
    return offer


def test_F18_offers_on_sale_by_service_and_day(db):
    catalog_names = catalog.names_by_service()
    assert "Fibra Casa" in catalog_names["telecom"] and "Fibra Casa" not in catalog_names["gas"]
    assert catalog_names["gas"] == ["Gas Business", "Gas Casa Fisso", "Gas Casa Variabile"]
    _offer(db, "OLD", Service.GAS, "Gas Vecchio", start=TODAY - dt.timedelta(days=400),
           end=TODAY - dt.timedelta(days=1))
    _offer(db, "NEXT", Service.GAS, "Gas Futuro", start=TODAY + dt.timedelta(days=10))
    names = catalog.names_by_service()["gas"]
    assert "Gas Vecchio" not in names and "Gas Futuro" not in names
    assert "Gas Futuro" in catalog.names_by_service(TODAY + dt.timedelta(days=10))["gas"]
    assert "Gas Vecchio" in catalog.names_by_service(TODAY - dt.timedelta(days=5))["gas"]


@pytest.mark.parametrize("service,component,band,message", [
    (Service.TELECOM, ComponentKind.ENERGY, Band.F0, "non ha un prezzo dell'energia"),
    (Service.GAS, ComponentKind.POWER, Band.F0, "Solo le offerte luce hanno una quota potenza"),
    (Service.GAS, ComponentKind.ENERGY, Band.F1, "fasce orarie valgono solo per la luce"),
])
def test_F18_offer_rules(db, app, service, component, band, message):
    offer = Offer(code="X", service=service, name="X", valid_from=TODAY, price_kind=PriceKind.FIXED)
    offer.components = [OfferComponent(kind=component, band=band, price=Decimal("1"))]
    with app.test_request_context(headers={"Accept-Language": "it"}):
        with pytest.raises(catalog.OfferError) as err:
            catalog.check(offer)
        assert message in str(err.value)


def test_F18_admin_adds_an_offer_and_a_component_others_only_read(client, login_as, make_user, db):
    from tests.conftest import staff_login

    user, password = make_user(BACK_OFFICE)
    staff_login(client, user.username, password)
    assert "Gas Casa Fisso" in client.get("/offerview/list/").get_data(as_text=True)
    assert client.get("/offerview/add").status_code in (302, 403)
    staff_logout(client)
    login_as(ADMIN)
    page = client.get("/offerview/add").get_data(as_text=True)
    data = {"csrf_token": any_csrf_token(page), "code": "LUCE-VERDE", "service": "ELECTRICITY",
            "name": "Luce Verde", "price_kind": "FIXED", "arera_code": "SPTE09VER",
            "valid_from": TODAY.isoformat(), "valid_until": (TODAY - dt.timedelta(days=1)).isoformat(),
            "conditions": "Energia da fonti rinnovabili."}
    resp = client.post("/offerview/add", data=data, follow_redirects=True)
    assert "L&#39;offerta deve terminare dopo l&#39;inizio." in resp.get_data(as_text=True) or \
        "L'offerta deve terminare dopo l'inizio." in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(Offer).where(Offer.code == "LUCE-VERDE")) is None
    data["valid_until"] = ""
    resp = client.post("/offerview/add", data=data)
    assert resp.status_code == 302
    offer = db.session.scalar(sa.select(Offer).where(Offer.code == "LUCE-VERDE"))
    assert offer.valid_until is None and "Luce Verde" in catalog.names_by_service()["electricity"]
    page = client.get("/offercomponentview/add").get_data(as_text=True)
    resp = client.post("/offercomponentview/add", data={
        "csrf_token": any_csrf_token(page), "offer": str(offer.id), "position": "1", "kind": "ENERGY",
        "band": "F1", "price": "0,131"}, follow_redirects=True)
    db.session.expire_all()
    offer = db.session.get(Offer, offer.id)
    prices = [(c.kind, c.band, c.price) for c in offer.components]
    html = resp.get_data(as_text=True)
    assert prices == [(ComponentKind.ENERGY, Band.F1, Decimal("0.131000"))], re.findall(r"alert-[a-z]+\">(.*?)</div>|help-block\">(.*?)<", html, re.S)


def test_F18_the_wizard_offers_only_the_services_offers_on_sale(client, login_as, db):
    _offer(db, "OLD", Service.GAS, "Gas Vecchio", start=TODAY - dt.timedelta(days=400),
           end=TODAY - dt.timedelta(days=1))
    user = login_as(AGENT)
    agent_for(user)
    contract = entered_contract(user, submit=False)
    page = client.get(f"/sales/contracts/{contract.id}/supply").get_data(as_text=True)
    groups = dict(re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', page, re.S))
    assert "Fibra Casa" in groups["Telecomunicazioni"] and "Fibra Casa" not in groups["Gas metano"]
    assert "Gas Vecchio" not in page
    resp = client.post(f"/sales/contracts/{contract.id}/supply", data={
        **supply_step(tariff_option="Fibra Casa"), "csrf_token": any_csrf_token(page), "save": "next"})
    assert resp.status_code in (200, 400)
    assert "Questa offerta non è in vendita per il servizio scelto." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(contract), contract.id).data["supply"]["tariff_option"] == "Gas Casa Fisso"


def test_F18_contract_pdf_prints_the_offers_prices_and_conditions_as_signed(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(tariff_option="Gas Casa Fisso", annual_consumption=1200))
    [doc] = db.session.scalars(sa.select(ContractDocument).where(
        ContractDocument.contract_id == contract.id, ContractDocument.kind == "contract")).all()
    text = _text(doc.pdf)
    assert "L'offerta e i suoi prezzi" in text and "SPTG01FIX" in text
    assert "0,485 €/Smc" in text and "9,50 €/mese" in text
    assert "fisso per 12 mesi" in text
    assert "1.200 Smc" in text
    assert doc.snapshot["offer"]["components"][1] == {"kind": "energy", "band": "F0", "price": "0.485000",
                                                      "unit": "€/Smc"}
    # A later price change does not touch the signed document's snapshot.
    offer = db.session.scalar(sa.select(Offer).where(Offer.code == "GAS-CASA-FIX"))
    offer.components[1].price = Decimal("0.999")
    db.session.commit()
    db.session.refresh(doc)
    assert doc.snapshot["offer"]["components"][1]["price"] == "0.485000"
