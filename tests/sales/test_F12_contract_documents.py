"""F-12 / F-18: the contract to sign carries the seller, the offer's prices with units, the summary
sheet, the privacy notice and, for a consumer off premises, the right of withdrawal; a direct debit
adds the F-06 mandate as a document of its own. Read back with pdftotext, as a reader would."""
import subprocess
from decimal import Decimal

import sqlalchemy as sa

from app.models import ContractDocument
from app.roles import AGENT, BACK_OFFICE
from app.services.core import settings
from tests.sales.helpers import (VAT, agent_for, customer_step, entered_contract, payment_step,
                                 supply_step)

IDENTITY = {"company_name": "Gas Nord S.p.A.", "company_vat_number": "00743110157",
            "company_address": "Via Roma 1, 20121 Milano (MI)", "company_rea_number": "MI-1234567",
            "company_share_capital": Decimal("120000"), "company_pec": "gasnord@pec.example.it",
            "company_customer_service_phone": "800 123 456"}


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())


def _doc(db, contract, kind):
    return db.session.scalar(sa.select(ContractDocument).where(
        ContractDocument.contract_id == contract.id, ContractDocument.kind == kind)
        .order_by(ContractDocument.version.desc()))


def test_F12_consumer_off_premises_contract_holds_seller_prices_sheet_withdrawal_privacy(db, make_user):
    settings.update(IDENTITY)
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(tariff_option="Gas Casa Fisso", annual_consumption=1200))
    text = pdf_text(_doc(db, contract, "contract").pdf)
    # The seller, from the settings.
    assert "Gas Nord S.p.A." in text and "Via Roma 1, 20121 Milano (MI)" in text
    assert "Partita IVA 00743110157" in text and "REA MI-1234567" in text
    assert "gasnord@pec.example.it" in text and "800 123 456" in text
    # The offer's prices with their units, Italian numbers.
    assert "9,50 €/mese" in text and "0,485 €/Smc" in text
    assert "Consumo annuo stimato 1.200 Smc" in text
    # The regulated choices by their names, never their codes alone.
    assert "C1 – Riscaldamento" in text and "1 – 7 giorni su 7" in text
    # The summary sheet, with the ARERA code.
    assert "Scheda sintetica dell'offerta" in text and "SPTG01FIX" in text
    assert "Come cambia il prezzo" in text and "Durata e recesso" in text
    # The right of withdrawal, the model form and the early-start request.
    assert "Diritto di ripensamento" in text and "entro 14 giorni" in text
    assert "Modulo tipo di recesso" in text and "2011/83/UE" in text
    assert "Richiesta di avvio della fornitura durante il periodo di ripensamento" in text
    # The privacy notice.
    assert "Informativa privacy" in text and "2016/679" in text and "Titolare del trattamento" in text


def test_F12_electricity_contract_names_use_voltage_and_power(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, supply=supply_step(
        service="electricity", pdr="", pod="IT012E12345678", tariff_option="Luce Casa Monoraria",
        committed_power="4.5"))
    text = " ".join(pdf_text(_doc(db, contract, "contract").pdf).split())
    assert "Domestico residente" in text and "Bassa tensione, 230 V monofase" in text
    assert "4,5 kW" in text and "giorni su 7" not in text


def test_F12_company_customer_gets_no_withdrawal_form(db, make_user):
    user, _ = make_user(AGENT)
    agent_for(user)
    company = customer_step(kind="company", company_name="Officine Rossi S.r.l.", last_name="", first_name="",
                            vat_number=VAT, tax_code=VAT)
    contract = entered_contract(user, customer=company,
                                supply=supply_step(tariff_option="Gas Business", use_type="business"))
    text = pdf_text(_doc(db, contract, "contract").pdf)
    assert "Officine Rossi S.r.l." in text and "0,07 €/Smc" in text
    assert "Diritto di ripensamento" not in text and "Modulo tipo di recesso" not in text
    assert "Informativa privacy" in text and "Scheda sintetica dell'offerta" in text


def test_F12_contract_in_english_has_the_withdrawal_form_in_english(db, make_user):
    user, _ = make_user(BACK_OFFICE)  # entered by the back office: at a distance
    contract = entered_contract(user, customer=customer_step(language="en"),
                                supply=supply_step(service="electricity", pdr="", pod="IT012E00123457",
                                                   tariff_option="Luce Casa Bioraria", annual_consumption=2700))
    text = pdf_text(_doc(db, contract, "contract").pdf)
    assert "Right of withdrawal" in text and "Model withdrawal form" in text
    assert "0.139 €/kWh" in text and "2,700 kWh" in text
    assert "Privacy notice" in text


def test_F12_direct_debit_adds_the_sepa_mandate_document(db, make_user):
    settings.update({**IDENTITY, "company_sepa_creditor_id": "IT66ZZZA1B2C3D4E5F6G7H8"})
    user, _ = make_user(AGENT)
    agent_for(user)
    contract = entered_contract(user, payment=payment_step(holder="Giuseppe Verdi"))
    mandate = _doc(db, contract, "mandate")
    assert mandate is not None
    text = pdf_text(mandate.pdf)
    assert "Mandato per addebito diretto SEPA" in text and f"{contract.number}-SDD" in text
    assert "IT60 X054 2811 1010 0000 0123 456" in text and "IT66ZZZA1B2C3D4E5F6G7H8" in text
    postal = entered_contract(user, payment={"method": "postal_slip", "iban": "", "holder": ""})
    assert _doc(db, postal, "mandate") is None and _doc(db, postal, "contract") is not None
