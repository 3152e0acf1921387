"""The templates' class and compiler: the same Jinja templates, with imports that cost a lookup
and output escaped without a new Markup object per value.

A page that imports macros (`{% from "portal/_macros.html" import field %}`, the layout's error
summary) asks Jinja, at every render, whether the importing page has globals the macros' module
lacks; Jinja answers with a set difference against a chain of mappings, some 30 µs for the
application's globals, twice per portal page. The same question asked as a subset test against
the mapping's keys gives the same answer in a few microseconds.

A value written into the page (`{{ value }}`) is escaped by `markupsafe.escape`, which wraps
each result in a new `Markup`: a Python-level constructor, a tenth of a page's template time,
for a string that is only joined into the page. The compiler below writes such values through
`escape_text` instead: the same characters escaped by markupsafe's own routine, an object's
`__html__` used as it is, as a plain string. Everything that hands markup back to a template or
a filter (macros, `{% set %}` blocks, `{% filter %}`, `caller()`) is wrapped in `Markup` by
Jinja itself, unchanged.

Every call in a template (`{{ format_date(d) }}`, `{{ a.badge(x) }}`) goes through
`Context.call`, which asks the callable twice whether it wants the context, each time through
a failed attribute lookup (some 0.7 µs a call, a few hundred calls on a page of rows). The
context below answers that for plain functions and methods from the function's own attributes
(where `pass_context` and its kin put their mark) and calls them directly; anything else is
Jinja's own path.
"""
from __future__ import annotations

from types import FunctionType, MethodType

import jinja2
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Context as JinjaContext
from markupsafe import _escape_inner  # markupsafe's C routine (its pure-Python one without it)


def escape_text(value) -> str:
    """`str(markupsafe.escape(value))`, without building the Markup."""
    if type(value) is str:
        return _escape_inner(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _escape_inner(str(value))


class _Compiler(CodeGenerator):
    def visit_Template(self, node, frame=None):
        self.writeline("from app.templating import escape_text")
        super().visit_Template(node, frame)

    def _output_child_pre(self, node, frame, finalize):
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("escape_text(")
            if finalize.src is not None:
                self.write(finalize.src)
        else:
            super()._output_child_pre(node, frame, finalize)


class Template(jinja2.Template):
    def _get_default_module(self, ctx=None):
        # Jinja builds a new module when ctx.globals_keys - self.globals.keys() is not empty:
        # exactly when they are not a subset.
        if ctx is not None and ctx.globals_keys.issubset(self.globals):
            ctx = None
        return super()._get_default_module(ctx)


class Context(JinjaContext):
    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        kind = type(__obj)
        if kind is FunctionType:
            plain = "jinja_pass_arg" not in __obj.__dict__
        elif kind is MethodType:
            plain = type(__obj.__func__) is FunctionType and "jinja_pass_arg" not in __obj.__func__.__dict__
        else:
            plain = False
        if not plain:
            return super().call(__obj, *args, **kwargs)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined("value was undefined because a callable raised a"
                                                " StopIteration exception")


def init_app(app) -> None:
    """Before any template is loaded."""
    app.jinja_env.template_class = Template
    app.jinja_env.code_generator_class = _Compiler
    app.jinja_env.context_class = Context
