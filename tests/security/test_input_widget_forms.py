"""Website widgets' forms: a form shown in another site's frame has no session CSRF token, so it
carries a signed token bound to its widget, and the post's origin must be ours or a listed site.
A post from an unlisted site, with no origin, with a made-up token or another widget's token is
refused and files nothing; the same form from a listed site files the request."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.models import Activity, ActivityKind

SITE, OTHER = "https://www.example.it", "https://evil.example.com"


def _token(html: str) -> str:
    return re.search(r'name="widget_token" value="([^"]+)"', html).group(1)


def _requests(db) -> int:
    return len(db.session.scalars(sa.select(Activity).where(Activity.kind == ActivityKind.INFORMATION_REQUEST)).all())


def test_widget_forms_refuse_forged_posts(client, db):
    from app.services.core import settings

    settings.update({"widget_origins": SITE}, None)
    token = _token(client.get(f"/widgets/information?origin={SITE}").get_data(as_text=True))
    login_token = _token(client.get("/widgets/login").get_data(as_text=True))
    form = lambda t: {"widget_token": t, "lang": "en", "name": "Giulia Verdi",  # noqa: E731
                      "question": "Do you supply gas in Bergamo?", "email": "giulia@example.com"}
    for headers, data in (({"Origin": OTHER, "Sec-Fetch-Site": "cross-site"}, form(token)),
                          ({}, form(token)),
                          ({"Origin": SITE, "Sec-Fetch-Site": "cross-site"}, form("made-up")),
                          ({"Origin": SITE, "Sec-Fetch-Site": "cross-site"}, form(login_token))):
        resp = client.post(f"/widgets/information?origin={SITE}", data=data, headers=headers)
        assert resp.status_code == 400 and "nothing was sent" in resp.get_data(as_text=True), headers
    assert _requests(db) == 0
    resp = client.post(f"/widgets/information?origin={SITE}", data=form(token),
                       headers={"Origin": SITE, "Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 200 and _requests(db) == 1
