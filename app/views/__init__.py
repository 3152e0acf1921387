"""Every view is registered here, in one place (menus in display order)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_views(appbuilder) -> None:
    from .admin.billing import (CustomerView, InvoiceLineView, InvoiceView, MeterReadingView,
                                MeterView, PaymentView, SupplyPointView)
    from .admin.sync import SyncRunView, SyncStateView

    billing = "Billing data"  # menu and permission names stay fixed; labels are translated
    appbuilder.add_view(CustomerView, "Customers", label=_l("Customers"), icon="fa-users", category=billing,
                        category_label=_l("Billing data"), category_icon="fa-database")
    appbuilder.add_view(SupplyPointView, "Supply points", label=_l("Supply points"), icon="fa-plug",
                        category=billing)
    appbuilder.add_view(MeterView, "Meters", label=_l("Meters"), icon="fa-tachometer", category=billing)
    appbuilder.add_view(MeterReadingView, "Readings", label=_l("Readings"), icon="fa-list-ol",
                        category=billing)
    appbuilder.add_view(InvoiceView, "Invoices", label=_l("Invoices"), icon="fa-file-text-o",
                        category=billing)
    appbuilder.add_view(PaymentView, "Payments", label=_l("Payments"), icon="fa-eur", category=billing)
    appbuilder.add_view_no_menu(InvoiceLineView)

    system = "Alignment"
    appbuilder.add_view(SyncStateView, "Alignment state", label=_l("Alignment state"), icon="fa-refresh",
                        category=system, category_label=_l("Alignment"), category_icon="fa-exchange")
    appbuilder.add_view(SyncRunView, "Alignment runs", label=_l("Alignment runs"), icon="fa-history",
                        category=system)
