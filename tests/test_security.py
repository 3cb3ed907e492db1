"""Security defaults: the fake listens on loopback unless told otherwise; its control API
is off beyond loopback without a control token, and with one every control call needs
it; callbacks never go to link-local or cloud-metadata addresses (refused when submitted
and, for names that resolve there, when delivered); tokens never reach the request log
(text or JSON) nor the journal.

Nothing here binds or talks to anything but 127.0.0.1: the non-loopback settings are
tried in process, with Flask's test client, and DNS answers are played by a stand-in.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from mock_server import cli
from mock_server.acedata.service import LumaService
from mock_server.engine.config import Settings, load
from mock_server.engine.errors import ApiError
from mock_server.engine.journal import redact
from mock_server.web.admin import is_loopback
from mock_server.web.app import create_app
from tests.hardening_support import assert_error_envelope
from tests.support import AUTH, PROMPT, live_server, manual_service

# -- where it listens -------------------------------------------------------------------


def test_the_default_host_is_loopback() -> None:
    assert Settings().host == "127.0.0.1"
    assert load({"host": None}, environ={}).host == "127.0.0.1"
    # The flag has no default of its own, so the setting's default (loopback) applies.
    flag = cli._parser().parse_args(["serve"]).host
    assert flag is None
    assert is_loopback(load({"host": flag}, environ={}).host)


def listening_addresses(port: int) -> set[str]:
    """The local addresses listening on ``port``, read from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(str(ipaddress.IPv4Address(raw[::-1])))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(str(ipaddress.IPv6Address(words)))
    return found


def test_a_server_started_without_host_listens_on_loopback_only() -> None:
    with live_server("--delay", "instant") as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert server.banner[0].strip() == f"luma-mock listening on {server.url}"
        port = int(server.url.rsplit(":", 1)[1])
        if Path("/proc/net/tcp").exists():
            assert listening_addresses(port) == {"127.0.0.1"}
        server.stop()


# -- the control API --------------------------------------------------------------------


def control_calls() -> list[tuple[str, str]]:
    """Every control route and method, read from the app's URL map."""
    app = create_app(LumaService(Settings(clock="manual")))
    samples = {"task_id": "some-task", "rule_id": "1", "seq": "1", "name": "dashboard.js"}
    samples["payer"] = "0x" + "ab" * 20  # an x402 payer's balance (/__admin/x402/balances/…)
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/__admin"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: samples[m.group(1)], rule.rule)
        calls += [(method, path) for method in sorted(rule.methods or ()) if method != "OPTIONS"]
    return calls


CONTROL_CALLS = control_calls()
BEYOND_LOOPBACK = ["0.0.0.0", "::", "192.0.2.10", "2001:db8::1", "luma.example.test"]
LOOPBACK = ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]


def client_for(**settings: Any) -> FlaskClient:
    luma = manual_service(**settings)
    return create_app(luma).test_client()


def control_call(client: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    return client.open(path, method=method, **kwargs)


def test_there_are_control_calls_to_guard() -> None:
    assert len(CONTROL_CALLS) >= 15
    assert ("GET", "/__admin/journal") in CONTROL_CALLS


@pytest.mark.parametrize("host", BEYOND_LOOPBACK)
def test_the_control_api_is_off_beyond_loopback_without_a_control_token(host: str) -> None:
    client = client_for(host=host)
    for method, path in CONTROL_CALLS:
        answer = control_call(client, method, path, headers=AUTH, json={})
        assert answer.status_code == 404, (method, path, answer.status_code)
        if method != "HEAD":
            body = assert_error_envelope(404, answer.get_json())
            assert "control API is off" in body["error"]["message"]
    # The Luma API itself still serves.
    accepted = client.post("/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH)
    assert accepted.status_code == 200


@pytest.mark.parametrize("host", LOOPBACK)
def test_the_control_api_is_on_at_loopback(host: str) -> None:
    client = client_for(host=host)
    assert client.get("/__admin/clock").status_code == 200


CONTROL_TOKEN = "control-" + uuid.uuid4().hex
DASHBOARD_FILES = ("/__admin/", "/__admin/dashboard/dashboard.js")


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_with_a_control_token_every_control_call_needs_it(host: str) -> None:
    client = client_for(host=host, control_token=CONTROL_TOKEN)
    refused = {
        "no authorization": {},
        "the API token": AUTH,
        "a wrong token": {"Authorization": f"Bearer {CONTROL_TOKEN}x"},
        "a prefix of it": {"Authorization": f"Bearer {CONTROL_TOKEN[:-1]}"},
        "another scheme": {"Authorization": f"Basic {CONTROL_TOKEN}"},
        "the bare token": {"Authorization": CONTROL_TOKEN},
        "an empty bearer": {"Authorization": "Bearer "},
        "another header": {"X-Luma-Mock-Control-Token": CONTROL_TOKEN},
    }
    for method, path in CONTROL_CALLS:
        if path in DASHBOARD_FILES:
            # The dashboard's page and files hold no data, and a browser cannot send a
            # header when it opens a page: served without the token, which the page then
            # asks for and sends with every call it makes.
            answer = control_call(client, method, path)
            assert answer.status_code == 200 and CONTROL_TOKEN not in answer.get_data(as_text=True)
            continue
        for what, headers in refused.items():
            answer = control_call(client, method, path, headers=headers, json={})
            assert answer.status_code == 401, (method, path, what, answer.status_code)
            if method != "HEAD":
                body = assert_error_envelope(401, answer.get_json())
                assert body["error"]["code"] == "invalid_token"
                assert CONTROL_TOKEN not in answer.get_data(as_text=True)
        bearer = {"Authorization": f"Bearer {CONTROL_TOKEN}"}
        # timeout 0: a long-poll on a task that does not exist gives up at once
        allowed = control_call(client, method, path, headers=bearer, json={"timeout": 0})
        assert allowed.status_code != 401, (method, path)


# -- callback targets -------------------------------------------------------------------

METADATA_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",  # ECS task credentials
    "https://169.254.0.1:8443/",
    "http://[fe80::1]/callback",
    "http://[fe80::a9fe:a9fe%25eth0]/callback",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[FD00:EC2:0:0::254]/",
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.Google.Internal/",
    "http://user:pass@169.254.169.254/",
    "http://example.com@169.254.169.254/",
]


@pytest.mark.parametrize("url", METADATA_TARGETS)
def test_metadata_and_link_local_callbacks_are_refused_at_submission(url: str) -> None:
    luma = manual_service()
    client = create_app(luma).test_client()
    for extra in ({}, {"async": True}):
        body = {"prompt": PROMPT, "callback_url": url, **extra}
        answer = client.post("/luma/videos", json=body, headers=AUTH)
        envelope = assert_error_envelope(400, answer.get_json())
        assert envelope["error"]["message"].startswith("callback_url: "), envelope
    assert len(luma.store) == 0  # no task, so nothing will ever be sent


def test_a_metadata_host_written_with_a_trailing_dot_is_refused_at_submission() -> None:
    client = create_app(manual_service()).test_client()
    body = {"prompt": PROMPT, "async": True, "callback_url": "http://metadata.google.internal./"}
    assert client.post("/luma/videos", json=body, headers=AUTH).status_code == 400


class NoNetwork:
    """Stands in for the dispatcher's sender: records what would have been sent, and
    fails the attempt, so no test here can ever reach a metadata address."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def post(self, target: Any, path: str, body: bytes, timeout: float) -> int:
        self.sent.append(f"{target.address}:{target.port}{path}")
        raise ConnectionError(f"the test sends nothing: {target.address}")


FORBIDDEN_ADDRESSES = [
    "169.254.169.254",
    "fe80::1",
    "fd00:ec2::254",
    "100.100.100.200",
    "::ffff:169.254.169.254",  # the same, IPv4-mapped
    "::ffff:100.100.100.200",
]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the test makes resolve to addresses of its choice. Anything else resolves
    only if it is numeric (``AI_NUMERICHOST``): no lookup ever leaves the machine."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower() in answers:
            infos = []
            for address in answers[host.lower()]:
                v6 = ":" in address
                family = socket.AF_INET6 if v6 else socket.AF_INET
                where = (address, port or 80, 0, 0) if v6 else (address, port or 80)
                infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", where))
            return infos
        kwargs["flags"] = kwargs.get("flags", 0) | socket.AI_NUMERICHOST
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def deliver_once(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, NoNetwork, Any]:
    """Submit a task with callback ``url`` on a manual clock and let it finish, which
    makes the first delivery attempt: returns the delivery, what would have been sent,
    and the service."""
    luma = manual_service()
    wire = NoNetwork()
    monkeypatch.setattr(luma.callbacks, "_sender", wire)
    answer = luma.videos(
        {"prompt": PROMPT, "callback_url": url}, token="t", base_url="http://fake.test"
    )
    luma.advance(120)
    return luma.delivery(answer["task_id"]), wire, luma


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
def test_a_name_resolving_to_a_metadata_address_is_refused_at_delivery(
    address: str, dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dns["hooks.rebinding.example.test"] = ["93.184.216.34", address]
    delivery, wire, luma = deliver_once("http://hooks.rebinding.example.test/cb", monkeypatch)
    assert delivery.state == "refused" and len(delivery.attempts) == 1
    assert delivery.attempts[0].error.startswith("refused: ")
    assert wire.sent == []
    logged = luma.journal.entries(kind="callback")
    assert [entry.error for entry in logged] == [delivery.attempts[0].error]
    luma.advance(600)
    assert len(delivery.attempts) == 1  # a refusal is final: no retry


@pytest.mark.parametrize(
    "url",
    [
        "http://2852039166/",  # 169.254.169.254 as one number
        "http://0xa9fea9fe/",
        "http://0251.0376.0251.0376/",
        "http://metadata.google.internal./",
    ],
)
def test_disguised_metadata_addresses_are_never_called(
    url: str, dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused when submitted, or else when resolved at delivery; never sent."""
    dns["metadata.google.internal."] = ["169.254.169.254"]
    try:
        delivery, wire, _ = deliver_once(url, monkeypatch)
    except ApiError as refusal:
        assert refusal.status == 400 and refusal.message.startswith("callback_url: ")
        return
    assert delivery.state == "refused", delivery.attempts
    assert wire.sent == []


def test_ipv4_mapped_metadata_addresses_are_refused_at_submission() -> None:
    """ipaddress before Python 3.13 does not call ::ffff:169.254.169.254 link-local."""
    client = create_app(manual_service()).test_client()
    for host in ("[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[::ffff:100.100.100.200]"):
        body = {"prompt": PROMPT, "async": True, "callback_url": f"http://{host}/"}
        submitted = client.post("/luma/videos", json=body, headers=AUTH)
        assert submitted.status_code == 400, (host, submitted.get_json())


# -- tokens never in the log nor the journal ----------------------------------------------

API_TOKEN = "sk-api-" + uuid.uuid4().hex
WRONG_TOKEN = "sk-wrong-" + uuid.uuid4().hex
QUERY_TOKEN = "sk-query-" + uuid.uuid4().hex
COOKIE = "session-" + uuid.uuid4().hex
API_KEY = "key-" + uuid.uuid4().hex
SECRETS = (API_TOKEN, WRONG_TOKEN, QUERY_TOKEN, COOKIE, API_KEY, CONTROL_TOKEN)


def use_every_kind_of_call(url: str) -> dict[str, Any]:
    """Calls of every kind, each bearing a secret somewhere a careless log would copy."""
    good = {"Authorization": f"Bearer {API_TOKEN}", "Cookie": f"s={COOKIE}", "X-Api-Key": API_KEY}
    call = requests.Session()
    call.headers.update(good)
    result = call.post(url + "/luma/videos", json={"prompt": PROMPT}, timeout=30).json()
    task_id = result["task_id"]
    call.post(url + "/luma/videos", json={"prompt": PROMPT, "async": True}, timeout=30)
    call.post(url + "/luma/tasks", json={"action": "retrieve", "id": task_id}, timeout=30)
    call.get(f"{url}/luma/{task_id}.jpg?access_token={QUERY_TOKEN}", timeout=30)
    call.post(url + "/luma/videos", data=b"{broken", timeout=30)
    call.post(url + "/nowhere", json={}, timeout=30)
    for wrong in (f"Bearer {WRONG_TOKEN}", WRONG_TOKEN, f"Token {API_TOKEN}"):
        answer = requests.post(
            url + "/luma/videos",
            json={"prompt": PROMPT},
            headers={"Authorization": wrong},
            timeout=30,
        )
        assert answer.status_code == 401
    control = {"Authorization": f"Bearer {CONTROL_TOKEN}"}
    requests.get(url + "/__admin/clock", headers={"Authorization": WRONG_TOKEN}, timeout=30)
    balances = requests.get(url + "/__admin/balances", headers=control, timeout=30)
    assert balances.status_code == 200
    assert API_TOKEN not in balances.text
    journal = requests.get(url + "/__admin/journal", headers=control, timeout=30)
    assert journal.status_code == 200
    call.close()
    return journal.json()


@pytest.fixture(params=["text", "json"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    """(everything the fake printed, its journal) after calls of every kind."""
    log_format = request.param
    with live_server(
        *("--delay", "instant", "--log-format", log_format),
        *("--token", API_TOKEN, "--control-token", CONTROL_TOKEN),
    ) as server:
        journal = use_every_kind_of_call(server.url)
        output = server.stop()
    yield output, journal


def test_no_token_reaches_the_request_log(served: tuple[str, dict[str, Any]]) -> None:
    output, _ = served
    assert "POST /luma/videos" in output or '"path": "/luma/videos"' in output
    for secret in SECRETS:
        assert secret not in output, f"a secret in the log: {secret[:8]}…"
    after_the_banner = output.splitlines()[3:]  # the banner's curl line shows a placeholder
    assert not [line for line in after_the_banner if "Bearer" in line]


def test_the_journal_redacts_every_token(served: tuple[str, dict[str, Any]]) -> None:
    _, journal = served
    text = json.dumps(journal)
    for secret in SECRETS:
        assert secret not in text, f"a secret in the journal: {secret[:8]}…"
    requests_made = [e for e in journal["entries"] if e["kind"] == "request"]
    assert len(requests_made) >= 9
    seen = set()
    for entry in requests_made:
        headers = {name.lower(): value for name, value in entry["headers"].items()}
        if "authorization" in headers:
            seen.add(headers["authorization"])
        if "cookie" in headers:
            assert headers["cookie"] == redact(f"s={COOKIE}")
        if "x-api-key" in headers:
            assert headers["x-api-key"] == redact(API_KEY)
    assert redact(f"Bearer {API_TOKEN}") in seen
    assert redact(f"Bearer {WRONG_TOKEN}") in seen
    assert all(value.startswith(("Bearer …", "…", "Token …")) for value in seen), seen
