"""The company's calendar day.

Dates a person picks or reads (a reading date, a signing day, the period of a report) are days in
Italy, whatever time zone the server runs in: at 00:30 in Rome a reading dated today is today's,
even when the server's clock still says yesterday in UTC.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")


def local_now() -> dt.datetime:
    """The aware time in Europe/Rome."""
    return dt.datetime.now(ROME)


def local_today() -> dt.date:
    """Today's date in Europe/Rome."""
    return local_now().date()


def to_rome(value: dt.datetime) -> dt.datetime:
    """A stored time (naive values are UTC, as every stored time is) as an aware Europe/Rome time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ROME)


def local_date(moment: dt.datetime) -> dt.date:
    """The day in Italy of a stored time."""
    return to_rome(moment).date()
