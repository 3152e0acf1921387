"""NAV filter criteria -> SQL.

Supported: `X` (equals), `a..b` / `..b` / `a..` (ranges), `>=x` `>x` `<x` `<=x` `<>x` `=x`,
`a|b` (or), `a&b` (and), `A*` / `?` wildcards (case-sensitive), `@...` (case-insensitive),
`''` (empty). Several filters on a ReadMultiple are ANDed.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from .schema import BOOL, DATE, DATETIME, DECIMAL, INT, MONEY, TEXT, EntityDef


class FilterError(ValueError):
    """A NAV-like error text for a bad filter."""


_TYPE_WORDS = {INT: "integer", MONEY: "decimal", DATE: "date", DATETIME: "datetime",
               BOOL: "boolean", DECIMAL: "decimal", TEXT: "text"}


def _convert(e: EntityDef, field: str, ftype: str, value: str, whole: str):
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        value = value[1:-1]
    try:
        if ftype == TEXT:
            return value
        if value == "":
            raise ValueError
        if ftype == INT:
            return int(value)
        if ftype == MONEY:
            d = Decimal(value) * 100
            if d != d.to_integral_value():
                raise ValueError
            return int(d)
        if ftype == DECIMAL:
            return str(Decimal(value))
        if ftype == DATE:
            return dt.date.fromisoformat(value).isoformat()
        if ftype == DATETIME:
            return dt.datetime.fromisoformat(value.replace("Z", "")).isoformat(timespec="seconds")
        if ftype == BOOL:
            low = value.lower()
            if low in ("yes", "true", "1"):
                return 1
            if low in ("no", "false", "0"):
                return 0
            raise ValueError
    except (ValueError, InvalidOperation):
        pass
    raise FilterError(
        f'The filter "{whole}" is not valid for the {field} field on the {e.name} table. '
        f'{value} is not a valid {_TYPE_WORDS[ftype]}.')


def _glob_escape(s: str) -> str:
    return s.replace("[", "[[]")


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _term(e: EntityDef, field: str, ftype: str, term: str, whole: str, params: list) -> str:
    term = term.strip()
    if term == "" or term == "''":
        if ftype != TEXT:
            return f"{field} IS NULL"
        return f"({field} = '' OR {field} IS NULL)"
    if ".." in term:
        lo, _, hi = term.partition("..")
        parts = []
        if lo.strip():
            params.append(_convert(e, field, ftype, lo.strip(), whole))
            parts.append(f"{field} >= ?")
        if hi.strip():
            params.append(_convert(e, field, ftype, hi.strip(), whole))
            parts.append(f"{field} <= ?")
        if not parts:
            raise FilterError(f'The filter "{whole}" is not valid for the {field} field '
                              f'on the {e.name} table.')
        return "(" + " AND ".join(parts) + ")"
    for op in ("<>", ">=", "<=", ">", "<", "="):
        if term.startswith(op):
            value = term[len(op):].strip()
            if op == "<>" and value in ("", "''"):
                return f"({field} <> '' AND {field} IS NOT NULL)" if ftype == TEXT \
                    else f"{field} IS NOT NULL"
            params.append(_convert(e, field, ftype, value, whole))
            return f"{field} {'!=' if op == '<>' else op} ?"
    insensitive = term.startswith("@")
    if insensitive:
        term = term[1:]
    wild = "*" in term or "?" in term
    if (wild or insensitive) and ftype != TEXT:
        raise FilterError(f'The filter "{whole}" is not valid for the {field} field on the '
                          f'{e.name} table. Wildcards can only be used on text fields.')
    if insensitive:
        pattern = _like_escape(term).replace("*", "%").replace("?", "_")
        params.append(pattern)
        return f"{field} LIKE ? ESCAPE '\\'"
    if wild:
        params.append(_glob_escape(term))
        return f"{field} GLOB ?"
    params.append(_convert(e, field, ftype, term, whole))
    return f"{field} = ?"


def translate(e: EntityDef, filters: list[tuple[str, str]]) -> tuple[str, list]:
    """SQL condition (ANDed filters) and its parameters; FilterError for a bad field/criteria."""
    types = e.types
    clauses: list[str] = []
    params: list = []
    for field, criteria in filters:
        if field not in types:
            raise FilterError(f"The field {field} of the {e.name} page does not exist "
                              f"(it is not one of {e.name}_Fields).")
        criteria = "" if criteria is None else str(criteria)
        ors = []
        for alt in criteria.split("|"):
            ands = [_term(e, field, types[field], t, criteria, params) for t in alt.split("&")]
            ors.append(ands[0] if len(ands) == 1 else "(" + " AND ".join(ands) + ")")
        clauses.append(ors[0] if len(ors) == 1 else "(" + " OR ".join(ors) + ")")
    return (" AND ".join(clauses) if clauses else "1=1"), params
