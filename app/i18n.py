"""Translations for templates and labels at the cost of a dictionary lookup.

Flask-Babel finds the current context, the domain, the locale and the catalogue again for every
string (about 10 µs each); a portal page translates and formats some hundred strings. Here the
request's locale and catalogue are looked up once and kept next to Flask-Babel's own state, so
`force_locale` (e-mails in the customer's language) and `refresh` still switch them: the cache
is keyed on the very locale object Flask-Babel holds. Results equal Flask-Babel's (tests).
"""
from __future__ import annotations

from flask.globals import _cv_app
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from jinja2.ext import Extension
from jinja2.lexer import Token
from markupsafe import Markup


def _state():
    """(locale, its identifier, its catalogue, its finished template literals) for the current
    context, or None outside one."""
    ctx = _cv_app.get(None)
    if ctx is None:
        return None
    babel = getattr(ctx.g, "_flask_babel", None)
    locale = getattr(babel, "babel_locale", None)
    if locale is None:
        locale = get_locale()  # runs the locale selector once and stores its answer
        babel = ctx.g._flask_babel
    cached = getattr(babel, "sportello_state", None)
    if cached is None or cached[0] is not locale:
        catalogue = get_translations()
        cached = babel.sportello_state = (locale, str(locale), catalogue, _finished_literals(catalogue))
    return cached


def _finished_literals(catalogue) -> dict:
    """The templates' literals as `_translate_literal` gives them, kept with their catalogue
    (Flask-Babel keeps one per locale for the life of the process)."""
    literals = getattr(catalogue, "_sportello_literals", None)
    if literals is None:
        literals = catalogue._sportello_literals = {}
    return literals


def locale_id(default: str = "it") -> str:
    """The current locale's identifier ("it", "en", …)."""
    state = _state()
    return state[1] if state and state[0] is not None else default


def timezone():
    """The request's time zone (flask_babel.get_timezone, read from where it keeps it)."""
    ctx = _cv_app.get(None)
    zone = getattr(getattr(ctx.g, "_flask_babel", None), "babel_tzinfo", None) if ctx is not None else None
    return zone if zone is not None else get_timezone()


def gettext(string: str, **variables) -> str:
    text = _catalogue_gettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _catalogue_ngettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """Translated when shown, in the locale of that moment (model labels, form labels)."""
    return LazyString(gettext, string, **variables)


def pgettext(context: str, string: str, **variables) -> str:
    """A message whose translation depends on what it speaks of: Italian agrees "Validated"
    with a reading (la lettura: "Validata") or a contract (il contratto: "Validato")."""
    state = _state()
    text = state[2].upgettext(context, string) if state else string
    return text % variables if variables else text


def lazy_pgettext(context: str, string: str, **variables) -> LazyString:
    return LazyString(pgettext, context, string, **variables)


def _catalogue_gettext(string: str) -> str:
    state = _state()
    return state[2].ugettext(string) if state else string


def _catalogue_ngettext(singular: str, plural: str, num: int) -> str:
    state = _state()
    return state[2].ungettext(singular, plural, num) if state else (singular if num == 1 else plural)


@pass_context  # also keeps Jinja from folding it into a constant when it compiles a template
def _translate_literal(context, string: str):
    """What `_('literal')` gives in a template: the translation, safe in HTML like Jinja's
    newstyle gettext makes it, and read as a format string like there (`%%` is `%`)."""
    state = _state()
    autoescape = context.eval_ctx.autoescape
    if state is None:
        return (Markup(string) if autoescape else string) % {}
    key = (string, autoescape)
    finished = state[3].get(key)
    if finished is None:  # the same literal in the same catalogue always gives the same text
        text = state[2].ugettext(string)
        finished = state[3][key] = (Markup(text) if autoescape else text) % {}
    return finished


class LiteralTranslations(Extension):
    """Compiles `_('literal')` in templates to a filter, called directly instead of through
    three nested context calls (a layout and a list translate some forty literals per page).
    Calls with variables, `gettext()` and `ngettext()` stay Jinja's own; message extraction
    reads the templates without this extension, so it sees every `_()` as before."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["_translate_literal"] = _translate_literal

    def filter_stream(self, stream):
        window: list[Token] = []
        previous = None
        for token in stream:
            window.append(token)
            if len(window) < 4:
                continue
            name, lparen, string, rparen = window
            if (name.type == "name" and name.value == "_" and lparen.type == "lparen"
                    and string.type == "string" and rparen.type == "rparen"
                    and (previous is None or previous.type != "dot")):
                line = name.lineno
                yield from (Token(line, "lparen", "("), string, Token(line, "pipe", "|"),
                            Token(line, "name", "_translate_literal"), Token(line, "rparen", ")"))
                previous = rparen
                window = []
                continue
            previous = window.pop(0)
            yield previous
        yield from window


def init_app(app) -> None:
    """Templates translate through the fast path (same `_`, `gettext`, `ngettext` names;
    Jinja fills in the variables, escaping them)."""
    app.jinja_env.add_extension(LiteralTranslations)
    app.jinja_env.install_gettext_callables(_catalogue_gettext, _catalogue_ngettext, newstyle=True)
