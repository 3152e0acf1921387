"""A customer's action that reaches billing: the self-reading, through the portal."""
from __future__ import annotations

import sqlalchemy as sa

from tests.portal.conftest import make_account, portal_login, post_form


def align_and_login(client, db):
    """Align from the simulator, give a customer with a plain meter a portal account, log in.
    Returns (supply point, meter)."""
    from app.models import Customer, Meter, SupplyPoint
    from app.services.sync.alignment import align

    assert align(full=True).status == "ok"
    meter = db.session.scalar(sa.select(Meter).join(SupplyPoint).where(
        Meter.has_corrector.is_(False), Meter.removed_on.is_(None)).order_by(Meter.id))
    sp = meter.supply_point
    user = make_account(db, None, db.session.get(Customer, sp.customer_id))
    portal_login(client, user.username)
    return sp, meter


def submit_reading(client, sp, meter):
    """Post a plausible self-reading; returns the answer (a redirect to the result)."""
    import datetime as dt

    from app.services.portal.readings import previous_reading

    value = (previous_reading(meter).value + 5) % 10 ** meter.digits
    return post_form(client, f"/portal/supply/{sp.id}/reading",
                     {"meter": str(meter.id), "reading_date": dt.date.today().isoformat(), "value": str(value)})
