"""Contract documents (F-12, F-18): the contract to sign, the switching form and, for a direct
debit, the SEPA mandate, from a frozen snapshot.

`build_documents()` freezes what the documents show (customer, supply point, the offer with its
prices and conditions from the catalogue, payment, mailing address, agent, the company's identity
from the settings, how the contract is sold) into a snapshot, renders `pdf/contract.html`,
`pdf/switching.html` and, when the customer pays by SEPA direct debit, the F-06 mandate
`pdf/mandate.html` with xhtml2pdf in the customer's language and stores bytes + SHA-256.

The contract carries the offer's summary sheet (scheda sintetica, ARERA's Codice di condotta
commerciale) on a page of its own, the privacy notice (GDPR art. 13) and, for a consumer who
signs away from business premises or at a distance, the 14-day right of withdrawal (Codice del
Consumo art. 52-59) with the model withdrawal form and the request to start the supply within
the 14 days. A document is never rewritten: when an edit in *processing* changes the snapshot,
a new version is added and the signed one stays as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from app.clock import local_today
from app.extensions import db
from app.models import (Band, ComponentKind, Contract, ContractDocument, CustomerKind, PaymentMethod,
                        PriceKind, Service, UseType)
from app.services.catalog import offers
from app.services.core import settings
from app.services.core.pdf import render_pdf
from app.services.sales import regulated

KINDS = ("contract", "switching", "mandate")

# How a contract is sold (Codice del Consumo): an agent's contract is signed away from the
# company's premises, one entered by the back office at a distance (phone, web), unless the
# wizard's data say otherwise ("on_premises" at a shop counter).
OFF_PREMISES, DISTANCE, ON_PREMISES = "off_premises", "distance", "on_premises"
SELLING_METHODS = (OFF_PREMISES, DISTANCE, ON_PREMISES)
WITHDRAWAL_DAYS = 14


def selling_method(contract: Contract) -> str:
    """Where the contract is signed: off premises, at a distance or on the premises."""
    stated = (contract.draft.step("supply").get("selling_method")
              or contract.draft.step("customer").get("selling_method"))
    if stated in SELLING_METHODS:
        return stated
    return OFF_PREMISES if contract.agent_id else DISTANCE


def is_consumer(customer: dict) -> bool:
    """A natural person (not a company or a sole trader with a VAT number) is a consumer."""
    return customer.get("kind", "person") != "company" and not customer.get("vat_number")


def kinds_for(snap: dict) -> tuple[str, ...]:
    """The documents a contract has: the mandate only when it pays by direct debit."""
    if (snap.get("payment") or {}).get("method") == "sdd":
        return KINDS
    return ("contract", "switching")


def snapshot(contract: Contract) -> dict:
    """Everything the documents print, as plain JSON."""
    d = contract.draft
    agent = contract.agent
    supply = d.step("supply")
    day = contract.signed_on or local_today()
    offer = offers.find(supply["service"], supply.get("tariff_option", ""), day) if supply.get("service") else None
    method = selling_method(contract)
    customer = d.step("customer")
    return {
        "number": contract.number,
        "signed_on": contract.signed_on.isoformat() if contract.signed_on else "",
        "language": contract.language or "it",
        "customer": d.step("customer"),
        "supply": d.step("supply"),
        "payment": d.step("payment"),
        "mailing": d.step("mailing"),
        "agent": {"code": agent.code, "name": agent.name} if agent else None,
        "company": settings.company(),
        "offer": offers.snapshot(offer),
        "selling_method": method,
        # The right of withdrawal applies to a consumer signing off premises or at a distance.
        "withdrawal": is_consumer(customer) and method in (OFF_PREMISES, DISTANCE),
        "withdrawal_days": WITHDRAWAL_DAYS,
        "mandate_reference": f"{contract.number}-SDD",
    }


def latest(contract: Contract, kind: str) -> ContractDocument | None:
    return db.session.scalar(sa.select(ContractDocument).where(
        ContractDocument.contract_id == contract.id, ContractDocument.kind == kind)
        .order_by(ContractDocument.version.desc()).limit(1))


def documents_of(contract: Contract) -> list[ContractDocument]:
    return list(db.session.scalars(sa.select(ContractDocument).where(
        ContractDocument.contract_id == contract.id)
        .order_by(ContractDocument.kind, ContractDocument.version.desc())))


def build_documents(contract: Contract) -> list[ContractDocument]:
    """New versions of the documents whose snapshot changed (no commit)."""
    snap = snapshot(contract)
    made = []
    for kind in kinds_for(snap):
        last = latest(contract, kind)
        if last is not None and last.snapshot == snap:
            continue
        pdf = render(kind, snap)
        doc = ContractDocument(contract_id=contract.id, kind=kind,
                               version=(last.version + 1) if last else 1, language=snap["language"],
                               snapshot=snap, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest())
        db.session.add(doc)
        made.append(doc)
    db.session.flush()
    return made


def render_document(template: str, **ctx) -> str:
    """A PDF template's HTML: the app's Jinja environment, no request needed (jobs, CLI)."""
    return current_app.jinja_env.get_template(template).render(**ctx)


def render(kind: str, snap: dict) -> bytes:
    """Render one document from its snapshot (about 0.2 s of CPU per page)."""
    if kind not in KINDS:
        raise ValueError(kind)
    lang = snap.get("language") if snap.get("language") in ("it", "en") else "it"
    with force_locale(lang):
        if kind == "mandate":
            html = render_document("pdf/mandate.html", **_mandate_context(snap))
        else:
            html = render_document(f"pdf/{kind}.html", s=snap, label=_label, todate=dt.date.fromisoformat,
                                   price=_price, consumption_unit=offers.ENERGY_UNITS,
                                   quantity=_quantity)
    return render_pdf(html, f"contract {snap.get('number')}: {kind}", language=lang)


def _mandate_context(snap: dict) -> dict:
    """The F-06 mandate template's data, from a contract's snapshot instead of a mandate row."""
    c, sp, p = snap.get("customer") or {}, snap.get("supply") or {}, snap.get("payment") or {}
    iban = (p.get("iban") or "").replace(" ", "").upper()
    name = c.get("company_name") if c.get("kind") == "company" else f"{c.get('last_name', '')} {c.get('first_name', '')}".strip()
    town = " ".join(x for x in (c.get("post_code"), c.get("city")) if x)
    if c.get("province"):
        town += f" ({c['province']})"
    try:
        service = Service(sp.get("service"))
    except ValueError:
        service = None
    supply_point = {"service": {"label": service.label if service else ""},
                    "point_code": sp.get("pdr") or sp.get("pod") or "",
                    "address": sp.get("address", ""), "city": sp.get("city", "")}
    signed = dt.date.fromisoformat(snap["signed_on"]) if snap.get("signed_on") else local_today()
    from flask_babel import gettext

    return {"mandate": {"reference": snap.get("mandate_reference", ""), "holder_tax_code": c.get("tax_code", ""),
                        "bic": "", "bank": ""},
            "supply_point": supply_point,
            "customer": {"code": c.get("customer_code") or snap.get("number", ""), "display_name": name},
            "company": snap.get("company") or {}, "iban": " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)),
            "debtor_name": p.get("holder") or name,
            "debtor_address": ", ".join(x for x in (c.get("address"), town) if x),
            "place": c.get("city", ""), "signed_on": signed,
            "note": gettext("Signed with the supply contract %(number)s; the back office confirms the mandate with the bank.",
                            number=snap.get("number", ""))}


def _quantity(value, unit: str = "") -> str:
    """A quantity in the document's language with its unit ("1.200 Smc")."""
    from flask_babel import format_decimal

    if value in (None, ""):
        return "—"
    try:
        text = format_decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        text = str(value)
    return f"{text} {unit}".strip()


_ENUMS = {"service": Service, "use_type": UseType, "method": PaymentMethod, "kind": CustomerKind,
          "component": ComponentKind, "band": Band, "price_kind": PriceKind}


def _label(field: str, value: str) -> str:
    """The translated label of a stored enum value (the snapshot keeps values)."""
    if field in regulated.LABELS:
        return regulated.label(field, value)
    if field == "committed_power":
        from decimal import Decimal, InvalidOperation

        try:
            return _quantity(Decimal(str(value).replace(",", ".")), "kW") if value not in (None, "") else ""
        except InvalidOperation:
            return str(value)
    try:
        return str(_ENUMS[field](value).label)
    except (KeyError, ValueError):
        return value or ""


def _price(value: str) -> str:
    """A catalogue price in the document's language, 2 to 6 decimals ("0,485", "9,50")."""
    from decimal import Decimal

    from flask_babel import format_decimal

    return format_decimal(Decimal(value), format="#,##0.00####")


def filename(doc: ContractDocument) -> str:
    number = doc.snapshot.get("number", "contract") if doc.snapshot else "contract"
    return f"{number}-{doc.kind}-v{doc.version}.pdf"
