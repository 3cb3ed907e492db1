"""The callback sender against scripted receivers on real sockets: kept-alive reuse, a
connection the receiver closed meanwhile, every framing of an answer, and the broken
ones (not HTTP, too big, too slow, cut short)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mock_server.engine.sender import MAX_ANSWER, AnswerError, CallbackSender, Target

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

# A receiver's behaviour per request: the bytes to answer with, and whether to close after.
Script = Callable[[int], tuple[bytes, bool]]


class ScriptedReceiver:
    """Accepts connections and answers each request (read up to its JSON body's end) as
    ``script(n)`` says, n counting requests across connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0
        self.hung_up = threading.Condition()  # notified whenever it closes a connection
        self.closed = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._converse(conn)
        finally:
            conn.close()
            with self.hung_up:
                self.closed += 1
                self.hung_up.notify_all()

    def wait_closed(self, count: int) -> None:
        with self.hung_up:
            assert self.hung_up.wait_for(lambda: self.closed >= count, timeout=10)

    def _converse(self, conn: socket.socket) -> None:
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending or not pending.endswith(b"}"):
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
                if pending.startswith(b"\x16"):  # a TLS handshake: keep it, hang up
                    self.requests.append(pending)
                    return
            self.requests.append(pending)
            pending = b""
            answer, close = self.script(len(self.requests))
            if answer:
                conn.sendall(answer)
            if close:
                return

    def target(self) -> Target:
        return Target("127.0.0.1", self.port, False, f"127.0.0.1:{self.port}", "127.0.0.1")

    def close(self) -> None:
        self._listener.close()


@contextmanager
def receiver(script: Script) -> Iterator[ScriptedReceiver]:
    scripted = ScriptedReceiver(script)
    try:
        yield scripted
    finally:
        scripted.close()


def always(answer: bytes, close: bool = False) -> Script:
    return lambda _: (answer, close)


def post(sender: CallbackSender, to: ScriptedReceiver, timeout: float = 5.0) -> int:
    return sender.post(to.target(), "/hook?x=1", b'{"task_id": "t"}', timeout)


def test_the_request_names_the_host_and_carries_the_json_body() -> None:
    with receiver(always(OK)) as to:
        assert post(CallbackSender(), to) == 200
    head, _, body = to.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hook?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{to.port}" in lines and "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines and body == b'{"task_id": "t"}'


def test_a_kept_alive_connection_is_reused() -> None:
    sender = CallbackSender()
    with receiver(always(OK)) as to:
        assert [post(sender, to) for _ in range(5)] == [200] * 5
    assert to.connections == 1 and len(to.requests) == 5


def test_a_connection_the_receiver_closed_is_not_reused() -> None:
    sender = CallbackSender()
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    with receiver(always(closing, close=True)) as to:
        # The receiver closes after each answer without saying so: the sender finds
        # out before the next attempt, not by failing it.
        for attempt in range(1, 4):
            assert post(sender, to) == 200
            to.wait_closed(attempt)
    assert to.connections == 3


def test_connection_close_is_honoured() -> None:
    sender = CallbackSender()
    answer = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    with receiver(always(answer, close=True)) as to:
        assert post(sender, to) == 204
        assert post(sender, to) == 204
    assert to.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nthe end of this body is the close",
    ],
    ids=["chunked", "empty", "close-delimited"],
)
def test_every_framing_of_an_answer_is_read(answer: bytes) -> None:
    close = answer.startswith(b"HTTP/1.0")
    with receiver(always(answer, close=close)) as to:
        assert post(CallbackSender(), to) == int(answer.split()[1])


def test_a_redirect_is_an_answer_not_followed() -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
    with receiver(always(moved)) as to:
        assert post(CallbackSender(), to) == 302
    assert len(to.requests) == 1


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not HTTP"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "without a whole answer"),
        (b"", "without a whole answer"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER + 10)
            + b"x" * (MAX_ANSWER + 10),
            "over",
        ),
    ],
    ids=["not-http", "cut-short", "closed-at-once", "too-big"],
)
def test_a_broken_answer_fails_the_attempt_saying_why(answer: bytes, words: str) -> None:
    with receiver(always(answer, close=True)) as to, pytest.raises(AnswerError) as failed:
        post(CallbackSender(), to)
    assert words in str(failed.value)


def test_a_receiver_slower_than_the_timeout_times_out() -> None:
    with receiver(always(b"")) as to, pytest.raises(TimeoutError) as failed:
        post(CallbackSender(), to, timeout=0.3)
    assert "timed out" in str(failed.value)


def test_a_receiver_that_is_down_is_a_refusal() -> None:
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port = reserved.getsockname()[1]
    target = Target("127.0.0.1", port, False, f"127.0.0.1:{port}", "127.0.0.1")
    with pytest.raises(ConnectionRefusedError):
        CallbackSender().post(target, "/", b"{}", 2.0)


def test_https_speaks_tls_naming_the_host() -> None:
    with receiver(always(OK)) as to:  # hangs up on the handshake: no TLS here
        target = Target("127.0.0.1", to.port, True, f"hooks.test:{to.port}", "hooks.test")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            CallbackSender().post(target, "/", b"{}", 2.0)
    (hello,) = to.requests
    assert hello.startswith(b"\x16\x03") and b"hooks.test" in hello  # the name, by SNI


def test_https_refuses_a_certificate_it_cannot_trust(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the untrusted certificate)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def handshake() -> None:
            conn, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError), server.wrap_socket(conn, True):
                pass

        threading.Thread(target=handshake, daemon=True).start()
        target = Target("127.0.0.1", port, True, f"hooks.test:{port}", "hooks.test")
        with pytest.raises(ssl.SSLCertVerificationError):
            CallbackSender().post(target, "/", b"{}", 5.0)


def test_closing_the_sender_closes_its_idle_connections() -> None:
    sender = CallbackSender()
    with receiver(always(OK)) as to:
        post(sender, to)
        sender.close()
        assert post(sender, to) == 200
    assert to.connections == 2
