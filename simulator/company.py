"""The simulated company: the seller printed on the simulator's bills (fictitious data; the
VAT number has a valid check digit)."""
from __future__ import annotations

COMPANY = {
    "name": "Energia Demo S.p.A.",
    "address": "Via dell'Innovazione 12, 20126 Milano (MI)",
    "vat_number": "04711800153",
    "tax_code": "04711800153",
    "rea": "MI-2034567",
    "share_capital": "5.000.000,00 €",
    "pec": "energiademo@pec.example.it",
    "website": "www.energiademo.example",
    "customer_service": "800 123 000",
    "gas_emergency": "800 900 000",
}
