"""The OpenAPI document, written from the operations as they are registered (apispec with the
marshmallow plugin), and the interactive page (FAB's Swagger UI files, served from here)."""
from __future__ import annotations

from typing import Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify, render_template, url_for

from app.i18n import gettext as _
from app.i18n import locale_id

from . import PREFIX, bp, customer_call, schemas

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
# (OpenAPI path, method, operation): filled by `operation` as routes.py is imported.
OPERATIONS: list[tuple[str, str, dict]] = []
_SPEC_KEY = "sportello.api_spec"

_PROBLEM = {"application/problem+json": {"schema": schemas.Problem}}


def _problem(description: str) -> dict:
    return {"description": description, "content": _PROBLEM}


def operation(rule: str, method: str, *, operation_id: str, summary: str, tag: str,
              responses: dict, public: bool = False, parameters: list | None = None,
              body=None, endpoint: str | None = None) -> Callable:
    """Register a route of the blueprint and describe it in the OpenAPI document.

    `rule` is Flask's (`<int:invoice_id>`); the document's path is made from it. A customer
    operation gets the token security requirement and the 401/404/429 answers."""
    path = rule
    import re

    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)
    params = list(parameters or [])
    for name in re.findall(r"\{([a-z_]+)\}", path):
        params.insert(0, {"name": name, "in": "path", "required": True,
                          "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}})
    answers = dict(responses)
    answers.setdefault("429", _problem("Too many calls"))
    answers.setdefault("400", _problem("Bad request"))
    if not public:
        answers.setdefault("401", _problem("No valid token or session"))
        answers.setdefault("404", _problem("Not found, or not the caller's"))
    spec = {"operationId": operation_id, "summary": summary, "tags": [tag], "responses": answers}
    if params:
        spec["parameters"] = params
    if body:
        spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        answers.setdefault("422", _problem("Invalid data"))
        answers.setdefault("415", _problem("Not JSON"))
    spec["security"] = [] if public else [{"token": []}, {"session": []}]

    def register(view: Callable) -> Callable:
        wrapped = view if public else customer_call(view)
        bp.add_url_rule(rule, endpoint or view.__name__, wrapped, methods=[method.upper()])
        OPERATIONS.append((path, method.lower(), spec))
        return wrapped

    return register


def build_spec() -> dict:
    """The OpenAPI document (built once per app)."""
    spec = APISpec(title="Sportello — customers' API", version=API_VERSION, openapi_version=OPENAPI_VERSION,
                   plugins=[MarshmallowPlugin()],
                   info={"description": "The customer's own data and the public functions of the portal. "
                                        "Customer operations take a personal API token created in the "
                                        "portal (Account → Personal API tokens) as `Authorization: Bearer "
                                        "<token>`. Errors are RFC 9457 problem details."},
                   servers=[{"url": PREFIX}])
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer",
                                              "description": "A personal API token (spt_…)"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session",
                                                "description": "The portal's session (same origin; "
                                                               "unsafe methods need X-CSRFToken)"})
    for name in ("Problem", "Status", "InformationRequestIn", "InformationRequestOut", "Profile",
                 "Balance", "SupplyPoint", "SupplyPointList", "Invoice", "InvoiceDetail", "InvoicePage",
                 "InvoiceZipIn", "Export", "Reading", "ReadingPage", "ReadingIn", "ReadingAccepted",
                 "ConsumptionSeries", "Request", "RequestPage"):
        extra = {"InformationRequestIn": schemas.CONTACT_REQUIRED,
                 "InvoiceZipIn": schemas.ZIP_CHOICE_REQUIRED}.get(name)
        spec.components.schema(name, component=dict(extra) if extra else None, schema=getattr(schemas, name))
    paths: dict[str, dict] = {}
    for path, method, op in OPERATIONS:
        paths.setdefault(path[len(""):], {})[method] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()


def openapi_document() -> dict:
    document = current_app.extensions.get(_SPEC_KEY)
    if document is None:
        document = current_app.extensions[_SPEC_KEY] = build_spec()
    return document


@bp.route("/openapi.json")
def openapi_json():
    return jsonify(openapi_document())


@bp.route("/docs")
def docs():
    return render_template("api/docs.html", title=_("Sportello API"), language=locale_id(),
                           openapi_url=url_for("api_portal.openapi_json"))
