"""Shared fake on Redis: the state that makes every process on one store one fake.

``luma-mock serve --store redis://HOST:PORT/DB`` (or ``LUMA_MOCK_STORE``, or ``store`` in
the config file) keeps in Redis, under the prefix ``luma-mock``:

- **tasks** — each task's record, its plan and, once ended, how it ended, with the
  creation and finishing orders (``--max-tasks`` evicts as in memory) and the output
  index: `tasks`;
- **due events** — a task's end, at its planned time: the due queue of `due`, claimed
  with leases, so exactly one process runs each (why that holds, and what a SIGKILL or a
  restart does, is said there);
- **the manual clock** — its time (``luma-mock:clock``) and where it started; a move
  takes a Redis lock, so moves through different processes add up rather than overlap,
  and runs every shared event due on the way, each at its own time, then tells the other
  processes (pub/sub ``luma-mock:notes``) to run their own local events (the deadlines
  of held calls) and wake their waiters;
- **the journal** — one order for every process's entries: `journal`.

Ending a task is a compare-and-set in Redis (``end`` is set once, and only on a task of
the current epoch), so two processes ending one task — its planned end and a
``complete`` through the control API, or a claim taken over from a stalled process —
end it once; the script whose set wins also makes the task's callback delivery, so an
end is never recorded without its callback (`callbacks`). A process holding a
synchronous call hears of the end of its task through ``notes`` whichever process ended
it.

Also shared: scenario rules, balances and rate limits (`rules`), callbacks and
their delivery log, every attempt a due event (`callbacks`), and the change
notices, which the scripts publish only to processes that listen (`notes`). The commands
every call makes (the rules' version, the task, the journal entry) go through `lane`:
redis-py's connections and parser without its per-command pool and retry machinery. Redis
unreachable: a call that needs it is answered 503 (`unavailable`), the runner and the
listener say so once and retry, nothing Redis kept is lost, and the fake carries on when
Redis is back; what a process must not forget — a posted callback's outcome, the manual
clock's lock — it keeps and writes (or frees) as soon as Redis answers again. One Redis
server, not a Cluster: the scripts touch keys they compute.
"""

from .handle import Shared

__all__ = ["Shared"]
