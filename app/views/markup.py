"""Template helpers for accessible pages, shared by every hand-written blueprint.

- `cards` (a filter): a data table that becomes a stack of cards on narrow screens. Every cell
  gets a `data-label` with its column's header text, which the stylesheet shows before the value,
  so no column is lost on a phone. Wrap a table in ``{% filter cards %}…{% endfilter %}``.
- `failed_forms()` (a global): the forms of the page being rendered that have errors, for the
  error summary at the top of the page.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

from jinja2 import pass_context
from markupsafe import Markup
from wtforms import Form

_HIDDEN = re.compile(r'<(\w+)[^>]*aria-hidden="true"[^>]*>.*?</\1>', re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_COLSPAN = re.compile(r'colspan="?(\d+)', re.IGNORECASE)
_HEAD = re.compile(r"<thead\b.*?</thead>", re.IGNORECASE | re.DOTALL)
_HEADER_CELL = re.compile(r"<th\b([^>]*)>(.*?)</th>", re.IGNORECASE | re.DOTALL)
_ROW_OR_CELL = re.compile(r"<(tr|td|th)\b([^>]*)>", re.IGNORECASE)  # opening tags: a row resets the column
_TABLE = re.compile(r"<table\b([^>]*)>", re.IGNORECASE)


def _span(attrs: str) -> int:
    if "colspan" not in attrs.lower():
        return 1
    match = _COLSPAN.search(attrs)
    return int(match.group(1)) if match else 1


def _add_class(attrs: str, name: str) -> str:
    if 'class="' in attrs:
        return attrs.replace('class="', f'class="{name} ', 1)
    return f' class="{name}"{attrs}'


def _text(fragment: str) -> str:
    text = _TAGS.sub(" ", _HIDDEN.sub(" ", fragment))
    return " ".join(html.unescape(text).split())


@lru_cache(maxsize=512)
def _labels(head: str) -> tuple[str, ...]:
    """The text of each column's header, escaped for an attribute (a header spanning n columns
    labels all n). A table's head is the same on every request in one language: read it once."""
    labels: list[str] = []
    for match in _HEADER_CELL.finditer(head):
        labels += [html.escape(_text(match.group(2)), quote=True)] * _span(match.group(1))
    return tuple(labels)


def cards(markup) -> Markup:
    """The table in `markup` with a `data-label` on every body cell and class `cards`."""
    source = str(markup)
    head = _HEAD.search(source)
    labels = _labels(head.group(0)) if head else ()
    if not labels:
        return Markup(source)
    width = len(labels)
    column = 0

    def cell(match: re.Match) -> str:
        nonlocal column
        tag, attrs = match.group(1), match.group(2)
        if tag[1] in "rR":  # <tr>
            column = 0
            return match.group(0)
        span = _span(attrs) if attrs else 1
        if span >= width:  # a row such as "nothing found": one whole card
            text = f"<{tag}{_add_class(attrs, 'card-wide')}>"
        elif column < width and "data-label" not in attrs:
            text = f'<{tag} data-label="{labels[column]}"{attrs}>'
        else:
            text = match.group(0)
        column += span
        return text

    before = source[:head.start()]
    table = _TABLE.search(before)
    if table:
        before = f"{before[:table.start()]}<table{_add_class(table.group(1), 'cards')}>{before[table.end():]}"
    return Markup(before + head.group(0) + _ROW_OR_CELL.sub(cell, source[head.end():]))


@pass_context
def failed_forms(context) -> list[Form]:
    """The forms passed to this template that failed validation, in the order they were passed."""
    seen: list[Form] = []
    for value in context.get_all().values():
        if isinstance(value, Form) and value.errors and all(value is not s for s in seen):
            seen.append(value)
    return seen
