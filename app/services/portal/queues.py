"""The portal's work queue (F-06): direct-debit mandates the customers asked for, waiting for
the back office's decision. The same condition as the back-office queue's list, so the start
page's count and the list it links to agree."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.i18n import lazy_gettext as _l, ngettext
from app.models import DirectDebitMandate, MandateStatus
from app.services.core.queues import Queue, register


def mandates_to_decide() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(DirectDebitMandate)
                             .where(DirectDebitMandate.status == MandateStatus.REQUESTED)) or 0


register(Queue("portal.mandates",
               lambda n: ngettext("%(num)d direct debit mandate to decide",
                                  "%(num)d direct debit mandates to decide", n),
               ("can_list", "MandateQueueView"), lambda user: mandates_to_decide(),
               "MandateQueueView.list", area=_l("Customers"), order=50,
               also=(("can_decide", "MandateQueueView"),)))
