"""The fast formatters give exactly Babel's results."""
import datetime as dt
from decimal import Decimal

import pytest
from flask_babel import force_locale
from flask_babel import format_currency as babel_currency
from flask_babel import format_date as babel_date
from flask_babel import format_datetime as babel_datetime
from flask_babel import format_decimal as babel_decimal

from app.formatting import format_currency, format_date, format_datetime, format_decimal


@pytest.mark.parametrize("lang", ["it", "en"])
def test_currency_matches_babel(app, lang):
    with app.test_request_context(), force_locale(lang):
        for value in (Decimal("0"), Decimal("1.5"), Decimal("123.45"), Decimal("1234567.891"),
                      Decimal("-42.10"), 7, 1234.5):
            assert format_currency(value, "EUR") == babel_currency(value, "EUR"), value


@pytest.mark.parametrize("lang", ["it", "en"])
def test_dates_match_babel(app, lang):
    with app.test_request_context(), force_locale(lang):
        for day in (dt.date(2026, 1, 1), dt.date(2026, 11, 27)):
            assert format_date(day) == babel_date(day)
            assert format_date(day, "short") == babel_date(day, "short")


@pytest.mark.parametrize("lang", ["it", "en"])
def test_datetimes_match_babel_in_the_users_time_zone(app, lang):
    moments = (dt.datetime(2026, 1, 1, 0, 30), dt.datetime(2026, 7, 1, 22, 15),  # naive = UTC
               dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.timezone.utc))
    with app.test_request_context(), force_locale(lang):
        for moment in moments:
            for fmt in (None, "short", "medium"):
                assert format_datetime(moment, fmt) == babel_datetime(moment, fmt), (moment, fmt)
                assert format_datetime(moment, fmt) == babel_datetime(moment, fmt)  # remembered
    # the same moment in the other language is not taken from the cache
    with app.test_request_context(), force_locale("en" if lang == "it" else "it"):
        assert format_datetime(moments[0], "short") == babel_datetime(moments[0], "short")


@pytest.mark.parametrize("lang", ["it", "en"])
def test_decimals_match_babel(app, lang):
    with app.test_request_context(), force_locale(lang):
        for value in (Decimal("0"), Decimal("0.85"), Decimal("120"), Decimal("10.00"), Decimal("1.2345"),
                      Decimal("1234567.5"), Decimal("-3.1"), 22, 1500):
            assert format_decimal(value) == babel_decimal(value), value
        assert format_decimal(Decimal("1.5"), "#,##0.00") == babel_decimal(Decimal("1.5"), "#,##0.00")
