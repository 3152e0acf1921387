"""Message templates edited by admins (F-41): list, preview on sample data, checked save.

Every e-mail kind has a shipped default per language (`app/templates/email/`); an admin's
version is a `MessageTemplate` row. A template is saved only after it compiles and renders
in the same Jinja sandbox the mailer uses, on sample data, using only the variables its kind
is given — so a broken template is refused at save time with the error, never at night in
the batch. Resetting removes the override and the default applies again.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from jinja2 import TemplateError, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError

from app.extensions import db
from app.i18n import gettext as _, lazy_gettext as _l
from app.models import MessageTemplate
from app.services.mailing import mail
from app.services.core.audit import record
from app.services.core.unit_of_work import transactional

FIELDS = ("subject", "body_text", "body_html")

# What staff read for each e-mail kind (lists, timeline); a kind without a title shows its name.
TITLES = {
    "invoice_link": _l("Invoice by e-mail (link)"), "invoice_pdf": _l("Invoice by e-mail (PDF)"),
    "activity_assigned": _l("Request assigned"), "activity_updated": _l("Request changed"),
    "activity_cancelled": _l("Request no longer assigned"), "activity_reminder": _l("Deadline reminder"),
    "activity_deadline": _l("Deadline today"), "appointment": _l("Appointment"),
    "password_changed": _l("Password changed"), "password_reset": _l("Password reset"),
    "email_changed": _l("E-mail address changed"), "iban_changed": _l("Bank account changed"),
    "registration_confirmed": _l("Registration confirmed"),
    "sign_in_locked": _l("Sign-in locked"),
    "account_merged": _l("Account closed after a merge of customer records"),
    "contract_signed": _l("Signed contract"),
    "prospect_message": _l("Message to a prospect"),
    "export_ready": _l("Invoice ZIP ready"),
    "request_received": _l("Request received"),
    "mandate_active": _l("Direct debit active"), "mandate_rejected": _l("Direct debit not accepted"),
    "mandate_revoke_requested": _l("Direct debit revocation requested"),
}
# The send status of an outgoing e-mail.
STATUS_TITLES = {"pending": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Refused")}


def title(name: str) -> str:
    """The translated title of an e-mail kind."""
    return str(TITLES.get(name) or name.replace("_", " ").capitalize())


def status_title(status: str) -> str:
    return str(STATUS_TITLES.get(status) or status)

_ACTIVITY = {"name": "Mario Rossi", "activity_id": 1234, "subject": "Bolletta di ottobre da verificare",
             "kind": "Rettifica bolletta", "status": "Assegnata", "customer": "Bianchi Anna",
             "deadline": "03/12/26, 16:00", "url": "https://sportello.example.it/activityview/show/1234",
             "note": "Verificare la lettura di settembre"}
SAMPLES: dict[str, dict] = {
    "activity_assigned": _ACTIVITY, "activity_updated": _ACTIVITY, "activity_cancelled": _ACTIVITY,
    "activity_reminder": _ACTIVITY, "activity_deadline": _ACTIVITY,
    "appointment": {"name": "Anna Bianchi", "subject": "Sopralluogo contatore", "notes": "Portare le chiavi",
                    "location": "Via Roma 1, Torino", "cancelled": False, "starts_at": "03/12/26, 10:00",
                    "ends_at": "03/12/26, 11:00", "operator": "Mario Rossi", "customer": "Bianchi Anna"},
    "password_changed": {"name": "Anna Bianchi"},
    "sign_in_locked": {"name": "Anna Bianchi", "username": "anna.bianchi", "minutes": 1},
    "account_merged": {"name": "Anna Bianchi", "username": "anna.bianchi2",
                       "customer_code": "C0001234"},
    "prospect_message": {"name": "Bianchi Anna", "subject": "La nostra offerta gas", "agent": "Mario Rossi",
                         "body": "Come d'accordo, le invio i dettagli dell'offerta.",
                         "agent_email": "mario.rossi@example.it", "agent_phone": "333 1234567"},
    # Direct debit (F-06): the mandate's life as the customer is told of it.
    **{kind: {"name": "Anna Bianchi", "supply_point": "00880000123456", "reference": "SPT-SP00000042-3F9A1C2B",
              "iban": "••••••••••••••••••••••3456", "reason": "Il conto indicato non è abilitato all'addebito diretto"}
       for kind in ("mandate_active", "mandate_rejected", "mandate_revoke_requested")},
    "contract_signed": {"name": "Anna Bianchi", "number": "CT2026-000123", "signed_on": "02/12/2026", "copy_id": 1},
    "export_ready": {"name": "Anna Bianchi", "count": 36, "days": 7,
                     "url": "https://sportello.example.it/portal/export"},
    "request_received": {"name": "Anna Bianchi", "reference": "RIC-2026-001234",
                         "kind": "Rettifica bolletta", "subject": "Rettifica della bolletta 2026/000123",
                         "url": "https://sportello.example.it/portal/requests/1234"},
}


class Sample(str):
    """A stand-in value for variables whose sample is not known: any attribute is another
    sample, so templates of every kind can be previewed."""

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return Sample(f"{self}.{attr}")


class TemplateInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Entry:
    name: str
    language: str
    subject: str
    customized: bool
    updated_at: object = None

    @property
    def title(self) -> str:
        return title(self.name)


def languages() -> tuple[str, ...]:
    return mail.LANGUAGES


def entries() -> list[Entry]:
    """Every e-mail kind in every language, saying which ones an admin changed."""
    rows = {(r.name, r.language): r for r in db.session.scalars(sa.select(MessageTemplate))}
    out = []
    for name in mail.template_names():
        for lang in languages():
            row = rows.get((name, lang))
            subject = row.subject if row else mail.default_template(name, lang)[0]
            out.append(Entry(name, lang, subject, row is not None, row.updated_at if row else None))
    return out


def source(name: str, language: str) -> dict[str, str]:
    subject, text, html = mail.template_source(name, language)
    return {"subject": subject, "body_text": text, "body_html": html}


def allowed_variables(name: str) -> set[str]:
    """The variables the product gives this kind of message (those its defaults use)."""
    env = mail._env(False)
    names: set[str] = set(SAMPLES.get(name, {}))
    for lang in languages():
        try:
            parts = mail.default_template(name, lang)
        except LookupError:
            continue
        for part in parts:
            if part:
                names |= meta.find_undeclared_variables(env.parse(part))
    return names


def sample_context(name: str) -> dict:
    context = {var: Sample(var.replace("_", " ")) for var in allowed_variables(name)}
    context["signature"] = mail.signature()
    context.update(SAMPLES.get(name, {}))
    return context


def check(name: str, values: dict[str, str]) -> tuple[mail.Rendered | None, dict[str, list[str]]]:
    """Compile and render `values` in the sandbox on sample data: (preview, errors by field)."""
    errors: dict[str, list[str]] = {}
    allowed = allowed_variables(name)
    if not (values.get("subject") or "").strip():
        errors.setdefault("subject", []).append(_("The subject is required."))
    if not (values.get("body_text") or "").strip():
        errors.setdefault("body_text", []).append(_("The text is required."))
    for field in FIELDS:
        text = values.get(field) or ""
        if not text:
            continue
        env = mail._env(field == "body_html")
        try:
            used = meta.find_undeclared_variables(env.parse(text))
        except TemplateSyntaxError as exc:
            errors.setdefault(field, []).append(
                _("Syntax error on line %(line)s: %(message)s", line=exc.lineno, message=exc.message))
            continue
        unknown = sorted(used - allowed)
        if unknown:
            errors.setdefault(field, []).append(
                _("Unknown variables: %(names)s. Available: %(allowed)s.",
                  names=", ".join(unknown), allowed=", ".join(sorted(allowed)) or "—"))
    if errors:
        return None, errors
    try:
        rendered = mail.render_source(values["subject"], values["body_text"], values.get("body_html") or "",
                                      sample_context(name))
    except SecurityError as exc:
        return None, {"body_text": [_("Not allowed in a template: %(message)s", message=str(exc))]}
    except UndefinedError as exc:
        return None, {"body_text": [_("Unknown value: %(message)s", message=str(exc))]}
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        return None, {"body_text": [_("The template cannot be rendered: %(message)s", message=str(exc))]}
    return rendered, {}


@transactional
def save(name: str, language: str, values: dict[str, str], actor) -> MessageTemplate:
    """Store the admin's version after `check`; raises TemplateInvalid with the errors."""
    if name not in mail.template_names() or language not in languages():
        raise LookupError(name)
    _, errors = check(name, values)
    if errors:
        raise TemplateInvalid(errors)
    row = db.session.scalar(sa.select(MessageTemplate).where(MessageTemplate.name == name,
                                                             MessageTemplate.language == language))
    before = source(name, language)
    if row is None:
        row = MessageTemplate(name=name, language=language)
        db.session.add(row)
    row.subject = values["subject"].strip()
    row.body_text = values["body_text"]
    row.body_html = values.get("body_html") or ""
    row.updated_by_id = getattr(actor, "id", None)
    record("message_template", f"{name}.{language}", "update",
           {k: [before[k][:200], (values.get(k) or "")[:200]] for k in FIELDS if before[k] != (values.get(k) or "")},
           actor)
    return row


@transactional
def reset(name: str, language: str, actor) -> bool:
    """Go back to the shipped default."""
    row = db.session.scalar(sa.select(MessageTemplate).where(MessageTemplate.name == name,
                                                             MessageTemplate.language == language))
    if row is None:
        return False
    db.session.delete(row)
    record("message_template", f"{name}.{language}", "reset", {}, actor)
    return True
