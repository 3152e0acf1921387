"""Every view is registered here, in one place: one `register(appbuilder)` per area, in menu order."""
from __future__ import annotations

import importlib

AREAS = (
    "app.views.layout",
    "app.views.admin.billing",
    "app.views.admin.sync",
    "app.views.admin.outbox",
    "app.views.admin.contracts",
    "app.views.sales.prospects",
    "app.views.admin.offers",
    "app.views.admin.crm",
    "app.views.admin.mandates",
    "app.views.admin.contacts",
    "app.views.admin.callcenter",
    "app.views.admin.stats",
    "app.views.admin.audit",
    "app.views.admin.templates",
    "app.views.admin.mailing",
    "app.views.admin.settings",
    "app.views.admin.jobs",
    "app.views.admin.status",
    "app.views.admin.mailcatcher",
)


def register_views(appbuilder) -> None:
    for module in AREAS:
        importlib.import_module(module).register(appbuilder)
