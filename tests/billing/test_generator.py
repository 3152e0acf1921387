"""The generator: deterministic, and every identifier/amount is valid."""
from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
import schwifty
from stdnum import iban as stdnum_iban
from stdnum.it import codicefiscale, iva

from simulator.schema import ENTITIES
from simulator.testing import generate


def _dump(path) -> dict:
    conn = sqlite3.connect(path)
    out = {e.table: conn.execute(f"SELECT * FROM {e.table} ORDER BY {e.pk}").fetchall()
           for e in ENTITIES.values()}
    conn.close()
    return out


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "big.db"
    generate(path, customers=300, seed=7, months=12)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def test_same_seed_same_data(tmp_path):
    generate(tmp_path / "a.db", customers=25, seed=5)
    generate(tmp_path / "b.db", customers=25, seed=5)
    generate(tmp_path / "c.db", customers=25, seed=6)
    a, b, c = _dump(tmp_path / "a.db"), _dump(tmp_path / "b.db"), _dump(tmp_path / "c.db")
    assert a == b
    assert a["customer"] != c["customer"]
    assert all(len(rows) > 0 for rows in a.values())


def test_subprocess_generation_matches(tmp_path):
    info = generate(tmp_path / "s.db", customers=10, seed=3, subprocess_=True)
    generate(tmp_path / "i.db", customers=10, seed=3)
    assert info["counts"]["Customer"] == 10
    assert _dump(tmp_path / "s.db") == _dump(tmp_path / "i.db")


def test_customers_identifiers_valid(big):
    rows = big.execute("SELECT * FROM customer").fetchall()
    kinds = {r["Partner_Type"] for r in rows}
    assert kinds == {"person", "company"}
    persons = [r for r in rows if r["Partner_Type"] == "person"]
    assert 0.75 < len(persons) / len(rows) < 0.95
    for r in rows:
        assert codicefiscale.is_valid(r["Tax_Code"]), r["Tax_Code"]
        if r["VAT_Registration_No"]:
            assert iva.is_valid(r["VAT_Registration_No"])
        if r["Partner_Type"] == "company":
            assert r["VAT_Registration_No"] and r["Date_of_Birth"] is None
        else:
            assert r["Last_Name"] and r["First_Name"]
            assert codicefiscale.get_birth_date(r["Tax_Code"]).isoformat() == r["Date_of_Birth"]
        assert r["Language_Code"] in ("ITA", "ENU")
        assert re.fullmatch(r"\d{5}", r["Post_Code"]) and len(r["County"]) == 2
    assert any(r["VAT_Registration_No"] for r in persons)  # some sole traders
    assert sum(1 for r in rows if not r["E_Mail"]) > 0  # some without e-mail
    assert sum(1 for r in rows if r["E_Mail"]) > len(rows) / 2


def test_supply_points_valid(big):
    rows = big.execute("SELECT * FROM supply_point").fetchall()
    services = {r["Service"] for r in rows}
    assert {"gas", "electricity"} <= services
    pdrs = [r["PDR"] for r in rows if r["PDR"]]
    pods = [r["POD"] for r in rows if r["POD"]]
    assert len(pdrs) == len(set(pdrs)) and len(pods) == len(set(pods))
    assert all(re.fullmatch(r"\d{14}", p) for p in pdrs)
    assert all(re.fullmatch(r"IT\d{3}E\d{8}[A-Z0-9]?", p) for p in pods)
    assert len({p[2:5] for p in pods}) >= 3
    ibans = [r["IBAN"] for r in rows if r["IBAN"]]
    assert ibans
    for value in ibans:
        assert stdnum_iban.is_valid(value)
        schwifty.IBAN(value)  # raises when invalid (country format, CIN-aware checksum)
    for r in rows:
        assert (r["Payment_Method"] == "sdd") == bool(r["IBAN"])
        assert r["Status"] in ("active", "not_invoiceable", "ceased", "suspended")
        assert r["Use_Type"] in ("domestic", "business", "condominium", "public")


def test_meters_and_readings_consistent(big):
    meters = {r["Serial_No"]: r for r in big.execute("SELECT * FROM meter")}
    points = {r["No"]: r for r in big.execute("SELECT * FROM supply_point")}
    assert {r["Digits"] for r in meters.values()} <= set(range(5, 9))
    assert any(r["Has_Corrector"] and r["Corrector_Serial_No"] for r in meters.values())
    chains = defaultdict(list)
    for r in big.execute("SELECT * FROM meter_reading ORDER BY Entry_No"):
        chains[r["Meter_Serial_No"]].append(r)
    types = set()
    rollover = corrector_rollover = rejected = False
    for serial, reads in chains.items():
        meter = meters[serial]
        top, c_top = 10 ** meter["Digits"], 10 ** (meter["Corrector_Digits"] or 9)
        point = points[meter["Supply_Point_No"]]
        coefficient = Decimal(point["Conversion_Coefficient"])
        base = None  # the last reading that counts: a rejected one never does
        for prev, cur in zip(reads, reads[1:]):
            assert cur["Reading_Date"] > prev["Reading_Date"]
        for cur in reads:
            if cur["Status"] == "rejected":
                assert cur["Consumption"] is None
                rejected = True
                continue
            if base is not None:
                m3 = (cur["Reading_Value"] - base["Reading_Value"]) % top
                if meter["Has_Corrector"]:
                    assert coefficient == 1
                    assert cur["Consumption"] == (cur["Corrector_Value"] - base["Corrector_Value"]) % c_top
                    corrector_rollover |= cur["Corrector_Value"] < base["Corrector_Value"]
                elif point["Service"] == "gas":
                    smc = (Decimal(m3) * coefficient).quantize(Decimal(1), ROUND_HALF_UP)
                    assert cur["Consumption"] == int(smc)
                else:
                    assert cur["Consumption"] == m3
                rollover |= cur["Reading_Value"] < base["Reading_Value"]
            base = cur
        types |= {r["Reading_Type"] for r in reads}
    assert types == {"actual", "estimated", "self"}
    assert rollover and corrector_rollover and rejected  # some meters pass zero


def test_gas_conversion_coefficients_are_realistic(big):
    rows = big.execute("SELECT s.Service, s.Conversion_Coefficient AS c, m.Has_Corrector "
                       "FROM supply_point s JOIN meter m ON m.Supply_Point_No = s.No").fetchall()
    plain = [Decimal(r["c"]) for r in rows if r["Service"] == "gas" and not r["Has_Corrector"]]
    assert plain and all(Decimal("0.85") < c < Decimal("1.06") for c in plain)
    assert all(len(r["c"].split(".")[1]) == 6 for r in rows)
    assert Decimal("0.98") < sorted(plain)[len(plain) // 2] < Decimal("1.04")  # mostly low land
    assert any(c > Decimal("1.015") for c in plain) and any(c < Decimal("0.95") for c in plain)
    assert len(set(plain)) > 5
    assert all(Decimal(r["c"]) == 1 for r in rows if r["Service"] != "gas" or r["Has_Corrector"])


def test_invoices_add_up_and_match_payments(big):
    paid = defaultdict(int)
    for r in big.execute("SELECT Invoice_No, Amount FROM payment"):
        paid[r["Invoice_No"]] += r["Amount"]
    statuses = set()
    codes = set()
    for inv in big.execute("SELECT * FROM sales_invoice"):
        lines = json.loads(inv["Lines"])
        assert len(lines) >= 3
        assert sum(ln[4] for ln in lines) == inv["Amount_Including_VAT"]
        for ln in lines:
            exact = Decimal(ln[2]) * Decimal(ln[3]) * 100
            assert abs(exact - ln[4]) <= Decimal("0.5")
        assert inv["Amount_Paid"] == paid.get(inv["No"], 0)
        expected = ("paid" if inv["Amount_Paid"] >= inv["Amount_Including_VAT"] else
                    "partially_paid" if inv["Amount_Paid"] else "unpaid")
        assert inv["Status"] == expected
        statuses.add(inv["Status"])
        assert re.fullmatch(r"[A-Z2-9]{10}", inv["Web_Code"])
        codes.add(inv["Web_Code"])
        assert inv["Period_From"] < inv["Period_To"] < inv["Posting_Date"] < inv["Due_Date"]
    assert statuses == {"paid", "unpaid", "partially_paid"}
    n = big.execute("SELECT count(*) FROM sales_invoice").fetchone()[0]
    assert len(codes) == n
    wheres = {r[0] for r in big.execute("SELECT Payment_Method FROM payment")}
    assert {"sdd", "postal_slip"} <= wheres


def test_row_versions_unique_and_counter(big):
    versions = []
    for e in ENTITIES.values():
        versions += [r[0] for r in big.execute(f"SELECT Row_Version FROM {e.table}")]
    assert len(versions) == len(set(versions))
    assert max(versions) == big.execute("SELECT v FROM rv_counter").fetchone()[0]
