"""The templates' class keeps Jinja's import rules; rows' links equal url_for's."""
import jinja2
import pytest
from flask import url_for

from app.templating import Template
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
