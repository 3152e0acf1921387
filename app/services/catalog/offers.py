"""The offer catalogue (F-18): offers on sale per service and day, their prices as printable
lines, and a frozen copy for documents.

Prices are structured (`OfferComponent`): a fixed fee in €/month, energy prices per band in
€/kWh (electricity), €/Smc (gas), €/m³ (water) or €/l (LPG), a power fee in €/kW per month.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Band, ComponentKind, Offer, OfferComponent, PriceKind, Service
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional

ENERGY_UNITS = {Service.GAS: "Smc", Service.ELECTRICITY: "kWh", Service.WATER: "m³", Service.LPG: "l"}


class OfferError(DomainError):
    """An offer refused as entered; the message is translated."""


def on_sale(service: Service | str | None = None, day: dt.date | None = None) -> list[Offer]:
    """Offers valid on `day` (today), for one service or all, by service then name."""
    day = day or local_today()
    stmt = sa.select(Offer).where(Offer.valid_from <= day,
                                  sa.or_(Offer.valid_until.is_(None), Offer.valid_until >= day))
    if service:
        stmt = stmt.where(Offer.service == Service(service))
    return list(db.session.scalars(stmt.order_by(Offer.service, Offer.name)))


def names_by_service(day: dt.date | None = None) -> dict[str, list[str]]:
    """{service value: [offer names on sale]}, every service present (empty when none)."""
    out: dict[str, list[str]] = {s.value: [] for s in Service}
    for offer in on_sale(day=day):
        out[offer.service.value].append(offer.name)
    return out


def find(service: Service | str, name: str, day: dt.date | None = None) -> Offer | None:
    """The offer of that name on sale for the service on `day`, if any."""
    return next((o for o in on_sale(service, day) if o.name == name), None)


def unit_of(kind: ComponentKind, service: Service) -> str:
    if kind == ComponentKind.FIXED_FEE:
        return "€/" + str(_l("month"))
    if kind == ComponentKind.POWER:
        return "€/kW/" + str(_l("month"))
    return "€/" + ENERGY_UNITS.get(service, "")


def check(offer: Offer) -> None:
    """The rules an offer must keep to be sold; raises OfferError."""
    if offer.valid_until is not None and offer.valid_until < offer.valid_from:
        raise OfferError(_l("The offer must end after it starts."), "valid_until")
    kinds = [c.kind for c in offer.components]
    if offer.service == Service.TELECOM and ComponentKind.ENERGY in kinds:
        raise OfferError(_l("A telecom offer has no energy price."), "components")
    if offer.service != Service.ELECTRICITY and ComponentKind.POWER in kinds:
        raise OfferError(_l("Only electricity offers have a power fee."), "components")
    if offer.service != Service.ELECTRICITY and any(c.band != Band.F0 for c in offer.components):
        raise OfferError(_l("Time bands apply to electricity only."), "components")
    if any(c.price is None or Decimal(c.price) < 0 for c in offer.components):
        raise OfferError(_l("Prices cannot be negative."), "components")


def snapshot(offer: Offer | None) -> dict | None:
    """What a document prints of the offer, frozen as plain JSON (prices as strings)."""
    if offer is None:
        return None
    return {
        "code": offer.code, "name": offer.name, "service": offer.service.value,
        "price_kind": offer.price_kind.value, "arera_code": offer.arera_code,
        "valid_from": offer.valid_from.isoformat(),
        "valid_until": offer.valid_until.isoformat() if offer.valid_until else "",
        "conditions": offer.conditions,
        "components": [{"kind": c.kind.value, "band": c.band.value, "price": str(c.price),
                        "unit": unit_of(c.kind, offer.service)} for c in offer.components],
    }


# --- demo catalogue ------------------------------------------------------------------------------

def _fixed(fee):
    return [(ComponentKind.FIXED_FEE, Band.F0, fee)]


DEMO = [
    # code, service, name, kind, ARERA code, components, conditions
    ("GAS-CASA-FIX", Service.GAS, "Gas Casa Fisso", PriceKind.FIXED, "SPTG01FIX",
     _fixed("9.50") + [(ComponentKind.ENERGY, Band.F0, "0.485000")],
     "Prezzo della materia prima gas fisso per 12 mesi dall'attivazione; poi rinnovo alle condizioni comunicate con 3 mesi di preavviso."),
    ("GAS-CASA-VAR", Service.GAS, "Gas Casa Variabile", PriceKind.VARIABLE, "SPTG02VAR",
     _fixed("8.00") + [(ComponentKind.ENERGY, Band.F0, "0.090000")],
     "Prezzo della materia prima gas pari al PSV day ahead mensile più lo spread indicato (€/Smc)."),
    ("GAS-BUS", Service.GAS, "Gas Business", PriceKind.VARIABLE, "SPTG03BUS",
     _fixed("15.00") + [(ComponentKind.ENERGY, Band.F0, "0.070000")],
     "Per usi diversi dal domestico. Prezzo indicizzato al PSV più lo spread indicato (€/Smc)."),
    ("LUCE-MONO", Service.ELECTRICITY, "Luce Casa Monoraria", PriceKind.FIXED, "SPTE01MON",
     _fixed("10.00") + [(ComponentKind.ENERGY, Band.F0, "0.128000")],
     "Prezzo dell'energia fisso per 12 mesi dall'attivazione, uguale in tutte le ore."),
    ("LUCE-BI", Service.ELECTRICITY, "Luce Casa Bioraria", PriceKind.FIXED, "SPTE02BIO",
     _fixed("10.00") + [(ComponentKind.ENERGY, Band.F1, "0.139000"), (ComponentKind.ENERGY, Band.F23, "0.119000")],
     "Prezzo dell'energia fisso per 12 mesi, diverso in fascia F1 e nelle fasce F2 e F3."),
    ("LUCE-BUS", Service.ELECTRICITY, "Luce Business", PriceKind.VARIABLE, "SPTE03BUS",
     _fixed("18.00") + [(ComponentKind.ENERGY, Band.F1, "0.021000"), (ComponentKind.ENERGY, Band.F2, "0.018000"),
                        (ComponentKind.ENERGY, Band.F3, "0.015000"), (ComponentKind.POWER, Band.F0, "1.200000")],
     "Per usi diversi dal domestico. Prezzo pari al PUN orario più lo spread indicato per fascia (€/kWh)."),
    ("ACQUA-STD", Service.WATER, "Acqua Standard", PriceKind.FIXED, "",
     _fixed("4.00") + [(ComponentKind.ENERGY, Band.F0, "1.850000")],
     "Tariffa del servizio idrico integrato approvata dall'ente di governo d'ambito."),
    ("GPL-CASA", Service.LPG, "GPL Casa", PriceKind.FIXED, "",
     _fixed("6.00") + [(ComponentKind.ENERGY, Band.F0, "1.950000")],
     "Prezzo del GPL fisso per 12 mesi; serbatoio in comodato d'uso."),
    ("FIBRA-CASA", Service.TELECOM, "Fibra Casa", PriceKind.FIXED, "", _fixed("24.90"),
     "Fibra fino a 1 Gbit/s, modem incluso, nessun vincolo di durata."),
    ("FIBRA-BUS", Service.TELECOM, "Fibra Business", PriceKind.FIXED, "", _fixed("39.90"),
     "Fibra fino a 2,5 Gbit/s con IP statico e assistenza prioritaria."),
]


@transactional
def seed_demo(valid_from: dt.date | None = None) -> int:
    """Add the demo catalogue's offers that are missing (by code); returns how many were added."""
    start = valid_from or local_today().replace(month=1, day=1)
    known = set(db.session.scalars(sa.select(Offer.code)))
    added = 0
    for code, service, name, kind, arera, components, conditions in DEMO:
        if code in known:
            continue
        offer = Offer(code=code, service=service, name=name, price_kind=kind, arera_code=arera,
                      valid_from=start, conditions=conditions)
        offer.components = [OfferComponent(position=i, kind=k, band=b, price=Decimal(p))
                            for i, (k, b, p) in enumerate(components)]
        check(offer)
        db.session.add(offer)
        added += 1
    db.session.flush()
    return added
