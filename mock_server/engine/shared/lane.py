"""The hot path's Redis commands, sent over redis-py's own connections with less on the way.

Every call to the fake makes two or three Redis commands (the rules' version, the task,
the journal entry). Through ``Redis.execute_command`` each one also takes a connection
from the pool under a lock, polls its socket to see that nothing is left unread, records
metrics and goes through the retry wrapper: profiled under load that was most of the
fake's CPU per command under gevent, several times the cost of writing the command and
reading its reply. A `Lane` keeps idle connections in a list of its own (a pop and an
append, atomic under the GIL and between greenlets) and uses redis-py's `Connection` to
send and read: the same parser (hiredis), timeouts and errors; the command is packed by
hiredis itself, as redis-py's packer does once it has checked each argument's type.

Why no poll before reuse: a connection goes back on the list only after its reply was
read whole, or after redis-py disconnected it — its ``read_response`` and
``send_packed_command`` disconnect on any error or interruption (a greenlet killed
mid-read too) — and a disconnected one connects again on its next command. An error
*reply* (a ``ResponseError``) is read whole, so its connection stays good.

One retry, as redis-py's client does: a connection idle across a Redis restart fails on
first use; the command goes once more on a new connection, and a second failure is the
caller's (the web layer answers it 503). A script Redis no longer knows (restarted or
flushed) is run once through redis-py's `Script`, which loads it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

# Idle connections a lane keeps for the next commands. A burst of concurrent calls opens
# as many connections as it has calls at once; kept all, they would stay open for the
# life of the process (a fake that runs for weeks holds its busiest minute's sockets).
# Past this many the one given back is closed: the next burst opens what it needs again.
KEEP_IDLE = 16


class Lane:
    """Commands over ``redis``'s pool's connection settings (see the module)."""

    def __init__(self, redis: Any) -> None:
        import hiredis  # only a shared store needs them
        import redis as redis_py

        self._pack = hiredis.pack_command  # what redis-py's packer calls, less its checks
        self._pool = redis.connection_pool
        self._idle: list[Any] = []
        self._pid = os.getpid()
        self._retry = (redis_py.ConnectionError,)
        self._outage = (redis_py.ConnectionError, redis_py.TimeoutError, OSError)
        self._no_script = redis_py.exceptions.NoScriptError
        self._closed = False
        self.round_trips = self.errors = 0  # since the start (/__admin/metrics); errors: no answer

    def call(self, *args: Any) -> Any:
        """One command's raw reply (bytes, an int, a list: what the parser makes)."""
        try:
            return self._once(args)
        except self._retry:
            return self._once(args)  # its connection was dropped: the next is new

    def script(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run a script registered with ``redis.register_script`` by its digest."""
        try:
            return self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except self._no_script:  # Redis restarted or flushed its scripts: load it again
            return script(keys=keys, args=args)

    def _once(self, args: tuple[Any, ...]) -> Any:
        if self._pid != os.getpid():  # forked: the parent's sockets are not this one's
            self._idle, self._pid = [], os.getpid()
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._pool.make_connection()
        self.round_trips += 1
        try:
            connection.send_packed_command([self._pack(args)], check_health=False)
            reply = connection.read_response()
        except BaseException as failed:
            if isinstance(failed, self._outage):  # not an error reply (a script to load)
                self.errors += 1
            # redis-py has disconnected it if the reply was not read whole; an error
            # reply leaves it usable. Either way it may serve the next command.
            self._give_back(connection)
            raise
        self._give_back(connection)
        return reply

    def _give_back(self, connection: Any) -> None:
        if self._closed or len(self._idle) >= KEEP_IDLE:
            connection.disconnect()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        """Disconnect the idle connections (one still in use is dropped when it is back)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.disconnect()
