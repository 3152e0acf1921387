"""F-42: the settings registry — typed values with defaults, checks with a message per field,
nothing stored when one value is refused, an audit row per change, and a version stamp that
makes another app (process) see a change at its next use."""
from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.models import AuditLog, OutboxMessage, OutboxStatus, OutgoingMail, Setting
from app.services.core import settings
from app.services.core.settings import REGISTRY, Entry, Registry, SettingsInvalid, Whole


def test_F42_every_setting_has_a_typed_default(db):
    assert settings.get("reminder_days") == 2
    assert settings.get("invoice_link_expiry_days") == 60
    assert settings.get("invoice_mail_hours") == "1-5"
    assert settings.get("invoice_mail_claim_timeout_minutes") == 30
    assert settings.get("outbox_claim_timeout_minutes") == 10
    assert settings.get("mail_claim_timeout_minutes") == 10
    factor = settings.get("consumption plausibility factor")
    assert factor == 3.0 and isinstance(factor, float)
    assert settings.get("company_share_capital") is None and settings.get("company_vat_number") == ""
    with pytest.raises(KeyError):
        settings.get("no_such_setting")
    for entry in REGISTRY:  # each default passes its own check, and has a label and help text
        assert entry.kind.clean(entry.default) == entry.default, entry.key
        assert str(entry.label) and str(entry.help), entry.key


def test_F42_the_existing_keys_keep_their_stored_values(db):
    """Rows stored before the registry existed are read under the same keys."""
    for key, text in [("invoice_link_expiry_days", "14"), ("invoice_mail_hours", "2-4"),
                      ("invoice_mail_claim_timeout_minutes", "45"), ("reminder_days", "3"),
                      ("consumption plausibility factor", "2.5")]:
        db.session.add(Setting(key=key, value=text))
    db.session.add(Setting(key=settings.VERSION_KEY, value="after-the-upgrade"))
    db.session.commit()
    assert (settings.get("invoice_link_expiry_days"), settings.get("invoice_mail_hours"),
            settings.get("invoice_mail_claim_timeout_minutes"), settings.get("reminder_days"),
            settings.get("consumption plausibility factor")) == (14, "2-4", 45, 3, 2.5)


@contextlib.contextmanager
def page_language(app, language: str):
    """A request in `language` (a fresh app context: the language is kept per context)."""
    with app.app_context(), app.test_request_context(f"/?_l_={language}"):
        yield


def _refused(app, form: dict, language: str = "it") -> dict:
    with page_language(app, language):
        with pytest.raises(SettingsInvalid) as caught:
            settings.update_from_input(form)
    return caught.value.errors


@pytest.mark.parametrize("key,text,message", [
    ("company_vat_number", "12345678901", "partita IVA non è valida"),
    ("company_vat_number", "0074311015", "partita IVA non è valida"),
    ("company_sepa_creditor_id", "IT00ZZZA1B2C3D4E5F6G7H8", "identificativo del creditore SEPA non è valido"),
    ("company_sepa_creditor_id", "creditor", "identificativo del creditore SEPA non è valido"),
    ("company_pec", "not an address", "non è un indirizzo e-mail valido"),
    ("company_rea_number", "1234567", "MI-1234567"),
    ("company_customer_service_phone", "call us", "numero di telefono"),
    ("invoice_mail_hours", "25", "da 0 a 23"),
    ("invoice_mail_hours", "22-2", "da 0 a 23"),
    ("invoice_mail_hours", "night", "da 0 a 23"),
    ("invoice_mail_hours", "", "non può essere vuota"),
    ("reminder_days", "-1", "da 0 a 60"),
    ("reminder_days", "61", "da 0 a 60"),
    ("reminder_days", "two", "da 0 a 60"),
    ("reminder_days", "2,5", "da 0 a 60"),
    ("invoice_link_expiry_days", "0", "da 1 a 365"),
    ("outbox_claim_timeout_minutes", "-5", "da 1 a 1.440"),
    ("consumption plausibility factor", "1", "maggiore di 1"),
    ("consumption plausibility factor", "-2", "maggiore di 1"),
    ("consumption plausibility factor", "three", "per esempio 2,5"),
    ("company_share_capital", "-10", "zero o più"),
    ("company_share_capital", "lots", "zero o più"),
])
def test_F42_a_refused_value_gets_a_translated_message(app, db, key, text, message):
    errors = _refused(app, {key: text})
    assert list(errors) == [key] and message in errors[key], errors


def test_F42_numbers_as_written_in_the_page_language(app, db):
    with page_language(app, "it"):
        settings.update_from_input({"consumption plausibility factor": "1,5",
                                    "company_share_capital": "10.000,50"})
        assert settings.get("consumption plausibility factor") == 1.5
        assert settings.get("company_share_capital") == Decimal("10000.50")
        settings.update_from_input({"consumption plausibility factor": "2.5"})  # the plain form
        assert settings.get("consumption plausibility factor") == 2.5
        assert settings.shown("consumption plausibility factor") == "2,5"
        assert settings.registry()["company_share_capital"].kind.edit(Decimal("10000.50")) == "10000,50"
    with page_language(app, "en"):
        assert settings.shown("consumption plausibility factor") == "2.5"
        settings.update_from_input({"consumption plausibility factor": "1.75"})
        assert settings.get("consumption plausibility factor") == 1.75
    assert "number greater than 1" in _refused(app, {"consumption plausibility factor": "1,5"}, "en")[
        "consumption plausibility factor"]
    assert db.session.get(Setting, "consumption plausibility factor").value == "1.75"  # stored plain


def test_F42_identifiers_are_stored_normalised(app, db):
    with page_language(app, "it"):
        settings.update_from_input({"company_vat_number": "IT 00743110157",
                                    "company_sepa_creditor_id": "it66 zzz a1b2c3d4e5f6g7h8",
                                    "company_rea_number": "mi 1234567", "company_pec": "Ufficio@PEC.Example.IT",
                                    "invoice_mail_hours": " 1-3, 22-23 "})
    assert settings.get("company_vat_number") == "00743110157"
    assert settings.get("company_sepa_creditor_id") == "IT66ZZZA1B2C3D4E5F6G7H8"
    assert settings.get("company_rea_number") == "MI-1234567"
    assert settings.get("company_pec") == "Ufficio@pec.example.it"
    assert settings.get("invoice_mail_hours") == "1-3,22-23"


def test_F42_nothing_is_saved_when_any_value_is_refused(app, db):
    errors = _refused(app, {"reminder_days": "5", "company_name": "Gas Nord S.p.A.",
                            "company_vat_number": "123", "invoice_mail_hours": "99"})
    assert set(errors) == {"company_vat_number", "invoice_mail_hours"}
    assert settings.get("reminder_days") == 2 and settings.get("company_name") == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Setting)
                             .where(Setting.key != settings.VERSION_KEY)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 0
    with pytest.raises(SettingsInvalid):
        settings.update({"reminder_days": 5, "invoice_link_expiry_days": -3})
    assert settings.get("reminder_days") == 2


def test_F42_a_change_is_audited_with_old_and_new_value(db, make_user):
    admin, _ = make_user("Admin")
    changes = settings.update({"reminder_days": 5, "invoice_mail_hours": "2-4", "invoice_link_expiry_days": 60},
                              actor=admin)
    assert changes == {"reminder_days": (2, 5), "invoice_mail_hours": ("1-5", "2-4")}  # 60: no change
    rows = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.entity_id)).all()
    assert [(r.entity_type, r.entity_id, r.action, r.changes, r.actor_id) for r in rows] == [
        ("setting", "invoice_mail_hours", "update", {"value": ["1-5", "2-4"]}, admin.id),
        ("setting", "reminder_days", "update", {"value": ["2", "5"]}, admin.id)]
    assert settings.update({"reminder_days": 5}) == {}  # the same value again: nothing written
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == 2


def _second_app(database_url, tmp_path):
    from app import create_app
    from config import TestConfig

    class Cfg(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        BILLING_WSDL_CACHE_DIR = str(tmp_path / "wsdl")

    return create_app(Cfg)


def test_F42_the_version_stamp_makes_another_process_see_a_change(app, db, database_url, tmp_path):
    """Another app stands for another process (a web worker, the scheduler): it reads the stamp
    once per use (once per request in web requests) and reloads only when it changed."""
    from app.extensions import db as _db

    other = _second_app(database_url, tmp_path)
    statements = []
    try:
        with other.app_context():
            sa.event.listen(_db.engine, "before_cursor_execute",
                            lambda *args: statements.append(args[2]))
            assert settings.get("invoice_link_expiry_days") == 60
            statements.clear()
            assert settings.get("invoice_link_expiry_days") == 60
            assert len(statements) == 1  # the stamp only
            _db.session.rollback()
        settings.update({"invoice_link_expiry_days": 7})  # in this app
        with other.app_context():
            assert settings.get("invoice_link_expiry_days") == 7
            _db.session.rollback()
        with other.test_request_context("/"):
            statements.clear()
            assert settings.get("reminder_days") == 2 and settings.get("invoice_link_expiry_days") == 7
            assert len(statements) == 1  # once per request
            _db.session.rollback()
    finally:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_F42_a_broken_stored_value_reads_as_the_default(db):
    db.session.add_all([Setting(key="reminder_days", value="many"),
                        Setting(key="invoice_mail_hours", value="25-26"),
                        Setting(key=settings.VERSION_KEY, value="hand-written")])
    db.session.commit()
    assert settings.get("reminder_days") == 2 and settings.get("invoice_mail_hours") == "1-5"


def test_F42_a_registry_refuses_a_key_twice_or_an_unknown_section():
    with pytest.raises(ValueError):
        REGISTRY.extended(entries=[Entry("reminder_days", Whole(0, 1), 0, "reminders", "x")])
    with pytest.raises(ValueError):
        Registry([("a", "A")], [Entry("k", Whole(0, 1), 0, "b", "x")])
    with pytest.raises(ValueError):
        REGISTRY.extended(entries=[Entry(settings.VERSION_KEY, Whole(0, 1), 0, "reminders", "x")])


def test_F42_company_identity_for_documents(app, db):
    assert settings.company()["name"] == app.config["APP_NAME"]  # not set yet
    settings.update({"company_name": "Gas Nord S.p.A.", "company_vat_number": "00743110157",
                     "company_share_capital": Decimal("120000")})
    identity = settings.company()
    assert identity["name"] == "Gas Nord S.p.A." and identity["vat_number"] == "00743110157"
    assert identity["share_capital"] == "120000.00" and identity["pec"] == ""


def test_F42_claim_timeouts_are_read_by_the_queues(app, db):
    """The outbox and outgoing mail give back a foreign worker's claim after their setting."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    claimed = now - dt.timedelta(minutes=20)
    mail = OutgoingMail(idempotency_key="k-1", template="password_changed", language="it",
                        recipients=["a@example.com"], context={}, status="sending",
                        claimed_by="other-host:1:x", claimed_at=claimed, next_attempt_at=claimed)
    msg = OutboxMessage(idempotency_key="k-2", operation="update_customer", payload={},
                        status=OutboxStatus.DELIVERING, claimed_by="other-host:1:x", claimed_at=claimed,
                        next_attempt_at=claimed)
    db.session.add_all([mail, msg])
    db.session.commit()
    from app.services.mailing.mail import deliver_mail
    from app.services.sync.outbox import deliver_due

    settings.update({"mail_claim_timeout_minutes": 30, "outbox_claim_timeout_minutes": 30})
    assert "recovered" not in deliver_mail(budget=0) and "recovered" not in deliver_due(gw=object(), budget=0)
    settings.update({"mail_claim_timeout_minutes": 15, "outbox_claim_timeout_minutes": 15})
    assert deliver_mail(budget=0)["recovered"] == 1
    assert deliver_due(gw=object(), budget=0)["recovered"] == 1


def test_F42_a_signed_in_request_in_another_process_sees_a_change(app, db, database_url, tmp_path):
    """The signed-in user's load brings the stamp along: an admin shortens the inactivity
    timeout here, and a customer idle longer than the new limit is signed out at their next
    page in another process, which runs no statement of its own for the stamp."""
    from app.extensions import db as _db
    from app.models.base import utcnow
    from app.views.sign_in import LAST_SEEN
    from tests import factories as f
    from tests.portal.conftest import make_account, portal_login

    c = f.customer(synced_at=utcnow())
    f.invoice(c, f.supply_point(c))
    db.session.commit()
    user = make_account(db, app, c)
    other = _second_app(database_url, tmp_path)
    try:
        browser = other.test_client()
        assert portal_login(browser, user.username).status_code == 302
        assert browser.get("/portal/account").status_code == 200  # the settings read once here
        with browser.session_transaction() as s:
            s[LAST_SEEN] -= 10 * 60  # ten minutes without a page
        statements = []
        with other.app_context():
            sa.event.listen(_db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert browser.get("/portal/account").status_code == 200  # within the default 30 minutes
        assert not [s for s in statements if "ab_user" not in s and "settings" in s]
        settings.update({"session_idle_minutes": 5})  # here: another process
        with browser.session_transaction() as s:
            s[LAST_SEEN] -= 10 * 60
        answer = browser.get("/portal/account")
        assert answer.status_code == 302 and "/portal/login" in answer.location
    finally:
        with other.app_context():
            _db.session.remove()
            _db.engine.dispose()
