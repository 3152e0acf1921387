"""The regulated choices of a supply (ARERA), as stored values and their translated labels:
gas use categories (TIVG) and withdrawal classes (TISG); electricity uses and supply voltages.
The wizard offers them as selects; documents print their labels."""
from __future__ import annotations

from app.i18n import lazy_gettext as _l


GAS_USE_CATEGORIES = [
    ("C1", _l("C1 – Heating")), ("C2", _l("C2 – Cooking and/or hot water")),
    ("C3", _l("C3 – Heating with cooking and/or hot water")), ("C4", _l("C4 – Air conditioning")),
    ("C5", _l("C5 – Air conditioning and heating")), ("T1", _l("T1 – Technological use (craft or industry)")),
    ("T2", _l("T2 – Technological use and heating"))]
WITHDRAWAL_CLASSES = [("1", _l("1 – 7 days a week")), ("2", _l("2 – 6 days a week")),
                      ("3", _l("3 – 5 days a week"))]
ELECTRICITY_USES = [("domestic_resident", _l("Domestic, resident")),
                    ("domestic_non_resident", _l("Domestic, non-resident")), ("other", _l("Other uses"))]
VOLTAGES = [("230", _l("Low voltage, 230 V single-phase")), ("400", _l("Low voltage, 400 V three-phase")),
            ("mv", _l("Medium voltage"))]

LABELS = {"gas_use_category": dict(GAS_USE_CATEGORIES), "withdrawal_class": dict(WITHDRAWAL_CLASSES),
          "electricity_use": dict(ELECTRICITY_USES), "voltage": dict(VOLTAGES)}


def label(field: str, value) -> str:
    """The translated label of a stored regulated choice ("" when none; the value if unknown)."""
    if value in (None, ""):
        return ""
    found = LABELS.get(field, {}).get(str(value))
    return str(found) if found is not None else str(value)
