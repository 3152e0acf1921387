"""Shared model plumbing: the metadata naming convention, labelled enums, column helpers.

Every model uses Flask-AppBuilder's declarative `Model`, so FAB's security tables and ours
share one metadata (Alembic sees them all). The naming convention must be set before any
model, FAB's included, is imported: without constraint names SQLite batch migrations cannot
drop constraints later.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_appbuilder import Model

from app.i18n import lazy_gettext as _l

Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

__all__ = ["Model", "LabeledEnum", "enum_column", "utcnow", "Money", "_l", "ALIGNED_TABLE_STORAGE",
           "ALIGNED_FILLFACTOR"]

# The tables the alignment updates in place, row by row (customers, supply points, meters,
# readings, invoices, payments, mailing addresses): on PostgreSQL their pages keep a tenth free,
# so a changed row's new version fits on its own page and needs no new index entries (a HOT
# update). Filled to the brim by the first load, every update would write every index of the
# table. Migration as01c3e5a7b9 sets it on existing databases.
ALIGNED_FILLFACTOR = 90
ALIGNED_TABLE_STORAGE = {"postgresql_with": {"fillfactor": ALIGNED_FILLFACTOR}}

Money = sa.Numeric(12, 2)


def utcnow() -> dt.datetime:
    """Naive UTC now: the database stores UTC without a zone on both engines."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def one_of(column, values) -> sa.ColumnElement[bool]:
    """`column IN (values)` for values fixed when a statement is built (statuses, entity names):
    one placeholder each, compiled once with the statement. `column.in_(values)` expands its
    list again at every execution, which on the hot statements cost more than running them."""
    return column.in_([sa.literal(v, column.type) for v in values])


class LabeledEnum(str, enum.Enum):
    """A string enum whose members carry a translated label: `Member = "value", _l("Label")`."""

    def __new__(cls, value: str, label=None):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label if label is not None else value
        return obj

    def __str__(self) -> str:  # FAB and templates print members: show the label
        return str(self.label)

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, str(m.label)) for m in cls]


def enum_column(enum_cls: type[LabeledEnum], **kw) -> sa.Enum:
    """A portable enum column: VARCHAR holding the member name (no native PG enum type).

    Member names (not values) are stored because FAB's search forms look members up by name.
    """
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(m.name) for m in enum_cls) + 8,
        validate_strings=True,
        **kw,
    )
