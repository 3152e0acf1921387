"""Outgoing e-mails as staff read them (F-31, F-41): the messages of every kind but invoices
(customer notices, staff e-mails, invitations), who they were for, and a copy of their text
with every link secret hidden.

The text is rendered again from the stored values; the values kept only until a message leaves
(a reset link) and any token a link carries are replaced by "[token]", so a staff page never
shows a link that would work.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Customer, OutgoingMail
from app.services.core.masking import TOKEN_MASK, mask_tokens
from app.services.mailing import mail

REFUSED = "failed"
# Context keys holding a link or token whatever the kind says: never shown as they were.
LINK_KEYS = ("link", "token")


def refused():
    """Messages the mail server refused for good (or that could not be written on the wire)."""
    return OutgoingMail.status == REFUSED


def count_refused() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutgoingMail).where(refused())) or 0


def customer_names(addresses: list[str] | None) -> str:
    """The names of the customers whose e-mail address the message went to ("" when none)."""
    return customer_names_for([addresses])[0]


def customer_names_for(address_lists: list[list[str] | None]) -> list[str]:
    """`customer_names` of several messages (a list page's rows) with one query."""
    def wanted(addresses):
        return {a.strip().lower() for a in addresses or [] if a and a.strip()}

    every = sorted(set().union(*(wanted(a) for a in address_lists))) if address_lists else []
    by_address: dict[str, list[Customer]] = {}
    if every:
        for customer in db.session.scalars(sa.select(Customer).where(sa.func.lower(Customer.email).in_(every))):
            by_address.setdefault((customer.email or "").lower(), []).append(customer)
    names = []
    for addresses in address_lists:
        found = {c.id: c for a in wanted(addresses) for c in by_address.get(a, [])}
        ordered = sorted(found.values(), key=lambda c: (c.last_name or "", c.first_name or "", c.id))
        names.append(", ".join(dict.fromkeys(c.display_name for c in ordered if c.display_name)))
    return names


def sent_to_customers(ids, limit: int = 200):
    """A condition on OutgoingMail: sent to the e-mail address of one of the customers `ids`
    (a subquery) selects; at most `limit` addresses are looked for."""
    addresses = sorted({e.strip().lower() for e in db.session.scalars(
        sa.select(Customer.email).where(Customer.id.in_(ids), Customer.email != "").limit(limit)) if e})
    if not addresses:
        return sa.false()
    stored = sa.func.lower(sa.cast(OutgoingMail.recipients, sa.Text))

    def quoted(address: str) -> str:
        return '%"' + address.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'

    return sa.or_(*(stored.like(quoted(a), escape="\\") for a in addresses))


def _hidden(value) -> str:
    """A secret value as staff may read it: a link keeps its address, its token hidden."""
    masked = mask_tokens(str(value))
    return masked if masked != str(value) else TOKEN_MASK


def masked_copy(row: OutgoingMail) -> mail.Rendered | None:
    """The message's subject and text as the recipient read them, secrets hidden; None when its
    values were emptied after the retention days or it no longer renders."""
    if row.context is None:
        return None
    context = dict(row.context)
    hidden = set(context.pop(mail.SECRET_KEYS, None) or ()) | set(LINK_KEYS)
    context = {k: (_hidden(v) if k in hidden and v else v) for k, v in context.items()}
    try:
        rendered = mail.render(row.template, row.language, context)
    except Exception:  # noqa: BLE001 - an edited or removed template: say so, show nothing
        return None
    return mail.Rendered(subject=mask_tokens(rendered.subject), text=mask_tokens(rendered.text))


__all__ = ["REFUSED", "refused", "count_refused", "customer_names", "masked_copy"]
