"""Self-reported readings (F-02) and consumption history (F-10): congruity, roll-over of the
meter and of the volume corrector, plausibility, gas volumes, export to billing.

Gas volumes: a meter counts m³ at the place's conditions. Without a volume corrector the
billed volume in standard cubic metres is m³ × the supply point's conversion coefficient C
(set by billing, rounded half up to whole Smc); with a corrector fitted, C is 1 and the
corrector's own difference is the volume in Smc. Electricity is counted in kWh, water in m³.

A reading must be later than the meter's previous one that counts (a rejected reading never
does: it is never the base of a consumption) and not in the future, and its value at least the
previous value — unless the meter, which has a fixed number of digits, passed zero (roll-over):
then the consumption is `value + 10**digits - previous`. The corrector has its own digits and
passes zero on its own. A lower reading that could be a roll-over (the volume across zero is a
believable consumption) is offered to the customer as "the meter passed zero: confirm", like a
consumption far above the supply point's history (the `consumption plausibility factor`
setting times the expected consumption for the period), which is accepted only after the
customer confirms it and is flagged for the back office. The reading is stored at once and sent
to billing through the outbox; the activity is executed automatically when billing has it (F-21).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import format_date

from app.clock import local_today
from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import (ActivityKind, Meter, MeterReading, ReadingSource, ReadingStatus,
                        ReadingType, Service, SupplyPoint)
from app.models.supply import METER_UNITS
from app.services.core import settings
from app.services.core.errors import DomainError
from app.services.core.reads import run
from app.services.sync.outbox import after_delivery
from app.services.core.unit_of_work import transactional


class ReadingError(DomainError):
    """A reading refused by a rule; `field` is the form field the message belongs to."""

    default_field = "value"


@dataclass(frozen=True)
class Units:
    """Units the portal prints for a supply point: the meter's counter, the corrector's
    counter (gas with a corrector only) and the consumption (the billed volume)."""

    reading: str
    corrector: str
    consumption: str


_UNITS = {Service.GAS: Units(METER_UNITS[Service.GAS], "Smc", "Smc"),
          Service.ELECTRICITY: Units(METER_UNITS[Service.ELECTRICITY], "", "kWh"),
          Service.WATER: Units(METER_UNITS[Service.WATER], "", "m³"),
          Service.LPG: Units(METER_UNITS[Service.LPG], "", "l"), Service.TELECOM: Units("", "", "")}


def units(supply_point: SupplyPoint) -> Units:
    """The units of the supply point's readings and consumption."""
    return _UNITS.get(supply_point.service, Units("", "", ""))


def coefficient(supply_point: SupplyPoint, meter: Meter | None = None) -> Decimal:
    """The conversion coefficient C applied to the meter's m³ (1 outside gas or with a corrector)."""
    if supply_point.service != Service.GAS or (meter is not None and meter.has_corrector):
        return Decimal(1)
    c = supply_point.conversion_coefficient
    return Decimal(c) if c else Decimal(1)


def billed_volume(supply_point: SupplyPoint, meter: Meter, counted: int) -> int:
    """Volume billed for `counted` units of a meter without corrector: m³ × C, in whole Smc."""
    return int((Decimal(counted) * coefficient(supply_point, meter))
               .quantize(Decimal(1), ROUND_HALF_UP))


def _corrector_top(meter: Meter) -> int:
    return 10 ** (meter.corrector_digits or 9)


def volume_between(supply_point: SupplyPoint, meter: Meter, base: MeterReading,
                   value: int, corrector_value: int | None) -> int:
    """The consumption from reading `base` to (value, corrector_value), across zero if need be:
    the corrector's difference when both have one, else the meter's difference × C."""
    if meter.has_corrector and corrector_value is not None and base.corrector_value is not None:
        return (corrector_value - base.corrector_value) % _corrector_top(meter)
    return billed_volume(supply_point, meter, (value - base.value) % 10 ** (meter.digits or 5))


class NeedsConfirmation(Exception):
    """The customer must confirm the reading: the meter or the corrector passed zero
    (`rolled_over`, `corrector_rolled_over`), or the consumption looks implausible."""

    def __init__(self, consumption: int, expected: int, *, rolled_over: bool = False,
                 corrector_rolled_over: bool = False, implausible: bool = True,
                 previous: sa.Row | None = None, unit: str = ""):
        super().__init__(f"{consumption} vs {expected}")
        self.consumption, self.expected = consumption, expected
        self.rolled_over, self.corrector_rolled_over = rolled_over, corrector_rolled_over
        self.implausible, self.previous, self.unit = implausible, previous, unit

    @property
    def roll_over(self) -> bool:
        """The customer is asked to confirm that a counter passed zero."""
        return self.rolled_over or self.corrector_rolled_over


@dataclass
class Check:
    consumption: int | None
    rolled_over: bool = False
    implausible: bool = False
    same_as_previous: bool = False
    expected: int | None = None
    corrector_rolled_over: bool = False
    previous: sa.Row | None = None  # the meter's last reading that counts (its columns)
    reference: str = ""  # once stored: the request's number (the customer's confirmation quotes it)


# Each meter's latest reading that still counts, for all the meters of a page at once.
_RANKED = (sa.select(MeterReading.id, sa.func.row_number().over(
    partition_by=MeterReading.meter_id,
    order_by=(MeterReading.reading_date.desc(), MeterReading.id.desc())).label("rank"))
    .where(MeterReading.meter_id.in_(sa.bindparam("meters", expanding=True)),
           MeterReading.status != ReadingStatus.REJECTED).subquery())
_LATEST_PER_METER = sa.select(MeterReading).join(_RANKED, _RANKED.c.id == MeterReading.id).where(
    _RANKED.c.rank == 1)


def previous_readings(meters: list[Meter]) -> dict[int, MeterReading | None]:
    """`previous_reading` of each meter, by meter id: one statement for all of them."""
    latest: dict[int, MeterReading | None] = {m.id: None for m in meters}
    if meters:
        for reading in db.session.scalars(_LATEST_PER_METER, {"meters": list(latest)}):
            latest[reading.meter_id] = reading
    return latest


def previous_reading(meter: Meter) -> MeterReading | None:
    """The meter's latest reading that still counts (rejected ones don't)."""
    return previous_readings([meter])[meter.id]


_READING = MeterReading.__table__.c
_VALID = sa.and_(_READING.supply_point_id == sa.bindparam("sp"), _READING.status == ReadingStatus.VALID)
# The supply point's validated history in one row: how many readings, the first and the last
# date, and the consumption counted after the first (the first reading's own is before it).
_FIRST_CONSUMPTION = (sa.select(_READING.consumption).where(_VALID)
                      .order_by(_READING.reading_date, _READING.id).limit(1).scalar_subquery())
_SPAN = sa.select(sa.func.count().label("readings"),
                  sa.func.min(_READING.reading_date).label("first_date"),
                  sa.func.max(_READING.reading_date).label("last_date"),
                  (sa.func.coalesce(sa.func.sum(_READING.consumption), 0)
                   - sa.func.coalesce(_FIRST_CONSUMPTION, 0)).label("counted")).where(_VALID)
# A new reading's base in one statement: the meter's last reading that counts (a rejected one
# never does), with the supply point's history alongside. Rows, not records: only compared.
_SPAN_ROW = _SPAN.subquery()
_BASE = (sa.select(_READING.id, _READING.reading_date, _READING.value, _READING.corrector_value,
                   *_SPAN_ROW.c)
         .join(_SPAN_ROW, sa.true())
         .where(_READING.meter_id == sa.bindparam("meter"), _READING.status != ReadingStatus.REJECTED)
         .order_by(_READING.reading_date.desc(), _READING.id.desc()).limit(1))


def _daily(span, supply_point: SupplyPoint) -> float | None:
    """Average daily consumption of a history `span` (a row of _SPAN's columns), else the
    supply point's annual estimate."""
    if span is not None and span.readings >= 2:
        days = (span.last_date - span.first_date).days
        if days > 0 and span.counted > 0:
            return float(span.counted) / days
    if supply_point.annual_consumption:
        return supply_point.annual_consumption / 365
    return None


def expected_daily(supply_point: SupplyPoint) -> float | None:
    """Average daily consumption from the supply point's history, else its annual estimate."""
    return _daily(run(_SPAN, {"sp": supply_point.id}).first(), supply_point)


def check_reading(supply_point: SupplyPoint, meter: Meter, reading_date: dt.date, value: int,
                  corrector_value: int | None, today: dt.date | None = None) -> Check:
    """Apply the congruity rules; returns the consumption (raises ReadingError)."""
    today = today or local_today()
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
    if meter.has_corrector and corrector_value >= _corrector_top(meter):
        raise ReadingError(_l("The volume corrector has %(digits)d digits: the reading cannot be "
                              "that long.", digits=meter.corrector_digits or 9), "corrector_value")
    prev = run(_BASE, {"meter": meter.id, "sp": supply_point.id}).first()
    if prev is None:
        return Check(consumption=None)
    if reading_date <= prev.reading_date:
        raise ReadingError(_l("The date must be later than the previous reading (%(date)s).",
                              date=format_date(prev.reading_date)), "reading_date")
    days = (reading_date - prev.reading_date).days
    daily = _daily(prev, supply_point)
    expected = int(daily * days) if daily else None
    factor = settings.get("consumption plausibility factor")
    limit = max(expected * factor, 1) if expected is not None else None
    counted = (value - prev.value) % top
    rolled = value < prev.value
    # A counter may have passed zero only when the volume across zero is a believable
    # consumption; otherwise the customer most likely typed a lower number than the last one.
    if rolled:
        across = billed_volume(supply_point, meter, counted)
        believable = across <= limit if limit is not None else counted <= top // 10
        if not believable:
            raise ReadingError(_l("The reading is lower than the previous one (%(value)s on %(date)s).",
                                  value=prev.value, date=format_date(prev.reading_date)), "value")
    corrector_rolled = False
    with_corrector = meter.has_corrector and prev.corrector_value is not None
    if with_corrector and corrector_value < prev.corrector_value:
        across = (corrector_value - prev.corrector_value) % _corrector_top(meter)
        # without history, the meter's own m³ tell what the corrector may have counted
        believable = across <= limit if limit is not None else across <= 2 * counted + 100
        if not believable:
            raise ReadingError(_l("The corrector reading is lower than the previous one (%(value)s).",
                                  value=prev.corrector_value), "corrector_value")
        corrector_rolled = True
    consumption = volume_between(supply_point, meter, prev, value,
                                 corrector_value if with_corrector else None)
    implausible = limit is not None and consumption > limit
    return Check(consumption=consumption, rolled_over=rolled, implausible=implausible,
                 same_as_previous=consumption == 0 and counted == 0, expected=expected,
                 corrector_rolled_over=corrector_rolled, previous=prev)


@transactional
def submit_reading(user, supply_point: SupplyPoint, meter: Meter, reading_date: dt.date,
                   value: int, corrector_value: int | None = None, *,
                   confirmed: bool = False,
                   confirmed_rollover: bool = False) -> tuple[MeterReading, Check]:
    """Store a self-reading, its activity and the outbox row; commit.

    Raises NeedsConfirmation when a counter passed zero and `confirmed_rollover` is not set,
    or when the consumption is implausible and `confirmed` is not set."""
    from app.services.crm import activities
    from app.services.sync import outbox

    if meter.supply_point_id != supply_point.id or meter.removed_on is not None:
        raise ReadingError(_l("Choose a meter of this supply point."), "meter")
    if not meter.has_corrector:
        corrector_value = None
    check = check_reading(supply_point, meter, reading_date, value, corrector_value)
    rollover = check.rolled_over or check.corrector_rolled_over
    if (rollover and not confirmed_rollover) or (check.implausible and not confirmed):
        raise NeedsConfirmation(check.consumption, check.expected or 0,
                                rolled_over=check.rolled_over,
                                corrector_rolled_over=check.corrector_rolled_over,
                                implausible=check.implausible and not confirmed,
                                previous=check.previous, unit=units(supply_point).consumption)
    activity = activities.create_activity(
        ActivityKind.SELF_READING, customer_id=supply_point.customer_id,
        supply_point_id=supply_point.id, actor=user,
        payload={"meter": meter.serial, "reading_date": reading_date.isoformat(), "value": value,
                 "corrector_value": corrector_value, "consumption": check.consumption,
                 "rolled_over": check.rolled_over,
                 "corrector_rolled_over": check.corrector_rolled_over,
                 "flagged": check.implausible})
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
    from app.services.portal.requests import confirm_by_mail

    confirm_by_mail(activity, user)
    check.reference = activity.reference  # read now: the commit expires the records
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


# Built once (the consumption page reads it on every view): the supply point and the limit
# are parameters. Rows, not records: a page of 60 readings is only shown.
_HISTORY = (sa.select(*_READING).where(_READING.supply_point_id == sa.bindparam("sp"))
            .order_by(_READING.reading_date.desc(), _READING.id.desc()).limit(sa.bindparam("limit")))


def history(supply_point: SupplyPoint, limit: int = 60) -> list[sa.Row]:
    """The supply point's readings, newest first (F-10): rows with a reading's columns."""
    return list(run(_HISTORY, {"sp": supply_point.id, "limit": limit}))


@dataclass
class HistoryRow:
    """One line of the consumption history: the reading (its columns), the consumption it
    counts (None for the first reading of a meter and for a rejected one) and its meter."""

    reading: sa.Row
    consumption: int | None
    counted: bool
    meter: Meter | None = None


class MeterRow(NamedTuple):
    """What the consumption history needs of a meter."""

    id: int
    serial: str
    digits: int
    has_corrector: bool
    corrector_digits: int
    removed_on: dt.date | None


@dataclass(frozen=True)
class MeteredSupply:
    """A supply point as its consumption history shows it: how it is named, what converts its
    meters' counts, and its meters (in the order they were installed)."""

    id: int
    service: Service
    point_code: str
    address: str
    city: str
    conversion_coefficient: Decimal | None
    meters: tuple[MeterRow, ...]


_sp = SupplyPoint.__table__.c
_meter = Meter.__table__.c
_SUPPLY_COLUMNS = (_sp.id, _sp.service, SupplyPoint.point_code.label("point_code"), _sp.address, _sp.city,
                   _sp.conversion_coefficient)  # MeteredSupply's fields before its meters
_N_SUPPLY = len(_SUPPLY_COLUMNS)
_METERED_SUPPLY = (sa.select(*_SUPPLY_COLUMNS, *(_meter[f] for f in MeterRow._fields))
                   .select_from(SupplyPoint.__table__).outerjoin(Meter.__table__, _meter.supply_point_id == _sp.id)
                   .where(_sp.id == sa.bindparam("id"), _sp.customer_id == sa.bindparam("customer_id"))
                   .order_by(_meter.installed_on, _meter.id))


def metered_supply(customer_id: int, supply_point_id: int) -> MeteredSupply | None:
    """The customer's supply point `supply_point_id` with its meters (one statement), or None
    when the customer has no such supply point."""
    rows = run(_METERED_SUPPLY, {"id": supply_point_id, "customer_id": customer_id}).all()
    if not rows:
        return None
    meters = tuple(MeterRow(*r[_N_SUPPLY:]) for r in rows if r[_N_SUPPLY] is not None)
    return MeteredSupply(*rows[0][:_N_SUPPLY], meters)


def consumption_history(supply_point: SupplyPoint | MeteredSupply, limit: int = 60) -> list[HistoryRow]:
    """The readings newest first with the consumption each one counts (F-10).

    A rejected reading counts nothing and is never the base of the next one: a reading not
    yet in billing is counted here from its meter's previous reading that counts; billing's
    own figure stands for the others."""
    readings = history(supply_point, limit)
    meters = {m.id: m for m in supply_point.meters}
    base: dict[int | None, sa.Row] = {}
    rows: list[HistoryRow] = []
    for r in reversed(readings):
        meter = meters.get(r.meter_id)
        if r.status == ReadingStatus.REJECTED:
            rows.append(HistoryRow(r, None, False, meter))
            continue
        consumption = r.consumption
        prev = base.get(r.meter_id)
        if r.billing_entry_no is None and meter is not None and prev is not None:
            consumption = volume_between(supply_point, meter, prev, r.value, r.corrector_value)
        base[r.meter_id] = r
        rows.append(HistoryRow(r, consumption, True, meter))
    rows.reverse()
    return rows
