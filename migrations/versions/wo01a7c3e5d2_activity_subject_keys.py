"""Request subjects written by the product become keys, translated when shown

Subjects like "Autolettura" or "Rettifica della bolletta 2026/000123" were stored in the
language of whoever filed the request; they become "@kind" and "@invoice_correction:<number>".
A recorded phone call's default subject ("Telefonata") becomes "@kind" too. Subjects people
typed stay as they are. Data only: no schema change.

Revision ID: wo01a7c3e5d2
Revises: ma01c3d5e7f9
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'wo01a7c3e5d2'
down_revision = 'ma01c3d5e7f9'
branch_labels = None
depends_on = None

# The kinds' labels as they were stored (member name -> (English, Italian)), frozen here.
LABELS = {
    "REGISTRATION": ("First access", "Primo accesso"),
    "SELF_READING": ("Self-reading", "Autolettura"),
    "INFORMATION_REQUEST": ("Information request", "Richiesta di informazioni"),
    "PERSONAL_DATA": ("Personal data change", "Variazione dati anagrafici"),
    "MAILING_ADDRESS": ("Mailing address change", "Variazione recapito"),
    "DIRECT_DEBIT": ("Direct debit", "Domiciliazione bancaria"),
    "INVOICE_EMAIL": ("Invoice by e-mail", "Bolletta via e-mail"),
    "INVOICE_CORRECTION": ("Invoice correction", "Rettifica fattura", "Rettifica bolletta"),
    "CREDENTIALS": ("Credentials change", "Modifica credenziali"),
    "COMPLAINT": ("Complaint", "Reclamo"),
    "CONTRACT": ("Contract", "Contratto"),
    "GENERAL": ("General request", "Richiesta generica"),
}
CORRECTION_PREFIXES = ("Correction of invoice ", "Rettifica della bolletta ", "Rettifica della fattura ")

activities = sa.table("activities", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                      sa.column("subject", sa.String))
contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                    sa.column("subject", sa.String))
CALL_LABELS = ("Phone call", "Telefonata")


def _key(kind: str, subject: str) -> str | None:
    if subject in LABELS.get(kind, ()):
        return "@kind"
    if kind == "INVOICE_CORRECTION":
        for prefix in CORRECTION_PREFIXES:
            if subject.startswith(prefix) and subject[len(prefix):].strip():
                return "@invoice_correction:" + subject[len(prefix):].strip()
    return None


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(activities.c.id, activities.c.kind, activities.c.subject)
                        .where(activities.c.subject != "", ~activities.c.subject.startswith("@")))
    for id_, kind, subject in list(rows):
        key = _key(kind, subject or "")
        if key is not None:
            conn.execute(activities.update().where(activities.c.id == id_).values(subject=key))
    conn.execute(contacts.update().where(contacts.c.kind == "PHONE_CALL", contacts.c.subject.in_(CALL_LABELS))
                 .values(subject="@kind"))


def downgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(activities.c.id, activities.c.kind, activities.c.subject)
                        .where(activities.c.subject.startswith("@")))
    for id_, kind, subject in list(rows):
        if subject == "@kind":
            text = LABELS.get(kind, (subject, subject))[1]
        elif subject.startswith("@invoice_correction:"):
            text = "Rettifica della bolletta " + subject.partition(":")[2]
        else:
            continue
        conn.execute(activities.update().where(activities.c.id == id_).values(subject=text[:200]))
    conn.execute(contacts.update().where(contacts.c.kind == "PHONE_CALL", contacts.c.subject == "@kind")
                 .values(subject=CALL_LABELS[1]))
