"""The company's day does not depend on the server's time zone."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

from app.clock import local_today

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROBE = ("import datetime as dt; from app.clock import local_today; "
         "print(dt.date.today().isoformat(), local_today().isoformat())")


def _probe(zone: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, check=True, capture_output=True,
                         text=True, env={**os.environ, "TZ": zone}).stdout.split()
    return out[0], out[1]


def test_local_today_is_the_day_in_rome_whatever_the_server_zone():
    rome = ZoneInfo("Europe/Rome")
    before = dt.datetime.now(rome).date().isoformat()
    # UTC-12 and UTC+14 are 26 hours apart: their calendar days always differ.
    west_today, west_local = _probe("Etc/GMT+12")
    east_today, east_local = _probe("Etc/GMT-14")
    after = dt.datetime.now(rome).date().isoformat()
    assert west_today != east_today
    assert west_local in (before, after) and east_local in (before, after)
    assert local_today().isoformat() in (before, after)
