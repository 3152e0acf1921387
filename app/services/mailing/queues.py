"""The invoice e-mails' work queue (F-08, F-31): messages the mail server refused for good."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l, ngettext

from app.extensions import db
from app.models import InvoiceEmailLog
from app.models.invoice import SendOutcome
from app.services.core.queues import Queue, register


def refused_invoice_emails() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceEmailLog)
                             .where(InvoiceEmailLog.outcome == SendOutcome.FAILED)) or 0


register(Queue("mailing.refused",
               lambda n: ngettext("%(num)d invoice e-mail refused", "%(num)d invoice e-mails refused", n),
               ("can_list", "InvoiceEmailLogView"), lambda user: refused_invoice_emails(),
               "InvoiceEmailLogView.list", {"_flt_0_outcome": SendOutcome.FAILED.name},
               area=_l("Billing"), order=61))
