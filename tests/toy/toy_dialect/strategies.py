"""The toy API's requests for Hypothesis: valid job requests, and requests that break
exactly one rule of ``toy/job-request`` (each an `Invalid`, labelled with its rule)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from contract_tests.contract.invalid import Invalid

PROMPTS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=200
)


def job_requests(callback_url: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A valid job request, with ``callback_url`` when one is given."""
    fixed = {"prompt": PROMPTS}
    if callback_url is not None:
        fixed["callback_url"] = st.just(callback_url)
    return st.fixed_dictionaries(fixed)


def invalid_job_requests() -> st.SearchStrategy[Invalid]:
    """Each rule of the request broken alone."""

    def broken(rule: str, body: Any, expect: str) -> st.SearchStrategy[Invalid]:
        return st.just(Invalid("jobs", rule, body=body, expect=expect))

    return st.one_of(
        broken("prompt-missing", {}, "prompt is required"),
        broken("prompt-empty", {"prompt": ""}, "must not be empty"),
        PROMPTS.map(lambda p: Invalid("jobs", "prompt-too-long", body={"prompt": p * 201})),
        st.integers().map(lambda n: Invalid("jobs", "prompt-not-string", body={"prompt": n})),
        broken("callback-not-url", {"prompt": "p", "callback_url": "ftp://x"}, "callback_url"),
        broken("unknown-field", {"prompt": "p", "colour": "red"}, "unknown field"),
        broken("body-not-object", ["prompt"], "must be object"),
        st.just(Invalid("jobs", "body-not-json", raw=b"{prompt")),
    )
