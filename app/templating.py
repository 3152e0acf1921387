"""The templates' class: the same Jinja templates, with imports that cost a lookup.

A page that imports macros (`{% from "portal/_macros.html" import field %}`, the layout's error
summary) asks Jinja, at every render, whether the importing page has globals the macros' module
lacks; Jinja answers with a set difference against a chain of mappings, some 30 µs for the
application's globals, twice per portal page. The same question asked as a subset test against
the mapping's keys gives the same answer in a few microseconds.
"""
from __future__ import annotations

import jinja2


class Template(jinja2.Template):
    def _get_default_module(self, ctx=None):
        # Jinja builds a new module when ctx.globals_keys - self.globals.keys() is not empty:
        # exactly when they are not a subset.
        if ctx is not None and ctx.globals_keys.issubset(self.globals):
            ctx = None
        return super()._get_default_module(ctx)


def init_app(app) -> None:
    """Before any template is loaded."""
    app.jinja_env.template_class = Template
