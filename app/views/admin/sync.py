"""Admin views of the alignment with billing: per-entity state and the runs' history."""
from __future__ import annotations

from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.i18n import lazy_gettext as _l
from app.models import SyncRun, SyncState

from app.roles import MANAGER, READ

from app.views.display import STATUS_LABELS, TRIGGER_LABELS, choice

from .base import ReadOnlyView

ROLE_GRANTS = {MANAGER: {"SyncStateView": READ, "SyncRunView": READ}}


class SyncStateView(ReadOnlyView):
    datamodel = SQLAInterface(SyncState)
    list_title = show_title = _l("Alignment with billing")
    list_columns = ["entity", "records_total", "watermark", "last_success_at", "freshness",
                    "last_attempt_at", "last_error"]
    show_columns = list_columns
    label_columns = {"entity": _l("Data"), "records_total": _l("Records"),
                     "watermark": _l("Billing version"), "last_success_at": _l("Last success"),
                     "freshness": _l("Data age"), "last_attempt_at": _l("Last attempt"),
                     "last_error": _l("Last error")}


class SyncRunView(ReadOnlyView):
    datamodel = SQLAInterface(SyncRun)
    list_title = show_title = _l("Alignment runs")
    list_columns = ["started_at", "finished_at", "trigger", "full", "status", "counts", "error"]
    show_columns = list_columns
    base_order = ("started_at", "desc")
    search_columns = ["status", "trigger", "started_at"]
    label_columns = {"started_at": _l("Started"), "finished_at": _l("Finished"),
                     "trigger": _l("Started by"), "full": _l("Full"), "status": _l("Outcome"),
                     "counts": _l("Records"), "error": _l("Error")}
    formatters_columns = {"status": choice(STATUS_LABELS), "trigger": choice(TRIGGER_LABELS)}


def register(appbuilder) -> None:
    system = "Alignment"
    appbuilder.add_view(SyncStateView, "Alignment state", label=_l("Alignment state"), icon="fa-refresh",
                        category=system, category_label=_l("Alignment"), category_icon="fa-exchange")
    appbuilder.add_view(SyncRunView, "Alignment runs", label=_l("Alignment runs"), icon="fa-history",
                        category=system)
