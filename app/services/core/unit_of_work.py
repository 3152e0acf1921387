"""One unit of work per service entry point.

A view or a job calls one service function decorated with `@transactional`: it commits once
when it returns (and rolls back when it raises). Service functions it calls — decorated or not
— run inside that unit and only flush. A job's own loop (alignment pages, queue rows) opens one
unit per item with `unit_of_work()`.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Callable, TypeVar

from app.extensions import db

F = TypeVar("F", bound=Callable)
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("sportello_unit_of_work", default=0)


@contextlib.contextmanager
def unit_of_work():
    """The outermost unit commits on success and rolls back on error; inner ones flush."""
    depth = _DEPTH.get()
    token = _DEPTH.set(depth + 1)
    try:
        yield
        if depth == 0:
            db.session.commit()
        else:
            db.session.flush()
    except BaseException:
        if depth == 0:
            db.session.rollback()
        raise
    finally:
        _DEPTH.reset(token)


@contextlib.contextmanager
def inside_caller():
    """Run service functions as inner units of a caller that commits itself (an alignment
    page's hooks): nothing in here commits or rolls back."""
    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        yield
    finally:
        _DEPTH.reset(token)


def transactional(fn: F) -> F:
    """Make `fn` a unit of work (see the module's docstring)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with unit_of_work():
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]
