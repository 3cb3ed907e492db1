"""x402 on Solana, offline, over real sockets: the provider's SDK pays with its payment
handler (a fresh solders keypair), which signs against the fake's own Solana JSON-RPC
node (``extra.rpcUrl``) — never a chain: outside hosts sit behind a dead proxy — and
polls for free. Transactions signed for what the offer did not ask (another owner,
mint, amount, fee payer or compute price), forged, stale or replayed are refused with
the protocol's reason, no task and no charge. One server for the module, on a manual
clock (a blockhash's age is read on it)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from acedatacloud import AceDataCloud
from acedatacloud_x402 import create_x402_payment_handler
from acedatacloud_x402.signing.solana import SolanaKeypairSigner, sign_solana_payment
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from mock_server.acedata.service import LumaService
from mock_server.engine.config import Settings
from mock_server.web.app import create_app
from mock_server.x402.solana import (
    MEMO_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    associated_token_account,
)
from tests.support import AUTH, PROMPT, LiveServer, live_server
from tests.x402_support import SOLANA, offer, pay

RPC = "/__x402/solana"
FAST = {"poll_interval": 0.05, "max_wait": 10.0}


@pytest.fixture(scope="module")
def gateway() -> Iterator[LiveServer]:
    with live_server("--x402", "--clock", "manual", "--delay", "instant") as running:
        yield running


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token (a payer has none), and every host but the fake's behind a proxy that
    is not there: a handler that asked a real Solana node would fail, not pass."""
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def journal(fake: LiveServer, **filters: Any) -> list[dict[str, Any]]:
    answer = fake.session.get(fake.url + "/__admin/journal", params=filters, timeout=10)
    return list(answer.json()["entries"])


def payments_of(fake: LiveServer, payer: str) -> list[str]:
    shown = fake.session.get(fake.url + "/__admin/x402/payments", timeout=10).json()
    return [p["outcome"] for p in shown["payments"] if p["payer"] == payer]


def rpc(fake: LiveServer, body: Any) -> Any:
    answer = fake.session.post(fake.url + RPC, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def signed(asked: dict[str, Any], payer: Keypair, **changes: Any) -> dict[str, Any]:
    """The handler's envelope for ``asked`` with ``changes`` to what it signs (``extra``
    merged), presented as accepting ``asked`` itself: a client that signs what it was
    not asked."""
    signing = {**asked, **changes, "extra": {**asked["extra"], **changes.get("extra", {})}}
    envelope = sign_solana_payment(signing, SolanaKeypairSigner(payer))  # type: ignore[arg-type]
    return {**envelope, "accepted": asked}


def transaction(envelope: dict[str, Any]) -> VersionedTransaction:
    return VersionedTransaction.from_bytes(base64.b64decode(envelope["payload"]["transaction"]))


def with_transaction(envelope: dict[str, Any], tx: VersionedTransaction) -> dict[str, Any]:
    return {**envelope, "payload": {"transaction": base64.b64encode(bytes(tx)).decode()}}


def refused_without_charge(
    fake: LiveServer, answer: requests.Response, reason: str, payer: Keypair
) -> None:
    """402 naming ``reason`` in a fresh challenge; no task made, nothing paid."""
    assert answer.status_code == 402, answer.text
    assert answer.json()["error"] == reason, answer.json()
    assert "task_id" not in answer.json()
    assert payments_of(fake, str(payer.pubkey())) == [f"refused:{reason}"]


# -- the provider's SDK and handler ---------------------------------------------------


def test_the_sdk_pays_on_solana_through_the_fakes_node_then_polls_for_free(
    gateway: LiveServer,
) -> None:
    payer = Keypair()
    handler = create_x402_payment_handler(
        network="solana", solana_signer=SolanaKeypairSigner(payer)
    )
    since = max((e["seq"] for e in journal(gateway)), default=0)
    with AceDataCloud(base_url=gateway.url, payment_handler=handler) as sdk:
        handle = sdk.luma.generate(prompt=PROMPT, wait=True, **FAST)
    assert handle.done and handle.result()["response"]["state"] == "completed"

    paid = journal(gateway, path="/luma/videos", task_id=handle.id)
    assert [call["status"] for call in paid] == [200]
    payment = paid[0]["payment"]
    assert (payment["payer"], payment["network"]) == (str(payer.pubkey()), SOLANA)
    assert (payment["amount"], payment["outcome"]) == ("0.5", "settled")
    assert len(Signature.from_string(payment["nonce"]).to_bytes()) == 64  # its signature
    # While signing, the handler asked the fake's node (and only it: see `_offline`)
    # for the payer's and the payee's token accounts, then a blockhash.
    asked = [e["body"] for e in journal(gateway, path=RPC, since=since)]
    assert [a["method"] for a in asked] == ["getMultipleAccounts", "getLatestBlockhash"]
    usdc = Pubkey.from_string(payment["asset"])
    assert asked[0]["params"][0][0] == str(associated_token_account(payer.pubkey(), usdc))
    polls = [p for p in journal(gateway, path="/luma/tasks") if p.get("task_id") == handle.id]
    assert polls and all(p["status"] == 200 and "payment" not in p for p in polls)
    assert payments_of(gateway, str(payer.pubkey())) == ["settled"]


# -- payments refused -------------------------------------------------------------------


OTHER = str(Keypair().pubkey())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"payTo": OTHER}, "invalid_exact_svm_payload_recipient_mismatch"),
        ({"asset": OTHER}, "invalid_exact_svm_payload_mint_mismatch"),
        ({"amount": "499999"}, "invalid_exact_svm_payload_amount_insufficient"),
        ({"amount": "500001"}, "invalid_payload"),  # exact: the price, no more
        ({"extra": {"feePayer": OTHER}}, "fee_payer_not_managed_by_facilitator"),
        (
            {"extra": {"computeUnitPriceMicroLamports": 5_000_001}},
            "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction_too_high",
        ),
        (
            {"extra": {"computeUnitLimit": 1_400_001}},
            "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction",
        ),
    ],
    ids=["owner", "mint", "underpaid", "overpaid", "fee-payer", "unit-price", "unit-limit"],
)
def test_a_transaction_for_what_was_not_asked_is_refused(
    gateway: LiveServer, changes: dict[str, Any], reason: str
) -> None:
    payer = Keypair()
    envelope = signed(offer(gateway.url, SOLANA), payer, **changes)
    refused_without_charge(gateway, pay(gateway.url, envelope), reason, payer)


def test_a_forged_signature_is_refused(gateway: LiveServer) -> None:
    payer, forger = Keypair(), Keypair()
    envelope = signed(offer(gateway.url, SOLANA), payer)
    tx = transaction(envelope)
    forged = forger.sign_message(to_bytes_versioned(tx.message))  # not the payer's key
    tx = VersionedTransaction.populate(tx.message, [tx.signatures[0], forged])
    answer = pay(gateway.url, with_transaction(envelope, tx))
    refused_without_charge(gateway, answer, "transaction_simulation_failed", payer)
    assert "does not verify" in answer.json()["message"]


def test_a_transaction_on_a_stale_blockhash_is_refused(gateway: LiveServer) -> None:
    payer = Keypair()
    envelope = signed(offer(gateway.url, SOLANA), payer)
    gateway.session.post(gateway.url + "/__admin/clock/advance", json={"seconds": 61}, timeout=10)
    answer = pay(gateway.url, envelope)
    refused_without_charge(gateway, answer, "transaction_simulation_failed", payer)
    assert "expired" in answer.json()["message"]


def test_a_replayed_transaction_is_served_once(gateway: LiveServer) -> None:
    payer = Keypair()
    envelope = signed(offer(gateway.url, SOLANA), payer)
    first, again = pay(gateway.url, envelope), pay(gateway.url, envelope)
    assert first.status_code == 200, first.text
    assert again.status_code == 402 and again.json()["error"] == "duplicate_settlement"
    assert payments_of(gateway, str(payer.pubkey())) == ["settled", "refused:duplicate_settlement"]
    made = journal(gateway, path="/luma/videos", with_task=True)
    assert [e["task_id"] for e in made].count(first.json()["task_id"]) == 1


def test_hand_built_transactions_pay_only_as_the_scheme_says(gateway: LiveServer) -> None:
    """What the handler never makes, built by hand: the same builder's plain transfer
    pays, then each case changes one thing of it."""
    asked = offer(gateway.url, SOLANA)
    sponsor = Pubkey.from_string(asked["extra"]["feePayer"])
    latest = {"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"}
    blockhash = Hash.from_string(rpc(gateway, latest)["result"]["value"]["blockhash"])
    limit, price = set_compute_unit_limit(20_000), set_compute_unit_price(1)
    memo = Instruction(MEMO_PROGRAM, b"0123456789abcdef", [])
    other = Instruction(Pubkey.default(), b"\x02", [])
    cases: list[tuple[int, str, Callable[[Pubkey], list[Instruction]]]] = [
        (200, "", lambda payer: [limit, price, _transfer(asked, payer), memo]),
        (
            402,
            "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds",
            lambda payer: [limit, price, _transfer(asked, sponsor)],
        ),
        (
            402,
            "invalid_exact_svm_payload_unknown_fourth_instruction",
            lambda payer: [limit, price, _transfer(asked, payer), other],
        ),
        (
            402,
            "invalid_exact_svm_payload_no_transfer_instruction",
            lambda payer: [limit, price, other, memo],
        ),
        (
            402,
            "invalid_exact_svm_payload_transaction_instructions_length",
            lambda payer: [limit, _transfer(asked, payer)],
        ),
        (
            402,
            "transaction_simulation_failed",  # USDC is no Token-2022 mint
            lambda payer: [limit, price, _transfer(asked, payer, program=TOKEN_2022_PROGRAM)],
        ),
        (
            402,
            "transaction_simulation_failed",  # USDC has 6 decimals
            lambda payer: [limit, price, _transfer(asked, payer, decimals=2)],
        ),
    ]
    for status, reason, instructions in cases:
        payer = Keypair()
        message = MessageV0.try_compile(sponsor, instructions(payer.pubkey()), [], blockhash)
        signers: list[Any] = [NullSigner(sponsor)]
        if payer.pubkey() in message.account_keys:
            signers.append(payer)
        tx = VersionedTransaction(message, signers)
        answer = pay(
            gateway.url,
            {
                "x402Version": 2,
                "accepted": asked,
                "payload": {"transaction": base64.b64encode(bytes(tx)).decode()},
            },
        )
        assert answer.status_code == status, (reason, answer.text)
        if status == 402:
            assert answer.json()["error"] == reason and "task_id" not in answer.json()


def _transfer(
    asked: dict[str, Any], authority: Pubkey, program: Pubkey = TOKEN_PROGRAM, decimals: int = 6
) -> Instruction:
    """TransferChecked of the price to ``payTo``'s account, by ``authority``."""
    mint, pay_to = Pubkey.from_string(asked["asset"]), Pubkey.from_string(asked["payTo"])
    data = bytes([12]) + int(asked["amount"]).to_bytes(8, "little") + bytes([decimals])
    accounts = [
        AccountMeta(associated_token_account(authority, mint, program), False, True),
        AccountMeta(mint, False, False),
        AccountMeta(associated_token_account(pay_to, mint, program), False, True),
        AccountMeta(authority, True, False),
    ]
    return Instruction(program, data, accounts)


def test_a_payload_that_is_no_transaction_is_refused_naming_it(gateway: LiveServer) -> None:
    envelope = signed(offer(gateway.url, SOLANA), Keypair())
    answer = pay(gateway.url, {**envelope, "payload": {"transaction": "AAAA"}})
    assert answer.status_code == 402, answer.text
    reason = answer.json()["error"]
    assert reason == "invalid_exact_svm_payload_transaction_could_not_be_decoded"
    answer = pay(gateway.url, {**envelope, "payload": {"tx": 1}})
    assert (answer.status_code, answer.json()["error"]) == (402, "invalid_exact_svm_payload")


# -- the fake's Solana node ---------------------------------------------------------------


def test_the_node_answers_the_mint_and_token_accounts(gateway: LiveServer) -> None:
    asked = offer(gateway.url, SOLANA)
    mint = asked["asset"]
    payee = associated_token_account(Pubkey.from_string(asked["payTo"]), Pubkey.from_string(mint))
    config = {"encoding": "base64"}
    request = {"jsonrpc": "2.0", "id": 7, "method": "getAccountInfo", "params": [mint, config]}
    answer = rpc(gateway, request)
    assert answer["id"] == 7 and answer["result"]["value"]["owner"] == str(TOKEN_PROGRAM)
    data = base64.b64decode(answer["result"]["value"]["data"][0])
    assert len(data) == 82 and data[44] == 6  # an SPL mint of 6 decimals
    request = {**request, "method": "getMultipleAccounts", "params": [[str(payee)], config]}
    account = rpc(gateway, request)["result"]["value"][0]
    data = base64.b64decode(account["data"][0])
    assert len(data) == 165 and data[:32] == bytes(Pubkey.from_string(mint))
    assert data[32:64] == bytes(Pubkey.from_string(asked["payTo"]))  # the payee's own


def test_the_node_answers_what_it_lacks_with_json_rpc_errors(gateway: LiveServer) -> None:
    unknown = rpc(gateway, {"jsonrpc": "2.0", "id": "a", "method": "sendTransaction"})
    assert unknown["id"] == "a" and unknown["error"]["code"] == -32601
    assert "sendTransaction" in unknown["error"]["message"]
    bad_key = {"jsonrpc": "2.0", "id": 2, "method": "getAccountInfo", "params": ["0x12"]}
    batch = rpc(gateway, [bad_key, {"jsonrpc": "1.0", "id": 3, "method": "getSlot"}])
    assert [a["error"]["code"] for a in batch] == [-32602, -32600]
    answer = gateway.session.post(
        gateway.url + RPC, data=b"{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32700


def test_a_fake_that_is_no_gateway_has_no_node() -> None:
    luma = LumaService(Settings(clock="manual"))
    try:
        answer = create_app(luma).test_client().post(RPC, json={"jsonrpc": "2.0"})
        assert answer.status_code == 404
    finally:
        luma.close()


def test_bodies_nested_past_any_decoder_are_refused_not_crashed_on(gateway: LiveServer) -> None:
    """eth-account, which the gateway loads, raises Python's recursion limit (py_ecc sets
    100,000), so the decoder no longer stops itself: a deep body once killed the process."""
    deep = b"[" * 200_000
    typed = {"Content-Type": "application/json"}
    unpaid = requests.post(gateway.url + "/luma/videos", data=deep, headers=typed, timeout=30)
    assert unpaid.status_code == 402  # priced at the default: no payment, a challenge
    with_token = gateway.post("/luma/videos", headers={**typed, **AUTH}, data=deep)
    assert with_token.status_code == 400 and "nested" in with_token.json()["error"]["message"]
    node = gateway.session.post(gateway.url + RPC, data=deep, headers=typed, timeout=30)
    assert node.status_code == 200 and node.json()["error"]["code"] == -32700
    assert gateway.session.get(gateway.url + "/health", timeout=10).status_code == 200
