"""Bad input answers 400 or 404, never 500: checks every request passes before any view runs.

- Control characters (NUL, the other C0 and C1 codes, DEL) are refused in every query parameter,
  form field and JSON value, with a page saying so; nothing holding them is ever stored (billing
  refuses such values forever, PostgreSQL refuses NUL outright). Tab, CR and LF stay allowed in
  multi-line form fields (textareas) but not in single-line ones nor in query parameters (a
  newline in `next`); number fields take ASCII digits only (`install_field_checks`).
- FAB's list parameters (`page_<View>`, `psize_<View>`, `_oc_<View>`, `_od_<View>`) must be
  ASCII digits in range, a column the view sorts by, `asc`/`desc`; record ids in FAB's URLs
  (`<pk>`) ASCII digits that fit a database integer, else 404; FAB's file-column download
  (`/<view>/download/<name>`) is a 404, since no view stores files through FAB.
- `<int:...>` in routes matches only ids that fit a database integer (a longer one is a 404).
- `query_int` reads a numeric query parameter: ASCII digits in a range, else 400.
- Whatever slips through (a number too large for the database) answers 400, not 500.

Hand-written because no library checks FAB's URL parameters; the character classes come from
Python's `unicodedata` (category "Cc").
"""
from __future__ import annotations

import re
import unicodedata

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

from app.i18n import lazy_gettext as _l

MAX_DB_INT = 2**31 - 1  # the largest INTEGER of PostgreSQL, every primary key's type (SQLite's is wider)
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 1_000
_DIGITS = re.compile(r"[0-9]{1,19}")
_FORM_ALLOWED = frozenset("\t\r\n")


class BadCharacters(BadRequest):
    """A value held a control character: refused with a message of its own."""

    user_text = _l("The data sent contains control characters (such as NUL) that cannot be stored. "
                   "Go back, remove them (retype the text rather than pasting it) and send it again.")


class BadParameter(BadRequest):
    """A query parameter out of its range or of the wrong kind."""


def has_control_characters(text: str, allowed: frozenset = frozenset()) -> bool:
    """Whether `text` holds a control character other than those `allowed`."""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def ascii_int(value: str | None, *, minimum: int = 0, maximum: int = MAX_DB_INT) -> int | None:
    """`value` as an int when it is ASCII digits within [minimum, maximum], else None."""
    if value is None or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None


def query_int(name: str, default: int | None = None, *, minimum: int = 0,
              maximum: int = MAX_DB_INT) -> int | None:
    """The numeric query parameter `name` (ASCII digits in range), `default` when absent or
    empty; 400 otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    number = ascii_int(raw, minimum=minimum, maximum=maximum)
    if number is None:
        raise BadParameter()
    return number


class DatabaseInt(IntegerConverter):
    """`<int:...>`: non-negative ASCII digits that fit a database integer."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def _json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def check_request() -> None:
    """Refuse control characters anywhere in the request's parameters, fields and JSON."""
    for key, value in request.args.items(multi=True):
        if has_control_characters(key) or has_control_characters(value):
            raise BadCharacters()
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for key, value in request.form.items(multi=True):
            if has_control_characters(key) or has_control_characters(value, _FORM_ALLOWED):
                raise BadCharacters()
        if request.is_json:
            body = request.get_json(silent=True)
            if any(has_control_characters(text) for text in _json_strings(body)):
                raise BadCharacters()


def check_fab_arguments() -> None:
    """FAB's list parameters and record ids: in range and known, else 400 / 404."""
    view_args = request.view_args or {}
    if _is_fab_endpoint() and (request.endpoint or "").endswith(".download"):
        raise NotFound()  # FAB's file-column downloads: no view here stores files through FAB
    if "pk" in view_args and ascii_int(str(view_args["pk"])) is None and _is_fab_endpoint():
        raise NotFound()
    views = None
    for key, value in request.args.items(multi=True):
        if key.startswith("page_"):
            if ascii_int(value, maximum=MAX_PAGE) is None:
                raise BadParameter()
        elif key.startswith("psize_"):
            if ascii_int(value, minimum=1, maximum=MAX_PAGE_SIZE) is None:
                raise BadParameter()
        elif key.startswith("_od_"):
            if value not in ("asc", "desc"):
                raise BadParameter()
        elif key.startswith("_flt_"):
            _check_filter(key)
        elif key.startswith("_oc_"):
            if views is None:
                views = {type(v).__name__: v for v in current_app.appbuilder.baseviews}
            view = views.get(key[len("_oc_"):])
            if view is None or value not in (getattr(view, "order_columns", None) or ()):
                raise BadParameter()


_FILTER = re.compile(r"_flt_(\d+)_(.+)")


def _check_filter(key: str) -> None:
    """`_flt_<n>_<column>`: the view's n-th filter of that column must exist (FAB indexes blindly)."""
    match = _FILTER.fullmatch(key)
    view = _request_view()
    if match is None or view is None or not hasattr(view, "_filters"):
        return
    filters = view._filters.get_search_filters().get(match.group(2))
    if filters is not None and int(match.group(1)) >= len(filters):
        raise BadParameter()


def _request_view():
    """The FAB view serving this request, if any."""
    name = (request.endpoint or "").partition(".")[0]
    return next((v for v in current_app.appbuilder.baseviews if type(v).__name__ == name), None)


def _is_fab_endpoint() -> bool:
    endpoint = request.endpoint or ""
    return "." in endpoint and not endpoint.startswith(("portal.", "sales.", "static"))


def _too_large(exc):
    """A number the database cannot hold reached a query: the request's fault, not ours."""
    from app.extensions import db

    db.session.rollback()
    return current_app.handle_http_exception(BadParameter())


def bound_int_converter(app: Flask) -> None:
    """`<int:...>` in `app`'s routes takes only database-sized ids (call before adding routes)."""
    app.url_map.converters["int"] = DatabaseInt


SINGLE_LINE = _l("This field takes a single line: remove the tabs and line breaks.")
ASCII_NUMBER = _l("Type the number with the digits 0 to 9.")
_LINE_BREAKS = frozenset("\t\r\n")


def _multi_line(field) -> bool:
    from wtforms import TextAreaField
    from wtforms.widgets import TextArea

    return isinstance(field, TextAreaField) or isinstance(getattr(field, "widget", None), TextArea)


def install_field_checks() -> None:
    """Every WTForms form (the portal's, the sales network's, FAB's): a single-line text field
    refuses tabs and line breaks (textareas keep them), a number field takes ASCII digits only
    (Python's int() would read '١٢' as 12). Installed once, on WTForms' field classes."""
    from wtforms import DecimalField, FloatField, IntegerField, StringField
    from wtforms.validators import ValidationError

    if getattr(StringField, "_sportello_checked", False):
        return
    string_pre_validate = StringField.pre_validate

    def pre_validate(self, form):
        string_pre_validate(self, form)
        if isinstance(self.data, str) and not _multi_line(self) and _LINE_BREAKS.intersection(self.data):
            raise ValidationError(str(SINGLE_LINE))

    StringField.pre_validate = pre_validate
    StringField._sportello_checked = True
    for cls in (IntegerField, DecimalField, FloatField):
        _ascii_numbers(cls)


def _ascii_numbers(cls) -> None:
    process = cls.process_formdata

    def process_formdata(self, valuelist):
        if valuelist and isinstance(valuelist[0], str) and not valuelist[0].isascii():
            self.data = None
            raise ValueError(str(ASCII_NUMBER))
        return process(self, valuelist)

    cls.process_formdata = process_formdata


def register_input_guard(app: Flask) -> None:
    """Check every request (after FAB's own set-up of the request: the error pages need it)."""
    install_field_checks()

    @app.before_request
    def _check_input():
        check_request()
        check_fab_arguments()

    app.register_error_handler(OverflowError, _too_large)


__all__ = ["BadCharacters", "BadParameter", "ascii_int", "query_int", "has_control_characters",
           "register_input_guard", "bound_int_converter", "MAX_DB_INT"]
