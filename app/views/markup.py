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

from jinja2 import pass_context
from markupsafe import Markup
from wtforms import Form

_CELL_TAG = re.compile(r"<(/?)(thead|tbody|tfoot|tr|th|td)\b([^>]*)>", re.IGNORECASE)
_HIDDEN = re.compile(r'<(\w+)[^>]*aria-hidden="true"[^>]*>.*?</\1>', re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_COLSPAN = re.compile(r'colspan="?(\d+)', re.IGNORECASE)


def _span(attrs: str) -> int:
    match = _COLSPAN.search(attrs)
    return int(match.group(1)) if match else 1


def _add_class(attrs: str, name: str) -> str:
    if 'class="' in attrs:
        return attrs.replace('class="', f'class="{name} ', 1)
    return f' class="{name}"{attrs}'


def _text(fragment: str) -> str:
    text = _TAGS.sub(" ", _HIDDEN.sub(" ", fragment))
    return " ".join(html.unescape(text).split())


def _header_labels(table: str) -> list[str]:
    """The text of each column's header (a header spanning n columns labels all n)."""
    head = re.search(r"<thead\b.*?</thead>", table, re.IGNORECASE | re.DOTALL)
    if head is None:
        return []
    labels: list[str] = []
    for match in re.finditer(r"<th\b([^>]*)>(.*?)</th>", head.group(0), re.IGNORECASE | re.DOTALL):
        labels += [_text(match.group(2))] * _span(match.group(1))
    return labels


def cards(markup) -> Markup:
    """The table in `markup` with a `data-label` on every body cell and class `cards`."""
    source = str(markup)
    labels = _header_labels(source)
    if not labels:
        return Markup(source)
    out: list[str] = []
    pos, column, in_head = 0, 0, False
    for match in _CELL_TAG.finditer(source):
        closing, tag, attrs = match.group(1), match.group(2).lower(), match.group(3)
        out.append(source[pos:match.start()])
        pos = match.end()
        text = match.group(0)
        if tag == "thead":
            in_head = not closing
        elif tag == "tr" and not closing:
            column = 0
        elif tag in ("td", "th") and not closing and not in_head:
            span = _span(attrs)
            if span >= len(labels):  # a row such as "nothing found": one whole card
                text = f"<{tag}{_add_class(attrs, 'card-wide')}>"
            elif "data-label" not in attrs and column < len(labels):
                label = html.escape(labels[column], quote=True)
                text = f'<{tag} data-label="{label}"{attrs}>'
            column += span
        out.append(text)
    out.append(source[pos:])
    result = "".join(out)
    table = re.search(r"<table\b([^>]*)>", result)
    if table:
        result = result[:table.start()] + f"<table{_add_class(table.group(1), 'cards')}>" + result[table.end():]
    return Markup(result)


@pass_context
def failed_forms(context) -> list[Form]:
    """The forms passed to this template that failed validation, in the order they were passed."""
    seen: list[Form] = []
    for value in context.get_all().values():
        if isinstance(value, Form) and value.errors and all(value is not s for s in seen):
            seen.append(value)
    return seen
