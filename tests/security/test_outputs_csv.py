"""CSV injection: every CSV export neutralises text cells a spreadsheet would run as a formula,
and leaves the numbers the code writes as numbers."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import Activity
from tests.security.conftest import FORMULA, read_csv

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _no_live_formula(rows):
    for row in rows:
        for cell in row:
            assert not cell.startswith(DANGEROUS), f"live formula in the CSV: {cell!r}"


def test_csv_injection_requests_export(hostile_request, client, manager, db):
    rows = read_csv(client.get("/statistics/csv?detail=1"))
    _no_live_formula(rows)
    subject = rows[1][rows[0].index("subject")]
    assert subject == "'" + FORMULA + " about my gas tariff"  # kept, shown as text
    activity_id = db.session.scalar(sa.select(Activity.id))
    assert rows[1][0] == str(activity_id)  # the id is still a plain number


def test_csv_injection_statistics_export_operator_names(client, make_user, db, hostile_request):
    from app.roles import BACK_OFFICE, MANAGER
    from tests.conftest import staff_login

    operator, _ = make_user(BACK_OFFICE)
    operator.first_name, operator.last_name = "@SUM(1+1)*cmd|' /C calc'!A0", "+Rossi"
    db.session.scalar(sa.select(Activity)).assignee_id = operator.id
    db.session.commit()
    user, password = make_user(MANAGER)
    staff_login(client, user.username, password)
    rows = read_csv(client.get("/statistics/csv"))
    _no_live_formula(rows)
    labels = [r[2] for r in rows if r[0] == "operator"]
    assert any(label.startswith("'@SUM(1+1)") for label in labels), labels
    total = next(r for r in rows if r[0] == "total")
    assert total[3] == "1"  # counts stay numbers


def test_csv_injection_helper_keeps_numbers_and_neutralises_text():
    from decimal import Decimal

    from app.services.core.csv_export import safe_cell

    assert [safe_cell(v) for v in (-3, 2.5, Decimal("-1.20"), None)] == [-3, 2.5, Decimal("-1.20"), ""]
    for start in DANGEROUS:
        assert safe_cell(start + "1+1") == "'" + start + "1+1"
    assert safe_cell("Rossi") == "Rossi"
