"""The catalogue of contract checks: one plain function per check, one registry. The
provider suite runs them on a server's answers, the consumer suite on a client's calls.

It holds the registry and how checks run (`registry`), the checks of one answer
(`answers`), of tasks over time and callbacks (`tasks`) and of media (`media`), with what
they share: the exchange types (`exchanges`: `Case`, `Answer`, `CheckFailure`), the
run's memory (`context`), the MP4/JPEG size readers (`media_probe`); and the checks of a
client (`client`, operation ``client``) with the calls they read (`client_calls`),
registered when the consumer suite imports them. Each check names the dialects it
applies to (`Case.dialect`): the Dream Machine dialect's are in `dream_machine` and
`dm_media` (answers); each dialect's client checks in its own ``client`` module; `DM_CHECKS`
names those of its answers.

It may import the standard library and `contract_tests.contract`, nothing else of this
project and nothing of `mock_server`: the suites and the plugin sit above it.

    @check("batch-count", "retrieve_batch's count equals len(items)", on=("tasks",))
    def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None: ...

    failures = run_checks(ctx, case, answer)  # every applicable check, all failures

A check returns `SKIPPED` when the exchange is not its business, so the tally in
`CheckContext.runs` counts real runs only. `REGISTRY` maps names to `Check`s (other
suites register theirs beside these); `CHECKS` names the provider checks here, in the
order they run. Operations: ``videos`` and ``tasks`` (answers of the API), ``callback``
(a body the server POSTed to our receiver; the case is the request that asked for it).
The names below are imported here, so ``from contract_tests.checks import Case,
CheckContext, mp4_size`` keeps working.
"""

from __future__ import annotations

from .context import SET_ONCE, STATE_ORDER, CheckContext, TaskHistory, record_state, task_records
from .exchanges import Answer, Case, CheckFailure, CheckFailures, fail
from .media_probe import jpeg_size, mp4_size
from .registry import REGISTRY, SKIPPED, Check, CheckFunction, assert_checks, check, run_checks

# isort: off
# The checks register as their modules load, and run in that order (REGISTRY's): each
# answer on its own, then tasks over time and callbacks, then media.
from .answers import allowed_statuses, schema_for
from . import tasks  # noqa: F401 - imported for its checks
from . import media  # noqa: F401 - imported for its checks
from . import dream_machine  # noqa: F401 - imported for its checks (dialect dream-machine)
from . import dm_media  # noqa: F401 - imported for its check (dialect dream-machine)
# isort: on

CHECKS: tuple[str, ...] = tuple(n for n, c in REGISTRY.items() if "acedata" in c.dialects)
DM_CHECKS: tuple[str, ...] = tuple(n for n, c in REGISTRY.items() if "dream-machine" in c.dialects)

__all__ = [
    "CHECKS",
    "DM_CHECKS",
    "REGISTRY",
    "SET_ONCE",
    "SKIPPED",
    "STATE_ORDER",
    "Answer",
    "Case",
    "Check",
    "CheckContext",
    "CheckFailure",
    "CheckFailures",
    "CheckFunction",
    "TaskHistory",
    "allowed_statuses",
    "assert_checks",
    "check",
    "fail",
    "jpeg_size",
    "mp4_size",
    "record_state",
    "run_checks",
    "schema_for",
    "task_records",
]
