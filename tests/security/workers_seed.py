"""The accounts of tests/security/test_auth_workers.py, written into the database of the served
instance (run as `python -m tests.security.workers_seed` with that instance's environment): a
staff member and a customer enrolled in two-factor sign-in with known keys, and a customer
without it. Prints nothing; the keys and names are the constants below."""
from __future__ import annotations

STAFF_TOTP = "WORKERSTESTSTAFFTOTPSECRET234567"
CUSTOMER_TOTP = "WORKERSTESTCUSTOMERTOTPSECRET234"
PASSWORD = "a long and proper staff passphrase 31"
PORTAL_PASSWORD = "a long customer passphrase for the portal 8"


def main() -> None:
    from app import create_app
    from app.extensions import db
    from app.roles import BACK_OFFICE
    from app.services.core import two_factor
    from app.services.portal import accounts
    from tests import factories as f

    app = create_app()
    with app.app_context():
        sm = app.appbuilder.sm
        coder = sm.add_user("coder", "Code", "Clerk", "coder@example.com", sm.find_role(BACK_OFFICE), PASSWORD)
        two_factor.enrol_with_secret(coder, STAFF_TOTP)
        for username, secret in (("portal-plain", None), ("portal-coded", CUSTOMER_TOTP)):
            customer = f.customer()
            invoice = f.invoice(customer)
            db.session.commit()
            user = accounts.register(accounts.Registration(
                web_code=invoice.web_code, identifier=customer.tax_code, username=username,
                password=PORTAL_PASSWORD, question="Prima scuola?", answer="una risposta lunga"))
            if secret:
                two_factor.enrol_with_secret(user, secret)


if __name__ == "__main__":
    main()
