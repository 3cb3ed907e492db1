"""Bad input of every kind against the fake as users run it (`luma-mock serve`: gevent,
real sockets): random bytes, invalid UTF-8, deep nesting, huge strings and bodies, wrong
types for every field, wrong methods and content types, broken HTTP on a raw socket —
then Schemathesis against the fake's own OpenAPI document.

Every answer from the app must be in the contract (the error envelope for every error,
with the status its code documents); no 5xx the request did not ask for; the server
keeps serving after each batch; and its log never shows a traceback.

A product defect found here is pinned with ``xfail(strict=True)`` and the defect's
precise description until it is fixed, so a fix shows up as an unexpected pass.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_tests import contract
from contract_tests.acedata import strategies
from contract_tests.contract import check, load_schema
from mock_server.acedata.service import LumaService
from mock_server.engine.config import Settings
from mock_server.web.app import create_app, served_routes
from tests.hardening_support import (
    RawExchange,
    assert_error_envelope,
    assert_still_serving,
    chunked,
    http_request,
    port_of,
    raw_exchange,
)
from tests.support import AUTH, PROMPT, LiveServer, instant_service, live_server

API_PATHS = ("/luma/videos", "/luma/tasks")
SCHEMA_OF_PATH = {"/luma/videos": "acedata/videos-request", "/luma/tasks": "acedata/tasks-request"}
LIMIT = 1_048_576  # the default max_body_bytes

# Bounded: each example is a real HTTP round trip. The loaded profile (``ci`` under CI:
# derandomized, no database) supplies everything not named here.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # Callbacks may only go to loopback: a generated callback_url never leaves the machine.
    with live_server("--delay", "instant", "--callback-allow", "127.0.0.1") as running:
        yield running


def post_bytes(
    server: LiveServer,
    path: str,
    data: bytes,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    sent = {**AUTH, **(headers or {})}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return request(server, "POST", path, data=data, headers=sent)


def request(server: LiveServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One request on a connection of its own, so that whatever a malformed request does
    to a connection never muddles the next case."""
    kwargs.setdefault("headers", AUTH)
    return requests.request(method, server.url + path, timeout=30, **kwargs)


def assert_in_contract(response: requests.Response, path: str, sent: Any = None) -> Any:
    """The answer is JSON in the contract: an error envelope with its documented status,
    or the success shape of ``path``. The only 5xx allowed is the 504 ``timeout`` of a
    request that set its own ``timeout``."""
    status = response.status_code
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    if status >= 500:
        asked = isinstance(sent, dict) and "timeout" in sent
        assert status == 504 and asked, f"unexpected {status}: {body}"
    if status >= 400:
        return assert_error_envelope(status, body)
    assert status == 200
    if path == "/luma/videos":
        assert (
            check("acedata/videos-result", body).ok or check("acedata/videos-accepted", body).ok
        ), body
    else:
        assert check("acedata/task-record", body).ok or check("acedata/tasks-batch", body).ok, body
    return body


def bad_request_message(response: requests.Response, path: str) -> str:
    body = assert_in_contract(response, path)
    assert response.status_code == 400 and body["error"]["code"] == "bad_request", body
    return body["error"]["message"]


# -- bodies ---------------------------------------------------------------------------


def test_random_bytes_are_a_bad_request_in_the_envelope(server: LiveServer) -> None:
    @FUZZ
    @given(path=st.sampled_from(API_PATHS), data=st.binary(max_size=1024))
    def random_bytes(path: str, data: bytes) -> None:
        bad_request_message(post_bytes(server, path, data), path)

    random_bytes()
    assert_still_serving(server)


def test_contract_labelled_invalid_requests_are_refused_naming_the_rule(
    server: LiveServer,
) -> None:
    @FUZZ
    @given(case=strategies.invalid_requests())
    def refused(case: strategies.Invalid) -> None:
        message = bad_request_message(post_bytes(server, case.path, case.payload()), case.path)
        assert case.expect in message, f"{case.rule}: {message!r}"

    refused()
    assert_still_serving(server)


INVALID_UTF8 = {
    "lone continuation byte": b"\x80",
    "0xff": b"\xff",
    "overlong slash": b"\xc0\xaf",
    "utf-16 surrogate": b"\xed\xa0\x80",
    "cut-off sequence": b"\xe2\x82",
    "beyond U+10FFFF": b"\xf4\x90\x80\x80",
}


@pytest.mark.parametrize("bad", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_anywhere_is_refused_as_not_utf8(server: LiveServer, bad: bytes) -> None:
    text = json.dumps({"prompt": PROMPT, "async": True}).encode()

    @FUZZ
    @given(path=st.sampled_from(API_PATHS), at=st.integers(0, len(text)))
    def not_utf8(path: str, at: int) -> None:
        data = text[:at] + bad + text[at:]
        assert "UTF-8" in bad_request_message(post_bytes(server, path, data), path)

    not_utf8()
    assert_still_serving(server)


def test_other_encodings_of_json_are_refused(server: LiveServer) -> None:
    body = json.dumps({"prompt": "café", "async": True}, ensure_ascii=False)
    for data in (body.encode("utf-16"), body.encode("latin-1"), b"\xef\xbb\xbf" + body.encode()):
        bad_request_message(post_bytes(server, "/luma/videos", data), "/luma/videos")
    assert_still_serving(server)


JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=16,
)


def test_any_json_document_gets_an_answer_in_the_contract(server: LiveServer) -> None:
    """NaN and Infinity included (json.dumps writes them; the fake must refuse them)."""

    @FUZZ
    @given(path=st.sampled_from(API_PATHS), document=JSON_DOCUMENTS)
    def answered(path: str, document: Any) -> None:
        data = json.dumps(document).encode()
        assert_in_contract(post_bytes(server, path, data), path, document)

    answered()
    assert_still_serving(server)


def _fields(path: str) -> list[str]:
    return list(load_schema(SCHEMA_OF_PATH[path])["properties"])


VALID_REQUESTS = st.one_of(
    st.tuples(st.just("/luma/videos"), strategies.video_requests(mode="async")),
    st.tuples(st.just("/luma/videos"), strategies.video_requests(mode="sync")),
    st.tuples(st.just("/luma/tasks"), strategies.task_requests()),
)


def test_valid_requests_with_one_field_set_to_anything_stay_in_the_contract(
    server: LiveServer,
) -> None:
    @FUZZ
    @given(request=VALID_REQUESTS, data=st.data())
    def mutated(request: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
        path, body = request
        name = data.draw(st.sampled_from(_fields(path)), label="field")
        body = {**body, name: data.draw(JSON_DOCUMENTS, label="value")}
        assert_in_contract(post_bytes(server, path, json.dumps(body).encode()), path, body)

    mutated()
    assert_still_serving(server)


JSON_TYPE_OF = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
    list: "array",
    dict: "object",
}
ONE_OF_EACH_TYPE: dict[str, Any] = {
    "string": "wrong",
    "integer": 7,
    "number": 2.5,
    "boolean": True,
    "null": None,
    "array": ["x"],
    "object": {"x": 1},
}


def accepted_types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a field's (bundled) schema admits: its ``type``, or the types of
    its ``enum``/``const`` values, through ``allOf``/``anyOf``/``oneOf``."""
    found: set[str] = set()
    kind = schema.get("type")
    found.update([kind] if isinstance(kind, str) else kind or [])
    found.update(JSON_TYPE_OF[type(v)] for v in schema.get("enum", []))
    if "const" in schema:
        found.add(JSON_TYPE_OF[type(schema["const"])])
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            found |= accepted_types(part)
    if "number" in found:
        found.add("integer")  # JSON Schema: 7 is a number
    return found


FIELDS = [(path, name) for path in API_PATHS for name in _fields(path)]


def wrong_type_body(path: str, name: str, value: Any) -> dict[str, Any]:
    """A body that is valid but for ``name`` holding ``value``."""
    if path == "/luma/videos":
        return {"prompt": PROMPT, "async": True, name: value}
    if name == "ids":
        return {"action": "retrieve_batch", "ids": value}
    return {"action": "retrieve", "id": "some-task", name: value}


@pytest.mark.parametrize(("path", "name"), FIELDS, ids=[f"{p}:{n}" for p, n in FIELDS])
def test_a_wrong_type_is_a_bad_request_naming_the_field(
    server: LiveServer, path: str, name: str
) -> None:
    # the field as the contract has it: null, which means "not given", is no wrong type
    field_schema = contract.bundled(f"acedata/{path.rsplit('/', 1)[1]}-request")["properties"][name]
    allowed = accepted_types(field_schema)
    wrong = {t: v for t, v in ONE_OF_EACH_TYPE.items() if t not in allowed}
    assert wrong, f"{name} accepts every JSON type?"
    for value in wrong.values():
        body = wrong_type_body(path, name, value)
        message = bad_request_message(post_bytes(server, path, json.dumps(body).encode()), path)
        # a null is "not given": a field that must have a value is then missing
        assert message.startswith(f"{name} is required" if value is None else f"{name}: "), message
    if "array" in allowed:  # and a wrong type inside the array
        body = wrong_type_body(path, name, [7])
        message = bad_request_message(post_bytes(server, path, json.dumps(body).encode()), path)
        assert message.startswith(f"{name}[0]: "), message
    assert_still_serving(server)


def nested(depth: int, kind: str = "array") -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


NESTINGS = [
    *(("array", depth) for depth in (100, 1_000, 10_000, 100_000, 500_000)),
    *(("object", depth) for depth in (100, 1_000, 10_000, 100_000)),
]


@pytest.mark.parametrize(("kind", "depth"), NESTINGS)
def test_deeply_nested_json_is_refused_not_crashed_on(
    server: LiveServer, kind: str, depth: int
) -> None:
    """As the whole body (not an object), and as a field's value (wrong type) — under the
    size limit even at 500,000 levels of arrays (1 MB)."""
    document = nested(depth, kind)
    assert len(document) + 40 < LIMIT
    for path in API_PATHS:
        bad_request_message(post_bytes(server, path, document.encode()), path)
    as_prompt = '{"prompt": ' + document + "}"
    message = bad_request_message(
        post_bytes(server, "/luma/videos", as_prompt.encode()), "/luma/videos"
    )
    assert message.startswith("prompt: ") or "nested" in message, message
    assert_still_serving(server)


def test_huge_strings_and_bodies_around_the_size_limit(server: LiveServer) -> None:
    path = "/luma/videos"
    frame = json.dumps({"prompt": "", "async": True})
    exactly = json.dumps({"prompt": "p" * (LIMIT - len(frame)), "async": True}).encode()
    assert len(exactly) == LIMIT
    accepted = post_bytes(server, path, exactly)
    task_id = assert_in_contract(accepted, path)["task_id"]
    record = server.post("/luma/tasks", {"action": "retrieve", "id": task_id}).json()
    assert len(record["request"]["prompt"]) == LIMIT - len(frame)

    over = post_bytes(server, path, exactly[:-1] + b" }")
    assert over.status_code == 413
    assert assert_in_contract(over, path)["error"]["code"] == "request_too_large"

    huge_url = "https://media.example.test/" + "a" * 500_000
    for name in ("start_image_url", "end_image_url"):
        body = {"prompt": PROMPT, "async": True, name: huge_url}
        assert_in_contract(post_bytes(server, path, json.dumps(body).encode()), path, body)
    extend = {"prompt": PROMPT, "async": True, "action": "extend", "video_url": huge_url}
    assert_in_contract(post_bytes(server, path, json.dumps(extend).encode()), path, extend)
    unknown_name = {"prompt": PROMPT, "async": True, "k" * 500_000: 1}
    assert_in_contract(post_bytes(server, path, json.dumps(unknown_name).encode()), path)
    many_fields = {"prompt": PROMPT, "async": True, **{f"f{i}": i for i in range(40_000)}}
    assert_in_contract(post_bytes(server, path, json.dumps(many_fields).encode()), path)
    many_ids = {"action": "retrieve_batch", "ids": [f"id-{i}" for i in range(20_000)]}
    batch = post_bytes(server, "/luma/tasks", json.dumps(many_ids).encode())
    assert assert_in_contract(batch, "/luma/tasks") == {"items": [], "count": 0}
    assert_still_serving(server)


# -- methods and content types ----------------------------------------------------------


def served_paths() -> dict[str, set[str]]:
    """Every path the app routes (parameters filled in) with the methods it allows,
    read from the app's own routes so a new route is covered without a test change."""
    app = create_app(LumaService(Settings(clock="manual")))
    samples = {"task_id": "some-task", "rule_id": "1", "seq": "1", "name": "dashboard.js"}
    samples["payer"] = "0x" + "ab" * 20  # an x402 payer's balance (/__admin/x402/balances/…)
    paths: dict[str, set[str]] = {}
    for route, methods in served_routes(app).items():
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples[m.group(1)], route)
        paths.setdefault(path, set()).update(methods)
    return paths


SERVED = served_paths()
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "PROPFIND")


@pytest.mark.parametrize("path", sorted(SERVED))
def test_wrong_methods_on_every_path_are_405_with_allow(server: LiveServer, path: str) -> None:
    allowed = SERVED[path]
    for method in METHODS:
        if method in allowed:
            continue
        answer = request(server, method, path)
        assert answer.status_code == 405, (method, path, answer.status_code)
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) == allowed, method
        if method != "HEAD":  # a HEAD answer has no body
            body = assert_error_envelope(405, answer.json())
            assert body["error"]["code"] == "method_not_allowed"
    assert_still_serving(server)


@pytest.mark.parametrize("path", ["/luma/videos", "/health", "/nowhere"])
def test_a_method_no_registry_knows_is_a_bad_request_naming_it(
    server: LiveServer, path: str
) -> None:
    # HTTP's parser (llhttp, as in Node.js) knows every registered method; another
    # token cannot be parsed past, so it gets a 400 instead of a 405 with Allow.
    answer = request(server, "BREW", path)
    assert answer.status_code == 400
    assert "'BREW'" in assert_error_envelope(400, answer.json())["error"]["message"]
    assert_still_serving(server)


def test_unknown_paths_are_404_for_every_method(server: LiveServer) -> None:
    for path in ("/nowhere", "/luma", "/luma/videos/extra", "/__admin/nothing", "/%00", "/.."):
        for method in ("GET", "POST", "PUT", "DELETE", "PROPFIND"):
            answer = request(server, method, path)
            assert answer.status_code == 404, (method, path)
            assert assert_error_envelope(404, answer.json())["error"]["code"] == "not_found"
    assert_still_serving(server)


WRONG_CONTENT_TYPES = [
    None,
    "",
    "text/plain",
    "text/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "application/jsonx",
    "application/octet-stream",
    "json",
]
RIGHT_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/vnd.api+json",
]


@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES)
@pytest.mark.parametrize("path", API_PATHS)
def test_a_wrong_or_missing_content_type_is_a_bad_request_naming_it(
    server: LiveServer, path: str, content_type: str | None
) -> None:
    body = {"prompt": PROMPT, "async": True} if path == "/luma/videos" else {"action": "retrieve"}
    answer = post_bytes(server, path, json.dumps(body).encode(), content_type)
    assert "content-type" in bad_request_message(answer, path)


@pytest.mark.parametrize("content_type", RIGHT_CONTENT_TYPES)
def test_json_content_types_in_any_spelling_are_accepted(
    server: LiveServer, content_type: str
) -> None:
    body = {"prompt": PROMPT, "async": True}
    answer = post_bytes(server, "/luma/videos", json.dumps(body).encode(), content_type)
    assert answer.status_code == 200 and "task_id" in assert_in_contract(answer, "/luma/videos")


# -- broken HTTP on a raw socket --------------------------------------------------------

VIDEOS_HEADERS = {**AUTH, "Content-Type": "application/json"}
SMALL = json.dumps({"prompt": PROMPT, "async": True}).encode()


def post_line(extra: list[bytes], body: bytes = SMALL, close: bool = True) -> bytes:
    """POST /luma/videos with a valid token and content type, ``extra`` header lines."""
    return http_request(
        "POST", "/luma/videos", headers=VIDEOS_HEADERS, body=body, extra_lines=extra, close=close
    )


@dataclass(frozen=True)
class Broken:
    """A request broken below HTTP's surface, and the first status it may get (None: the
    server may just close the connection)."""

    payload: bytes
    statuses: frozenset[int | None]


def broken(payload: bytes, *statuses: int | None) -> Broken:
    return Broken(payload, frozenset(statuses))


BROKEN_HTTP = {
    "garbage request line": broken(b"\x16\x03\x01\x02 not http at all\r\n\r\n", 400, None),
    "unknown HTTP version": broken(b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400, 505),
    "blank lines only": broken(b"\r\n\r\n\r\n\r\n", 400, None),
    "NUL in the path": broken(b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\n\r\n", 400, 404),
    "header without colon": broken(
        http_request("GET", "/health", extra_lines=[b"NoColonHere"]), 400, 200
    ),
    "absurd Content-Length": broken(post_line([b"Content-Length: 99999999999999999999999"]), 413),
    "Content-Length over the limit, body cut": broken(
        post_line([b"Content-Length: 8388608"], body=b"{" + b" " * 60_000), 413
    ),
    "negative Content-Length": broken(post_line([b"Content-Length: -5"]), 400),
    "Content-Length not a number": broken(post_line([b"Content-Length: fourteen"]), 400),
    "body shorter than Content-Length, then close": broken(
        post_line([b"Content-Length: %d" % (len(SMALL) + 50)]), 400
    ),
    "chunk size not hex": broken(
        post_line([b"Transfer-Encoding: chunked"], body=b"zz\r\n" + SMALL + b"\r\n0\r\n\r\n"), 400
    ),
    "chunk size absurd": broken(
        post_line([b"Transfer-Encoding: chunked"], body=b"FFFFFFFFFFFFFFFFFFFF\r\n" + SMALL), 400
    ),
    "chunk longer than the data, then close": broken(
        post_line([b"Transfer-Encoding: chunked"], body=b"1000\r\n" + SMALL), 400
    ),
    "no terminating chunk, then close": broken(
        post_line([b"Transfer-Encoding: chunked"], body=b"%x\r\n%s\r\n" % (len(SMALL), SMALL)),
        400,
    ),
    "chunked, then garbage after the last chunk": broken(
        post_line([b"Transfer-Encoding: chunked"], body=chunked(SMALL) + b"\x00garbage"), 200
    ),
    # The server may answer and close before it has read all of these: then the
    # unread rest makes the close a reset, which can overtake the answer.
    "a 200 kB header": broken(
        http_request("GET", "/health", extra_lines=[b"X-Big: " + b"a" * 200_000]), 400, 431, None
    ),
    "a 100 kB request line": broken(http_request("GET", "/" + "a" * 100_000), 414, 400, None),
    "nothing at all": broken(b"", None),
}


def assert_answers_in_contract(exchange: RawExchange) -> None:
    """No 5xx on the wire; every JSON answer (the app's) in the contract."""
    for answer in exchange.answers:
        assert answer.status < 500, answer
        if answer.is_json and answer.status >= 400:
            assert_error_envelope(answer.status, answer.json())


@pytest.mark.parametrize("name", BROKEN_HTTP)
def test_broken_http_gets_a_4xx_or_a_closed_connection(server: LiveServer, name: str) -> None:
    case = BROKEN_HTTP[name]
    exchange = raw_exchange(server, case.payload)
    assert not exchange.timed_out, "the server neither answered nor closed"
    answers = exchange.answers
    first = answers[0].status if answers else None
    assert first in case.statuses, (first, exchange.data[:300])
    assert_answers_in_contract(exchange)
    assert_still_serving(server)


def test_conflicting_content_lengths_are_refused(server: LiveServer) -> None:
    payload = post_line([b"Content-Length: %d" % len(SMALL), b"Content-Length: 3"])
    exchange = raw_exchange(server, payload)
    assert exchange.first.status == 400


def test_a_framing_error_gets_exactly_one_answer(server: LiveServer) -> None:
    body = b"zz\r\n" + SMALL + b"\r\n0\r\n\r\n"
    keep_alive = post_line([b"Transfer-Encoding: chunked"], body=body, close=False)
    exchange = raw_exchange(server, keep_alive)
    assert [a.status for a in exchange.answers] == [400]


def test_a_chunked_body_over_the_limit_is_413(server: LiveServer) -> None:
    body = b'{"prompt": "x", "async": true}' + b" " * (2 * LIMIT)
    exchange = raw_exchange(server, post_line([b"Transfer-Encoding: chunked"], body=chunked(body)))
    assert exchange.first.status == 413
    assert exchange.first.json()["error"]["code"] == "request_too_large"


def test_too_many_headers_leave_no_traceback_in_the_log() -> None:
    with live_server("--delay", "instant") as fresh:
        headers = b"".join(b"X-Header-%d: v\r\n" % i for i in range(150))
        payload = b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n"
        exchange = raw_exchange(fresh, payload)
        assert exchange.first.status in (400, 431)
        assert_still_serving(fresh)
        output = fresh.stop()
    assert "Traceback" not in output


def test_expect_continue_is_answered_only_while_the_body_is_awaited(server: LiveServer) -> None:
    expect = [b"Content-Length: %d" % len(SMALL), b"Expect: 100-continue"]
    # The body came with the head: one answer, and no stray 100 after it.
    together = raw_exchange(server, post_line(expect, close=False))
    assert [a.status for a in together.answers] == [200]
    assert b"100 Continue" not in together.data
    # The client waits for the go-ahead before sending the body.
    head = post_line(expect)[: -len(SMALL)]
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as raw:
        raw.sendall(head)
        assert raw.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        raw.sendall(SMALL)
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}"):
            received += raw.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 ")


def test_an_upgrade_is_answered_as_http_and_the_connection_closed(server: LiveServer) -> None:
    payload = (
        http_request(
            "GET",
            "/health",
            extra_lines=[b"Connection: Upgrade", b"Upgrade: h2c"],
            close=False,
        )
        + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # what an h2c client sends next
    )
    exchange = raw_exchange(server, payload, half_close=False)
    assert not exchange.timed_out and [a.status for a in exchange.answers] == [200]


def test_a_304_has_no_body_and_the_connection_goes_on(server: LiveServer) -> None:
    result = post_bytes(server, "/luma/videos", json.dumps({"prompt": PROMPT}).encode()).json()
    video = "/" + result["video_url"].split("/", 3)[3]
    unchanged = http_request(
        "GET", video, extra_lines=[b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"], close=False
    )
    exchange = raw_exchange(server, unchanged + http_request("GET", "/health"))
    first, then = exchange.answers
    assert (first.status, first.body, then.status) == (304, b"", 200)
    assert "transfer-encoding" not in first.headers


def test_a_pipelined_unknown_method_is_refused_after_the_answers_before_it(
    server: LiveServer,
) -> None:
    payload = http_request("GET", "/health", close=False) + b"BREW /pot HTTP/1.1\r\n\r\n"
    exchange = raw_exchange(server, payload)
    assert [a.status for a in exchange.answers] == [200, 400]
    message = exchange.answers[1].json()["error"]["message"]
    assert message.startswith("unknown HTTP method") and "GET" not in message


# -- in process: what deep nesting does once it is accepted --------------------------


def deepest_accepted(client: FlaskClient) -> int:
    """The deepest nesting, inside an unknown field, that the fake still parses."""
    low, high = 1, 5_000
    while low < high:
        depth = (low + high + 1) // 2
        body = '{"prompt": "x", "async": true, "extra": ' + nested(depth) + "}"
        answer = client.post("/luma/videos", data=body, headers=VIDEOS_HEADERS)
        low, high = (depth, high) if answer.status_code == 200 else (low, depth - 1)
    return low


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    luma = instant_service()
    yield create_app(luma).test_client()
    luma.close()


def test_a_body_of_any_depth_never_breaks_the_journal(client: FlaskClient) -> None:
    """Accepted or refused, however deep, a body is journaled without breaking the
    journal (a deep one once made every later read of it a 500)."""
    deepest = deepest_accepted(client)
    for depth in (deepest, deepest + 1, 500, 960, 5_000):
        body = '{"prompt": "x", "async": true, "extra": ' + nested(depth) + "}"
        client.post("/luma/videos", data=body, headers=VIDEOS_HEADERS)
    journal = client.get("/__admin/journal")
    assert journal.status_code == 200
    assert journal.get_json()["count"] >= 5


def test_a_task_made_from_the_deepest_body_accepted_can_be_retrieved(client: FlaskClient) -> None:
    depth = deepest_accepted(client)
    body = '{"prompt": "x", "async": true, "extra": ' + nested(depth) + "}"
    task_id = client.post("/luma/videos", data=body, headers=VIDEOS_HEADERS).get_json()["task_id"]
    record = client.post("/luma/tasks", json={"action": "retrieve", "id": task_id}, headers=AUTH)
    assert record.status_code == 200


def test_patterns_mean_what_json_schema_says(client: FlaskClient) -> None:
    for body in (
        {"prompt": PROMPT, "async": True, "start_image_url": "https://media.example.test/a\x1fb"},
        {"prompt": "\x1f", "async": True},
        {"prompt": "\x85", "async": True},
    ):
        answer = client.post("/luma/videos", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.get_json()


# -- Schemathesis against the fake's own OpenAPI document ---------------------------------

ST_TOKEN = "schemathesis-token"
ST_MAX_EXAMPLES = "25"

# Loaded by Schemathesis (SCHEMATHESIS_HOOKS): in a positive case, a callback_url points
# at a loopback port that refuses, so the fake never calls a generated host.
HOOKS = """
import os

import schemathesis

CALLBACK_URL = os.environ["LUMA_HARDENING_CALLBACK_URL"]


@schemathesis.hook
def map_case(context, case):
    positive = case.meta is None or case.meta.generation.mode.value == "positive"
    body = case.body
    if positive and isinstance(body, dict) and isinstance(body.get("callback_url"), str):
        case.body = {**body, "callback_url": CALLBACK_URL}
    return case
"""


@dataclass(frozen=True)
class StFailure:
    """One failed check of a Schemathesis run: its code, the operation, and the error
    message of the fake's answer (if it was an error envelope)."""

    code: str
    title: str
    operation: str
    answer: str
    request_body: Any

    def __str__(self) -> str:
        return f"{self.code} {self.title} on {self.operation}: {self.answer} <- {self.request_body}"


@dataclass(frozen=True)
class StRun:
    returncode: int
    output: str
    cases: int
    operations: set[str]
    failures: list[StFailure]
    server_output: str


def _decoded(payload: Any) -> Any:
    if isinstance(payload, dict) and "$base64" in payload:
        raw = base64.b64decode(payload["$base64"])
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    return payload


def read_report(path: Path) -> tuple[int, set[str], list[StFailure]]:
    cases, operations, failures = 0, set(), []
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if finished is None:
            continue
        recorder = finished["recorder"]
        operations.add(recorder["label"])
        # A phase that made no case (one with nothing to cover) records its label only.
        cases += len(recorder.get("cases", ()))
        for case_id, checks in recorder.get("checks", {}).items():
            for result in checks:
                if result["status"] != "failure":
                    continue
                failure = result["failure_info"]["failure"]
                interaction = recorder["interactions"].get(case_id) or {}
                answer = _decoded((interaction.get("response") or {}).get("content"))
                if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
                    answer = answer["error"].get("message")
                body = recorder["cases"][case_id]["value"].get("body")
                failures.append(
                    StFailure(
                        failure["code"], failure["title"], failure["operation"], str(answer), body
                    )
                )
    return cases, operations, failures


FAKE_FOR_SCHEMATHESIS = (
    *("--delay", "instant", "--token", ST_TOKEN),  # a token it must not ignore (ST401)
    *("--callback-allow", "127.0.0.1", "--callback-retries", "0"),
)


def schemathesis_command(st_command: str, fake: LiveServer, report: Path) -> list[str]:
    """``st run`` against the fake's own document, every check on, deterministic and
    bounded (CI time)."""
    return [
        *(st_command, "run", f"{fake.url}/openapi.json", "--url", fake.url),
        *("-H", f"Authorization: Bearer {ST_TOKEN}"),
        *("--checks", "all", "--max-examples", ST_MAX_EXAMPLES, "--generation-deterministic"),
        *("--workers", "1", "--request-timeout", "20", "--no-color"),
        *("--report", "ndjson", "--report-ndjson-path", str(report)),
    ]


@pytest.fixture(scope="module")
def schemathesis_run(tmp_path_factory: pytest.TempPathFactory) -> StRun:
    pytest.importorskip("schemathesis")
    st_command = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st_command is not None, "schemathesis is installed but its st command is not"
    work = tmp_path_factory.mktemp("schemathesis")
    hooks = work / "luma_hooks.py"
    hooks.write_text(HOOKS, encoding="utf-8")
    report = work / "events.ndjson"
    with socket.socket() as refusing, live_server(*FAKE_FOR_SCHEMATHESIS) as fake:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        callback_url = f"http://127.0.0.1:{refusing.getsockname()[1]}/callback"
        ran = subprocess.run(
            schemathesis_command(st_command, fake, report),
            cwd=work,  # its cache of past failures lives here, not in the checkout
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": str(hooks),
                "LUMA_HARDENING_CALLBACK_URL": callback_url,
            },
            capture_output=True,
            text=True,
            timeout=240,
        )
        server_output = fake.stop()
    cases, operations, failures = read_report(report)
    output = ran.stdout + ran.stderr
    return StRun(ran.returncode, output, cases, operations, failures, server_output)


def test_schemathesis_ran_every_operation_and_left_no_traceback(schemathesis_run: StRun) -> None:
    assert schemathesis_run.operations == {"POST /luma/videos", "POST /luma/tasks"}
    assert schemathesis_run.cases >= 100, schemathesis_run.output[-2000:]
    assert "Traceback" not in schemathesis_run.server_output


def test_schemathesis_passes_every_check(schemathesis_run: StRun) -> None:
    assert schemathesis_run.returncode == 0 and not schemathesis_run.failures, "\n".join(
        str(f) for f in schemathesis_run.failures
    )


# -- last: the fuzzed server's log ---------------------------------------------------------


def test_the_fuzzed_server_logged_no_traceback(server: LiveServer) -> None:
    """Runs last in this module: stops the shared server and reads all it printed."""
    assert_still_serving(server)
    output = server.stop()
    assert server.process.returncode == 0
    assert "Traceback" not in output
    assert "unexpected error" not in output
