"""The engine: the fake's behaviour as plain Python, whatever API it speaks.

Tasks and their store (`tasks`), the clock and the scheduler that moves them, delays,
callbacks and their sender, the journal, scenario rules, faults, credits and rate limits
(`accounts`), error codes (`errors`), settings (`config`), change notices (`changes`),
the store shared by several processes on Redis (`shared`), and the engine that runs a
call through all of them (`service.Engine`, assembled by `parts`), with its control side
(`control`: moving time, ending tasks, waiting, reset). `dialect` is the seam: what the
engine asks of the API it speaks, and what a dialect may use of the engine. No API's
field names live here.

It imports no web framework, server or JSON library of the HTTP layer, no dialect
package, no harness, no contract or suite. Beyond the standard library it uses three
libraries, each in one place: ``httptools`` in `sender`, which reads the answers to
callbacks; ``tomli`` in `config` on Python 3.10 (the config file; later Pythons have
``tomllib``); and ``redis`` with ``hiredis`` in `shared`, imported only when a shared
store is opened (they are the extra ``luma-mock[redis]``).
"""
