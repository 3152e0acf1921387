"""The forms' CSRF token: signed once per session token, valid, and never another session's."""
import re
import time

from flask import session
from flask_wtf.csrf import validate_csrf

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _tokens(client, url="/portal/login"):
    return set(TOKEN.findall(client.get(url).get_data(as_text=True)))


def test_a_session_gets_one_signed_token_that_its_forms_accept(app, client, db):
    _tokens(client)  # the session's first page: Flask-WTF makes the session's token
    first = _tokens(client)
    assert len(first) == 1  # the page's form and the layout's carry the same
    time.sleep(1.1)  # a new second: a new signature would carry another time stamp
    assert _tokens(client) == first  # not signed again
    with client.session_transaction() as stored:
        raw = stored["csrf_token"]
    with app.test_request_context():
        session["csrf_token"] = raw
        validate_csrf(first.pop())  # raises if it were not valid for this session


def test_another_session_never_gets_this_sessions_token(app, db):
    one, other = app.test_client(), app.test_client()
    assert _tokens(one) and _tokens(other)
    assert _tokens(one).isdisjoint(_tokens(other))


def test_with_a_time_limit_each_request_signs_anew(app, client, db):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    try:
        _tokens(client)
        first = _tokens(client)
        time.sleep(1.1)
        assert _tokens(client).isdisjoint(first)
    finally:
        app.config["WTF_CSRF_TIME_LIMIT"] = None
