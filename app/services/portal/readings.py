"""Self-reported readings (F-02): congruity, meter roll-over, plausibility, export to billing.

A reading must be later than the meter's previous one and not in the future, and its value at
least the previous value — unless the meter, which has a fixed number of digits, passed zero
(roll-over): then the consumption is `value + 10**digits - previous`. A consumption far above
the supply point's history (the `consumption plausibility factor` setting times the expected
consumption for the period) is accepted only after the customer confirms it, and is flagged
for the back office. The reading is stored at once and sent to billing through the outbox; the
activity is executed automatically when billing has it (F-21).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import format_date, lazy_gettext as _l

from app.extensions import db
from app.models import (ActivityKind, Meter, MeterReading, ReadingSource, ReadingStatus,
                        ReadingType, SupplyPoint)
from app.services.core import settings
from app.services.core.errors import DomainError
from app.services.sync.outbox import after_delivery
from app.services.core.unit_of_work import transactional


class ReadingError(DomainError):
    """A reading refused by a rule; `field` is the form field the message belongs to."""

    default_field = "value"


class NeedsConfirmation(Exception):
    """The consumption looks implausible: the customer must confirm it."""

    def __init__(self, consumption: int, expected: int):
        super().__init__(f"{consumption} vs {expected}")
        self.consumption, self.expected = consumption, expected


@dataclass
class Check:
    consumption: int | None
    rolled_over: bool = False
    implausible: bool = False
    same_as_previous: bool = False
    expected: int | None = None


def previous_reading(meter: Meter) -> MeterReading | None:
    """The meter's latest reading that still counts (rejected ones don't)."""
    return db.session.scalar(
        sa.select(MeterReading).where(MeterReading.meter_id == meter.id,
                                      MeterReading.status != ReadingStatus.REJECTED)
        .order_by(MeterReading.reading_date.desc(), MeterReading.id.desc()).limit(1))


def expected_daily(supply_point: SupplyPoint) -> float | None:
    """Average daily consumption from the supply point's history, else its annual estimate."""
    rows = db.session.execute(
        sa.select(MeterReading.reading_date, MeterReading.consumption)
        .where(MeterReading.supply_point_id == supply_point.id,
               MeterReading.status == ReadingStatus.VALID)
        .order_by(MeterReading.reading_date)).all()
    if len(rows) >= 2:
        days = (rows[-1][0] - rows[0][0]).days
        total = sum(c or 0 for _, c in rows[1:])
        if days > 0 and total > 0:
            return total / days
    if supply_point.annual_consumption:
        return supply_point.annual_consumption / 365
    return None


def check_reading(supply_point: SupplyPoint, meter: Meter, reading_date: dt.date, value: int,
                  corrector_value: int | None, today: dt.date | None = None) -> Check:
    """Apply the congruity rules; returns the consumption (raises ReadingError)."""
    today = today or dt.date.today()
    if reading_date > today:
        raise ReadingError(_l("The reading date cannot be in the future."), "reading_date")
    if value is None or value < 0:
        raise ReadingError(_l("Enter the number shown by the meter."), "value")
    top = 10 ** (meter.digits or 5)
    if value >= top:
        raise ReadingError(_l("This meter has %(digits)d digits: the reading cannot be that long.",
                              digits=meter.digits), "value")
    if meter.has_corrector and corrector_value is None:
        raise ReadingError(_l("This meter has a volume corrector: enter its reading too."),
                           "corrector_value")
    prev = previous_reading(meter)
    if prev is None:
        return Check(consumption=None)
    if reading_date <= prev.reading_date:
        raise ReadingError(_l("The date must be later than the previous reading (%(date)s).",
                              date=format_date(prev.reading_date)), "reading_date")
    days = (reading_date - prev.reading_date).days
    daily = expected_daily(supply_point)
    expected = int(daily * days) if daily else None
    factor = settings.get("consumption plausibility factor")
    limit = max(expected * factor, 1) if expected is not None else None
    rolled = False
    if value < prev.value:
        consumption = value + top - prev.value
        # Roll-over only when the jump past zero is a believable consumption; otherwise the
        # customer most likely typed a lower number than the last one.
        believable = consumption <= limit if limit is not None else consumption <= top // 10
        if not believable:
            raise ReadingError(_l("The reading is lower than the previous one (%(value)s on %(date)s).",
                                  value=prev.value, date=format_date(prev.reading_date)), "value")
        rolled = True
    else:
        consumption = value - prev.value
    if meter.has_corrector and prev.corrector_value is not None and corrector_value is not None \
            and corrector_value < prev.corrector_value and not rolled:
        raise ReadingError(_l("The corrector reading is lower than the previous one (%(value)s).",
                              value=prev.corrector_value), "corrector_value")
    implausible = limit is not None and consumption > limit
    return Check(consumption=consumption, rolled_over=rolled, implausible=implausible,
                 same_as_previous=consumption == 0, expected=expected)


@transactional
def submit_reading(user, supply_point: SupplyPoint, meter: Meter, reading_date: dt.date,
                   value: int, corrector_value: int | None = None, *,
                   confirmed: bool = False) -> tuple[MeterReading, Check]:
    """Store a self-reading, its activity and the outbox row; commit."""
    from app.services.crm import activities
    from app.services.sync import outbox

    if meter.supply_point_id != supply_point.id or meter.removed_on is not None:
        raise ReadingError(_l("Choose a meter of this supply point."), "meter")
    if not meter.has_corrector:
        corrector_value = None
    check = check_reading(supply_point, meter, reading_date, value, corrector_value)
    if check.implausible and not confirmed:
        raise NeedsConfirmation(check.consumption, check.expected or 0)
    activity = activities.create_activity(
        ActivityKind.SELF_READING, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"meter": meter.serial, "reading_date": reading_date.isoformat(), "value": value,
                 "corrector_value": corrector_value, "consumption": check.consumption,
                 "rolled_over": check.rolled_over, "flagged": check.implausible})
    reading = MeterReading(supply_point_id=supply_point.id, meter_id=meter.id,
                           reading_date=reading_date, value=value, corrector_value=corrector_value,
                           reading_type=ReadingType.SELF, source=ReadingSource.CUSTOMER,
                           status=ReadingStatus.RECEIVED, consumption=check.consumption,
                           flagged=check.implausible, activity_id=activity.id)
    db.session.add(reading)
    outbox.enqueue("submit_reading", {
        "supply_point_code": supply_point.code, "meter_serial": meter.serial,
        "reading_date": reading_date.isoformat(), "value": value,
        "corrector_value": corrector_value, "flagged": check.implausible},
        activity=activity, key=f"reading-{activity.id}")
    return reading, check


@after_delivery("submit_reading")
def _reading_sent(msg) -> None:
    """Billing has the reading: keep its entry number so alignment updates the same row."""
    if msg.activity_id is None:
        return
    reading = db.session.scalar(sa.select(MeterReading).where(MeterReading.activity_id == msg.activity_id))
    if reading is None:
        return
    entry = (msg.result or {}).get("entry_no")
    if entry is not None and reading.billing_entry_no is None:
        taken = db.session.scalar(sa.select(MeterReading.id).where(MeterReading.billing_entry_no == int(entry)))
        if taken is None:
            reading.billing_entry_no = int(entry)
    if reading.status == ReadingStatus.RECEIVED:
        reading.status = ReadingStatus.SENT


def history(supply_point: SupplyPoint, limit: int = 60) -> list[MeterReading]:
    """The supply point's readings, newest first (F-10)."""
    return list(db.session.scalars(
        sa.select(MeterReading).where(MeterReading.supply_point_id == supply_point.id)
        .order_by(MeterReading.reading_date.desc(), MeterReading.id.desc()).limit(limit)))
