"""Work queues shown on the staff start page (F-20): a registry the areas add to.

Each area registers its queues at import (`register(Queue(...))`): a key, a label function
(the count -> "2 contratti da convalidare", with ngettext), the permission that lets a user act
on it, a count function and the list it links to (a view endpoint and its query arguments). The
start page renders whatever the registry holds for the user, so a new queue needs no page edit.

A queue with `kind="age"` shows a value that is not a number of rows (how old billing's data
is): its label function receives what `count` returned (seconds, or None when unknown).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.permissions import has_permission


@dataclass(frozen=True)
class Queue:
    key: str
    label: Callable[[object], str]  # count -> the sentence shown ("2 contratti da convalidare")
    permission: tuple[str, str]  # (permission, view) the user must hold
    count: Callable[[object], int | float | None]  # user -> count (or seconds for kind="age")
    endpoint: str  # the list it links to
    args: dict = field(default_factory=dict)
    area: str = ""  # a heading to group by (msgid)
    order: int = 100
    kind: str = "count"  # "count" | "age"
    also: tuple[tuple[str, str], ...] = ()  # further permissions, all required

    def visible_to(self, user) -> bool:
        return all(has_permission(user, perm, view) for perm, view in (self.permission, *self.also))


_QUEUES: dict[str, Queue] = {}


def register(queue: Queue) -> Queue:
    """Add (or replace, by key) a queue."""
    _QUEUES[queue.key] = queue
    return queue


def registered() -> list[Queue]:
    return sorted(_QUEUES.values(), key=lambda q: (q.order, q.key))


def for_user(user) -> list[Queue]:
    """The queues `user` may act on, in display order."""
    return [q for q in registered() if q.visible_to(user)]


__all__ = ["Queue", "register", "registered", "for_user"]
