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
