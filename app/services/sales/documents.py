"""Contract documents (F-12): the contract to sign and the switching form, from a frozen snapshot.

`build_documents()` freezes what the documents show (customer, supply point, tariff, payment,
mailing address, agent, the company's identity from the settings) into a snapshot, renders
`pdf/contract.html` and `pdf/switching.html` with xhtml2pdf in the customer's language and
stores bytes + SHA-256. A document is never rewritten: when an edit in *processing* changes
the snapshot, a new version is added and the signed one stays as it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from app.extensions import db
from app.models import (Contract, ContractDocument, CustomerKind, PaymentMethod, Service,
                        UseType)
from app.services.core import settings
from app.services.core.pdf import render_pdf

KINDS = ("contract", "switching")


def snapshot(contract: Contract) -> dict:
    """Everything the documents print, as plain JSON."""
    d = contract.draft
    agent = contract.agent
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
    for kind in KINDS:
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
        html = render_document(f"pdf/{kind}.html", s=snap, label=_label, todate=dt.date.fromisoformat)
    return render_pdf(html, f"contract {snap.get('number')}: {kind}")


_ENUMS = {"service": Service, "use_type": UseType, "method": PaymentMethod, "kind": CustomerKind}


def _label(field: str, value: str) -> str:
    """The translated label of a stored enum value (the snapshot keeps values)."""
    try:
        return str(_ENUMS[field](value).label)
    except (KeyError, ValueError):
        return value or ""


def filename(doc: ContractDocument) -> str:
    number = doc.snapshot.get("number", "contract") if doc.snapshot else "contract"
    return f"{number}-{doc.kind}-v{doc.version}.pdf"
