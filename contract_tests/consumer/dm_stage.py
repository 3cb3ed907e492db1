"""The fake a Dream Machine client is checked against: ``luma-mock``'s own app (both
dialects, a manual clock) served on a loopback socket in this process, behind an `Ear`
that hears every request the client sends — headers and arrival time included, which
the fake's journal does not keep — and lets a case act on what it hears (add a header
to an answer, finish a generation after the client's third poll).

Why in process: timing a client's retries needs the moment each request arrived, which
only a listener in front of the app sees; a case puts the client in a situation through
the fake's scenario rules (a 429 with ``Retry-After``, a 500, a 400), added directly.
(Not yet here: faults below HTTP — a reset, a hang — which the AceData suite plays
through the fake's own server.)
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.fake import Fake
from mock_server.web.app import create_app

from ..checks.dm_client_calls import Heard
from ..contract.packs import pack as dialect
from ..contract.packs import packs

DREAM_MACHINE = "dream-machine"


SETUP_HEADER = "x-luma-mock-suite"  # marks the suite's own requests: the ear skips them
QUEUE, WORK = 2.0, 60.0  # how long a generation waits, then dreams (fake seconds)
Act = Callable[[Heard], dict[str, str] | None]  # may return headers to add to the answer


class Ear:
    """WSGI middleware: note each request (not the suite's own) and its answer; ``act``
    (set per case) sees each before it is answered and may add answer headers."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.heard: list[Heard] = []
        self.act: Act | None = None
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_" + SETUP_HEADER.upper().replace("-", "_")):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        seen = Heard(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", ""),
            dict(parse_qsl(environ.get("QUERY_STRING", ""))),
            headers,
            _json(raw),
            time.monotonic(),
        )
        with self.lock:
            self.heard.append(seen)
        extra = self.act(seen) if self.act is not None else None
        caught: dict[str, Any] = {}

        def catch(status: str, answer_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            caught["status"], caught["headers"] = (
                status,
                answer_headers + list((extra or {}).items()),
            )
            return start_response(status, caught["headers"], exc_info)

        content = b"".join(self.app(environ, catch))
        seen.status = int(caught["status"].split()[0])
        seen.answer_headers = {k.lower(): v for k, v in caught["headers"]}
        seen.answer = _json(content)
        return [content]

    def since(self, mark: int) -> list[Heard]:
        with self.lock:
            return self.heard[mark:]


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class DmStage:
    """The fake on a loopback port, its Dream Machine engine, and the ear in front."""

    def __init__(self, token: str) -> None:
        settings = Settings(
            clock="manual",
            delays=DelayModel(Fixed(QUEUE), Fixed(WORK), Fixed(WORK)),
            tokens=(token,),
            seed=7,
        )
        # Every registered dialect, as `luma-mock serve` serves them; this stage drives one.
        dialects = [pack.load_fake() for pack in packs()]
        self.fake = Fake(dialects, settings, clock=ManualClock(1_700_000_000.0))
        self.engine = self.fake.engines[DREAM_MACHINE]
        self.ear = Ear(create_app(self.fake))
        self.token = token
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self.ear, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.base_url = self.url + dialect(DREAM_MACHINE).path_prefix
        self._session: Any = None

    def reset(self) -> None:
        self.fake.reset()
        self.ear.act = None

    def add_rule(self, rule: dict[str, Any]) -> None:
        self.engine.scenarios.add(rule)

    def make(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A generation of the suite's own (not heard), left queued on the manual clock."""
        import requests

        if self._session is None:
            self._session = requests.Session()
        answer = self._session.post(
            self.base_url + "/generations/video",
            json=body or {"model": "ray-2", "prompt": "a generation the suite made"},
            headers={"authorization": f"Bearer {self.token}", SETUP_HEADER: "setup"},
            timeout=10,
        )
        answer.raise_for_status()
        return dict(answer.json())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        if self._session is not None:
            self._session.close()
        self.fake.close()
