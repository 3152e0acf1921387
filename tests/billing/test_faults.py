"""Every way a billing call can fail becomes a BillingError with the right FaultKind."""
from __future__ import annotations

import time

import pytest

from app.billing import make_gateway
from app.billing.gateway import BillingError, Entity, FaultKind
from app.billing.nav import NavGateway
from simulator.testing import SimulatorProcess, free_port


def _err(fn, *args) -> BillingError:
    with pytest.raises(BillingError) as err:
        fn(*args)
    return err.value


def test_connection_refused_on_a_closed_port():
    gw = NavGateway(f"http://127.0.0.1:{free_port()}/NAV/WS/DEMO", timeout=2)
    e = _err(gw.ping)
    assert e.kind is FaultKind.CONNECTION and e.retryable


def test_refused_after_the_wsdl_was_loaded_and_basic_auth(sim_db, tmp_path):
    with SimulatorProcess(sim_db, auth="portal:s3cret!", log_path=str(tmp_path / "s.log")) as s:
        gw = NavGateway(s.url, username="portal", password="s3cret!", timeout=3)
        gw.ping()
        assert gw.read_changes(Entity.CUSTOMER, 0, None, 5).records
        anon = NavGateway(s.url, timeout=3)
        e = _err(anon.ping)
        assert (e.kind, e.status) == (FaultKind.AUTH, 401) and not e.retryable
        wrong = NavGateway(s.url, username="portal", password="nope", timeout=3)
        e = _err(wrong.ping)
        assert e.kind is FaultKind.AUTH and "s3cret" not in str(e) and "nope" not in str(e)
    e = _err(gw.ping)  # server gone, WSDL already cached
    assert e.kind is FaultKind.CONNECTION


def test_timeout(sim):
    gw = NavGateway(sim.url, timeout=0.5)
    gw.ping()
    sim.control("delay", seconds=2, count=1)
    t0 = time.monotonic()
    e = _err(gw.read_changes, Entity.CUSTOMER, 0, None, 5)
    assert e.kind is FaultKind.TIMEOUT and e.retryable
    assert time.monotonic() - t0 < 1.5
    assert gw.read_changes(Entity.CUSTOMER, 0, None, 5).records  # next call is normal


def test_soap_fault(sim, gateway):
    sim.control("fault")
    e = _err(gateway.read_changes, Entity.INVOICE, 0, None, 5)
    assert (e.kind, e.status) == (FaultKind.FAULT, 500) and "not valid" in e.message
    assert not e.retryable


def test_record_locked_by_another_user_is_transient(sim, gateway):
    sim.control("lock", count=1)
    e = _err(gateway.read_changes, Entity.INVOICE, 0, None, 5)
    assert (e.kind, e.status) == (FaultKind.LOCKED, 500) and "locked by another user" in e.message
    assert e.retryable


@pytest.mark.parametrize("body", ["empty", "html"])
def test_http_500_without_soap_body(sim, gateway, body):
    sim.control("http500", body=body)
    e = _err(gateway.read_customer_bundle, "C0000001")
    assert (e.kind, e.status) == (FaultKind.HTTP, 500) and e.retryable


def test_http_401(sim, gateway):
    sim.control("http401", count=1)
    e = _err(gateway.ping)
    assert (e.kind, e.status) == (FaultKind.AUTH, 401)
    gateway.ping()  # count=1: only one call failed


def test_garbage(sim, gateway):
    sim.control("garbage")
    for call in (lambda: gateway.read_changes(Entity.PAYMENT, 0, None, 5), gateway.ping,
                 lambda: gateway.invoice_pdf("X")):
        e = _err(call)
        assert e.kind is FaultKind.MALFORMED and not e.retryable


def test_fault_only_for_one_service(sim, gateway):
    sim.control("http500", service="Meter")
    assert gateway.read_changes(Entity.CUSTOMER, 0, None, 2).records
    e = _err(gateway.read_changes, Entity.METER, 0, None, 2)
    assert e.kind is FaultKind.HTTP and e.service == "Meter" and e.operation == "ReadMultiple"


def test_unknown_company_is_404(sim):
    gw = make_gateway({"BILLING_URL": sim.url.replace("/DEMO", "/NOPE"), "BILLING_TIMEOUT": 3})
    e = _err(gw.ping)
    assert (e.kind, e.status) == (FaultKind.HTTP, 404)


def test_stats_count_injected_failures(sim, gateway):
    gateway.ping()
    sim.control("reset_stats")
    sim.control("garbage", count=2)
    for _ in range(3):
        try:
            gateway.ping()
        except BillingError:
            pass
    calls = sim.stats()["calls"]
    assert calls["PortalServices.injected:garbage"] == 2
    assert calls["PortalServices.Ping"] == 1


@pytest.mark.parametrize("times,delivered", [(1, True), (2, False)])
def test_record_modified_by_another_user_is_retried_once(sim, gateway, times, delivered):
    from app.billing.gateway import CustomerUpdate

    code = gateway.read_changes(Entity.CUSTOMER, 0, None, 1).records[0].code
    key = f"modified-{times}"
    sim.control("modified", count=times, service="PortalServices")
    if delivered:
        gateway.update_customer(key, CustomerUpdate(code, phone="0611111"))
        assert sim.stats()["applied_keys"].count(key) == 1
    else:
        e = _err(gateway.update_customer, key, CustomerUpdate(code, phone="0611111"))
        assert e.kind is FaultKind.FAULT and "modified the record" in e.message
        assert key not in sim.stats()["applied_keys"]
