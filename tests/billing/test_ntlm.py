"""F-50: NAV with Windows authentication (NTLM) through the requests transport.

The simulator demands NTLM (pyspnego as acceptor, users from NTLM_USER_FILE) on kept-alive
HTTP/1.1 connections, as IIS in front of NAV does.
"""
from __future__ import annotations

import pytest

from app.billing import make_gateway
from app.billing.gateway import BillingError, Entity, FaultKind
from simulator.testing import SimulatorProcess


@pytest.fixture(scope="module")
def ntlm_sim(sim_db, tmp_path_factory):
    users = tmp_path_factory.mktemp("ntlm") / "users"
    users.write_text("DEMO:portal:W1ndows-Pass!\n")
    with SimulatorProcess(sim_db, ntlm_user_file=str(users),
                          log_path=str(users.parent / "sim.log")) as sim:
        yield sim


def _gateway(sim, username, password):
    return make_gateway({"BILLING_URL": sim.url, "BILLING_AUTH": "ntlm",
                         "BILLING_USERNAME": username, "BILLING_PASSWORD": password,
                         "BILLING_TIMEOUT": 5})


def test_F50_ntlm_right_credentials_read_a_customer(ntlm_sim):
    gw = _gateway(ntlm_sim, "DEMO\\portal", "W1ndows-Pass!")
    gw.ping()
    page = gw.read_changes(Entity.CUSTOMER, 0, None, 5)
    assert page.records
    bundle = gw.read_customer_bundle(page.records[0].code)
    assert bundle.customer.code == page.records[0].code
    assert bundle.customer.last_name or bundle.customer.company_name
    # a second call on the authenticated connection, and a write-free read again
    assert gw.read_changes(Entity.CUSTOMER, 0, None, 5).records


def test_F50_ntlm_wrong_password_is_a_clear_auth_error(ntlm_sim):
    gw = _gateway(ntlm_sim, "DEMO\\portal", "wrong-password")
    with pytest.raises(BillingError) as err:
        gw.read_changes(Entity.CUSTOMER, 0, None, 5)
    e = err.value
    assert e.kind is FaultKind.AUTH and e.status == 401 and not e.retryable
    assert "credentials" in e.message and "wrong-password" not in str(e)


def test_F50_ntlm_basic_credentials_are_not_enough(ntlm_sim):
    gw = make_gateway({"BILLING_URL": ntlm_sim.url, "BILLING_USERNAME": "DEMO\\portal",
                       "BILLING_PASSWORD": "W1ndows-Pass!", "BILLING_TIMEOUT": 5})
    with pytest.raises(BillingError) as err:
        gw.ping()
    assert err.value.kind is FaultKind.AUTH
