"""``luma-mock serve`` with two proposed fixes patched in — NOT the product: a what-if the
load benchmark runs beside the real fake, to show what they would buy.

1. TCP_NODELAY on every accepted connection. gevent's pywsgi sends an answer's headers
   and body in two writes; with Nagle's algorithm on, the body waits for the client's
   delayed ACK of the headers, so every answer after the first on a keep-alive
   connection takes ~40 ms (the first is quick only because of TCP's quick-ack start).
2. A yield (``gevent.sleep(0)``) after each request of a keep-alive connection. Without
   it a connection whose client has already sent its next request is served again at
   once (the read does not block, so the greenlet never yields), starving the others
   and stretching p90/p99.

    python benchmarks/whatif_serve.py serve --port 0 ...   (the same flags as luma-mock)
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from gevent import monkey

    monkey.patch_all()  # as `luma-mock serve` does, before anything uses sockets

    import gevent

    from mock_server import cli
    from mock_server.connection import FaultyConnectionHandler

    handle = FaultyConnectionHandler.handle
    handle_one_request = FaultyConnectionHandler.handle_one_request

    def handle_without_nagle(self: FaultyConnectionHandler) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handle(self)

    def handle_one_then_yield(self: FaultyConnectionHandler) -> object:
        result = handle_one_request(self)
        gevent.sleep(0)
        return result

    FaultyConnectionHandler.handle = handle_without_nagle  # type: ignore[method-assign]
    FaultyConnectionHandler.handle_one_request = handle_one_then_yield  # type: ignore[method-assign]
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
