"""The templates' class keeps Jinja's import rules, its compiler Jinja's escaping; rows' links
equal url_for's."""
import decimal

import jinja2
import pytest
from flask import url_for
from flask_babel import lazy_gettext
from markupsafe import Markup, escape

from app.templating import Context, Template, _Compiler, escape_text
from app.views.portal import id_url


def _env(**templates) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.DictLoader(templates))
    env.template_class = Template
    env.globals["site"] = "Sportello"
    return env


MACROS = "{% set n = counter.append(1) %}{% macro who() %}{{ site }}{{ extra|default('') }}{% endmacro %}"
PAGE = '{% from "macros.html" import who %}[{{ who() }}]'


def test_an_import_without_new_globals_reuses_the_module_rendered_once():
    env = _env(**{"macros.html": MACROS, "page.html": PAGE})
    counter = env.globals["counter"] = []
    page = env.get_template("page.html")
    assert [page.render(), page.render(), page.render()] == ["[Sportello]"] * 3
    assert counter == [1]  # the macros' module ran once


def test_an_import_from_a_page_with_its_own_globals_sees_them_as_jinja_has_it():
    env = _env(**{"macros.html": MACROS, "page.html": PAGE})
    counter = env.globals["counter"] = []
    assert env.get_template("page.html").render() == "[Sportello]"
    with_extra = env.get_template("page.html", globals={"extra": "!"})
    assert with_extra.render() == "[Sportello!]"
    assert len(counter) == 2  # a module of its own for the page with more globals


def test_the_application_loads_its_templates_with_this_class(app):
    assert app.jinja_env.get_template("portal/base.html").__class__ is Template


@pytest.mark.parametrize("root", ["", "/sportello"])
def test_id_links_equal_url_for_at_any_mount_point(app, root):
    with app.test_request_context("/portal/home", base_url=f"http://localhost{root}"):
        for endpoint, argument in (("portal.request_detail", "activity_id"), ("portal.invoice", "invoice_id"),
                                   ("portal.consumption", "sp_id"), ("portal.direct_debit_page", "sp_id")):
            for value in (1, 42, 987654321, 2_000_000_000):
                assert id_url(endpoint, argument, value) == url_for(endpoint, **{argument: value})
        assert id_url("portal.invoice", "invoice_id", 7).startswith(f"{root}/portal/")


VALUES = ["", "plain", "<b>&\"'</b>", "àèìòù € ✓", Markup("<i>safe</i>"), 0, -3, 2.5,
          decimal.Decimal("1234.50"), None, True, ["<x>"], {"k": "<v>"}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_is_escaped_as_markupsafe_escapes_it(value):
    assert escape_text(value) == str(escape(value))
    assert type(escape_text(value)) in (str, Markup)


# Output of every kind Jinja writes: values, filters, macros and their caller, set blocks,
# filter blocks, includes, loops, concatenation, conditional escaping, autoescape switched off.
PAGES = {
    "base.html": "<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}",
    "part.html": "<p>{{ value }}|{{ value|upper }}|{{ value|e }}|{{ value|safe }}</p>",
    "page.html": """{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}
{% macro box(v) %}<div>{{ v }}{% if caller %}{{ caller() }}{% endif %}</div>{% endmacro %}
{% block body %}{{ box(value) }}{% call box(value) %}<b>{{ value }}</b>{% endcall %}
{% set kept %}<i>{{ value }}</i>{% endset %}{{ kept }}{{ kept|length }}
{% filter upper %}{{ value }}<br>{% endfilter %}{% include "part.html" %}
{% for v in many %}{{ loop.index }}:{{ v }}{{ v ~ value }};{% endfor %}{{ value ~ '<&>' }}
{{ lazy }}{{ markup }}{{ number }}{{ none }}{{ '%s' % value }}{{ value if flag else markup }}
{% autoescape false %}{{ value }}{% endautoescape %}{% autoescape true %}{{ value }}{% endautoescape %}
{% for v in many %}{% set local = loop.index %}{{ plain(v) }}{{ thing.method(v, k=local) }}{{ asks(v) }}{{ evals(v) }}
{{ gives_env() }}{{ thing.asks() }}{{ box(v) }}{{ stops() }}{{ dict(a=v)['a'] }}{{ loop.cycle('odd', 'even') }}{% endfor %}
{% endblock %}""",
}


class _Thing:
    def method(self, v, k=0):
        return f"<{v}:{k}>"

    @jinja2.pass_context
    def asks(self, context):
        return context["title"]


@jinja2.pass_context
def _asks(context, v):
    return f"{context.get('local', '-')}/{context['title']}/{v}"


def _stops():
    raise StopIteration


CALLABLES = dict(plain=lambda v: f"<{v}>", thing=_Thing(), asks=_asks, stops=_stops,
                 evals=jinja2.pass_eval_context(lambda ctx, v: f"{ctx.autoescape}:{v}"),
                 gives_env=jinja2.pass_environment(lambda env: type(env).__name__))


@pytest.mark.parametrize("autoescape", [True, False, jinja2.select_autoescape(["html"])])
def test_pages_render_as_jinja_renders_them(app, autoescape):
    def env(compiler):
        e = jinja2.Environment(loader=jinja2.DictLoader(PAGES), autoescape=autoescape)
        if compiler:
            e.code_generator_class, e.context_class = _Compiler, Context
        return e

    values = dict(title="<T&>", value="<a href=\"x\">'&'</a>", many=["<1>", 2, Markup("<3>")],
                  lazy=lazy_gettext("Error"), markup=Markup("<em>m</em>"), number=decimal.Decimal("1.50"),
                  none=None, flag=True, **CALLABLES)
    with app.test_request_context("/"):
        ours, jinjas = env(True).get_template("page.html"), env(False).get_template("page.html")
        assert ours.render(values) == jinjas.render(values)
        assert ours.render(values, flag=False) == jinjas.render(values, flag=False)
    assert "escape_text(" in env(True).compile(PAGES["part.html"], raw=True) or autoescape is False


def test_the_application_compiles_its_templates_with_this_compiler_and_context(app):
    assert app.jinja_env.code_generator_class is _Compiler and app.jinja_env.context_class is Context
