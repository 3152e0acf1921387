"""Prebuilt statements that read columns, run without the ORM's layers.

`db.session.execute` on a select of columns still goes through the ORM's compile state and
result set-up: for a small statement that is a third to a half of its cost. `run` executes on
the session's own connection, in its transaction, and gives the same rows.
"""
from __future__ import annotations

from app.extensions import db


def run(statement, params: dict | None = None):
    """Rows of `statement` (a select of columns, not of records) with `params`; anything the
    session still holds unsaved is flushed first, as the session would."""
    session = db.session
    if session.new or session.deleted or session.dirty:
        session.flush()
    return session.connection().execute(statement, params or {})
