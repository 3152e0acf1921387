"""Product settings (F-42): one registry, typed values, checked changes, seen by every process.

Every setting is an `Entry` of the registry below: its key (the row in `Setting`, key/value
text), its kind (how the admin's input is read in the page's language, checked, stored and
shown), its default, its section on the settings page, its label and its help text. Code reads
a value with `get("key")`, typed; the settings page is generated from the registry, so a new
entry appears there without page code.

Changes go through `update()` (typed values) or `update_from_input()` (the page's text): every
value is checked first and nothing is stored when one is refused; each change is audited (old
and new value) and a new random stamp is written to the `settings.version` row, all in one
transaction.

Each app (process) keeps the values it loaded together with the stamp they were read under.
`get()` compares that stamp with the database's — one primary-key read, once per web request —
and reloads every value when it changed: a change made in any process reaches the web workers,
the scheduler and the CLI at their next use, without a restart. A row written around `update()`
(by hand in SQL) is seen once the stamp changes.

A value never set is the entry's default, or the one the app's config names in
`SETTINGS_DEFAULTS` ({key: value}: an installation's or the test suite's own defaults).

Connections and secrets (database, SMTP, billing) are not settings: they stay in the
environment (config.py). Rows `roles.defaults.*` in the same table are app.security's
bookkeeping, not settings.
"""
from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa
from babel.numbers import NumberFormatError, format_decimal as babel_format_decimal, parse_decimal
from flask import current_app, g, has_request_context

from app import validators
from app.extensions import db
from app.formatting import format_currency, format_decimal
from app.i18n import gettext as _, lazy_gettext as _l
from app.i18n import locale_id
from app.models import Setting
from app.services.core.audit import record
from app.services.core.errors import DomainError
from app.services.core.unit_of_work import transactional

log = logging.getLogger(__name__)

VERSION_KEY = "settings.version"
_REGISTRY_EXT = "sportello.settings_registry"
_CACHE_EXT = "sportello.settings"
_UNSEEN = object()


class SettingInvalid(DomainError):
    """One value refused; the message says what is expected."""


class SettingsInvalid(DomainError):
    """Values refused (nothing was saved); `errors` maps each refused key to its message."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__(_l("Nothing was saved: correct the settings marked below."))
        self.errors = dict(errors)


# --- kinds of values --------------------------------------------------------------------------

class Kind:
    """How one kind of value is read from the admin's input, checked, stored and shown."""

    input_type = "text"
    input_mode: str | None = None  # the input's `inputmode` (keyboard on phones and tablets)

    def parse(self, text: str) -> Any:
        """The admin's input, in the page's language, as a checked value."""
        return self.clean(text.strip())

    def clean(self, value: Any) -> Any:
        """The value checked and normalised; raises SettingInvalid."""
        raise NotImplementedError

    def dump(self, value: Any) -> str:
        """The stored text (the same in every language)."""
        return "" if value is None else str(value)

    def load(self, text: str) -> Any:
        """A stored text as a value; raises SettingInvalid or ValueError when it is broken."""
        return self.clean(text)

    def show(self, value: Any) -> str:
        """The value for reading, in the current language ("" when not set)."""
        return "" if value is None else str(value)

    def edit(self, value: Any) -> str:
        """The value as the input box shows it, in the current language."""
        return self.show(value)


def _required():
    return SettingInvalid(_("This setting cannot be empty."))


class Whole(Kind):
    """A whole number between two bounds (days, minutes)."""

    input_mode = "numeric"

    def __init__(self, minimum: int, maximum: int):
        self.minimum, self.maximum = minimum, maximum

    def _refused(self):
        return SettingInvalid(_("Enter a whole number from %(min)s to %(max)s.",
                                min=format_decimal(self.minimum), max=format_decimal(self.maximum)))

    def parse(self, text: str) -> int:
        if not text.strip():
            raise _required()
        return self.clean(text)

    def clean(self, value: Any) -> int:
        if isinstance(value, str):
            if not re.fullmatch(r"\s*[+-]?\d+\s*", value):
                raise self._refused()
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not self.minimum <= value <= self.maximum:
            raise self._refused()
        return value

    def show(self, value: Any) -> str:
        return format_decimal(value)

    def edit(self, value: Any) -> str:
        return str(value)


def _locale_decimal(text: str) -> Decimal:
    """A number as typed in the page's language ("1,5" in Italian, "1.5" in English); the
    plain form with a point is also understood where it is not a thousands group."""
    text = text.replace("\u00a0", " ").replace(" ", "")
    try:
        return parse_decimal(text, locale=locale_id(), strict=True)
    except NumberFormatError:
        pass
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return Decimal(text)
    raise ValueError(text)


class Number(Kind):
    """A number with decimals above a lower bound (exclusive) and up to an upper one."""

    input_mode = "decimal"

    def __init__(self, above: float, maximum: float, example: str):
        self.above, self.maximum, self.example = above, maximum, Decimal(example)

    def _refused(self):
        return SettingInvalid(_("Enter a number greater than %(min)s and at most %(max)s, e.g. %(example)s.",
                                min=format_decimal(Decimal(str(self.above))),
                                max=format_decimal(Decimal(str(self.maximum))),
                                example=format_decimal(self.example)))

    def parse(self, text: str) -> float:
        text = text.strip()
        if not text:
            raise _required()
        try:
            return self.clean(_locale_decimal(text))
        except ValueError:
            raise self._refused() from None

    def clean(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self._refused()
        try:
            number = float(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            raise self._refused() from None
        if not self.above < number <= self.maximum:
            raise self._refused()
        return number

    def dump(self, value: Any) -> str:
        return format(Decimal(str(value)).normalize(), "f")

    def show(self, value: Any) -> str:
        return format_decimal(Decimal(str(value)).normalize())


class Money(Kind):
    """An amount in euros, not negative; may be left empty."""

    input_mode = "decimal"

    def _refused(self):
        return SettingInvalid(_("Enter an amount in euros of zero or more, e.g. %(example)s.",
                                example=self.edit(Decimal("10000"))))

    def parse(self, text: str) -> Decimal | None:
        text = text.replace("€", "").strip()
        if not text:
            return None
        try:
            return self.clean(_locale_decimal(text))
        except ValueError:
            raise self._refused() from None

    def clean(self, value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        try:
            amount = Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise self._refused() from None
        if amount < 0:
            raise self._refused()
        return amount

    def show(self, value: Any) -> str:
        return "" if value is None else format_currency(value)

    def edit(self, value: Any) -> str:
        return "" if value is None else babel_format_decimal(value, format="#0.00", locale=locale_id())


class Text(Kind):
    """A line of text, optionally checked by a function of app.validators (returns the
    normalised text or raises InvalidValue)."""

    def __init__(self, max_length: int = 200, check: Callable[[str], str] | None = None, *,
                 required: bool = False, input_type: str = "text", input_mode: str | None = None):
        self.max_length, self.check, self.required = max_length, check, required
        self.input_type, self.input_mode = input_type, input_mode

    def clean(self, value: Any) -> str:
        text = "" if value is None else str(value).strip()
        if not text:
            if self.required:
                raise _required()
            return ""
        if self.check is not None:
            try:
                text = self.check(text)
            except validators.InvalidValue as exc:
                raise SettingInvalid(str(exc)) from None
        if len(text) > self.max_length:
            raise SettingInvalid(_("At most %(max)s characters.", max=self.max_length))
        return text


class CronHours(Kind):
    """Hours of the day in cron form (Italian time): 1-5, 1,3,5, 22-23, *."""

    def clean(self, value: Any) -> str:
        from apscheduler.triggers.cron import CronTrigger

        text = re.sub(r"\s", "", "" if value is None else str(value))
        if not text:
            raise _required()
        try:
            CronTrigger(hour=text)
        except ValueError:
            raise SettingInvalid(_("Enter hours from 0 to 23: a range (1-5), a list (1,3,5) or both (1-3,22-23).")) from None
        return text


# Phone numbers and REA numbers have no library among the dependencies: light checks by hand.
_PHONE = re.compile(r"^\+?[0-9][0-9 ./-]{1,22}[0-9]$")
_REA = re.compile(r"^([A-Z]{2})[\s-]*(\d{1,7})$")


def phone_number(value: str) -> str:
    """A phone number as printed for customers: digits, spaces, separators, an optional +."""
    text = re.sub(r"\s+", " ", value.strip())
    if not _PHONE.match(text) or not 3 <= sum(c.isdigit() for c in text) <= 15:
        raise validators.InvalidValue(_l("Enter a phone number: digits, spaces and an optional leading +."))
    return text


_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")


def origins_list(value: str) -> str:
    """Web origins, one per line: scheme, host and optional port, no path and no wildcard."""
    origins = []
    for item in value.split():
        origin = item.strip().rstrip("/").lower()
        if not _ORIGIN.match(origin):
            raise validators.InvalidValue(_("%(origin)s is not an origin: write the scheme, the host and "
                                            "the port if any, e.g. https://www.example.it.",
                                            origin=item[:80]))
        if origin not in origins:
            origins.append(origin)
    return "\n".join(origins)


def origins(key: str) -> list[str]:
    """The origins of a setting written by `origins_list`."""
    return [o for o in (get(key) or "").split() if o]


def rea_number(value: str) -> str:
    """An entry in the Italian companies register (REA): province code and number."""
    match = _REA.match(value.strip().upper())
    if not match:
        raise validators.InvalidValue(_l("Enter the province code and the number, e.g. MI-1234567."))
    return f"{match.group(1)}-{match.group(2)}"


def staff_role_names(value: str) -> str:
    """Staff role names separated by commas, as the roles are spelt."""
    from app.roles import STAFF_ROLES

    known = {r.casefold(): r for r in STAFF_ROLES}
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n.casefold() not in known]
    if unknown:
        raise validators.InvalidValue(_l("Unknown role: %(names)s. Staff roles are: %(roles)s.",
                                         names=", ".join(unknown), roles=", ".join(STAFF_ROLES)))
    return ", ".join(dict.fromkeys(known[n.casefold()] for n in names))


# --- the registry -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One setting: the stored key, its kind, default, section, label and help (translated)."""

    key: str
    kind: Kind
    default: Any
    section: str
    label: Any
    help: Any = ""


class Registry:
    """The settings, in page order, grouped in sections."""

    def __init__(self, sections: Iterable[tuple[str, Any]], entries: Iterable[Entry]):
        self.sections: dict[str, Any] = dict(sections)
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        if entry.key in self._entries or entry.key == VERSION_KEY:
            raise ValueError(f"setting {entry.key!r} is declared twice")
        if entry.section not in self.sections:
            raise ValueError(f"setting {entry.key!r}: unknown section {entry.section!r}")
        if len(entry.key) > 60:
            raise ValueError(f"setting {entry.key!r}: keys have at most 60 characters")
        self._entries[entry.key] = entry

    def extended(self, sections: Iterable[tuple[str, Any]] = (), entries: Iterable[Entry] = ()) -> Registry:
        """A copy with more sections and entries (another product edition, tests)."""
        return Registry([*self.sections.items(), *sections], [*self, *entries])

    def __getitem__(self, key: str) -> Entry:
        return self._entries[key]

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def keys(self) -> list[str]:
        return list(self._entries)

    def grouped(self) -> list[tuple[str, Any, list[Entry]]]:
        """(section id, section label, its entries) for every section with entries."""
        out = []
        for section, label in self.sections.items():
            entries = [e for e in self if e.section == section]
            if entries:
                out.append((section, label, entries))
        return out


_CLAIM_HELP = _l("After how long the rows claimed by a process that stopped on another machine go back "
                 "to the queue (a stopped process on this machine is noticed at once). Keep it well "
                 "above the time one run takes.")

REGISTRY = Registry(
    sections=[
        ("company", _l("Company")),
        ("invoice_mail", _l("Invoice e-mails")),
        ("portal", _l("Customer portal")),
        ("reminders", _l("Deadline reminders")),
        ("queues", _l("Queues")),
        ("security", _l("Security")),
        ("contracts", _l("Contracts")),
        ("sales", _l("Sales network")),
        ("api", _l("Customers' API")),
        ("website", _l("Website integration")),
    ],
    entries=[
        Entry("company_name", Text(120), "", "company", _l("Company name"),
              _l("As printed on contracts, mandates, invoices and e-mails. Empty: the application's name.")),
        Entry("company_vat_number", Text(11, validators.vat_number, input_mode="numeric"), "", "company",
              _l("VAT number"), _l("Partita IVA: 11 digits with a check digit.")),
        Entry("company_address", Text(200), "", "company", _l("Registered office"),
              _l("Street and number, post code, town and province.")),
        Entry("company_rea_number", Text(20, rea_number), "", "company", _l("REA number"),
              _l("Entry in the companies register: province code and number, e.g. MI-1234567.")),
        Entry("company_share_capital", Money(), None, "company", _l("Share capital"),
              _l("Fully paid-up share capital, in euros.")),
        Entry("company_pec", Text(120, validators.email_address, input_type="email"), "", "company",
              _l("Certified e-mail (PEC)"), _l("The company's certified e-mail address.")),
        Entry("company_sepa_creditor_id", Text(35, validators.sepa_creditor_id), "", "company",
              _l("SEPA creditor identifier"),
              _l("Printed on direct debit mandates, e.g. IT66ZZZA1B2C3D4E5F6G7H8.")),
        Entry("company_customer_service_phone", Text(30, phone_number, input_type="tel"), "", "company",
              _l("Customer service phone"), _l("Printed on contracts and documents for customers.")),
        Entry("company_gas_emergency_phone", Text(30, phone_number, input_type="tel"), "", "company",
              _l("Gas emergency number"),
              _l("Printed on gas contracts and documents: the number to call about a gas leak, "
                 "answered 24 hours a day.")),
        Entry("invoice_mail_hours", CronHours(), "1-5", "invoice_mail", _l("Sending hours"),
              _l("Hours of the day (Italian time) when the nightly invoice e-mails go out, every "
                 "15 minutes: a range (1-5), a list (1,3,5) or both. The scheduler applies a change "
                 "within a minute.")),
        Entry("invoice_link_expiry_days", Whole(1, 365), 60, "invoice_mail", _l("Invoice link validity (days)"),
              _l("How long the link in an invoice e-mail opens the invoice. A shorter validity also "
                 "applies to the links already sent.")),
        Entry("invoice_mail_claim_timeout_minutes", Whole(1, 1440), 30, "invoice_mail",
              _l("Invoice e-mail claim timeout (minutes)"), _CLAIM_HELP),
        Entry("consumption plausibility factor", Number(1, 100, "2.5"), 3.0, "portal",
              _l("Consumption plausibility factor"),
              _l("A self-reading whose consumption is more than this many times the expected one is "
                 "accepted only after the customer confirms it, and is flagged for the back office.")),
        Entry("portal_refresh_minutes", Whole(1, 1440), 15, "portal",
              _l("Refresh from billing after (minutes)"),
              _l("When a customer opens the home page or the invoice list and their data came from "
                 "billing longer ago than this, they are read again from billing first (waiting a "
                 "few seconds at most; if billing does not answer, the page shows the data already "
                 "here, with their age).")),
        Entry("reminder_days", Whole(0, 60), 2, "reminders", _l("Days before the deadline"),
              _l("The reminder e-mail of an assigned request goes out this many days before its "
                 "deadline; a message on the day follows. 0: the message on the day only.")),
        Entry("outbox_claim_timeout_minutes", Whole(1, 1440), 10, "queues",
              _l("Outbox claim timeout (minutes)"), _CLAIM_HELP),
        Entry("mail_claim_timeout_minutes", Whole(1, 1440), 10, "queues",
              _l("E-mail claim timeout (minutes)"), _CLAIM_HELP),
        Entry("mail_retention_days", Whole(1, 3650), 90, "queues", _l("Keep e-mail contents (days)"),
              _l("The contents of notification e-mails sent or refused (the values their text is written "
                 "from, calendar invitations) are deleted this many days after they were queued; "
                 "recipients, dates and outcomes stay in the send log.")),
        Entry("queue_alert_hours", Whole(1, 720), 24, "queues", _l("Alert after (hours)"),
              _l("A write for billing or an e-mail still waiting this long after it was queued is "
                 "reported in the job's log and counts (temporary failures are retried however long "
                 "it takes).")),
        Entry("session_idle_minutes", Whole(5, 480), 30, "security", _l("Sign out after inactivity (minutes)"),
              _l("A staff member or customer who opens no page for this long is signed out and "
                 "signs in again.")),
        Entry("session_absolute_hours", Whole(1, 72), 12, "security", _l("Longest session (hours)"),
              _l("However active, a session ends this many hours after sign-in.")),
        Entry("totp_required_roles", Text(200, staff_role_names), "Admin, Manager", "security",
              _l("Roles that must use two-factor sign-in"),
              _l("Staff with one of these roles (names separated by commas) sign in with a code from an "
                 "authenticator app after the password, and enrol at their next sign-in. Other staff and "
                 "customers may enrol if they wish. Empty: nobody is obliged.")),
        Entry("signed_copy_max_mb", Whole(1, 50), 10, "contracts", _l("Signed copy: largest file (MB)"),
              _l("The largest signed contract (PDF, JPEG or PNG) an agent or the back office may upload.")),
        Entry("prospect_retention_days", Whole(1, 3650), 180, "sales", _l("Keep lost prospects' data (days)"),
              _l("The personal data of a prospect lost this many days ago (names, phone, e-mail, tax "
                 "code, notes) are erased every night; the anonymous row stays in the statistics.")),
        Entry("api_token_days", Whole(1, 730), 365, "api", _l("Personal API tokens: validity (days)"),
              _l("How long a personal API token a customer creates in the portal works; the customer "
                 "may choose a shorter validity.")),
        Entry("api_cors_origins", Text(1000, origins_list), "", "api", _l("Websites allowed to call the API"),
              _l("Origins (scheme, host and port, e.g. https://www.example.it) whose pages may call the "
                 "customers' API from the browser with a personal token; one per line or separated by "
                 "spaces. Empty: none.")),
        Entry("widget_origins", Text(1000, origins_list), "", "website",
              _l("Websites allowed to embed the portal's widgets"),
              _l("Origins (scheme, host and port, e.g. https://www.example.it) whose pages may show the "
                 "sign-in box and the information request form in a frame; one per line or separated "
                 "by spaces. Every other site is refused. Empty: none.")),
    ],
)


def registry() -> Registry:
    """The current app's registry (REGISTRY unless `use_registry` set another)."""
    return current_app.extensions.get(_REGISTRY_EXT) or REGISTRY


def use_registry(app, other: Registry | None) -> None:
    """Use another registry in `app` (None: back to REGISTRY); its values are loaded anew."""
    if other is None:
        app.extensions.pop(_REGISTRY_EXT, None)
    else:
        app.extensions[_REGISTRY_EXT] = other
    app.extensions.pop(_CACHE_EXT, None)


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Loaded:
    registry: Registry
    stamp: str | None
    values: dict[str, Any]


# Read on every request (the session timeouts are settings): a prebuilt Core statement on the
# session's connection costs about an eighth of building an ORM select and running it each time.
_STAMP = sa.select(Setting.__table__.c.value).where(Setting.__table__.c.key == VERSION_KEY)


# The stamp as a column of another statement: the signed-in user's load reads it along
# (app.security), so a signed-in request checks its settings without a statement of its own.
STAMP_COLUMN = _STAMP.scalar_subquery().label("settings_stamp")


def note_stamp(version: str | None) -> None:
    """The stamp as this request read it along with another statement (STAMP_COLUMN): the
    values cached in this process serve the request if they carry the same stamp."""
    _seen(version)


def stamp() -> str | None:
    """The database's settings version stamp (None before the first change)."""
    db.session.flush()  # as the session's own execute would (nothing to do on a page view)
    return db.session.connection().execute(_STAMP).scalar()


def _load(reg: Registry) -> _Loaded:
    """Every value and the stamp, in one statement (a consistent pair)."""
    rows = dict(db.session.execute(sa.select(Setting.key, Setting.value)
                                   .where(Setting.key.in_([*reg.keys(), VERSION_KEY]))).all())
    version = rows.pop(VERSION_KEY, None)
    values = {}
    defaults = current_app.config.get("SETTINGS_DEFAULTS") or {}  # an installation's own defaults
    for entry in reg:
        text = rows.get(entry.key)
        if text is None:
            values[entry.key] = defaults.get(entry.key, entry.default)
            continue
        try:
            values[entry.key] = entry.kind.load(text)
        except (SettingInvalid, ValueError, ArithmeticError):
            log.warning("Setting %s has a stored value that is not valid (%r): using its default %r",
                        entry.key, text, entry.default)
            values[entry.key] = entry.default
    return _Loaded(reg, version, values)


def _loaded() -> _Loaded:
    reg = registry()
    app = current_app
    loaded = app.extensions.get(_CACHE_EXT)
    if loaded is not None and loaded.registry is reg:
        if has_request_context() and g.get("_settings_stamp", _UNSEEN) == loaded.stamp:
            return loaded  # checked once in this request
        if stamp() == loaded.stamp:
            _seen(loaded.stamp)
            return loaded
    loaded = _load(reg)
    app.extensions[_CACHE_EXT] = loaded
    _seen(loaded.stamp)
    return loaded


def _seen(version: str | None) -> None:
    if has_request_context():
        g._settings_stamp = version


def get(key: str) -> Any:
    """A setting's value, typed (its default until an admin sets it); KeyError for a key the
    registry does not have."""
    loaded = _loaded()
    if key not in loaded.registry:
        raise KeyError(key)
    return loaded.values[key]


def current() -> dict[str, Any]:
    """Every setting's value, by key."""
    return dict(_loaded().values)


def shown(key: str, value: Any = _UNSEEN) -> str:
    """A value (by default the current one) as a page shows it, in the current language."""
    entry = registry()[key]
    value = get(key) if value is _UNSEEN else value
    return entry.kind.show(value)


# --- changing ---------------------------------------------------------------------------------

def update(values: Mapping[str, Any], actor=None) -> dict[str, tuple[Any, Any]]:
    """Check and store typed values; each change is audited, the stamp renewed, one commit.

    Raises SettingsInvalid (nothing stored) when any value is refused. Returns
    {key: (old, new)} for the values that changed.
    """
    reg = registry()
    cleaned, errors = {}, {}
    for key, value in values.items():
        try:
            cleaned[key] = reg[key].kind.clean(value)
        except SettingInvalid as exc:
            errors[key] = exc.message
    if errors:
        raise SettingsInvalid(errors)
    return _store(reg, cleaned, actor)


def update_from_input(form: Mapping[str, str], actor=None) -> dict[str, tuple[Any, Any]]:
    """The settings page's form: every key of the registry present in `form`, as typed in the
    current language; as `update()` otherwise."""
    reg = registry()
    parsed, errors = {}, {}
    for entry in reg:
        if entry.key not in form:
            continue
        try:
            parsed[entry.key] = entry.kind.parse(form[entry.key] or "")
        except SettingInvalid as exc:
            errors[entry.key] = exc.message
    if errors:
        raise SettingsInvalid(errors)
    return _store(reg, parsed, actor)


@transactional
def _store(reg: Registry, values: dict[str, Any], actor) -> dict[str, tuple[Any, Any]]:
    before = _load(reg)  # what is stored now, not what this process cached
    changes = {k: (before.values[k], v) for k, v in values.items() if v != before.values[k]}
    if not changes:
        return {}
    for key, (old, new) in changes.items():
        kind = reg[key].kind
        row = db.session.get(Setting, key)
        if row is None:
            db.session.add(Setting(key=key, value=kind.dump(new)))
        else:
            row.value = kind.dump(new)
        record("setting", key, "update", {"value": [kind.dump(old), kind.dump(new)]}, actor)
    version = uuid.uuid4().hex
    bumped = db.session.execute(sa.update(Setting).where(Setting.key == VERSION_KEY)
                                .values(value=version)
                                .execution_options(synchronize_session=False)).rowcount
    if not bumped:
        db.session.add(Setting(key=VERSION_KEY, value=version))
    current_app.extensions[_CACHE_EXT] = _Loaded(
        reg, version, {**before.values, **{k: new for k, (_old, new) in changes.items()}})
    _seen(version)
    log.info("Settings changed by %s: %s", getattr(actor, "username", "system"), ", ".join(changes))
    return changes


# --- what documents print ---------------------------------------------------------------------

def company() -> dict[str, str]:
    """The company's identity as documents print it, as plain JSON (frozen in document
    snapshots); empty strings where not set, the application's name when no name is set."""
    v = current()
    capital = v["company_share_capital"]
    return {
        "name": v["company_name"] or current_app.config.get("APP_NAME", "Sportello"),
        "vat_number": v["company_vat_number"],
        "address": v["company_address"],
        "rea_number": v["company_rea_number"],
        "share_capital": "" if capital is None else str(capital),
        "pec": v["company_pec"],
        "sepa_creditor_id": v["company_sepa_creditor_id"],
        "customer_service_phone": v["company_customer_service_phone"],
        "gas_emergency_phone": v["company_gas_emergency_phone"],
    }
