"""F-40: one formatter per type for staff pages, one masking helper."""
import datetime as dt
from decimal import Decimal

import pytest

from app.models import ActivityStatus
from app.services.core.masking import mask


def test_F40_mask_shows_the_last_four_characters_only():
    assert mask("IT60X0542811101000000123456") == "•••• •••• 3456"
    assert mask("RSSMRA80A01H501U") == "•••• •••• 501U"
    assert mask("IT60 X054 2811 1010 0000 0123 456") == "•••• •••• 3456"  # spaces are not characters
    assert mask("••••••3456") == "•••• •••• 3456"  # masked already: same form
    assert mask("") == "" and mask(None) == ""


@pytest.mark.parametrize("language,expected", [
    ("it", ["—", "Sì", "No", "2 dic 2026, 15:30", "1 ott 2026", "Assegnata", "1.234,5"]),
    ("en", ["—", "Yes", "No", "Dec 2, 2026, 3:30\u202fPM", "Oct 1, 2026", "Assigned", "1,234.5"]),
])
def test_F40_values_read_by_type_in_rome_time(app, language, expected):
    from app.views.display import readable

    with app.test_request_context(f"/?_l_={language}"):
        shown = [readable(None), readable(True), readable(False),
                 readable(dt.datetime(2026, 12, 2, 14, 30, 5, 123456)),  # stored UTC, shown in Rome
                 readable(dt.date(2026, 10, 1)), readable(ActivityStatus.ASSIGNED),
                 readable(Decimal("1234.5"))]
    assert [str(s) for s in shown] == expected


def test_F40_data_read_as_labelled_lines_with_sensitive_values_masked_on_lists(app):
    from app.views.display import mapping

    with app.test_request_context("/?_l_=it"):
        html = str(mapping({"invoice_number": "FT1", "iban": "IT60X0542811101000000123456",
                            "confirmed": True, "lines": ["a", "b"]}))
    assert "Numero bolletta" in html and "invoice_number" not in html
    assert "•••• •••• 3456" in html and "IT60X0542811101000000123456" not in html
    assert "Sì" in html and "a, b" in html and "[" not in html
