"""F-02 / F-10: billing's validation of each reading (valid, being checked, rejected with a
reason) reaches the customer's readings list, on either billing system."""
import pytest
import sqlalchemy as sa

from app.models import MeterReading, ReadingStatus
from app.services.sync.alignment import align
from tests.portal.conftest import make_account, portal_login


@pytest.mark.parametrize("sim_fixture", ["billing_sim", "billing_sim_sap"])
def test_F02_rejected_reading_shows_billing_reason_to_the_customer(sim_fixture, request, db, app,
                                                                  client):
    request.getfixturevalue(sim_fixture)
    assert align(full=True).status == "ok"
    rejected = db.session.scalars(sa.select(MeterReading).where(
        MeterReading.status == ReadingStatus.REJECTED).order_by(MeterReading.id)).first()
    assert rejected is not None and "scartata" in rejected.status_reason
    valid = db.session.scalars(sa.select(MeterReading).where(
        MeterReading.status == ReadingStatus.VALID)).first()
    assert valid.status_reason == ""
    customer = rejected.supply_point.customer
    user = make_account(db, app, customer)
    assert portal_login(client, user.username).status_code == 302
    page = client.get(f"/portal/supply/{rejected.supply_point_id}/consumption").get_data(as_text=True)
    assert "Respinta" in page
    assert f"La fatturazione dice: {rejected.status_reason}" in page
