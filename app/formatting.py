"""Locale-aware formatting of money and dates, cheap enough for every row of a list.

Babel parses and applies its patterns on every call (0.1–0.3 ms each); a page of invoices
formats some forty values. Here the locale's symbols and pattern are read once per locale and
dates and plain numbers are remembered, with the same results as Babel (tests compare them).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal as babel_numbers_decimal
from flask_babel import format_currency as babel_format_currency
from flask_babel import format_date as flask_format_date
from flask_babel import format_datetime as flask_format_datetime
from flask_babel import format_decimal as babel_format_decimal

from app.i18n import locale_id, timezone


@lru_cache(maxsize=32)
def _money(locale: str, currency: str) -> tuple[str, str, str, str] | None:
    """(decimal sign, group sign, prefix, suffix) of the locale's standard currency pattern."""
    loc = Locale.parse(locale)
    pattern = loc.currency_formats["standard"].pattern.split(";")[0]
    if "#,##0.00" not in pattern:
        return None  # an unusual pattern: let Babel do it
    prefix, _, suffix = pattern.partition("#,##0.00")
    symbol = loc.currency_symbols.get(currency, currency)
    symbols = loc.number_symbols.get("latn", loc.number_symbols)
    return (symbols["decimal"], symbols["group"], prefix.replace("¤", symbol),
            suffix.replace("¤", symbol))


def format_currency(value, currency: str = "EUR") -> str:
    """Like flask_babel.format_currency for the standard pattern, about 50 times cheaper."""
    if value is None:
        return ""
    locale = locale_id()
    spec = _money(locale, currency)
    if spec is None:
        return babel_format_currency(value, currency)
    decimal, group, prefix, suffix = spec
    amount = Decimal(value).quantize(Decimal("0.01"))
    digits = f"{abs(amount):,.2f}".replace(",", "\0").replace(".", decimal).replace("\0", group)
    return f"{'-' if amount < 0 else ''}{prefix}{digits}{suffix}"


@lru_cache(maxsize=8192)
def _date(value: dt.date, fmt: str, locale: str) -> str:
    return babel_format_date(value, fmt, locale=locale)


def format_date(value=None, format: str | None = None) -> str:
    """flask_babel.format_date, remembered for plain dates (they carry no time zone)."""
    if type(value) is dt.date:
        return _date(value, format or "medium", locale_id())
    return flask_format_date(value, format)


@lru_cache(maxsize=8192)
def _decimal(value: Decimal | int, locale: str) -> str:
    return babel_numbers_decimal(value, locale=locale)


def format_decimal(value, format: str | None = None) -> str:
    """flask_babel.format_decimal, remembered for plain numbers in the standard pattern
    (quantities, prices and VAT rates repeat from invoice to invoice)."""
    if format is None and type(value) in (Decimal, int):
        return _decimal(value, locale_id())
    return babel_format_decimal(value, format)


@lru_cache(maxsize=8192)
def _datetime(value: dt.datetime, fmt: str, locale: str, zone) -> str:
    return babel_format_datetime(value, fmt, tzinfo=zone, locale=locale)


def format_datetime(value=None, format: str | None = None) -> str:
    """flask_babel.format_datetime (shown in the user's time zone), remembered per value,
    format, locale and time zone: a page shows the same "data as of" moment many times."""
    if type(value) is dt.datetime:
        return _datetime(value, format or "medium", locale_id(), timezone())
    return flask_format_datetime(value, format)


@lru_cache(maxsize=8)
def moment_pattern(locale: str) -> str:
    """The locale's medium date and short time, e.g. "2 dic 2026, 14:05" / "Dec 2, 2026, 2:05 PM"."""
    loc = Locale.parse(locale)
    return str(loc.datetime_formats["medium"]).replace("{1}", loc.date_formats["medium"].pattern) \
        .replace("{0}", loc.time_formats["short"].pattern)


def format_moment(value) -> str:
    """A stored (naive UTC) date-time as staff pages show it: in the user's time zone
    (Europe/Rome), in one format per locale, without seconds."""
    if value is None:
        return ""
    return format_datetime(value, moment_pattern(locale_id()))
