"""F-42 on documents: the company's identity from the settings on invoices, mandates and
contracts (frozen in the contract's snapshot), gas emergency number on gas documents."""
import io
from decimal import Decimal

from pypdf import PdfReader

from app.models import DirectDebitMandate
from app.roles import AGENT
from app.services.core import settings
from app.services.sync.invoice_pdf import render_invoice_pdf
from tests import factories
from tests.portal.conftest import customer_graph  # noqa: F401  (fixture)
from tests.sales.helpers import agent_for, entered_contract, supply_step

IDENTITY = {"company_name": "Gas Nord S.p.A.", "company_vat_number": "00743110157",
            "company_address": "Via Roma 1, 20121 Milano (MI)", "company_rea_number": "MI-1234567",
            "company_share_capital": Decimal("120000"), "company_pec": "gasnord@pec.example.it",
            "company_sepa_creditor_id": "IT66ZZZA1B2C3D4E5F6G7H8",
            "company_customer_service_phone": "800 123 456", "company_gas_emergency_phone": "800 900 999"}


def _text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def test_F42_invoice_pdf_carries_the_company_identity(db):
    settings.update(IDENTITY)
    graph = factories.billing_graph()
    text = _text(render_invoice_pdf(graph["invoice"], "it"))
    assert "Gas Nord S.p.A." in text and "Via Roma 1, 20121 Milano (MI)" in text
    assert "Partita IVA 00743110157" in text and "REA MI-1234567" in text
    assert "Capitale sociale 120.000,00 € interamente versato" in text and "gasnord@pec.example.it" in text
    assert "Servizio clienti: 800 123 456" in text


def test_F42_mandate_names_the_creditor_and_its_identifier(db, customer_graph):
    from app.services.portal.direct_debit import render_mandate_pdf

    settings.update(IDENTITY)
    sp = customer_graph["supply_point"]
    m = DirectDebitMandate(supply_point_id=sp.id, reference="SPT-TEST-2", iban="IT60X0542811101000000123456",
                           holder_last_name="Rossi")
    db.session.add(m)
    db.session.flush()
    text = _text(render_mandate_pdf(m, "it"))
    assert "Gas Nord S.p.A." in text and "Via Roma 1, 20121 Milano (MI)" in text
    assert "IT66ZZZA1B2C3D4E5F6G7H8" in text


def test_F42_gas_contract_freezes_the_identity_and_shows_the_emergency_number(db, make_user):
    settings.update(IDENTITY)
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(pdr="00881234567890"))
    from app.services.sales.documents import latest

    doc = latest(contract, "contract")
    assert doc.snapshot["company"]["name"] == "Gas Nord S.p.A."
    text = _text(doc.pdf)
    assert "Gas Nord S.p.A." in text and "Pronto intervento gas (24 ore su 24): 800 900 999" in text
    settings.update({"company_name": "Gas Sud S.r.l."})
    assert latest(contract, "contract").snapshot["company"]["name"] == "Gas Nord S.p.A."  # as signed
