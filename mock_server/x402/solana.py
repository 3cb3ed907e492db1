"""x402's ``exact`` scheme on Solana, offline: the fake chain's slots and blockhashes,
associated token accounts, and `verify_solana`, which checks a payer's partially signed
transaction as the protocol's facilitator would before sponsoring it
(coinbase/x402 ``specs/schemes/exact/scheme_exact_svm.md``, and its reference
facilitator for the reason codes).

What a facilitator learns by simulating the transaction on a chain, the fake learns
without one: the payer's signature is verified here (ed25519, over the message), and the
recent blockhash must be one the fake's own RPC endpoint (`solana_rpc`) handed out within
a blockhash's lifetime. Both failures carry the code a real facilitator answers for them,
``transaction_simulation_failed``, with words saying which it was. Replays are the
ledger's business: the nonce is the payer's signature, which a resent transaction repeats.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from solders.hash import Hash
from solders.instruction import CompiledInstruction
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from .verify import Authorized, Refused

USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
DECIMALS = 6  # USDC's, which TransferChecked repeats

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
LIGHTHOUSE_PROGRAM = Pubkey.from_string("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95")

SET_COMPUTE_UNIT_LIMIT, SET_COMPUTE_UNIT_PRICE, TRANSFER_CHECKED = 2, 3, 12
MAX_COMPUTE_UNIT_LIMIT = 1_400_000  # the most a Solana transaction may ask for
MAX_COMPUTE_UNIT_PRICE = 5_000_000  # micro-lamports per unit: the reference's cap
# Slots and blockhashes as mainnet has them: a slot each 400 ms, a blockhash usable for
# 150 slots after its own (about a minute).
SLOT_SECONDS = 0.4
BLOCKHASH_SLOTS = 150

# The protocol's reason codes for the exact scheme on Solana (the reference's names).
UNSUPPORTED_SCHEME = "unsupported_scheme"
NETWORK_MISMATCH = "network_mismatch"
INVALID_PAYLOAD = "invalid_exact_svm_payload"
UNDECODABLE = "invalid_exact_svm_payload_transaction_could_not_be_decoded"
INSTRUCTIONS_LENGTH = "invalid_exact_svm_payload_transaction_instructions_length"
COMPUTE_LIMIT = "invalid_exact_svm_payload_transaction_instructions_compute_limit_instruction"
COMPUTE_PRICE = "invalid_exact_svm_payload_transaction_instructions_compute_price_instruction"
COMPUTE_PRICE_TOO_HIGH = COMPUTE_PRICE + "_too_high"
NO_TRANSFER = "invalid_exact_svm_payload_no_transfer_instruction"
UNKNOWN_INSTRUCTION = tuple(
    f"invalid_exact_svm_payload_unknown_{nth}_instruction" for nth in ("fourth", "fifth", "sixth")
)
MEMO_COUNT = "invalid_exact_svm_payload_memo_count"
MEMO_MISMATCH = "invalid_exact_svm_payload_memo_mismatch"
FEE_PAYER_MISSING = "invalid_exact_svm_payload_missing_fee_payer"
FEE_PAYER_NOT_MANAGED = "fee_payer_not_managed_by_facilitator"
FEE_PAYER_TRANSFERRING = "invalid_exact_svm_payload_transaction_fee_payer_transferring_funds"
MINT_MISMATCH = "invalid_exact_svm_payload_mint_mismatch"
RECIPIENT_MISMATCH = "invalid_exact_svm_payload_recipient_mismatch"
AMOUNT_INSUFFICIENT = "invalid_exact_svm_payload_amount_insufficient"
# The protocol's general code: the exact scheme pays the price exactly, no more.
AMOUNT_OVER = "invalid_payload"
SIMULATION_FAILED = "transaction_simulation_failed"


# -- the fake's chain ----------------------------------------------------


def associated_token_account(
    owner: Pubkey, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM
) -> Pubkey:
    """Where ``owner`` holds ``mint``: the associated token account's address."""
    address, _ = Pubkey.find_program_address(
        [bytes(owner), bytes(program), bytes(mint)], ATA_PROGRAM
    )
    return address


def slot_at(now: float) -> int:
    """The fake chain's slot at ``now`` (epoch seconds on the fake's clock)."""
    return int(now / SLOT_SECONDS)


def blockhash_of(slot: int) -> Hash:
    """The fake chain's blockhash of ``slot``: a digest of the slot, then the slot, so that
    the verifier can tell its age (and that it is the fake's) with no record of it."""
    stamp = slot.to_bytes(8, "big")
    return Hash(hashlib.sha256(b"luma-mock blockhash " + stamp).digest()[:24] + stamp)


def blockhash_slot(blockhash: Hash) -> int | None:
    """The slot of a blockhash the fake issued; None for any other blockhash."""
    slot = int.from_bytes(bytes(blockhash)[24:], "big")
    return slot if blockhash_of(slot) == blockhash else None


# -- verifying a payment ------------------------------------------------------------------


def verify_solana(
    envelope: Mapping[str, Any], offered: Mapping[str, Any], now: float
) -> Authorized:
    """The payment of ``envelope`` against the fake's ``offered`` entry, checked as the
    protocol's facilitator checks it (and what its simulation would find, offline), or
    `Refused` with the protocol's reason code. The nonce is the payer's signature."""
    try:
        return _verify(envelope, offered, now)
    except Refused as refused:
        refused.network = refused.network or str(offered["network"])
        raise


def _verify(envelope: Mapping[str, Any], offered: Mapping[str, Any], now: float) -> Authorized:
    accepted = envelope.get("accepted")
    accepted = accepted if isinstance(accepted, Mapping) else {}
    if offered.get("scheme") != "exact" or accepted.get("scheme", "exact") != "exact":
        raise Refused(UNSUPPORTED_SCHEME, "the Solana offer is of the exact scheme only")
    if accepted.get("network", offered["network"]) != offered["network"]:
        raise Refused(NETWORK_MISMATCH, f"the payment names {accepted.get('network')!r}")
    extra = offered.get("extra") or {}
    if not isinstance(extra.get("feePayer"), str):
        raise Refused(FEE_PAYER_MISSING, "the offer names no extra.feePayer")
    sponsor = Pubkey.from_string(extra["feePayer"])
    tx = _decode(envelope.get("payload"))
    signers = list(tx.message.account_keys)[: tx.message.header.num_required_signatures]
    try:
        return _check_layout(tx, offered, now, sponsor)
    except Refused as refused:
        # The payer it claims to be: the transfer's authority, once that is read; before,
        # the signer the gateway would not be.
        if refused.payer is None and len(signers) > 1:
            refused.payer = str(signers[1])
        raise


def _check_layout(
    tx: VersionedTransaction, offered: Mapping[str, Any], now: float, sponsor: Pubkey
) -> Authorized:
    """The instructions are the exact scheme's, sponsored by the gateway's fee payer."""
    extra = offered["extra"]
    message = tx.message
    keys = list(message.account_keys)
    if not keys or keys[0] != sponsor:
        payer_of_fees = keys[0] if keys else "nobody"
        raise Refused(
            FEE_PAYER_NOT_MANAGED,
            f"the transaction's fee payer is {payer_of_fees}, not the gateway's {sponsor} "
            "(extra.feePayer)",
        )
    instructions = list(message.instructions)
    if not 3 <= len(instructions) <= 6:
        raise Refused(
            INSTRUCTIONS_LENGTH,
            f"{len(instructions)} instructions: the exact scheme takes 3 to 6 (compute unit "
            "limit, compute unit price, TransferChecked, then memo or Lighthouse ones)",
        )
    _check_compute_budget(keys, instructions[0], instructions[1])
    transfer = instructions[2]
    program = keys[transfer.program_id_index]
    if program not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
        raise Refused(NO_TRANSFER, f"the third instruction is of {program}, not a token program")
    _check_optional(keys, instructions[3:], extra.get("memo"))
    data = bytes(transfer.data)
    accounts = list(transfer.accounts)
    if len(data) != 10 or data[0] != TRANSFER_CHECKED or len(accounts) < 4:
        raise Refused(NO_TRANSFER, "the third instruction is not an SPL TransferChecked")
    source, mint, destination, authority = (keys[index] for index in accounts[:4])
    del source  # the payer's own token account: the chain, not the gateway, knows its funds
    try:
        return _check_transfer(tx, offered, now, sponsor, mint, destination, authority)
    except Refused as refused:
        refused.payer = str(authority)
        raise


def _check_transfer(
    tx: VersionedTransaction,
    offered: Mapping[str, Any],
    now: float,
    sponsor: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    authority: Pubkey,
) -> Authorized:
    """The transfer pays the price to ``payTo`` in the offered mint, signed by its
    authority, on a fresh blockhash of the fake's."""
    message = tx.message
    keys = list(message.account_keys)
    instructions = list(message.instructions)
    program = keys[instructions[2].program_id_index]
    data = bytes(instructions[2].data)
    if any(keys[index] == sponsor for ix in instructions for index in ix.accounts):
        raise Refused(
            FEE_PAYER_TRANSFERRING,
            f"the gateway's fee payer {sponsor} is an account of an instruction: it only "
            "pays the fees",
        )
    if str(mint) != offered["asset"]:
        raise Refused(MINT_MISMATCH, f"the transfer moves mint {mint}, not {offered['asset']}")
    pay_to = Pubkey.from_string(offered["payTo"])
    if destination != associated_token_account(pay_to, mint, program):
        raise Refused(
            RECIPIENT_MISMATCH,
            f"the transfer pays {destination}, not {pay_to}'s token account for {mint}",
        )
    amount, price = int.from_bytes(data[1:9], "little"), int(offered["amount"])
    if amount < price:
        raise Refused(AMOUNT_INSUFFICIENT, f"the transfer is {amount}, the price is {price}")
    if amount > price:
        raise Refused(
            AMOUNT_OVER, f"the transfer is {amount}: the exact scheme pays the price, {price}"
        )
    # What the chain would refuse when it ran the transfer: USDC is a mint of the Token
    # program, with 6 decimals.
    if str(mint) == USDC_MINT and program != TOKEN_PROGRAM:
        raise Refused(SIMULATION_FAILED, f"USDC's mint belongs to {TOKEN_PROGRAM}, not {program}")
    if data[9] != DECIMALS:
        raise Refused(
            SIMULATION_FAILED, f"TransferChecked says {data[9]} decimals; the mint has {DECIMALS}"
        )
    signature = _check_signatures(tx, keys, authority)
    _check_blockhash(message.recent_blockhash, now)
    return Authorized(
        payer=str(authority),
        network=str(offered["network"]),
        asset=str(offered["asset"]),
        amount=price,
        nonce=signature,
    )


def _decode(payload: Any) -> VersionedTransaction:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("transaction"), str):
        raise Refused(INVALID_PAYLOAD, "payload.transaction (base64) is missing")
    try:
        raw = base64.b64decode(payload["transaction"], validate=True)
        tx = VersionedTransaction.from_bytes(raw)
    except (binascii.Error, ValueError) as error:
        detail = f"payload.transaction is no Solana transaction: {error}"
        raise Refused(UNDECODABLE, detail) from None
    if getattr(tx.message, "address_table_lookups", None):
        raise Refused(UNDECODABLE, "address lookup tables cannot be resolved off-chain")
    keys = len(tx.message.account_keys)
    for ix in tx.message.instructions:
        if ix.program_id_index >= keys or any(index >= keys for index in ix.accounts):
            raise Refused(UNDECODABLE, "an instruction names an account the message lacks")
    return tx


def _check_compute_budget(
    keys: list[Pubkey], limit: CompiledInstruction, price: CompiledInstruction
) -> None:
    units = _compute_budget(
        keys,
        limit,
        SET_COMPUTE_UNIT_LIMIT,
        4,
        COMPUTE_LIMIT,
        "first instruction is not SetComputeUnitLimit",
    )
    if units > MAX_COMPUTE_UNIT_LIMIT:
        raise Refused(COMPUTE_LIMIT, f"{units} compute units: a transaction gets at most 1.4M")
    micro_lamports = _compute_budget(
        keys, price, SET_COMPUTE_UNIT_PRICE, 8, COMPUTE_PRICE, "second"
    )
    if micro_lamports > MAX_COMPUTE_UNIT_PRICE:
        raise Refused(
            COMPUTE_PRICE_TOO_HIGH,
            f"{micro_lamports} micro-lamports a unit: the gateway sponsors at most "
            f"{MAX_COMPUTE_UNIT_PRICE}",
        )


def _compute_budget(
    keys: list[Pubkey], ix: CompiledInstruction, opcode: int, width: int, code: str, refusal: str
) -> int:
    """The value a Compute Budget instruction sets (a little-endian integer of ``width``
    bytes after its ``opcode``), or `Refused` with ``code`` and ``refusal`` if ``ix`` is
    not that instruction."""
    data = bytes(ix.data)
    if (
        keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM
        or len(data) != 1 + width
        or data[0] != opcode
    ):
        raise Refused(code, refusal)
    return int.from_bytes(data[1:], "little")


def _check_optional(keys: list[Pubkey], optional: list[CompiledInstruction], memo: Any) -> None:
    """After the transfer, only memo and Lighthouse instructions; the one memo is the
    offer's ``extra.memo`` when it names one."""
    for nth, ix in enumerate(optional):
        program = keys[ix.program_id_index]
        if program not in (MEMO_PROGRAM, LIGHTHOUSE_PROGRAM):
            raise Refused(UNKNOWN_INSTRUCTION[nth], f"instruction {nth + 4} is of {program}")
    if isinstance(memo, str) and memo:
        memos = [bytes(ix.data) for ix in optional if keys[ix.program_id_index] == MEMO_PROGRAM]
        if len(memos) != 1:
            raise Refused(MEMO_COUNT, f"{len(memos)} memo instructions; the offer wants one")
        if memos[0] != memo.encode():
            raise Refused(MEMO_MISMATCH, f"the memo is not the offer's {memo!r}")


def _check_signatures(tx: VersionedTransaction, keys: list[Pubkey], authority: Pubkey) -> str:
    """Every signature but the fee payer's (the gateway adds that one) verifies over the
    message, and the transfer's authority is among the signers: its signature, base58."""
    signers = tx.message.header.num_required_signatures
    signatures = list(tx.signatures)
    if len(signatures) != signers or signers > len(keys):
        raise Refused(UNDECODABLE, f"{len(signatures)} signatures for {signers} signers")
    if authority not in keys[1:signers]:
        raise Refused(SIMULATION_FAILED, f"the transfer's authority {authority} did not sign it")
    signed = to_bytes_versioned(tx.message)
    for key, signature in zip(keys[1:signers], signatures[1:], strict=True):
        if not signature.verify(key, signed):
            raise Refused(
                SIMULATION_FAILED, f"the signature of {key} does not verify over the message"
            )
    return str(signatures[keys.index(authority)])


def _check_blockhash(blockhash: Hash, now: float) -> None:
    """The recent blockhash is one the fake's RPC endpoint issued, and still valid."""
    slot = blockhash_slot(blockhash)
    if slot is None:
        raise Refused(
            SIMULATION_FAILED,
            f"blockhash {blockhash} not found: ask the gateway's rpcUrl for one",
        )
    age = slot_at(now) - slot
    if age < 0:
        raise Refused(SIMULATION_FAILED, f"blockhash {blockhash} is of a slot yet to come")
    if age > BLOCKHASH_SLOTS:
        raise Refused(
            SIMULATION_FAILED,
            f"blockhash {blockhash} expired: {age * SLOT_SECONDS:.0f} s old, a blockhash "
            f"lasts {BLOCKHASH_SLOTS * SLOT_SECONDS:.0f} s",
        )
