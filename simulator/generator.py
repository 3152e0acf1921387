"""Deterministic generator of a realistic Italian utility customer base.

Same (customers, seed, months) -> same database content. Dates are relative to REF_DATE so the
data does not depend on the day it is generated. Money is integer cents, prices integer
1/10000 EUR: amounts add up exactly (line = round(qty x price), VAT line = round(base x rate),
invoice total = sum of lines).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from decimal import ROUND_HALF_UP, Decimal

from . import italian as it
from .schema import ENTITIES, connect, create_indexes, create_schema

REF_DATE = dt.date(2026, 11, 1)
FLUSH_EVERY = 2000  # customers per executemany batch

GAS_SEASON = [0.20, 0.17, 0.12, 0.07, 0.03, 0.02, 0.02, 0.02, 0.03, 0.06, 0.11, 0.15]
FLAT_SEASON = [0.09, 0.08, 0.08, 0.08, 0.08, 0.09, 0.10, 0.09, 0.08, 0.08, 0.08, 0.07]
SERVICES = ["gas"] * 42 + ["electricity"] * 45 + ["water"] * 6 + ["lpg"] * 3 + ["telecom"] * 4
UNITS = {"gas": "Smc", "electricity": "kWh", "water": "m3", "lpg": "l", "telecom": ""}
DIGITS = {"gas": [5, 5, 6, 8], "electricity": [6, 6, 7, 8], "water": [5, 5, 6], "lpg": [5, 6]}
WEB_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# (description, kind, price in 1/10000 EUR (lo, hi)); kind q = per unit, m = per month
LINES = {
    "gas": [("Materia prima gas", "q", (3800, 6500)), ("Quota fissa vendita", "m", (65000, 95000)),
            ("Trasporto e gestione del contatore", "q", (900, 1300)),
            ("Oneri di sistema", "q", (300, 500)), ("Accise", "q", (1200, 1900)),
            ("Addizionale regionale", "q", (200, 320))],
    "electricity": [("Spesa per la materia energia", "q", (1200, 2200)),
                    ("Quota fissa vendita", "m", (55000, 80000)),
                    ("Trasporto e gestione del contatore", "q", (80, 120)),
                    ("Quota potenza", "m", (30000, 45000)), ("Oneri di sistema", "q", (250, 400)),
                    ("Accise", "q", (227, 227))],
    "water": [("Quota acquedotto", "q", (9000, 13000)), ("Quota fognatura", "q", (3000, 4000)),
              ("Quota depurazione", "q", (4500, 5500)), ("Quota fissa", "m", (35000, 45000))],
    "lpg": [("Fornitura GPL", "q", (17000, 23000)), ("Quota fissa", "m", (40000, 60000))],
    "telecom": [("Canone linea e internet", "m", (249000, 299000)),
                ("Servizi aggiuntivi", "m", (19000, 49000))],
}


def site_coefficient(rng: random.Random) -> str:
    """A realistic gas conversion coefficient C for a meter without a volume corrector.

    C turns the m³ a meter counts at the place's conditions into standard cubic metres (Smc,
    15 °C and 1.01325 bar): it grows with the supply pressure (about 20 mbar over the
    atmosphere) and shrinks with the altitude and the climate zone's mean temperature, so
    1.0197 at sea level at 15 °C, about 0.91 at 1,000 m. Six decimals, as billing prints it.
    """
    altitude = rng.choices((rng.randrange(0, 100), rng.randrange(100, 400),
                            rng.randrange(400, 800), rng.randrange(800, 1300)),
                           (45, 35, 13, 7))[0]
    p_atm = 1.01325 * (1 - 2.25577e-5 * altitude) ** 5.25588
    # gas in a colder zone's meters is cooler than 15 °C, which raises C a little
    kelvin = 273.15 + rng.choice((12.0, 13.0, 14.0, 15.0, 15.0, 15.0, 16.0))
    c = (p_atm + 0.020) / 1.01325 * 288.15 / kelvin
    return f"{c:.6f}"


def smc(m3: int, coefficient: str) -> int:
    """Standard cubic metres billed for `m3` counted by a meter: m³ × C, rounded half up."""
    return int((Decimal(m3) * Decimal(coefficient)).quantize(Decimal(1), ROUND_HALF_UP))


def add_months(d: dt.date, n: int, day: int | None = None) -> dt.date:
    m = d.month - 1 + n
    y, m = d.year + m // 12, m % 12 + 1
    return dt.date(y, m, day or 1)


def month_end(d: dt.date) -> dt.date:
    return add_months(d, 1) - dt.timedelta(days=1)


def _dec4(p: int) -> str:
    return f"{p // 10000}.{p % 10000:04d}"


def _money(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


# billing's validation of a reading, as its operators write it: why it is not (yet) valid
REASONS = {"pending": "Consumo anomalo rispetto allo storico: lettura in verifica",
           "rejected": "Lettura incoerente con le precedenti (cifra letta male?): scartata"}

class Generator:
    def __init__(self, seed: int, months: int = 12) -> None:
        self.rng = random.Random(seed)
        # Gas details (conversion coefficient, corrector, misread readings) draw from their own
        # stream, so the rest of the data stays what it was for a given seed.
        self.gas_rng = random.Random(f"gas-{seed}")
        self.months = months
        self.rv = 0
        self.sp_seq = self.meter_seq = self.read_seq = self.inv_seq = self.pay_seq = 0
        self.web_codes: set[str] = set()
        self.rows = {e.table: [] for e in ENTITIES.values()}
        r = self.rng
        self.pdr_prefix = [f"{r.randrange(100, 1000):03d}{r.randrange(10, 100):02d}"
                           for _ in range(40)]

    def _v(self) -> int:
        self.rv += 1
        return self.rv

    # --- customer ---------------------------------------------------------------------------
    def customer(self, n: int) -> None:
        r = self.rng
        no = f"C{n:07d}"
        city = r.choice(it.CITIES)
        address = f"{r.choice(it.STREETS)} {r.randrange(1, 180)}"
        phone = "" if r.random() < 0.05 else (
            f"3{r.randrange(20, 94)}{r.randrange(10**6, 10**7)}" if r.random() < 0.8
            else f"0{r.randrange(10, 99)}{r.randrange(10**5, 10**7)}")
        lang = "ENU" if r.random() < 0.05 else "ITA"
        if r.random() < 0.85:
            kind = "person"
            female = r.random() < 0.5
            first = r.choice(it.FEMALE if female else it.MALE)
            last = r.choice(it.SURNAMES)
            birth = REF_DATE - dt.timedelta(days=r.randrange(20 * 365, 90 * 365))
            cf = it.tax_code(last, first, birth, female, r.choice(it.CITIES)[3])
            vat = it.vat_number(r.randrange(1, 10**7), r.randrange(1, 101)) \
                if r.random() < 0.06 else ""
            name = f"{last} {first}"
            email = "" if r.random() < 0.15 else (
                f"{first}.{last}{r.randrange(100) if r.random() < 0.6 else ''}@"
                f"{r.choice(it.MAIL_DOMAINS)}").lower().replace(" ", "").replace("'", "")
            birth_s = birth.isoformat()
        else:
            kind, first, last, birth_s = "company", "", "", None
            owner = r.choice(it.SURNAMES)
            name = f"{owner} {r.choice(it.COMPANY_WORDS)} {r.choice(it.COMPANY_FORMS)}"
            vat = it.vat_number(r.randrange(1, 10**7), r.randrange(1, 101))
            cf = vat
            slug = owner.lower().replace(" ", "").replace("'", "")
            email = "" if r.random() < 0.1 else \
                f"{r.choice(['info', 'amministrazione', 'contabilita'])}@{slug}{n % 997}.it"
        n_sp = r.choices((1, 2, 3), (60, 30, 10))[0]
        created = REF_DATE - dt.timedelta(days=r.randrange(60, 15 * 365))
        self.rows["customer"].append((
            no, kind, name, last, first, cf, vat, birth_s, address, city[1], city[0], city[2],
            phone, email, lang, self._v(), created.isoformat() + "T02:00:00"))
        holder = name
        for _ in range(n_sp):
            self.supply_point(no, kind, holder, city, address, created)

    # --- supply point, meter, readings, invoices ----------------------------------------------
    def supply_point(self, cust, kind, holder, city, address, created) -> None:
        r = self.rng
        self.sp_seq += 1
        sp = f"SP{self.sp_seq:08d}"
        service = r.choice(SERVICES)
        if r.random() > 0.75:
            city = r.choice(it.CITIES)
            address = f"{r.choice(it.STREETS)} {r.randrange(1, 180)}"
        use = ("domestic" if r.random() < 0.93 else "condominium") if kind == "person" else \
            r.choices(("business", "condominium", "public"), (85, 10, 5))[0]
        big = use != "domestic"
        pdr = pod = wclass = ""
        if service in ("gas", "lpg"):
            pdr = f"{r.choice(self.pdr_prefix)}{self.sp_seq:09d}"
            wclass = r.choice(("C1", "C2", "C3", "C3")) if not big else r.choice(("T1", "T2",
                                                                                     "C3"))
            annual = r.randrange(2000, 20000) if big else r.randrange(500, 1800)
            tariff = r.choice(("Gas Casa Fisso", "Gas Casa Variabile")) if not big \
                else "Gas Business"
            if service == "lpg":
                annual, tariff = r.randrange(300, 1500), "GPL Casa"
        elif service == "electricity":
            pod = f"IT{r.choice(it.POD_DISTRIBUTORS)}E{(self.sp_seq * 7919) % 10**8:08d}"
            wclass = "BTA" if big else "BTD"
            annual = r.randrange(5000, 60000) if big else r.randrange(1500, 4500)
            tariff = r.choice(("Luce Monoraria", "Luce Bioraria F1/F23")) if not big \
                else "Luce Business"
        elif service == "water":
            annual, tariff = r.randrange(60, 250) * (5 if big else 1), "Tariffa idrica standard"
        else:
            annual, tariff = 0, r.choice(("Fibra 1000", "Fibra + Voce", "ADSL 20"))
        status = r.choices(("active", "ceased", "suspended", "not_invoiceable"),
                           (92, 4, 2, 2))[0]
        activation = None if status == "not_invoiceable" else \
            max(created, REF_DATE - dt.timedelta(days=r.randrange(30, 15 * 365)))
        sdd = r.random() < 0.55
        iban = holder_ = mandate = ""
        bank = ""
        if sdd:
            abi, bank = r.choice(it.BANKS)
            iban = it.italian_iban(abi, f"{r.randrange(1000, 99999):05d}",
                                   f"{r.randrange(10**11, 10**12)}")
            holder_, mandate = holder, f"MND-{sp}-0001"
        mail = ("", "", "", "", "")
        if r.random() < 0.1:
            mc = r.choice(it.CITIES)
            mail = (f"c/o Studio {r.choice(it.SURNAMES)}", f"{r.choice(it.STREETS)} "
                    f"{r.randrange(1, 99)}", mc[1], mc[0], mc[2])
        coefficient = site_coefficient(self.gas_rng) if service == "gas" else "1.000000"
        row = [sp, cust, service, pdr, pod, address, city[1], city[0], city[2], use, wclass, tariff,
               annual, status, "sdd" if sdd else "postal_slip", iban, holder_, mandate, *mail,
               activation.isoformat() if activation else None]
        coefficient_at = len(row)
        row += [coefficient, "active" if sdd else "", "", "", "", self._v(),
                (activation or REF_DATE).isoformat() + "T03:00:00"]
        self.rows["supply_point"].append(row)
        if activation is None:
            return
        # window of activity: months [start, end) counted back from REF_DATE
        first_month = add_months(REF_DATE, -self.months)
        start = max(first_month, add_months(activation, 1))
        end = REF_DATE
        if status == "ceased":
            end = add_months(REF_DATE, -r.randrange(1, max(2, self.months // 2)))
        monthly, corrector = self.meter_and_readings(sp, service, annual, activation, start, end,
                                                     status, coefficient)
        if corrector:  # the corrector converts: billing's C is 1
            row[coefficient_at] = "1.000000"
        self.invoices(cust, sp, service, big, monthly, start, end, status, sdd, bank, city)

    def meter_and_readings(self, sp, service, annual, activation, start, end, status, coefficient):
        """Create the meter and monthly readings; return ({month_start: billed consumption},
        whether a volume corrector is fitted).

        Gas: the meter counts m³; without a corrector billing's consumption is m³ × C (Smc),
        with one it is the corrector's own difference (Smc, C = 1). A rejected reading carries
        a misread value and no consumption: the next reading counts from the last good one.
        """
        r, g = self.rng, self.gas_rng
        monthly: dict[dt.date, int] = {}
        season = GAS_SEASON if service in ("gas", "lpg") else FLAT_SEASON
        if service == "telecom":
            m = start
            while m < end:
                monthly[m] = 0
                m = add_months(m, 1)
            return monthly, False
        self.meter_seq += 1
        serial = f"{service[0].upper()}{self.meter_seq:09d}"
        digits = r.choice(DIGITS[service])
        corrector = service == "gas" and (annual > 5000 or r.random() < 0.05)
        top = 10 ** digits
        c_digits = g.choice((8, 9)) if corrector else 9
        c_top = 10 ** c_digits
        # pressure factor of a corrected supply (medium pressure): Smc per m³
        factor = Decimal(f"{1 + g.random() * 0.25:.4f}") if corrector else None
        removed = end.isoformat() if status == "ceased" else None
        self.rows["meter"].append((
            serial, sp, digits, int(corrector),
            f"CV{self.meter_seq:08d}" if corrector else "", activation.isoformat(), removed,
            c_digits if corrector else None, self._v(), activation.isoformat() + "T03:00:00"))
        value = top - r.randrange(50, 400) if r.random() < 0.05 else r.randrange(0, top // 3)
        corr = None
        if corrector:
            corr = c_top - g.randrange(100, 2000) if g.random() < 0.25 else \
                int(value * factor) % (c_top // 10)
        base_value, base_corr = value, corr  # the last reading that counts
        day = r.randrange(1, 29)
        m = start
        while m < end:
            cons = max(0, int(annual * season[m.month - 1] * (0.8 + 0.4 * r.random())))
            value = (value + cons) % top
            if corrector:
                corrected = int((Decimal(cons) * factor).quantize(Decimal(1), ROUND_HALF_UP))
                corr = (corr + corrected) % c_top
                monthly[m] = corrected
            else:
                monthly[m] = smc(cons, coefficient) if service == "gas" else cons
            x = r.random()
            rtype, source = ("actual", "distributor") if x < 0.6 else (
                ("estimated", "billing") if x < 0.85 else ("self", "customer"))
            rstatus = "valid"
            if rtype == "self":
                y = r.random()
                rstatus = "pending" if y < 0.05 else ("rejected" if y < 0.08 else "valid")
            rdate = add_months(m, 1, day)
            if rdate >= REF_DATE:
                break
            self.read_seq += 1
            shown, shown_corr, consumption = value, corr, None
            if rstatus == "rejected":  # a misread digit: billing keeps it, counts nothing
                shown = (value + g.randrange(1, 10) * 10 ** g.randrange(0, digits - 1)) % top
            else:
                if corrector:
                    consumption = (corr - base_corr) % c_top
                elif service == "gas":
                    consumption = smc((value - base_value) % top, coefficient)
                else:
                    consumption = (value - base_value) % top
                base_value, base_corr = value, corr
            self.rows["meter_reading"].append((
                self.read_seq, sp, serial, rdate.isoformat(), shown, shown_corr, rtype, source,
                rstatus, consumption, REASONS.get(rstatus, ""), self._v(),
                rdate.isoformat() + "T04:00:00"))
            m = add_months(m, 1)
        return monthly, corrector

    def invoices(self, cust, sp, service, big, monthly, start, end, status, sdd, bank, city):
        r = self.rng
        months = sorted(monthly)
        # bimonthly periods aligned on the window
        periods = [months[i:i + 2] for i in range(0, len(months), 2)]
        prices = [(d, kind, r.randrange(lo, hi + 1)) for d, kind, (lo, hi) in LINES[service]]
        vat_rate = 22 if (big or service == "telecom") else 10
        for idx, pm in enumerate(periods):
            p_from, p_to = pm[0], month_end(pm[-1])
            inv_date = p_to + dt.timedelta(days=10)
            if inv_date >= REF_DATE:
                break
            due = inv_date + dt.timedelta(days=20)
            cons = sum(monthly[m] for m in pm)
            lines, base = [], 0
            for n, (desc, kind, price) in enumerate(prices, start=1):
                qty = cons if kind == "q" else len(pm)
                cents = (qty * price + 50) // 100
                base += cents
                lines.append([n * 10000, desc, str(qty), _dec4(price), cents, str(vat_rate)])
            vat = (base * vat_rate + 50) // 100
            lines.append([(len(prices) + 1) * 10000, f"IVA {vat_rate}%", _money(base),
                          _dec4(vat_rate * 100), vat, "0"])
            total = base + vat
            last = idx == len(periods) - 1
            itype = "final" if (status == "ceased" and last) else (
                "adjustment" if r.random() < 0.02 else "periodic")
            self.inv_seq += 1
            no = f"FT{inv_date.year}-{self.inv_seq:07d}"
            while True:
                code = "".join(r.choices(WEB_ALPHABET, k=10))
                if code not in self.web_codes:
                    self.web_codes.add(code)
                    break
            paid = self.payments(no, cust, total, inv_date, due, sdd, bank, city)
            st = "paid" if paid >= total else ("partially_paid" if paid else "unpaid")
            unit = UNITS[service]
            self.rows["sales_invoice"].append((
                no, cust, sp, inv_date.isoformat(), due.isoformat(), itype, p_from.isoformat(),
                p_to.isoformat(), cons if unit else None, unit, total, paid, st, code,
                self._v(), inv_date.isoformat() + "T05:00:00",
                json.dumps(lines, separators=(",", ":"), ensure_ascii=False)))

    def payments(self, inv, cust, total, inv_date, due, sdd, bank, city) -> int:
        r = self.rng
        x = r.random()
        if due < REF_DATE:
            plan = "full" if x < 0.82 else ("partial" if x < 0.90 else "none")
        else:  # not due yet: some pay early (direct debit only collects at the due date)
            plan = "full" if x < 0.35 and not sdd else "none"
        if plan == "none":
            return 0
        if sdd:
            method, where, when = "sdd", f"Addebito SDD - {bank}", due
        else:
            y = r.random()
            if y < 0.55:
                method, where = "postal_slip", f"Ufficio Postale {city[0]} {r.randrange(1, 40)}"
            elif y < 0.85:
                method, where = "bank_transfer", \
                    f"{r.choice(it.BANKS)[1]} - filiale di {city[0]}"
            else:
                method, where = "counter", f"Sportello clienti {city[0]}"
            when = due - dt.timedelta(days=r.randrange(0, 18))
            when = min(max(when, inv_date + dt.timedelta(days=2)),
                       REF_DATE - dt.timedelta(days=1))
        amounts = [total] if plan == "full" else [max(1, total * r.randrange(30, 71) // 100)]
        if plan == "full" and not sdd and r.random() < 0.05 and total > 200:
            half = total // 2
            amounts = [half, total - half]
        for i, a in enumerate(amounts):
            d = when + dt.timedelta(days=20 * i)
            d = min(d, REF_DATE - dt.timedelta(days=1))
            self.pay_seq += 1
            self.rows["payment"].append((
                self.pay_seq, inv, cust, d.isoformat(), a, method, where, self._v(),
                d.isoformat() + "T06:00:00"))
        return sum(amounts)

    def flush(self, conn) -> None:
        conn.execute("BEGIN")
        for e in ENTITIES.values():
            rows = self.rows[e.table]
            if not rows:
                continue
            ncols = len(e.fields) + (1 if e.table == "sales_invoice" else 0)
            cols = ", ".join(e.field_names) + (", Lines" if e.table == "sales_invoice" else "")
            conn.executemany(f"INSERT INTO {e.table} ({cols}) VALUES "
                             f"({', '.join('?' * ncols)})", rows)
            rows.clear()
        conn.execute("COMMIT")


def generate(db_path: str, customers: int, seed: int, months: int = 12,
             progress: bool = False) -> dict:
    """(Re)create the simulator DB at db_path; return counts and timing."""
    t0 = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    conn = connect(db_path, bulk=True)
    create_schema(conn, indexes=False)
    g = Generator(seed, months)
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=customers, unit="cust", mininterval=1)
        except ImportError:
            bar = None
    for n in range(1, customers + 1):
        g.customer(n)
        if n % FLUSH_EVERY == 0:
            g.flush(conn)
            if bar:
                bar.update(FLUSH_EVERY)
    g.flush(conn)
    if bar:
        bar.close()
    t_rows = time.perf_counter()
    conn.execute("BEGIN")
    create_indexes(conn)
    conn.execute("UPDATE rv_counter SET v = ?", (g.rv,))
    conn.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", [
        ("customers", str(customers)), ("seed", str(seed)), ("months", str(months)),
        ("ref_date", REF_DATE.isoformat())])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {e.name: conn.execute(f"SELECT count(*) FROM {e.table}").fetchone()[0]
              for e in ENTITIES.values()}
    conn.close()
    t1 = time.perf_counter()
    return {"db": db_path, "customers": customers, "seed": seed, "months": months,
            "counts": counts, "row_version": g.rv, "seconds": round(t1 - t0, 2),
            "seconds_rows": round(t_rows - t0, 2), "bytes": os.path.getsize(db_path)}
