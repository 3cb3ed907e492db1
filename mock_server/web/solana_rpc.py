"""``POST /__x402/solana``: the fake's own Solana JSON-RPC node, named in the Solana
offer's ``extra.rpcUrl`` (`mock_server.x402.solana_rpc` answers; this is its HTTP side).
Served only when the fake plays the x402 gateway. Every answer is JSON-RPC 2.0, errors
too — a body that is no JSON is a parse error, never the dialect's error or a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, g, request

from ..engine.errors import ApiError
from .exchanges import parse_json
from .rendering import render, service

if TYPE_CHECKING:  # the node needs solders (luma-mock[x402]): loaded with the gateway only
    from ..x402.solana_rpc import SolanaRpc

PATH = "/__x402/solana"
EXTENSION = "luma_x402_solana"  # the app's `SolanaRpc`

solana_rpc = Blueprint("solana_rpc", __name__)


def install(app: Flask, node: SolanaRpc) -> None:
    """Serve ``node`` at `PATH` on ``app`` (a fake that is no gateway has no node)."""
    app.extensions[EXTENSION] = node
    app.register_blueprint(solana_rpc)


@solana_rpc.post(PATH)
def answer() -> Response:
    """One JSON-RPC request or a batch: the node's answer, HTTP 200 (as a node's)."""
    node: SolanaRpc = current_app.extensions[EXTENSION]
    raw = request.get_data(cache=False)
    g.raw_body = raw
    try:
        g.body = body = parse_json(request.content_type, raw)
    except ApiError as unreadable:
        return render(node.unreadable(unreadable.message))
    return render(node.answer(body, service().clock.now()))
