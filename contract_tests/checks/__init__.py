"""The catalogue of contract checks: one plain function per check, one registry. The
provider suite runs them on a server's answers, the consumer suite on a client's calls.

It holds the registry and how checks run (`registry`), the checks every dialect's
answers share (`answers`), with what checks share: the exchange types (`exchanges`:
`Case`, `Answer`, `CheckFailure`), the run's memory (`context`), what a dialect says of
its answers (`dialects`: the `Answers` protocol, found through the registry of packs),
the MP4/JPEG/PNG size readers (`media_probe`); and the checks of a client every dialect
shares (`client`, operation ``client``) with the calls they read (`client_calls`),
registered when the consumer suite imports them. Each dialect's own checks are in its
pack's ``answers`` module (``contract_tests.<dialect>.answers``) and its client checks in
its ``client`` module, registered with ``@check(..., dialects=(NAME,))`` when the first
case of that dialect runs; `checks_of(NAME)` names them.

It may import the standard library and `contract_tests.contract`, nothing else of this
project and nothing of `mock_server`: the suites and the plugin sit above it.

    @check("batch-count", "retrieve_batch's count equals len(items)", ("tasks",), (NAME,))
    def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None: ...

    failures = run_checks(ctx, case, answer)  # every applicable check, all failures

A check returns `SKIPPED` when the exchange is not its business, so the tally in
`CheckContext.runs` counts real runs only. `REGISTRY` maps names to `Check`s in the
order they run. The names below are imported here, so ``from contract_tests.checks
import Case, CheckContext, mp4_size`` keeps working.
"""

from __future__ import annotations

from .context import CheckContext, TaskHistory
from .dialects import Answers, answers_of, ended, state_of
from .exchanges import CALLBACK, WAIT, Answer, Case, CheckFailure, CheckFailures, fail
from .media_probe import jpeg_size, mp4_size, png_size
from .registry import (
    REGISTRY,
    SKIPPED,
    Check,
    CheckFunction,
    assert_checks,
    check,
    checks_of,
    run_checks,
)

# isort: off
# Registered first, so it runs first on every dialect's answers.
from . import answers  # noqa: F401 - imported for its check
# isort: on

__all__ = [
    "CALLBACK",
    "REGISTRY",
    "SKIPPED",
    "WAIT",
    "Answer",
    "Answers",
    "Case",
    "Check",
    "CheckContext",
    "CheckFailure",
    "CheckFailures",
    "CheckFunction",
    "TaskHistory",
    "answers_of",
    "assert_checks",
    "check",
    "checks_of",
    "ended",
    "fail",
    "jpeg_size",
    "mp4_size",
    "png_size",
    "run_checks",
    "state_of",
]
