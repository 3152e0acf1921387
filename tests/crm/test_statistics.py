"""F-24: statistics match counts computed here from the rows; filters; CSV export."""
import csv
import datetime as dt
import io
import random

import pytest

from app.models import Activity, ActivityKind, ActivityStatus as S, Channel, ContactKind
from app.roles import BACK_OFFICE, MANAGER
from app.services.crm.contacts import create_contact
from app.services.crm.stats import Filters, report

NOW = dt.datetime(2026, 11, 20, 12, 0)


@pytest.fixture
def rows(db, make_user):
    """60 activities with random kind, channel, status, operator, dates (seeded)."""
    rnd = random.Random(42)
    ops = [make_user(BACK_OFFICE)[0] for _ in range(3)]
    out = []
    for i in range(60):
        created = dt.datetime(2026, rnd.randint(8, 11), rnd.randint(1, 28), rnd.randint(0, 23))
        status = rnd.choice(list(S))
        closed = created + dt.timedelta(hours=rnd.randint(1, 200)) if status in (
            S.EXECUTED, S.CLOSED, S.REJECTED, S.CANCELLED) else None
        a = Activity(kind=rnd.choice([ActivityKind.COMPLAINT, ActivityKind.DIRECT_DEBIT, ActivityKind.GENERAL]),
                     channel=rnd.choice(list(Channel)), status=status, created_at=created, closed_at=closed,
                     assignee_id=rnd.choice(ops + [None]) and rnd.choice(ops).id,
                     deadline=created + dt.timedelta(days=rnd.randint(1, 60)), subject=f"r{i}")
        db.session.add(a)
        out.append(a)
    db.session.commit()
    for k in (ContactKind.PHONE_CALL, ContactKind.PHONE_CALL, ContactKind.VISIT):
        create_contact(k, ops[0], customer_id=None, subject="c", starts_at=dt.datetime(2026, 10, 5, 10))
    return out, ops


def expected(rows, pred=lambda a: True):
    sel = [a for a in rows if pred(a)]
    handled = [a for a in sel if a.status in (S.EXECUTED, S.CLOSED, S.REJECTED)]
    hours = [(a.closed_at - a.created_at).total_seconds() / 3600 for a in handled]
    return {"count": len(sel),
            "open": sum(a.status in (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS) for a in sel),
            "handled": len(handled),
            "overdue": sum(a.status in (S.NEW, S.WAITING_BILLING, S.ASSIGNED, S.IN_PROGRESS)
                           and a.deadline < NOW for a in sel),
            "avg": round(sum(hours) / len(hours), 1) if hours else None}


def as_dict(row):
    return {"count": row.count, "open": row.open, "handled": row.handled, "overdue": row.overdue,
            "avg": row.avg_hours}


def test_F24_totals_and_groups_match_the_rows(rows):
    acts, ops = rows
    rep = report(Filters(), now=NOW)
    assert as_dict(rep.total) == expected(acts)
    by_kind = {r.key: as_dict(r) for r in rep.groups["kind"]}
    for kind in (ActivityKind.COMPLAINT, ActivityKind.DIRECT_DEBIT, ActivityKind.GENERAL):
        assert by_kind[kind.name if kind.name in by_kind else kind.value] == expected(acts, lambda a: a.kind == kind)
    by_op = {r.key: as_dict(r) for r in rep.groups["operator"]}
    for op in ops:
        assert by_op.get(str(op.id), expected(acts, lambda a: False)) == expected(acts, lambda a: a.assignee_id == op.id)
    months = {r.key: r.count for r in rep.groups["month"]}
    assert months == {m: sum(a.created_at.strftime("%Y-%m") == m for a in acts)
                      for m in {a.created_at.strftime("%Y-%m") for a in acts}}
    assert {r.label: r.count for r in rep.contact_groups["kind"]} == {"Telefonata": 2, "Visita": 1}


def test_F24_filters_combine(rows):
    acts, ops = rows
    f = Filters(date_from=dt.date(2026, 9, 1), date_to=dt.date(2026, 10, 31), operator_id=ops[1].id,
                channel=Channel.PHONE)

    def pred(a):
        # Rome days: 1 Sep 00:00 Rome = 31 Aug 22:00 UTC; 31 Oct 24:00 Rome = 31 Oct 23:00 UTC.
        return (dt.datetime(2026, 8, 31, 22) <= a.created_at < dt.datetime(2026, 10, 31, 23)
                and a.assignee_id == ops[1].id and a.channel == Channel.PHONE)

    assert as_dict(report(f, now=NOW).total) == expected(acts, pred)
    f = Filters(status=S.CLOSED, kind=ActivityKind.COMPLAINT)
    assert as_dict(report(f, now=NOW).total) == expected(
        acts, lambda a: a.status == S.CLOSED and a.kind == ActivityKind.COMPLAINT)


def test_F24_page_and_csv(client, login_as, rows):
    acts, ops = rows
    login_as(MANAGER)
    page = client.get("/statistics/?kind=COMPLAINT")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "Per tipo" in html and "Tempo medio di gestione" in html
    resp = client.get("/statistics/csv?kind=COMPLAINT")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    total = next(r for r in table if r[0] == "total")
    complaints = [a for a in acts if a.kind == ActivityKind.COMPLAINT]
    assert int(total[3]) == len(complaints)
    detail = client.get("/statistics/csv?kind=COMPLAINT&detail=1").get_data(as_text=True).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(detail), delimiter=";"))
    assert len(lines) == len(complaints) + 1 and {l[2] for l in lines[1:]} == {"complaint"}
