"""Every view is registered here, in one place: one `register(appbuilder)` per area, in menu order."""
from __future__ import annotations

import importlib

AREAS = (
    "app.views.admin.billing",
    "app.views.admin.sync",
)


def register_views(appbuilder) -> None:
    for module in AREAS:
        importlib.import_module(module).register(appbuilder)
