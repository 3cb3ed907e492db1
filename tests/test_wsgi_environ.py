"""One request reads the same to the app over the fake's socket server and through its
in-process transports (both build the environ with `mock_server.web.wsgi`), decoded as
PEP 3333 says: a percent-encoded path, a query string, repeated headers and a body."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from mock_server.web.transports import httpx_transport, responses_mock
from tests.environ_echo import app as echo

ROOT = Path(__file__).resolve().parent.parent
# "café /x": UTF-8 and an encoded slash and space in the path, all percent-encoded.
PATH = "/echo/caf%C3%A9%20%2Fx"
QUERY = "a=1&a=2&q=caf%C3%A9+x&empty="
BODY = '{"prompt": "café"}'.encode()


@pytest.fixture(scope="module")
def socket_url() -> Iterator[str]:
    """The echo app on the fake's socket server, in a process of its own (gevent's)."""
    served = subprocess.Popen(
        [sys.executable, "-m", "tests.environ_echo"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert served.stdout is not None
        url = served.stdout.readline().strip()  # its URL, once it listens
        assert url.startswith("http://127.0.0.1:"), "the echo server did not start"
        yield url
    finally:
        served.terminate()
        served.wait(timeout=10)


def expect_read_as_pep_3333(seen: dict[str, Any]) -> None:
    cgi = seen["cgi"]
    assert cgi["PATH_INFO"] == "/echo/café /x".encode().decode("latin-1")  # bytes as latin-1
    assert seen["path"] == "/echo/café /x"  # what the app reads, decoded as UTF-8
    assert cgi["QUERY_STRING"] == QUERY  # as sent
    assert seen["args"] == {"a": ["1", "2"], "q": ["café x"], "empty": [""]}
    assert cgi["CONTENT_LENGTH"] == str(len(BODY))
    assert seen["content_length"] == len(BODY)
    assert seen["content_type"] == "application/json; charset=utf-8"
    assert seen["body"] == BODY.decode()
    assert "HTTP_X_UNDER_SCORE" not in cgi  # would pass for X-Under-Score: dropped
    assert seen["input_terminated"] is True


def test_httpx_over_the_socket_and_through_the_transport_read_the_same(socket_url: str) -> None:
    url = f"{socket_url}{PATH}?{QUERY}"
    headers = [
        ("X-Tag", "first"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("X-Tag", "second, third"),
        ("X_Under_Score", "smuggled"),
    ]
    with httpx.Client(timeout=10) as client:
        over_socket = client.post(url, headers=headers, content=BODY)
    with httpx.Client(transport=httpx_transport(echo)) as client:
        in_process = client.post(url, headers=headers, content=BODY)
    assert over_socket.status_code == in_process.status_code == 200
    seen = over_socket.json()
    expect_read_as_pep_3333(seen)
    # A repeated field is one value, its fields in the order they came.
    assert seen["cgi"]["HTTP_X_TAG"] == "first,second, third"
    assert seen["tags"] == ["first,second, third"]
    assert in_process.json() == seen


def test_requests_over_the_socket_and_through_responses_read_the_same(socket_url: str) -> None:
    url = f"{socket_url}{PATH}?{QUERY}"
    headers = {
        "X-Tag": "first",
        "Content-Type": "application/json; charset=utf-8",
        "X_Under_Score": "smuggled",
    }
    over_socket = requests.post(url, headers=headers, data=BODY, timeout=10)
    with responses_mock(echo, base_urls=[socket_url]):
        in_process = requests.post(url, headers=headers, data=BODY, timeout=10)
    assert over_socket.status_code == in_process.status_code == 200
    seen = over_socket.json()
    expect_read_as_pep_3333(seen)
    assert seen["cgi"]["HTTP_HOST"] == socket_url.removeprefix("http://")
    assert in_process.json() == seen
