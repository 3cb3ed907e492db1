"""The cassette tools without a network: redaction (stable aliases, rules from TOML), the
secret scan (raw and base64 at every alignment, nothing deleted), and `cassette check`
on cassettes broken in the ways a crash or a hand edit breaks them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mock_server import cli
from mock_server.cassettes import CassetteWriter, decode_body, encode_body, media_folder
from mock_server.cassettes.check import check, check_report
from mock_server.cassettes.redaction import RedactionRules, Redactor
from mock_server.cassettes.scan import scan

TOKEN = "tok_" + os.urandom(12).hex()
OTHER = "tok_" + os.urandom(12).hex()
USER = "3f0c6a8e-1111-4c8e-9a2b-5d6e7f809102"


def test_the_same_secret_gets_the_same_alias_wherever_it_appears() -> None:
    redactor = Redactor()
    headers = redactor.headers({"Authorization": f"Bearer {TOKEN}", "X-Trace": "t-1"})
    query = redactor.query(f"a=1&api_key={OTHER}&token={TOKEN}")
    body = redactor.json(
        {
            "user_id": USER,
            "nested": [{"access_token": OTHER, "account_id": USER}],
            "video_url": f"https://cdn.test/v.mp4?token={TOKEN}&x=2",
            "note": f"echoed {TOKEN}",
        }
    )
    assert headers == {"authorization": "Bearer <token-1>", "x-trace": "t-1"}
    assert query == "a=1&api_key=%3Ctoken-2%3E&token=%3Ctoken-1%3E"
    assert body == {
        "user_id": "account-1",
        "nested": [{"access_token": "<token-2>", "account_id": "account-1"}],
        "video_url": "https://cdn.test/v.mp4?token=%3Ctoken-1%3E&x=2",
        "note": "echoed <token-1>",
    }
    assert redactor.secrets == {TOKEN: "<token-1>", OTHER: "<token-2>", USER: "account-1"}
    assert redactor.counts == {"tokens": 2, "accounts": 1}
    # A text body and a URL seen later still get the aliases learnt earlier.
    assert redactor.body({"text": f"key={OTHER}"}) == {"text": "key=<token-2>"}
    assert redactor.url(f"http://x.test/cb/{USER}") == "http://x.test/cb/account-1"


def test_rules_from_a_file_extend_or_replace_the_defaults(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text('[tokens]\nbody_keys = ["Session-Secret"]\n[accounts]\nbody_keys = ["org"]\n')
    rules = RedactionRules.load(extra)
    assert "session_secret" in rules.token_keys and "token" in rules.token_keys
    assert "org" in rules.account_keys and rules.source == str(extra)
    redacted = Redactor(rules).json({"session_secret": TOKEN, "org": 7, "token": OTHER})
    assert redacted == {"session_secret": "<token-1>", "org": "account-1", "token": "<token-2>"}

    only = tmp_path / "only.toml"
    only.write_text('defaults = false\n[tokens]\nquery = ["sig"]\n')
    bare = RedactionRules.load(only)
    assert bare.token_query == {"sig"} and not bare.token_headers and not bare.account_keys
    bad = tmp_path / "bad.toml"
    bad.write_text('[tokens]\nheader = ["x"]\n')
    with pytest.raises(ValueError, match=r"\[tokens\] takes only"):
        RedactionRules.load(bad)


@pytest.mark.parametrize("lead", [0, 1, 2])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_the_scan_finds_a_secret_inside_base64_at_any_alignment(
    tmp_path: Path, lead: int, encode: Any
) -> None:
    secret = "tok_?>?>" + os.urandom(9).hex()  # "?>" bytes make + and / in base64
    blob = os.urandom(lead) + secret.encode() + os.urandom(7)
    cassette = tmp_path / "c.jsonl"
    cassette.write_text('{"type":"cassette"}\n')
    media = media_folder(cassette)
    media.mkdir()
    (media / "blob.bin").write_bytes(b"prefix " + encode(blob) + b" suffix")
    (hit,) = scan(cassette, {secret: "<token-1>"})
    assert (hit.file.name, hit.line, hit.alias) == ("blob.bin", None, "<token-1>")
    assert (media / "blob.bin").exists()  # a hit deletes nothing


def test_the_scan_reports_raw_secrets_by_line_and_ignores_aliases(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    cassette.write_text(f'{{"type":"cassette"}}\n{{"a":"<token-1>"}}\n{{"b":"x {TOKEN}"}}\n')
    (hit,) = scan(cassette, {TOKEN: "<token-1>"})
    assert (hit.line, hit.offset, hit.form) == (3, 8, "raw")
    assert "line 3, byte 8" in str(hit)


def test_bodies_round_trip_exactly() -> None:
    for raw, kind in [
        (b'{"a": [1, 2]}', "json"),
        ("héllo".encode(), "text"),
        (b"\x00\xff\xfe", "base64"),
    ]:
        body = encode_body(raw, "application/json" if kind == "json" else None)
        assert body is not None and kind in body
        assert json.loads(decode_body(body)) == json.loads(raw) if kind == "json" else True
        if kind != "json":
            assert decode_body(body) == raw
    assert encode_body(b"") is None
    with pytest.raises(ValueError, match="gzip"):
        encode_body(b"not gzip", "application/json", "gzip")


# -- cassette check ------------------------------------------------------------------------

VIDEO = b"\x00\x01video bytes\xff"


def valid_cassette(path: Path) -> Path:
    """A small cassette: a create, a poll and a media file."""
    digest = hashlib.sha256(VIDEO).hexdigest()
    media_folder(path).mkdir(parents=True)
    (media_folder(path) / f"{digest}.mp4").write_bytes(VIDEO)
    exchange = {
        "type": "exchange",
        "at": 0.1,
        "duration": 0.01,
        "dialect": "acedata",
        "request": {
            "method": "POST",
            "path": "/luma/videos",
            "query": None,
            "headers": {"authorization": "Bearer <token-1>"},
            "body": {"json": {"prompt": "a", "async": True}},
        },
        "response": {"status": 200, "headers": {}, "body": {"json": {"task_id": "t-1"}}},
        "task": "t-1",
        "role": "create",
        "state": "pending",
    }
    with CassetteWriter(path, target="http://t.test") as writer:
        writer.append(exchange)
        writer.append({**exchange, "at": 0.2, "role": "poll", "state": "completed"})
        writer.append(
            {
                "type": "media",
                "at": 0.3,
                "dialect": "acedata",
                "task": "t-1",
                "url": "http://t.test/t-1.mp4",
                "file": f"{digest}.mp4",
                "sha256": digest,
                "size": len(VIDEO),
                "content_type": "video/mp4",
            }
        )
    return path


def rewrite_line(path: Path, number: int, change: Any) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = change(lines[number - 1])
    path.write_text("".join(lines))


def test_check_passes_a_valid_cassette_and_the_command_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = valid_cassette(tmp_path / "ok.jsonl")
    assert check(path) == [] and check_report(path).warnings == []
    assert cli.main(["cassette", "check", str(path)]) == 0
    assert "valid, 0 warning(s)" in capsys.readouterr().out


def test_check_catches_a_broken_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = valid_cassette(tmp_path / "broken.jsonl")
    rewrite_line(path, 2, lambda line: line[:20] + "\n")
    (problem,) = check(path)  # the lines after it keep their seq: one problem
    assert problem.startswith("line 2: not JSON: Unterminated string")
    assert cli.main(["cassette", "check", str(path)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_check_catches_a_bad_seq_and_a_bad_field(tmp_path: Path) -> None:
    path = valid_cassette(tmp_path / "seq.jsonl")
    rewrite_line(path, 3, lambda line: line.replace('"seq":1', '"seq":5'))
    rewrite_line(path, 2, lambda line: line.replace('"role":"create"', '"role":"make"'))
    problems = check(path)
    assert "line 3: seq 5 where 1 was due" in problems
    assert any(p.startswith("line 2: role: 'make' is not one of") for p in problems), problems


def test_check_catches_a_missing_or_changed_media_file(tmp_path: Path) -> None:
    path = valid_cassette(tmp_path / "media.jsonl")
    (media,) = media_folder(path).iterdir()
    media.write_bytes(VIDEO + b"!")
    assert [p.split(":")[0] for p in check(path)] == ["line 4", "line 4"]  # size and sha256
    media.unlink()
    assert check(path) == [f"line 4: media file {media.name} is missing from {media.parent}"]
