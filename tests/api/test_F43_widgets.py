"""F-43 the website widgets without a browser: the embedding token and the origin check, which
pages may be framed and by whom, the information request filed from the widget, forged and
expired posts, the sign-in box handing over to the portal, and the setting on the admin page."""
from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from app.models import Activity, ActivityKind
from app.roles import ADMIN

SITE = "https://www.example.it"
OTHER = "https://evil.example.com"
OWN = "http://localhost"  # the test client's host


@pytest.fixture
def listed(db):
    from app.services.core import settings

    settings.update({"widget_origins": f"{SITE}\nhttp://localhost:8123"}, None)
    return SITE


def _token(html: str) -> str:
    match = re.search(r'name="widget_token" value="([^"]+)"', html)
    assert match, "no widget token in the page"
    return match.group(1)


def _frame_ancestors(resp) -> str:
    csp = resp.headers["Content-Security-Policy"]
    return next(part.strip() for part in csp.split(";") if part.strip().startswith("frame-ancestors"))


# --- the token and the origin check, one by one ---------------------------------------------

def test_F43_widget_token_is_bound_to_its_widget_and_expires(app, db, listed):
    from app.services.core import embedding
    from app.services.core.embedding import WidgetRefused

    with app.test_request_context():
        token = embedding.issue_token("information", SITE)
        assert embedding.check_token(token, "information") == SITE
        for bad, reason in ((token, "another widget"), (token[:-2] + "xx", "forged"), ("", "missing")):
            with pytest.raises(WidgetRefused):
                embedding.check_token(bad, "login" if reason == "another widget" else "information")
        old = embedding.issue_token("information", SITE, now=time.time() - embedding.TOKEN_SECONDS - 5)
        with pytest.raises(WidgetRefused, match="expired"):
            embedding.check_token(old, "information")
        # A website taken off the list: its pages' tokens stop working at once.
        from app.services.core import settings

        settings.update({"widget_origins": "http://localhost:8123"}, None)
        with pytest.raises(WidgetRefused, match="no longer listed"):
            embedding.check_token(token, "information")
        # Signed with another key: refused.
        app.secret_key, key = "another-key-another-key-another-key", app.secret_key
        try:
            forged = embedding.issue_token("information", "")
        finally:
            app.secret_key = key
        with pytest.raises(WidgetRefused, match="signature"):
            embedding.check_token(forged, "information")


@pytest.mark.parametrize("origin, referer, fetch_site, accepted", [
    (OWN, None, "same-origin", True),  # the frame's own document posts
    (OWN, None, None, True),  # a browser without Sec-Fetch-Site
    (SITE, None, "cross-site", True),  # a listed website
    ("https://WWW.example.it:443", None, "cross-site", True),  # the same origin written otherwise
    (None, SITE + "/contatti?x=1", None, True),  # no Origin: the Referer's origin
    (OTHER, None, "cross-site", False),
    ("https://www.example.it.evil.com", None, "cross-site", False),
    ("http://www.example.it", None, "cross-site", False),  # another scheme is another origin
    ("null", None, "cross-site", False),  # a sandboxed or privacy-hidden origin
    (None, None, None, False),  # a browser always names a POST's origin
    (OWN, None, "cross-site", False),  # contradicting headers
])
def test_F43_widget_origin_check(app, db, listed, origin, referer, fetch_site, accepted):
    from app.services.core import embedding
    from app.services.core.embedding import WidgetRefused

    with app.test_request_context():
        if accepted:
            assert embedding.check_origin(OWN, origin, referer, fetch_site)
        else:
            with pytest.raises(WidgetRefused):
                embedding.check_origin(OWN, origin, referer, fetch_site)


def test_F43_widget_origins_setting_refuses_wildcards_and_paths(app, db):
    from app.services.core import settings

    for bad in ("*", "https://*.example.it", "https://www.example.it/page", "www.example.it"):
        with pytest.raises(settings.SettingsInvalid):
            settings.update({"widget_origins": bad}, None)
    settings.update({"widget_origins": "https://www.example.it/ HTTPS://Shop.Example.it"}, None)
    assert settings.origins("widget_origins") == ["https://www.example.it", "https://shop.example.it"]


# --- over HTTP -------------------------------------------------------------------------------

def test_F43_only_widget_pages_may_be_framed_and_only_by_listed_sites(client, db, listed):
    for path in ("/widgets/login", "/widgets/information"):
        resp = client.get(path + f"?lang=en&origin={SITE}")
        assert resp.status_code == 200, path
        assert _frame_ancestors(resp) == f"frame-ancestors 'self' {SITE} http://localhost:8123"
        assert "X-Frame-Options" not in resp.headers
        assert "Set-Cookie" not in resp.headers  # nothing for a frame that keeps no cookie
        assert f'data-parent-origin="{SITE}"' in resp.get_data(as_text=True)
    # Every other page still refuses any framing by another site.
    for path in ("/portal/login", "/portal/information", "/api/portal/v1/docs", "/login/"):
        resp = client.get(path)
        assert _frame_ancestors(resp) == "frame-ancestors 'self'", path
        assert resp.headers["X-Frame-Options"] == "SAMEORIGIN", path
    # A website not listed is not told it is the parent (the frame sends it no message).
    html = client.get(f"/widgets/information?origin={OTHER}").get_data(as_text=True)
    assert "data-parent-origin" not in html


def test_F43_widgets_speak_italian_and_english(client, db, listed):
    it = client.get("/widgets/information?lang=it").get_data(as_text=True)
    en = client.get("/widgets/information?lang=en").get_data(as_text=True)
    assert '<html lang="it"' in it and "Richiesta di informazioni" in it
    assert '<html lang="en"' in en and "Information request" in en
    login = client.get("/widgets/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en"' in login and 'target="_top"' in login and 'action="/portal/login/website"' in login


def _question(token, **extra):
    return {"widget_token": token, "lang": "en", "name": "Giulia Verdi",
            "question": "Do you supply gas in Bergamo?", "email": "giulia@example.com", **extra}


def _activities(db):
    return db.session.scalars(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST)).all()


def test_F43_information_widget_files_the_request_without_a_cookie(client, db, listed):
    token = _token(client.get(f"/widgets/information?lang=en&origin={SITE}").get_data(as_text=True))
    resp = client.post(f"/widgets/information?origin={SITE}", data=_question(token),
                       headers={"Origin": OWN, "Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 200
    [activity] = _activities(db)
    assert activity.contact_email == "giulia@example.com" and activity.customer_id is None
    assert activity.reference in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers
    # The honeypot: thanked, nothing stored.
    resp = client.post("/widgets/information", data=_question(token, website="http://spam"),
                       headers={"Origin": OWN})
    assert resp.status_code == 200 and len(_activities(db)) == 1
    # A field missing: the form again, with the error, nothing stored.
    resp = client.post("/widgets/information", data=_question(token, question=""), headers={"Origin": OWN})
    assert resp.status_code == 200 and "There is a problem" in resp.get_data(as_text=True)
    assert len(_activities(db)) == 1


def test_F43_information_widget_refuses_forged_posts(client, db, listed):
    token = _token(client.get("/widgets/information").get_data(as_text=True))
    for headers, data in (({"Origin": OTHER, "Sec-Fetch-Site": "cross-site"}, _question(token)),  # another site
                          ({}, _question(token)),  # no origin named
                          ({"Origin": OWN}, _question("made-up")),  # no valid token
                          ({"Origin": OWN}, _question(_token(client.get("/widgets/login").get_data(as_text=True))))):
        resp = client.post("/widgets/information", data=data, headers=headers)
        assert resp.status_code == 400, headers
        assert "nothing was sent" in resp.get_data(as_text=True)
    assert _activities(db) == []


def test_F43_information_widget_expired_form_is_shown_again(client, db, listed, app):
    from app.services.core import embedding

    with app.test_request_context():
        old = embedding.issue_token("information", "", now=time.time() - embedding.TOKEN_SECONDS - 5)
    resp = client.post("/widgets/information", data=_question(old), headers={"Origin": OWN})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "The form had expired" in html
    assert "Do you supply gas in Bergamo?" in html  # what was written is kept
    assert _token(html) != old and _activities(db) == []


def test_F43_information_widget_is_rate_limited_as_the_portal_form(client, db, listed):
    token = _token(client.get("/widgets/information").get_data(as_text=True))
    codes = [client.post("/widgets/information", data=_question(token), headers={"Origin": OWN}).status_code
             for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert len(_activities(db)) == 5


def test_F43_login_box_hands_over_to_the_portal(client, db, listed, app):
    from tests import factories as f
    from tests.portal.conftest import PASSWORD, make_account

    user = make_account(db, app, f.customer())
    db.session.commit()
    token = _token(client.get("/widgets/login?lang=en").get_data(as_text=True))
    # Wrong password: the portal's own sign-in page, with the error and its own CSRF token.
    resp = client.post("/portal/login/website", data={"widget_token": token, "lang": "en",
                                                      "username": user.username, "password": "wrong"},
                       headers={"Origin": OWN})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Wrong username or password." in html and 'name="csrf_token"' in html
    # From another site: refused, the portal's own sign-in page instead, not signed in.
    resp = client.post("/portal/login/website", data={"widget_token": token, "lang": "en",
                                                      "username": user.username, "password": PASSWORD},
                       headers={"Origin": OTHER, "Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 400 and "does not come from our website: sign in here" in resp.get_data(as_text=True)
    assert client.get("/portal/home").status_code == 302
    # The right password from the box: signed in, at the portal's home.
    resp = client.post("/portal/login/website", data={"widget_token": token, "lang": "en",
                                                      "username": user.username, "password": PASSWORD},
                       headers={"Origin": OWN, "Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/home")
    assert client.get("/portal/home").status_code == 200


def test_F43_widget_origins_setting_is_on_the_admin_settings_page(client, db, login_as):
    login_as(ADMIN)
    html = client.get("/settings/").get_data(as_text=True)
    assert 'name="widget_origins"' in html
