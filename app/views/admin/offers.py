"""The offer catalogue in the back office (F-18): admins add and change offers and their price
components; managers, back office and credit check read them. A change never touches signed
contracts: their documents keep the offer as it was (a snapshot)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_appbuilder.models.sqla.interface import SQLAInterface
from wtforms import DecimalField
from wtforms.validators import InputRequired

from app.extensions import db
from app.i18n import lazy_gettext as _l
from app.models import Offer, OfferComponent
from app.roles import BACK_OFFICE, CREDIT_CHECK, MANAGER, READ
from app.services.catalog import offers as catalog

from .base import SecureModelView

ROLE_GRANTS = {role: {"OfferView": READ, "OfferComponentView": READ}
               for role in (MANAGER, BACK_OFFICE, CREDIT_CHECK)}


def _price_formatter(value):
    from flask_babel import format_decimal

    return "" if value is None else format_decimal(value, format="#,##0.00####")


class PriceField(DecimalField):
    """A price typed the Italian way ("0,131") or the English way ("0.131"); up to 6 decimals."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = (valuelist[0] or "").strip().replace(" ", "").replace("€", "")
        if "," in text:
            text = text.replace(".", "").replace(",", ".")
        try:
            self.data = Decimal(text).quantize(Decimal("0.000001"))
        except InvalidOperation:
            self.data = None
            raise ValueError(str(_l("Enter a price such as 0,128."))) from None


def _refuse(exc: catalog.OfferError):
    db.session.rollback()
    raise ValueError(str(exc)) from None


class OfferComponentView(SecureModelView):
    datamodel = SQLAInterface(OfferComponent)
    list_title = show_title = _l("Price components")
    add_title = _l("New price component")
    edit_title = _l("Change the price component")
    list_columns = ["offer", "position", "kind", "band", "price"]
    add_columns = edit_columns = ["offer", "position", "kind", "band", "price"]
    show_columns = list_columns
    base_order = ("position", "asc")
    label_columns = {"offer": _l("Offer"), "position": _l("Order"), "kind": _l("Component"),
                     "band": _l("Band"), "price": _l("Price (€ per unit, VAT excluded)")}
    formatters_columns = {"price": _price_formatter}
    add_form_extra_fields = edit_form_extra_fields = {
        "price": PriceField(_l("Price (€ per unit, VAT excluded)"), validators=[InputRequired()],
                            places=None, description=_l("For example 0,128 (€/kWh) or 9,50 (€/month)."))}

    def _check(self, item: OfferComponent):
        offer = item.offer
        if offer is None:
            return
        if item not in offer.components:
            offer.components.append(item)
        try:
            catalog.check(offer)
        except catalog.OfferError as exc:
            _refuse(exc)

    pre_add = pre_update = _check


class OfferView(SecureModelView):
    datamodel = SQLAInterface(Offer)
    related_views = [OfferComponentView]
    list_title = show_title = _l("Offers")
    add_title = _l("New offer")
    edit_title = _l("Change the offer")
    list_columns = ["service", "name", "price_kind", "arera_code", "valid_from", "valid_until"]
    add_columns = edit_columns = ["code", "service", "name", "price_kind", "arera_code", "valid_from",
                                  "valid_until", "conditions"]
    show_columns = add_columns
    search_columns = ["service", "name", "price_kind", "arera_code", "valid_from", "valid_until"]
    base_order = ("service", "asc")
    label_columns = {"code": _l("Code"), "service": _l("Service"), "name": _l("Name (as billing knows it)"),
                     "price_kind": _l("Price"), "arera_code": _l("ARERA offer code"),
                     "valid_from": _l("On sale from"), "valid_until": _l("On sale until"),
                     "conditions": _l("Conditions")}
    description_columns = {
        "name": _l("At most 40 characters: the supply point's tariff option in billing."),
        "arera_code": _l("The code on the offer's summary sheet and on ARERA's Portale Offerte."),
        "valid_until": _l("Leave empty for an offer on sale until further notice."),
    }

    def _check(self, item: Offer):
        try:
            catalog.check(item)
        except catalog.OfferError as exc:
            _refuse(exc)

    pre_add = pre_update = _check


def register(appbuilder) -> None:
    appbuilder.add_view(OfferView, "Offers", label=_l("Offer catalogue"), icon="fa-tags",
                        category="Sales network", category_label=_l("Sales network"))
    appbuilder.add_view(OfferComponentView, "Price components", label=_l("Price components"), icon="fa-list",
                        category="Sales network")
