"""``POST /__x402/solana``: the fake's own Solana JSON-RPC node, named in the Solana
offer's ``extra.rpcUrl`` (`mock_server.x402.solana_rpc` answers; this is its HTTP side).
Served only when the fake plays the x402 gateway. Every answer is JSON-RPC 2.0, errors
too — a body that is no JSON is a parse error, never the dialect's error or a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request

from ..engine.config import Settings
from ..engine.errors import ApiError
from .exchanges import parse_json
from .rendering import render, service

if TYPE_CHECKING:  # the node needs solders (luma-mock[x402]): loaded with the gateway only
    from ..x402.solana_rpc import SolanaRpc

EXTENSION = "luma_x402_solana"  # the app's `SolanaRpc`


def install(app: Flask, settings: Settings) -> None:
    """Serve the node of the gateway ``settings`` describe on ``app`` (a fake that is no
    gateway has no node: the path is then unknown)."""
    from ..x402.offers import FEE_PAYER, SOLANA_RPC_PATH
    from ..x402.solana_rpc import SolanaRpc

    app.extensions[EXTENSION] = SolanaRpc(settings.x402_pay_to_solana, FEE_PAYER)
    app.add_url_rule(SOLANA_RPC_PATH, "solana_rpc", answer, methods=["POST"])


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
