"""The start page at the bare domain (F-20): each staff member's work queues with their counts.

Anonymous visitors get the two ways in (the customer portal, the staff login); a customer's
account goes to the portal. Staff and agents see every queue of the registry
(`app.services.core.queues`) they may act on, each count a link to the list holding exactly
those rows. The page only renders: queues are registered by the areas' services.
"""
from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import IndexView
from flask_appbuilder.baseviews import expose
from flask_login import current_user

from app.i18n import gettext as _
from app.services.core import queues


def queue_rows(user) -> list[dict]:
    """What the start page shows for `user`: one row per visible queue, grouped by area."""
    rows = []
    for queue in queues.for_user(user):
        value = queue.count(user)
        rows.append({"key": queue.key, "area": str(queue.area), "text": queue.label(value),
                     "value": value, "kind": queue.kind, "url": url_for(queue.endpoint, **queue.args),
                     "attention": bool(value) if queue.kind == "count" else False})
    return rows


class StartView(IndexView):
    index_template = "admin/start.html"

    @expose("/")
    def index(self):
        if not current_user.is_authenticated:
            return self.render_template(self.index_template, appbuilder=self.appbuilder, rows=None,
                                        title=_("Welcome"))
        if getattr(current_user, "customer_id", None):
            return redirect(url_for("portal.home"))
        self.update_redirect()
        rows = queue_rows(current_user)
        areas: dict[str, list[dict]] = {}
        for row in rows:
            areas.setdefault(row["area"], []).append(row)
        return self.render_template(self.index_template, appbuilder=self.appbuilder, rows=rows,
                                    areas=areas, title=_("Your work"))
