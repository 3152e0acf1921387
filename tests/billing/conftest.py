"""Billing tests run against the real simulator over HTTP (no mocks).

A small DB (30 customers) is generated once per session and served by `python -m simulator
serve` on a free port; tests that mutate data use their own records or compare relative values.
"""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.billing.nav import NavGateway  # noqa: E402
from simulator.testing import SimulatorProcess, generate  # noqa: E402

SEED = 42
CUSTOMERS = 30


def pytest_collection_modifyitems(config, items):
    """The contract suite's SAP-only tests (they take the `sap` fixture: RETURN messages) are
    not generated for the NAV flavour, rather than generated and skipped."""
    keep, drop = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        nav_only_param = spec is not None and spec.params.get("flavour_sim") == "nav"
        (drop if nav_only_param and "sap" in getattr(item, "fixturenames", ()) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("billing-sim") / "sim.db"
    generate(path, customers=CUSTOMERS, seed=SEED, months=12)
    return path


@pytest.fixture(scope="session")
def simulator(sim_db):
    with SimulatorProcess(sim_db) as sim:
        yield sim


@pytest.fixture
def sim(simulator):
    simulator.clear()
    yield simulator
    simulator.clear()


@pytest.fixture
def gateway(sim) -> NavGateway:
    return NavGateway(sim.url, timeout=5.0, page_size=7)


@pytest.fixture
def db(sim_db):
    """Read-only look at the simulator's DB (WAL: fine while the server writes)."""
    conn = sqlite3.connect(f"file:{sim_db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()
