"""F-40 in a real browser: a back-office operator signs in and finds an aligned customer."""
import pytest

from app.services.sync.alignment import align

pytestmark = pytest.mark.browser


def test_backoffice_login_and_customer_detail(live_server, page, billing_sim, make_user, db):
    assert align(full=True).status == "ok"
    user, password = make_user("Back office")
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.goto(f"{live_server}/customerview/list/")
    assert page.title() and "Clienti" in page.content()
    first_row = page.locator("table tbody tr").first
    assert first_row.locator("td", has_text="C0000001").is_visible()
    first_row.locator("a[href*='/customerview/show/']").first.click()
    page.wait_for_url("**/customerview/show/**")
    assert page.locator("th", has_text="Codice fiscale").first.is_visible()
    assert "C0000001" in page.content()
