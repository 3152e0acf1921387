"""F-61 a large invoice ZIP in the browser: asked for on the export page, shown as being
prepared, then offered for download once the job has built it; the page passes axe-core in
each state, in Italian and English."""
from __future__ import annotations

import pytest

from tests.e2e.browsing import sign_in
from tests.e2e.portal_seed import seed_portal

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["it", "en"])
def test_F61_export_page_shows_the_zip_being_prepared_then_ready(live_server, db, app, page, axe, lang):
    from app.services.portal import zip_exports

    seeded = seed_portal(db, app)
    sign_in(page, live_server, seeded.username, seeded.password, lang)
    page.goto(f"{live_server}/portal/export")
    with page.expect_navigation():
        page.get_by_role("button", name=("Prepara uno ZIP di tutte le mie bollette",
                                         "Prepare a ZIP of all my invoices")[lang == "en"]).click()
    status = page.locator("main li [role=status]")
    assert status.inner_text().startswith(("In preparazione", "Being prepared")[lang == "en"])
    assert page.get_by_role("button", name=("Prepara uno ZIP di tutte le mie bollette",
                                            "Prepare a ZIP of all my invoices")[lang == "en"]).is_disabled()
    axe.assert_clean(page, f"export page, ZIP being prepared, {lang}")
    assert zip_exports.build_due()["built"] == 1
    page.reload()
    link = page.get_by_role("link", name=("Scarica lo ZIP", "Download the ZIP")[lang == "en"])
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == ("bollette.zip", "invoices.zip")[lang == "en"]
    axe.assert_clean(page, f"export page, ZIP ready, {lang}")
