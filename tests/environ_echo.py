"""An app that answers with what it was handed: the environ's CGI keys and what Flask
(werkzeug) makes of them. ``python -m tests.environ_echo`` serves it on the fake's own
socket server (`mock_server.web.server.make_server`) on a free loopback port, says
its URL on one line and serves until SIGTERM; in process it goes through the fake's
transports. tests/test_wsgi_environ.py compares the two."""

from __future__ import annotations

import signal
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/", defaults={"rest": ""}, methods=["GET", "POST"])
@app.route("/<path:rest>", methods=["GET", "POST"])
def echo(rest: str) -> Any:
    environ = request.environ
    return jsonify(
        {
            # REMOTE_PORT is the client's ephemeral port on a socket and absent without one.
            "cgi": {
                key: value
                for key, value in environ.items()
                if isinstance(value, str) and key != "REMOTE_PORT"
            },
            "input_terminated": environ.get("wsgi.input_terminated"),
            "url_scheme": environ["wsgi.url_scheme"],
            "path": request.path,
            "args": request.args.to_dict(flat=False),
            "tags": request.headers.getlist("X-Tag"),
            "content_type": request.content_type,
            "content_length": request.content_length,
            "body": request.get_data().decode("utf-8"),
        }
    )


def main() -> None:
    import gevent
    from gevent.event import Event

    from mock_server.web.server import make_server

    stopping = Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    server = make_server(
        app, "127.0.0.1", 0, stopping, max_body=1 << 20, refusal_body=lambda code, _: code.encode()
    )
    server.start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    stopping.wait()
    server.stop(timeout=2)


if __name__ == "__main__":
    main()
