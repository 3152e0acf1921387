"""F-43 the widgets in Chromium, on two sites: the company's website is docs/widgets-example.html
served by a second local server at http://localhost:<p2>, framing the app at
http://127.0.0.1:<p1> (another site: neither sends the other's cookies). From a listed origin
the frames show, are sized by their messages, and an information request reaches the back
office; from an origin not listed the browser blocks the frames and a forged post is refused;
the sign-in box signs the customer in at the top level (a second factor included); the widget
pages pass axe-core in Italian and English."""
from __future__ import annotations

import contextlib
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa

from app.models import Activity, ActivityKind

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "widgets-example.html"
SECRET = "SPORTELLOWIDGETTESTSECRET234567"


@contextlib.contextmanager
def website(app_url: str, lang: str = "it"):
    """The docs example page, as the company's website serves it, on http://localhost:<port>."""
    from simulator.testing import free_port

    html = EXAMPLE.read_text(encoding="utf-8").replace("https://sportello.example.it", app_url)
    html = html.replace('data-lang="it"', f'data-lang="{lang}"').replace('<html lang="it">', f'<html lang="{lang}">')
    body = html.encode("utf-8")

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        thread.join(5)


def _allow(*origins: str) -> None:
    from app.services.core import settings

    settings.update({"widget_origins": "\n".join(origins)}, None)


def _requests(db) -> list[Activity]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST)).all()


def _frame(page, widget: str):
    """The widget's frame, once its first height message has sized it."""
    page.wait_for_selector(f"iframe[data-sportello-frame={widget}][data-sized=true]")
    return page.frame_locator(f"iframe[data-sportello-frame={widget}]")


def test_F43_widgets_work_from_a_listed_site_and_not_from_another(live_server, db, chromium):
    with website(live_server) as listed, website(live_server) as other:
        _allow(listed)
        context = chromium.new_context(locale="it-IT")
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            page.goto(listed + "/")
            info = _frame(page, "information")
            login = _frame(page, "login")
            assert login.get_by_role("heading", name="Accedi allo sportello online").is_visible()
            height = page.locator("iframe[data-sportello-frame=information]").evaluate("f => f.offsetHeight")
            assert height != 480  # sized to its content, not the placeholder height
            info.get_by_label("Il tuo nome").fill("Giulia Verdi")
            info.get_by_label("La tua domanda").fill("Fornite il gas anche a Bergamo?")
            info.get_by_label("E-mail").fill("giulia@example.com")
            info.get_by_role("button", name="Invia").click()
            info.get_by_role("heading", name="Richiesta inviata").wait_for()
            [activity] = _requests(db)
            assert activity.contact_email == "giulia@example.com" and "Bergamo" in activity.payload["question"]
            assert info.get_by_text(activity.reference).is_visible()
            assert page.url.startswith(listed)  # the website's page stayed where it was

            # The same page on a site that is not listed: the browser refuses to show the frames.
            answers = []
            page.on("response", lambda r: answers.append(r) if f"{live_server}/widgets/" in r.url else None)
            page.goto(other + "/")
            page.wait_for_load_state("load")
            assert answers and all(f"frame-ancestors 'self' {listed}" in r.headers["content-security-policy"]
                                   for r in answers)
            for frame in page.frames[1:]:
                assert frame.locator("form").count() == 0, frame.url  # nothing of ours rendered
            assert page.locator("iframe[data-sized]").count() == 0  # and no message reached the page

            # A post forged on that site, with a token taken from a widget page, is refused.
            with urllib.request.urlopen(f"{live_server}/widgets/information") as resp:
                token = re.search(r'name="widget_token" value="([^"]+)"', resp.read().decode()).group(1)
            with page.expect_navigation():
                page.evaluate("""([action, token]) => {
                    const f = document.createElement('form'); f.method = 'post'; f.action = action;
                    const data = {widget_token: token, name: 'Mallory', question: 'A forged question',
                                  email: 'mallory@example.com'};
                    for (const [k, v] of Object.entries(data)) {
                        const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
                    document.body.appendChild(f); f.submit(); }""",
                              [f"{live_server}/widgets/information", token])
            assert page.get_by_role("heading", name="Non inviata").is_visible()
            assert len(_requests(db)) == 1
        finally:
            context.close()


@pytest.mark.parametrize("second_factor", [False, True], ids=["password", "password-and-code"])
def test_F43_login_box_signs_the_customer_in_at_the_top_level(live_server, db, app, chromium, second_factor):
    from app.services.core import two_factor
    from tests import factories as f
    from tests.portal.conftest import PASSWORD, make_account

    customer = f.customer(first_name="Giulia", last_name="Bianchi")
    user = make_account(db, app, customer)
    db.session.commit()
    if second_factor:
        two_factor.enrol_with_secret(user, SECRET)
    with website(live_server, "en") as listed:
        _allow(listed)
        context = chromium.new_context(locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            page.goto(listed + "/")
            box = _frame(page, "login")
            box.get_by_label("Username or e-mail").fill(user.username)
            box.get_by_label("Password").fill(PASSWORD)
            with page.expect_navigation(url=re.compile(re.escape(live_server) + r"/portal/")):
                box.get_by_role("button", name="Sign in").click()
            if second_factor:
                assert page.url == f"{live_server}/portal/login/code"  # the code, in the top window
                page.fill("input[name=code]", pyotp.TOTP(SECRET).now())
                with page.expect_navigation():
                    page.click("main form button[type=submit]")
            assert page.url == f"{live_server}/portal/home"
            assert page.locator("nav form[action$='/portal/logout'] button").count() == 1  # signed in
            # The session is the portal's own, first-party: another portal page opens signed in.
            page.goto(f"{live_server}/portal/invoices")
            assert page.url == f"{live_server}/portal/invoices"
        finally:
            context.close()


@pytest.mark.parametrize("lang", ["it", "en"])
def test_F43_widget_pages_pass_axe(live_server, db, chromium, axe, lang):
    axe.suite = "widget"
    with website(live_server, lang) as listed:
        _allow(listed)
        context = chromium.new_context(locale="it-IT" if lang == "it" else "en-GB")
        page = context.new_page()
        page.set_default_timeout(15000)
        try:
            violations = []
            page.goto(listed + "/")
            for widget in ("login", "information"):
                _frame(page, widget)
                frame = page.frame(url=re.compile(rf"/widgets/{widget}\?"))
                assert frame.locator("html").get_attribute("lang") == lang
                violations += axe.check(frame, f"{widget} widget in a frame, {lang}")
            # The information request after a failed submission (errors shown), and once sent.
            frame = page.frame(url=re.compile(r"/widgets/information\?"))
            frame.locator("form button[type=submit]").click()
            frame.locator(".error-summary").wait_for()
            violations += axe.check(frame, f"information widget with errors, {lang}")
            frame.locator("#name").fill("Giulia Verdi")
            frame.locator("#question").fill("Do you supply water in Brescia?")
            frame.locator("#phone").fill("030 123456")
            frame.locator("form button[type=submit]").click()
            frame.locator("[role=status]").wait_for()
            violations += axe.check(frame, f"information widget sent, {lang}")
            assert not violations, "\n".join(map(str, violations))
        finally:
            context.close()
