"""The fake's own small Solana JSON-RPC node (``POST /__x402/solana``): the calls a
payer's handler makes while it signs — the latest blockhash, and whether the token
accounts of the transfer exist — answered from the fake's clock, so that nothing reaches
a chain. Any other method is a JSON-RPC 2.0 error, as a node answers one it lacks.

Which accounts exist: the fake cannot tell whose associated token account an address
is (it is a hash), so every address it is asked about is an initialized USDC token
account, except the USDC mint itself (a mint of 6 decimals) and the fake's own fee payer
and pay-to wallets (system accounts). The balances shown are not the payer's funds: those
are the gateway's ledger's (``--x402-balance``), which the RPC does not speak for.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from solders.pubkey import Pubkey

from .solana import (
    BLOCKHASH_SLOTS,
    DECIMALS,
    TOKEN_PROGRAM,
    USDC_MINT,
    associated_token_account,
    blockhash_of,
    slot_at,
)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
MAX_ACCOUNTS = 100  # getMultipleAccounts' limit on mainnet nodes
U64_MAX = 2**64 - 1
SYSTEM_PROGRAM = Pubkey.default()  # 111…1: the owner of plain wallets
RENT_EXEMPT = {0: 890_880, 82: 1_461_600, 165: 2_039_280}  # lamports, by data size


class RpcError(Exception):
    """A JSON-RPC error object: ``code`` and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SolanaRpc:
    """The node's answers, for a fake whose pay-to wallet and fee payer are these."""

    def __init__(self, pay_to: str, fee_payer: str, mint: str = USDC_MINT) -> None:
        try:
            wallet = Pubkey.from_string(pay_to)
        except ValueError:
            raise ValueError(
                f"x402_pay_to_solana must be a Solana address (base58 of 32 bytes), not {pay_to!r}"
            ) from None
        self.mint = Pubkey.from_string(mint)
        self.wallets = {wallet, Pubkey.from_string(fee_payer)}
        # The pay-to wallet's token account is the one address whose owner the fake knows.
        self.owners = {associated_token_account(wallet, self.mint): wallet}
        self.methods = {
            "getLatestBlockhash": self._latest_blockhash,
            "getAccountInfo": self._account_info,
            "getMultipleAccounts": self._multiple_accounts,
        }

    def answer(self, request: Any, now: float) -> Any:
        """The answer to one JSON-RPC request, or a list of them to a batch."""
        if isinstance(request, list):
            if not request:
                return _error(None, RpcError(INVALID_REQUEST, "Invalid request: empty batch"))
            return [self._one(each, now) for each in request]
        return self._one(request, now)

    def unreadable(self, detail: str) -> dict[str, Any]:
        """The answer to a body that is no JSON (the web layer reads it)."""
        return _error(None, RpcError(PARSE_ERROR, f"Parse error: {detail}"))

    def _one(self, request: Any, now: float) -> dict[str, Any]:
        ident = request.get("id") if isinstance(request, Mapping) else None
        try:
            if (
                not isinstance(request, Mapping)
                or request.get("jsonrpc") != "2.0"
                or not isinstance(request.get("method"), str)
                or not isinstance(ident, (str, int, type(None)))
            ):
                raise RpcError(INVALID_REQUEST, "Invalid request: jsonrpc 2.0, method, id")
            method = self.methods.get(request["method"])
            if method is None:
                raise RpcError(
                    METHOD_NOT_FOUND,
                    f"Method not found: {request['method']} (the fake's node answers "
                    f"{', '.join(self.methods)})",
                )
            params = request.get("params", [])
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "Invalid params: params is a list")
            result = method(params, slot_at(now))
        except RpcError as error:
            return _error(ident, error)
        return {"jsonrpc": "2.0", "result": result, "id": ident}

    def _latest_blockhash(self, params: list[Any], slot: int) -> dict[str, Any]:
        _config(params, 0)
        return {
            "context": {"slot": slot},
            "value": {
                "blockhash": str(blockhash_of(slot)),
                "lastValidBlockHeight": slot + BLOCKHASH_SLOTS,
            },
        }

    def _account_info(self, params: list[Any], slot: int) -> dict[str, Any]:
        if not params:
            raise RpcError(INVALID_PARAMS, "Invalid params: the account's address is missing")
        encoding = _encoding(_config(params, 1))
        return {"context": {"slot": slot}, "value": self._account(params[0], encoding)}

    def _multiple_accounts(self, params: list[Any], slot: int) -> dict[str, Any]:
        if not params or not isinstance(params[0], list):
            raise RpcError(INVALID_PARAMS, "Invalid params: a list of addresses comes first")
        if len(params[0]) > MAX_ACCOUNTS:
            raise RpcError(INVALID_PARAMS, f"Too many inputs provided; max {MAX_ACCOUNTS}")
        encoding = _encoding(_config(params, 1))
        accounts = [self._account(address, encoding) for address in params[0]]
        return {"context": {"slot": slot}, "value": accounts}

    def _account(self, address: Any, encoding: str) -> dict[str, Any]:
        key = _pubkey(address)
        if key == self.mint:
            owner, data = TOKEN_PROGRAM, _mint_data()
        elif key in self.wallets:
            owner, data = SYSTEM_PROGRAM, b""
        else:
            holder = self.owners.get(key, SYSTEM_PROGRAM)
            owner, data = TOKEN_PROGRAM, _token_account_data(self.mint, holder)
        lamports = RENT_EXEMPT[len(data)] + (1_000_000_000 if not data else 0)
        return {
            "data": [base64.b64encode(data).decode("ascii"), encoding],
            "executable": False,
            "lamports": lamports,
            "owner": str(owner),
            "rentEpoch": U64_MAX,
            "space": len(data),
        }


def _error(ident: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": error.code, "message": error.message}, "id": ident}


def _config(params: list[Any], at: int) -> Mapping[str, Any]:
    """The optional configuration object at ``params[at]``."""
    if len(params) <= at or params[at] is None:
        return {}
    if not isinstance(params[at], Mapping):
        raise RpcError(INVALID_PARAMS, "Invalid params: the configuration is an object")
    return params[at]


def _encoding(config: Mapping[str, Any]) -> str:
    """Account data comes base64: a node's default, base58, cannot carry a token account
    (over 128 bytes), and the fake parses no account into JSON."""
    encoding = config.get("encoding", "base58")
    if encoding != "base64":
        raise RpcError(
            INVALID_PARAMS,
            f"Invalid params: encoding {encoding!r}; the fake's node answers account data "
            'with {"encoding": "base64"} only',
        )
    return encoding


def _pubkey(address: Any) -> Pubkey:
    if isinstance(address, str):
        try:
            return Pubkey.from_string(address)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"Invalid param: {address!r} is not a base58 public key")


def _mint_data() -> bytes:
    """An SPL mint's 82 bytes: no mint authority, supply 0, 6 decimals, initialized, no
    freeze authority."""
    none = bytes(4 + 32)  # COption<Pubkey>::None
    return none + bytes(8) + bytes([DECIMALS, 1]) + none


def _token_account_data(mint: Pubkey, holder: Pubkey) -> bytes:
    """An SPL token account's 165 bytes: mint, owner, amount (the most a u64 holds: the
    fake's default balance is unlimited), no delegate, initialized, not native, nothing
    delegated, no close authority."""
    none = bytes(4 + 32)
    return (
        bytes(mint)
        + bytes(holder)
        + U64_MAX.to_bytes(8, "little")
        + none
        + bytes([1])
        + bytes(4 + 8)
        + bytes(8)
        + none
    )
