"""F-12: contract PDF and switching form from a frozen snapshot, in the customer's language."""
import io

import sqlalchemy as sa
from pypdf import PdfReader

from app.models import ContractDocument, ContractStatus
from app.roles import AGENT
from app.services.sales import wizard as wiz
from tests.sales.helpers import agent_for, customer_step, entered_contract, supply_step


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _docs(db, contract, kind):
    return db.session.scalars(sa.select(ContractDocument).where(
        ContractDocument.contract_id == contract.id, ContractDocument.kind == kind)
        .order_by(ContractDocument.version)).all()


def test_F12_contract_pdf_shows_customer_point_and_tariff(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(pdr="00881234567890", tariff_option="Gas Casa Variabile"))
    assert contract.status == ContractStatus.PROCESSING
    [doc] = _docs(db, contract, "contract")
    text = _text(doc.pdf)
    assert "Verdi Giuseppe" in text and "RSSMRA80A01H501U" in text
    assert "00881234567890" in text and "Gas Casa Variabile" in text
    assert "Contratto di fornitura" in text and contract.number in text
    [switch] = _docs(db, contract, "switching")
    text = _text(switch.pdf)
    assert "Richiesta di cambio fornitore" in text and "00881234567890" in text and "Vecchio Gas SpA" in text


def test_F12_electricity_contract_in_english_for_an_english_customer(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, customer=customer_step(language="en"),
                                supply=supply_step(service="electricity", pdr="", pod="IT012E00123456",
                                                   tariff_option="Luce Casa Bioraria"))
    text = _text(_docs(db, contract, "contract")[0].pdf)
    assert "Supply contract" in text and "IT012E00123456" in text and "Luce Casa Bioraria" in text
    assert "Switching request" in _text(_docs(db, contract, "switching")[0].pdf)


def test_F12_signed_document_never_changes_an_edit_adds_a_version(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(tariff_option="Gas Casa Fisso"))
    [first] = _docs(db, contract, "contract")
    first_bytes, first_hash = first.pdf, first.sha256
    wiz.finish(contract, user)  # nothing changed: no new version
    assert len(_docs(db, contract, "contract")) == 1
    wiz.save_step(contract, "supply", {**contract.data["supply"], "tariff_option": "Gas Business"}, user)
    wiz.finish(contract, user)
    versions = _docs(db, contract, "contract")
    assert [d.version for d in versions] == [1, 2]
    assert versions[0].pdf == first_bytes and versions[0].sha256 == first_hash
    assert "Gas Casa Fisso" in _text(versions[0].pdf) and "Gas Business" in _text(versions[1].pdf)
    assert versions[0].snapshot["supply"]["tariff_option"] == "Gas Casa Fisso"
