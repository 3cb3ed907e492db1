"""This process's ear on the shared store: the notes the other processes publish
(`notes.CHANNEL`), and what hearing one does here — wake this process's waiters and held
calls, run its own events on a moved clock, read the rules again, pass the notice on to
its dashboard.

Pub/sub delivers a note only to those subscribed when it is published, so a listener
that lost its connection (a Redis restart, a dropped socket) has missed whatever was said
meanwhile. It cannot know what it missed, so every (re)subscription — confirmed by Redis
before the first note can arrive on it — is taken as "anything may have changed": the
waiters look again, held calls whose task has ended are answered, a reset is caught up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from ..changes import CALLBACK, CLOCK, JOURNAL, RESET, TASK
from .notes import CHANNEL, PREFIX, blinks

log = logging.getLogger("luma_mock.store")

OUTAGE_RETRY = 0.5  # seconds between tries while Redis cannot be reached
# Seconds a read of the channel waits for a note: a note wakes it at once, so this is only
# how often an idle listener looks whether it should stop (each look costs an idle process
# a wake-up of its event loop; 0.1 s made a tenth of its idle CPU).
IDLE = 1.0


class Heard(Protocol):
    """What the listener asks of the process's handle (`handle.Shared`)."""

    redis: Any
    origin: str
    epoch: int
    clock: Any
    root: Any  # the process's first engine (`handle.SharedEngine`), once attached
    engines: dict[str, Any]
    stores: dict[str, Any]
    kept_journal: Any

    def check(self) -> None: ...
    def unreachable(self, error: BaseException) -> None: ...


class Listener:
    """One thread reading the channel, for as long as the process is on the store."""

    def __init__(self, shared: Heard) -> None:
        self.shared = shared
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="luma-notes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _listen(self) -> None:
        pubsub, asked = self.shared.redis.pubsub(), False
        try:
            while not self._stopping.is_set():
                try:
                    if not asked:
                        pubsub.subscribe(CHANNEL)
                        asked = True
                    # A dropped connection is made again here, subscriptions and all.
                    message = pubsub.get_message(timeout=IDLE)
                except blinks() as down:
                    self.shared.unreachable(down)
                    self._stopping.wait(OUTAGE_RETRY)  # a back-off that a close cuts short
                    continue
                if message is None:
                    continue
                try:
                    if message["type"] == "subscribe":
                        self.caught_up()
                    elif message["type"] == "message":
                        self.heard(message["data"])
                except blinks() as down:  # acting on it needed Redis: it is away again
                    self.shared.unreachable(down)
                except Exception:  # the ear must outlive any one note
                    log.exception("a note from another process could not be acted on")
        finally:
            pubsub.close()

    def caught_up(self) -> None:
        """Subscribed (again): what was said while nobody listened is looked for."""
        shared = self.shared
        epoch = int(shared.redis.get(f"{PREFIX}:epoch") or 0)
        if epoch > shared.epoch:
            self.heard_words(["reset", str(epoch)])
        for store in shared.stores.values():
            store.look_again()  # held calls whose task ended meanwhile
        if shared.kept_journal is not None:
            shared.kept_journal.heard()
        self.heard_words(["clock"])  # runs what is due here, and wakes every waiter

    def heard(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        origin, _, rest = text.partition(" ")
        words = rest.split()
        if words and origin != self.shared.origin:  # no self-echo: told itself already
            self.heard_words(words)

    def heard_words(self, words: list[str]) -> None:
        shared = self.shared
        kind, fake = words[0], shared.fake
        changes = fake.changes if fake is not None else None
        if kind == "journal":  # waiters on the journal only
            if shared.kept_journal is not None:
                shared.kept_journal.heard()
            if changes is not None and changes.listening and len(words) == 2:
                changes.publish(JOURNAL, int(words[1]))
            return
        if kind in ("task", "end", "callback") and len(words) == 3:
            if kind == "end" and (store := shared.stores.get(words[1])) is not None:
                store.heard_end(words[2])
            if changes is not None and changes.listening:
                changes.publish(CALLBACK if kind == "callback" else TASK, words[2], words[1])
        elif kind == "reset" and len(words) == 2:
            shared.epoch = max(shared.epoch, int(words[1]))
            if changes is not None:
                changes.publish(RESET)
        elif kind == "clock" and fake is not None:
            fake.scheduler.run_due()  # this process's own events, on the moved clock
            if changes is not None and changes.listening:
                changes.publish(CLOCK, shared.clock.now())
        elif kind == "rules":
            shared.check()  # reads the book again: its notice goes to listeners
        for engine in shared.engines.values():
            engine._heard(kind)
