"""The mail catcher's pages (development and demo): what the product sent, as received by the
local SMTP server. Admin only. The HTML body is shown in a sandboxed iframe (no scripts, no
same-origin access), attachments are downloaded, invitations (.ics) are shown as text."""
from __future__ import annotations

from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.i18n import gettext as _, lazy_gettext as _l
from app.mailcatcher import MailStore

ROLE_GRANTS: dict = {}  # Admin only

# The HTML body may come from anywhere: no scripts, no forms, no plugins, no same origin.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def store() -> MailStore:
    from config import VAR_DIR

    return MailStore(current_app.config.get("MAILCATCHER_DIR") or Path(VAR_DIR) / "mailcatcher")


def _calendar_summary(text: str) -> list[tuple[str, str]]:
    """Key lines of an iCalendar text (method, summary, start, organizer, attendees)."""
    try:
        import icalendar

        cal = icalendar.Calendar.from_ical(text)
    except Exception:  # shown as text anyway
        return []
    out = [("METHOD", str(cal.get("METHOD", "")))]
    for event in cal.walk("VEVENT"):
        for key in ("SUMMARY", "DTSTART", "DTEND", "SEQUENCE", "STATUS", "ORGANIZER"):
            if key in event:
                value = event[key]
                out.append((key, str(value.dt if hasattr(value, "dt") else value)))
        attendees = event.get("ATTENDEE")
        if attendees:
            attendees = attendees if isinstance(attendees, list) else [attendees]
            out.append(("ATTENDEE", ", ".join(str(a) for a in attendees)))
    return out


class MailCatcherView(BaseView):
    route_base = "/mailcatcher"
    default_view = "list"

    def _message_or_404(self, name):
        msg = store().get(name)
        if msg is None:
            abort(404)
        return msg

    @expose("/")
    @has_access
    def list(self):
        messages = store().latest(300)
        return self.render_template("admin/mailcatcher_list.html", messages=messages,
                                    title=_("Mail catcher"))

    @expose("/<name>")
    @has_access
    def show(self, name):
        msg = self._message_or_404(name)
        calendars = [(text, _calendar_summary(text)) for text in msg.calendars()]
        return self.render_template("admin/mailcatcher_show.html", msg=msg, text=msg.text(),
                                    has_html=bool(msg.html()), parts=msg.parts(), calendars=calendars,
                                    title=msg.subject or _("Message"))

    @expose("/<name>/html")
    @has_access
    @permission_name("show")
    def html(self, name):
        msg = self._message_or_404(name)
        resp = Response(msg.html(), mimetype="text/html")
        resp.headers["Content-Security-Policy"] = SANDBOX_CSP
        return resp

    @expose("/<name>/part/<int:index>")
    @has_access
    @permission_name("show")
    def part(self, name, index):
        msg = self._message_or_404(name)
        part = msg.part(index)
        if part is None:
            abort(404)
        data = part.get_payload(decode=True) or b""
        filename = (part.get_filename() or f"part-{index}").replace('"', "")
        # Always a download, never rendered here (an attachment may be HTML or script).
        return Response(data, mimetype="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Content-Security-Policy": SANDBOX_CSP})

    @expose("/<name>/raw")
    @has_access
    @permission_name("show")
    def raw(self, name):
        msg = self._message_or_404(name)
        return Response(msg.message.as_bytes(), mimetype="text/plain; charset=utf-8",
                        headers={"Content-Security-Policy": SANDBOX_CSP})

    @expose("/clear", methods=["POST"])
    @has_access
    @permission_name("clear")
    def clear(self):
        flash(_("%(n)d messages deleted.", n=store().clear()), "info")
        return redirect(url_for("MailCatcherView.list"))


def register(appbuilder) -> None:
    appbuilder.add_view(MailCatcherView, "Mail catcher", label=_l("Mail catcher"), icon="fa-inbox",
                        category="System", category_label=_l("System"), category_icon="fa-cogs")
