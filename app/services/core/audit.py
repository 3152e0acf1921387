"""Audit log (F-27): one call records who changed what; bank data and tax codes are masked."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from app.extensions import db
from app.models import AuditLog
from app.services.core.masking import mask

SENSITIVE_FIELDS = {"iban", "tax_code", "holder_tax_code", "password", "security_answer"}
SECRETS = {"password", "security_answer"}  # never shown, not even their end
ERASED = "[erased]"  # stands in an audit row for a personal value erased later


def _mask(field: str, value: Any) -> Any:
    if field in SENSITIVE_FIELDS and isinstance(value, str) and value:
        return mask(value) if field not in SECRETS else "•••"
    return value


def record(entity_type: str, entity_id, action: str, changes: dict[str, list] | None = None,
           actor=None) -> AuditLog:
    """Add an audit row (no commit): changes = {field: [old, new]}."""
    masked = {k: [_mask(k, v) for v in pair] for k, pair in (changes or {}).items()}
    row = AuditLog(entity_type=entity_type, entity_id=str(entity_id), action=action,
                   changes=masked, actor_id=getattr(actor, "id", None),
                   actor_label=getattr(actor, "username", "") if actor is not None else "system",
                   ip_address=(request.remote_addr or "")[:45] if has_request_context() else "")
    db.session.add(row)
    return row


def erase_values(entity_type: str, entity_ids, fields) -> int:
    """Replace the values of `fields` in the audit rows of these entities with `ERASED` (no
    commit); each row keeps its fact (who, when, what action, which fields). Returns the rows changed."""
    ids = [str(i) for i in entity_ids]
    fields = set(fields)
    if not ids or not fields:
        return 0
    changed = 0
    for row in db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == entity_type,
                                                            AuditLog.entity_id.in_(ids))):
        changes = dict(row.changes or {})
        hit = False
        for name in fields & changes.keys():
            pair = changes[name]
            values = pair if isinstance(pair, list) else [pair]
            erased = [ERASED if v not in (None, "", ERASED) else v for v in values]
            if erased != values:
                changes[name], hit = erased, True
        if hit:
            row.changes = changes  # a new dict: the JSON column does not track changes inside it
            changed += 1
    return changed


def diff(obj, values: dict[str, Any]) -> dict[str, list]:
    """The fields of `values` that differ from `obj`'s, as {field: [old, new]}."""
    out = {}
    for key, new in values.items():
        old = getattr(obj, key, None)
        if old != new:
            out[key] = [_plain(old), _plain(new)]
    return out


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
