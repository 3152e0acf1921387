"""Search and statistics over activities and contacts (F-24).

Filters: creation date range (Europe/Rome days), operator (assignee), kind, status, channel.
Figures: counts (total, open, handled, overdue) and average handling time, overall and per
kind, status, channel, operator and month; contacts per kind, channel, operator and month. Everything is aggregated in SQL
(one GROUP BY per dimension) so the page costs the same on a million activities.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.clock import ROME
from app.extensions import db
from app.models import Activity, ActivityKind, ActivityStatus as S, Channel, Contact, SportelloUser
from app.models.activity import subject_text
from app.models.base import utcnow
from app.services.core.csv_export import CsvTable

OPEN = (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS)
HANDLED = (S.EXECUTED, S.CLOSED, S.REJECTED)
DIMENSIONS = ("kind", "status", "channel", "operator", "month")
CONTACT_DIMENSIONS = ("kind", "channel", "operator", "month")


@dataclass
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    operator_id: int | None = None
    kind: ActivityKind | None = None
    status: S | None = None
    channel: Channel | None = None


@dataclass
class Row:
    key: str
    label: str
    count: int = 0
    open: int = 0
    handled: int = 0
    overdue: int = 0
    avg_hours: float | None = None


@dataclass
class Report:
    total: Row
    groups: dict[str, list[Row]] = field(default_factory=dict)
    contact_groups: dict[str, list[Row]] = field(default_factory=dict)


def _utc_bound(day: dt.date) -> dt.datetime:
    """Midnight of a Rome day as naive UTC (the stored form)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ROME).astimezone(dt.UTC).replace(tzinfo=None)


def _conditions(f: Filters, model=Activity) -> list:
    created = Activity.created_at if model is Activity else Contact.starts_at
    out = []
    if f.date_from:
        out.append(created >= _utc_bound(f.date_from))
    if f.date_to:
        out.append(created < _utc_bound(f.date_to + dt.timedelta(days=1)))
    if model is Activity:
        if f.operator_id:
            out.append(Activity.assignee_id == f.operator_id)
        if f.kind:
            out.append(Activity.kind == f.kind)
        if f.status:
            out.append(Activity.status == f.status)
        if f.channel:
            out.append(Activity.channel == f.channel)
    else:
        out.append(Contact.cancelled.is_(False))
        if f.operator_id:
            out.append(Contact.operator_id == f.operator_id)
    return out


def _seconds_between(start, end):
    """end - start in seconds, on SQLite and PostgreSQL."""
    if db.engine.dialect.name == "sqlite":
        return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
    return sa.extract("epoch", end - start)


def _month(column):
    if db.engine.dialect.name == "sqlite":
        return sa.func.strftime("%Y-%m", column)
    return sa.func.to_char(column, "YYYY-MM")


def _measures(now: dt.datetime):
    handled = Activity.status.in_(HANDLED)
    return [
        sa.func.count(Activity.id),
        sa.func.sum(sa.case((Activity.status.in_(OPEN), 1), else_=0)),
        sa.func.sum(sa.case((handled, 1), else_=0)),
        sa.func.sum(sa.case((sa.and_(Activity.status.in_(OPEN), Activity.deadline < now), 1), else_=0)),
        sa.func.avg(sa.case((sa.and_(handled, Activity.closed_at.is_not(None)),
                             _seconds_between(Activity.created_at, Activity.closed_at)), else_=None)),
    ]


def _row(key, label, values) -> Row:
    count, open_, handled, overdue, avg = values
    return Row(str(key), str(label), int(count or 0), int(open_ or 0), int(handled or 0),
               int(overdue or 0), round(float(avg) / 3600, 1) if avg is not None else None)


def report(f: Filters, now: dt.datetime | None = None) -> Report:
    """The figures for the filters (now: naive UTC, for overdue)."""
    now = now or utcnow()
    where = _conditions(f)
    total = db.session.execute(sa.select(*_measures(now)).where(*where)).one()
    out = Report(total=_row("total", "", total))
    columns = {"kind": Activity.kind, "status": Activity.status, "channel": Activity.channel,
               "operator": Activity.assignee_id, "month": _month(Activity.created_at)}
    users = {}
    for dim, column in columns.items():
        rows = db.session.execute(sa.select(column, *_measures(now)).where(*where)
                                  .group_by(column).order_by(column)).all()
        if dim == "operator":
            ids = [r[0] for r in rows if r[0] is not None]
            users = {u.id: u for u in db.session.scalars(sa.select(SportelloUser).where(SportelloUser.id.in_(ids)))}
        out.groups[dim] = [_row(_key(r[0]), _label(dim, r[0], users), r[1:]) for r in rows]
        out.groups[dim].sort(key=lambda r: (-r.count, r.label) if dim != "month" else r.key)
    out.contact_groups = _contact_groups(f)
    return out


def _contact_groups(f: Filters) -> dict[str, list[Row]]:
    """Contacts (cancelled ones left out) per kind, channel, operator and month of the contact."""
    where = _conditions(f, Contact)
    columns = {"kind": Contact.kind, "channel": Contact.channel, "operator": Contact.operator_id,
               "month": _month(Contact.starts_at)}
    groups: dict[str, list[Row]] = {}
    for dim, column in columns.items():
        rows = db.session.execute(sa.select(column, sa.func.count(Contact.id)).where(*where)
                                  .group_by(column).order_by(column)).all()
        users = {}
        if dim == "operator":
            ids = [r[0] for r in rows if r[0] is not None]
            users = {u.id: u for u in db.session.scalars(sa.select(SportelloUser).where(SportelloUser.id.in_(ids)))}
        groups[dim] = [Row(_key(value), _label(dim, value, users), int(n)) for value, n in rows]
        groups[dim].sort(key=lambda r: (-r.count, r.label) if dim != "month" else r.key)
    return groups


def _key(value) -> str:
    if value is None:
        return ""
    return getattr(value, "value", value) if not isinstance(value, int) else str(value)


def _label(dim: str, value, users: dict) -> str:
    if value is None:
        return "—"
    if dim == "month":
        from flask_babel import format_date

        year, month = (int(part) for part in str(value).split("-")[:2])
        return format_date(dt.date(year, month, 1), "LLLL yyyy")
    if dim == "operator":
        user = users.get(value)
        if user is None:
            return str(value)
        name = f"{user.first_name} {user.last_name}".strip()
        return f"{name} ({user.username})" if name else user.username
    return str(getattr(value, "label", value))


def report_csv(rep: Report) -> str:
    """The report as CSV (semicolon-separated, as Italian spreadsheets expect)."""
    w = CsvTable()
    w.row(["dimension", "key", "label", "count", "open", "handled", "overdue", "avg_handling_hours"])
    t = rep.total
    w.row(["total", "", "", t.count, t.open, t.handled, t.overdue, _num(t.avg_hours)])
    for dim, rows in rep.groups.items():
        for r in rows:
            w.row([dim, r.key, r.label, r.count, r.open, r.handled, r.overdue, _num(r.avg_hours)])
    for dim, rows in rep.contact_groups.items():
        for r in rows:
            w.row([f"contact_{dim}", r.key, r.label, r.count, "", "", "", ""])
    return w.text()


def activities_csv(f: Filters, limit: int = 100_000) -> str:
    """The activities matching the filters, one per line."""
    w = CsvTable()
    w.row(["id", "created_at", "kind", "channel", "status", "customer_id", "assignee",
                "deadline", "closed_at", "subject"])
    stmt = (sa.select(Activity.id, Activity.created_at, Activity.kind, Activity.channel, Activity.status,
                      Activity.customer_id, SportelloUser.username, Activity.deadline, Activity.closed_at,
                      Activity.subject)
            .outerjoin(SportelloUser, SportelloUser.id == Activity.assignee_id)
            .where(*_conditions(f)).order_by(Activity.created_at).limit(limit))
    for row in db.session.execute(stmt):
        w.row([row[0], _iso(row[1]), row[2].value, row[3].value, row[4].value, row[5] or "",
                    row[6] or "", _iso(row[7]), _iso(row[8]), subject_text(row[9], row[2])])
    return w.text()


def _iso(value) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _num(value) -> float | str:
    return "" if value is None else round(float(value), 1)


__all__ = ["Filters", "Report", "Row", "report", "report_csv", "activities_csv", "DIMENSIONS",
           "CONTACT_DIMENSIONS"]
