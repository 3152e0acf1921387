"""The floor for bench/portal.py: the product's own stack (Flask-AppBuilder, session, login,
locale, security headers) serving a logged-in customer page that renders nothing. No page can
be faster than this one, so it shows how much of the baseline's rate the stack itself allows."""
from app import create_app
from app.views.portal import customer_required

app = create_app()


@app.route("/portal/_floor")
@customer_required
def floor():
    return "ok"
