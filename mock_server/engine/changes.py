"""What changed in a fake, told to whoever listens: the engine's one seam for change
notifications (the dashboard's live view; a later store shared by several processes
would carry the same notices between them).

Every engine of a process shares one `Changes` (as they share the clock and journal);
the engine publishes at the few places where its state moves — a task created or ended,
a callback attempted, a journal entry recorded or answered, the clock moved, the rules
changed, a reset, the close — and nowhere else. A notice names what changed (its kind
and key); the listener looks the rest up, so a notice stays small and plain enough to
cross a process boundary. With nobody listening, publishing is one truth test of a
tuple: the hot paths pay nothing more.

Subscribers are called on the publisher's thread, often holding the engine's locks:
they must only hand the notice on (to a queue), never call back into the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The kinds of change, and what their key is.
TASK = "task"  # a task was created or ended (key: task id)
CALLBACK = "callback"  # a callback attempt was made (key: task id)
JOURNAL = "journal"  # a journal entry was recorded or answered (key: its seq)
CLOCK = "clock"  # the fake's clock was moved (key: the new time)
RULES = "rules"  # scenario rules were added, removed or cleared
RESET = "reset"  # the fake was reset
CLOSED = "closed"  # the fake is stopping: listeners should let go


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    key: Any = None  # what changed, by its identity (see the kinds above)
    dialect: str | None = None  # whose task or rules, when it is one dialect's


Subscriber = Callable[[Change], None]


class Changes:
    """A fan-out of `Change` notices; ``listening`` is false while nobody subscribes."""

    __slots__ = ("_lock", "listening", "on_listen")

    def __init__(self) -> None:
        self.listening: tuple[Subscriber, ...] = ()  # replaced, never mutated: read lock-free
        self._lock = threading.Lock()
        # Told True when the first subscriber comes and False when the last goes (a
        # shared store then has the other processes send their notices here).
        self.on_listen: Callable[[bool], None] | None = None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Start telling ``subscriber``; returns the function that stops it."""
        with self._lock:
            self.listening = (*self.listening, subscriber)
            first = len(self.listening) == 1
        if first and self.on_listen is not None:
            self.on_listen(True)

        def unsubscribe() -> None:
            with self._lock:
                before = len(self.listening)
                self.listening = tuple(s for s in self.listening if s is not subscriber)
                last = before == 1 and not self.listening
            if last and self.on_listen is not None:
                self.on_listen(False)

        return unsubscribe

    def publish(self, kind: str, key: Any = None, dialect: str | None = None) -> None:
        subscribers = self.listening
        if not subscribers:
            return
        change = Change(kind, key, dialect)
        for subscriber in subscribers:
            subscriber(change)
