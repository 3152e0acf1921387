"""Prebuilt statements that read columns, run at the cost of the driver's own call.

`db.session.execute` on a select of columns goes through the ORM's compile state, and
`Connection.execute` still looks up the compiled form, builds an execution context and a result
for every call: for a small statement on an index that is two thirds of its cost. `run` keeps
each statement compiled for the dialect (and for the length of each expanding `IN` list) and
executes it on the session's own connection, in its transaction, with the driver's cursor:

- parameters are bound in the compiled order, through the types' bind processors;
- results are converted by the columns' types as SQLAlchemy would (dates and decimals on
  SQLite, enums everywhere), with the driver's column types read on the first execution;
- rows are named tuples: by position, by name and unpacked, as SQLAlchemy's rows are read here;
- the engine's `before_cursor_execute` listeners see every statement (statement counts, the
  note that a transaction only read), and a driver's error is handled by the connection as its
  own are (wrapped in SQLAlchemy's exceptions; a lost connection is invalidated).

A statement built per call, an empty `IN` list, a parameter left out (SQLAlchemy says which),
or more than `_LIMIT` prepared forms take SQLAlchemy's own path: the same rows, only slower.
`tests/portal/test_reads.py` compares both paths on every statement the portal pages run.
"""
from __future__ import annotations

import collections
import re
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

from app.extensions import db

_LIMIT = 1024  # prepared forms kept (statements × dialects × lengths of IN lists)
_prepared: dict[tuple, _Prepared] = {}
_lock = threading.Lock()


class Rows(list):
    """A statement's rows, with the part of SQLAlchemy's result API the application reads."""

    def all(self) -> list:
        return list(self)

    def first(self):
        return self[0] if self else None

    def one(self):
        if len(self) != 1:
            raise NoResultFound("No row was found when one was required") if not self else \
                MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self[0]

    def one_or_none(self):
        if len(self) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self[0] if self else None

    def scalar(self):
        return self[0][0] if self else None

    def scalars(self) -> list:
        return [row[0] for row in self]


class _Prepared:
    """One statement compiled for one dialect and one length of each expanding list."""

    __slots__ = ("statement", "sql", "slots", "positional", "required", "row", "types", "processors")

    def __init__(self, statement, dialect, lengths: dict[str, int]):
        self.statement = statement  # kept alive: its id stays its own while it is cached
        source = statement.params({name: [None] * n for name, n in lengths.items()}) if lengths else statement
        compiled = source.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self.positional = compiled.positional
        if compiled.positional:
            names = list(compiled.positiontup)
        else:  # named in the text (expanded lists' items too): %(name)s or :name
            pattern = r"%\(([^)]+)\)s" if dialect.paramstyle == "pyformat" else r"(?<!:):(\w+)"
            names = list(dict.fromkeys(re.findall(pattern, self.sql)))
        expanded = {f"{name}_{i + 1}": (name, i) for name, n in lengths.items() for i in range(n)}
        # (the caller's key or None, its position in an expanding list or None, a constant,
        #  the bind processor, the name in the statement)
        self.slots = []
        self.required = frozenset(bind.key for bind in compiled.binds.values() if bind.required) | set(lengths)
        for name in names:
            bind = compiled.binds.get(name)
            if name in expanded:
                key, index = expanded[name]
                bind = bind or statement.compile(dialect=dialect).binds[key]
            else:
                key, index = (bind.key if bind is not None else name), None
            type_ = bind.type if bind is not None else sa.types.NULLTYPE
            constant = None if bind is None or bind.required else bind.effective_value
            self.slots.append((key, index, constant, type_._cached_bind_processor(dialect), name))
        columns = compiled._result_columns
        self.types = [column[3] for column in columns]
        self.row = collections.namedtuple("Row", [column[0] for column in columns], rename=True)
        self.processors = None  # from the driver's column types, at the first execution

    def parameters(self, params: dict[str, Any]):
        values = []
        for key, index, constant, process, _name in self.slots:
            value = params[key] if key in params else constant
            if index is not None:
                value = value[index]
            values.append(process(value) if process is not None else value)
        return values if self.positional else {slot[4]: v for slot, v in zip(self.slots, values)}

    def execute(self, conn, params: dict[str, Any]) -> Rows:
        parameters = self.parameters(params)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            if conn.dispatch.before_cursor_execute:
                for listener in conn.dispatch.before_cursor_execute:
                    listener(conn, cursor, self.sql, parameters, None, False)
            cursor.execute(self.sql, parameters)
            raw = cursor.fetchall()
            processors = self.processors
            if processors is None:
                dialect = conn.dialect
                processors = self.processors = [
                    type_._cached_result_processor(dialect, described[1])
                    for type_, described in zip(self.types, cursor.description)]
        except conn.dialect.loaded_dbapi.Error as error:
            conn._handle_dbapi_exception(error, self.sql, parameters, cursor, None)
            raise  # not reached: the connection raises its own exception
        finally:
            cursor.close()
        make = self.row._make
        if not any(processors):
            return Rows(map(make, raw))
        pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
        rows = Rows()
        for values in raw:
            values = list(values)
            for i, process in pairs:
                values[i] = process(values[i])
            rows.append(make(values))
        return rows


def _expanding(statement) -> tuple[str, ...]:
    """The names of the statement's expanding parameters (kept on the statement)."""
    names = statement.__dict__.get("_sportello_expanding")
    if names is None:
        names = tuple(sorted({b.key for b in sa.sql.visitors.iterate(statement)
                              if isinstance(b, sa.BindParameter) and b.expanding}))
        statement.__dict__["_sportello_expanding"] = names
    return names


def _form(statement, dialect, params: dict[str, Any]) -> _Prepared | None:
    names = _expanding(statement)
    lengths = {name: len(params[name]) for name in names if name in params}
    if len(lengths) != len(names) or not all(lengths.values()):
        return None  # a list missing or empty: SQLAlchemy renders what that means
    key = (id(statement), dialect.name, dialect.driver, dialect.server_version_info, tuple(lengths.values()))
    prepared = _prepared.get(key)
    if prepared is not None:
        return prepared if prepared.required.issubset(params) else None
    with _lock:
        if len(_prepared) >= _LIMIT:
            return None
        prepared = _prepared[key] = _Prepared(statement, dialect, lengths)
    return prepared if prepared.required.issubset(params) else None


def run(statement, params: dict | None = None) -> Rows:
    """Rows of `statement` (a select of columns, not of records, built once) with `params`;
    anything the session still holds unsaved is flushed first, as the session would."""
    session = db.session()
    if session.new or session.deleted or session.dirty:
        session.flush()
    conn = session.connection()
    params = params or {}
    prepared = _form(statement, conn.dialect, params)
    if prepared is None:
        return Rows(conn.execute(statement, params).all())
    return prepared.execute(conn, params)
