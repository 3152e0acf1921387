"""CSV files for spreadsheets: one writer every export uses, which neutralises formulas.

A spreadsheet reads a cell starting with `=`, `+`, `-`, `@` (and, in some programs, a tab, CR or
LF followed by one of them) as a formula: text a visitor typed (a request's question, a name)
would run as `=HYPERLINK(...)` on the manager's computer. Text cells starting with one of those
characters get a leading apostrophe, which spreadsheets show as text (OWASP "CSV injection").
Numbers the code writes (int, float, Decimal) are left alone, so they stay numbers.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value):
    """`value` as a CSV cell no spreadsheet runs as a formula (numbers unchanged)."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class CsvTable:
    """Rows written with neutralised cells, semicolon-separated as Italian spreadsheets expect."""

    def __init__(self, delimiter: str = ";"):
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, delimiter=delimiter)

    def row(self, cells) -> None:
        self._writer.writerow([safe_cell(c) for c in cells])

    def text(self) -> str:
        return self._buf.getvalue()


__all__ = ["safe_cell", "CsvTable", "FORMULA_STARTS"]
