"""The fast translation path gives Flask-Babel's results, follows force_locale and refresh,
and the invoice list shows Italian and English in the same request cycle."""
import flask_babel
import pytest
from flask import render_template_string, session
from flask_babel import force_locale

from app import i18n
from app.models import InvoiceStatus

MSGIDS = ["Invoices and payments", "Balance to pay", "My requests", "Not a translated string"]


@pytest.mark.parametrize("lang", ["it", "en"])
def test_gettext_matches_flask_babel(app, lang):
    with app.test_request_context(), force_locale(lang):
        for msgid in MSGIDS:
            assert i18n.gettext(msgid) == flask_babel.gettext(msgid)
        assert i18n.gettext("Invoices found: %(n)s", n=3) == flask_babel.gettext("Invoices found: %(n)s", n=3)
        assert i18n.ngettext("%(num)s day", "%(num)s days", 2) == flask_babel.ngettext(
            "%(num)s day", "%(num)s days", 2)
        assert i18n.locale_id() == lang


def test_italian_really_translates(app):
    with app.test_request_context(), force_locale("it"):
        assert i18n.gettext("Invoices and payments") == "Bollette e pagamenti"
        assert str(InvoiceStatus.PAID.label) == flask_babel.gettext(InvoiceStatus.PAID.label._args[0])
        assert str(InvoiceStatus.PAID.label) != "Paid"


def test_force_locale_switches_and_restores(app):
    """An e-mail rendered in English inside an Italian request, then the page goes on in Italian."""
    with app.test_request_context():
        session["locale"] = "it"
        tpl = "{{ _('Invoices and payments') }}|{{ status.label }}"
        before = render_template_string(tpl, status=InvoiceStatus.PAID)
        with force_locale("en"):
            inside = render_template_string(tpl, status=InvoiceStatus.PAID)
        after = render_template_string(tpl, status=InvoiceStatus.PAID)
    assert before == after == "Bollette e pagamenti|Pagata"
    assert inside == "Invoices and payments|Paid"
    assert before != inside


def test_template_variables_are_escaped(app):
    with app.test_request_context(), force_locale("en"):
        out = render_template_string("{{ _('Invoices found: %(n)s', n=value) }}", value="<b>")
    assert out == "Invoices found: &lt;b&gt;"


def test_outside_a_request_strings_pass_through(app):
    assert i18n.gettext("Balance to pay") == "Balance to pay"
    assert i18n.locale_id() == "it"


LITERALS = ("{{ _('Invoices and payments') }}|{{ _('Not a translated string') }}|{{ _('100%% sure') }}|"
            "{{ _('a < b') }}|{{ _('Invoices found: %(n)s', n=value) }}|{{ (_('Balance to pay')).upper() }}|"
            "{{ [_('My requests')]|join(',') }}|{{ _('Ask us') ~ '!' }}|{{ obj._('Ask us') }}")


@pytest.mark.parametrize("lang", ["it", "en"])
@pytest.mark.parametrize("autoescape", [True, False])
def test_template_literals_match_jinjas_own_gettext(app, lang, autoescape):
    """`_('literal')` compiles to a direct filter call: the output is Jinja's newstyle gettext's
    (translated, `%%` read as `%`, safe in HTML), with and without autoescaping (e-mail texts)."""
    import jinja2

    reference = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)
    reference.install_gettext_callables(flask_babel.gettext, flask_babel.ngettext, newstyle=True)
    ours = app.jinja_env.overlay(autoescape=autoescape)
    values = {"value": "<b>", "obj": {"_": lambda s: f"[{s}]"}}
    with app.test_request_context(), force_locale(lang):
        expected = reference.from_string(LITERALS).render(**values)
        got = ours.from_string(LITERALS).render(**values)
    assert got == expected
    assert ("Bollette e pagamenti" in got) == (lang == "it") and "100% sure" in got and "a < b" in got
    assert "_translate_literal" in ours.compile(LITERALS, raw=True)  # the fast path is taken


def test_message_extraction_still_sees_template_literals():
    """The catalogues are extracted without the extension: every `_()` literal stays visible."""
    from pathlib import Path

    from jinja2.ext import babel_extract

    base = Path(__file__).resolve().parents[2] / "app/templates/portal/base.html"
    with base.open("rb") as fh:
        found = {msg for _, _, msg, _ in babel_extract(fh, ["_", "gettext", "ngettext"], [], {})}
    assert {"Skip to content", "Sportello online", "Sign out", "Information request"} <= found
