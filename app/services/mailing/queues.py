"""The e-mails' work queues (F-08, F-31): invoice e-mails the mail server refused for good, and
the other messages (customer notices, staff e-mails, invitations) it refused."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.i18n import lazy_gettext as _l, ngettext
from app.models import InvoiceEmailLog
from app.models.invoice import SendOutcome
from app.services.core.queues import Queue, register
from app.services.mailing import sent_mail


def refused_invoice_emails() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceEmailLog)
                             .where(InvoiceEmailLog.outcome == SendOutcome.FAILED)) or 0


register(Queue("mailing.refused",
               lambda n: ngettext("%(num)d invoice e-mail refused", "%(num)d invoice e-mails refused", n),
               ("can_list", "InvoiceEmailLogView"), lambda user: refused_invoice_emails(),
               "InvoiceEmailLogView.list", {"_flt_0_outcome": SendOutcome.FAILED.name},
               area=_l("Billing"), order=61))


register(Queue("mailing.mail_refused",
               lambda n: ngettext("%(num)d e-mail to a customer or staff refused",
                                  "%(num)d e-mails to customers or staff refused", n),
               ("can_list", "RefusedMailView"), lambda user: sent_mail.count_refused(),
               "RefusedMailView.list", area=_l("E-mails"), order=63))
