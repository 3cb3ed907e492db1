"""Callback delivery: retries with backoff on the fake's clock, a delivery log per task,
at most one success, and refused targets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from contract_tests.contract import check
from mock_server.acedata.service import LumaService
from mock_server.engine.callbacks import TargetPolicy, TargetRefused
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.errors import ApiError
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, TOKEN, manual_service

BASE = "http://fake.test"
T0 = 1_700_000_000.0


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    with CallbackReceiver() as r:
        yield r


def submit(luma: LumaService, url: str) -> str:
    body = {"prompt": PROMPT, "callback_url": url}
    return luma.videos(body, token=TOKEN, base_url=BASE)["task_id"]


def test_a_receiver_that_fails_twice_then_accepts_gets_exactly_one_success(
    receiver: CallbackReceiver,
) -> None:
    luma = manual_service(callback_retries=3, callback_backoff=5.0)
    receiver.answer(500, 503)
    task_id = submit(luma, receiver.url)
    luma.advance(62)  # the task ends: first attempt, refused with 500
    assert [r.status for r in receiver.received] == [500]
    luma.advance(5)  # first retry after 5 s: 503
    luma.advance(10)  # second retry after another 10 s: accepted
    assert [r.status for r in receiver.received] == [500, 503, 200]

    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "delivered"
    assert [a.at for a in delivery.attempts] == [T0 + 62, T0 + 67, T0 + 77]
    assert [a.status for a in delivery.attempts] == [500, 503, 200]
    body = receiver.accepted()[0].body
    assert body["task_id"] == task_id and check("acedata/callback", body).ok
    assert body == luma.record(luma.task(task_id))["response"]

    luma.advance(3600)
    assert len(receiver.received) == 3  # nothing after a success


def test_a_receiver_that_never_accepts_exhausts_the_retries_and_nothing_breaks(
    receiver: CallbackReceiver,
) -> None:
    luma = manual_service(callback_retries=2, callback_backoff=1.0)
    receiver.answer(*[500] * 10)
    task_id = submit(luma, receiver.url)
    luma.advance(3600)
    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "failed"
    assert [a.error for a in delivery.attempts] == ["answered 500"] * 3
    assert [a.at - T0 for a in delivery.attempts] == [62, 63, 65]  # backoff 1 s, then 2 s
    assert luma.delivery(task_id).as_dict()["attempts"][0]["ok"] is False  # type: ignore[union-attr]
    assert luma.scheduler.pending() == 0


def test_a_receiver_that_is_down_is_retried_as_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    luma = manual_service(callback_retries=1, callback_timeout=2.0)
    task_id = submit(luma, f"http://127.0.0.1:{port}/cb")
    luma.advance(3600)
    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "failed" and len(delivery.attempts) == 2
    assert all(a.status is None and a.error for a in delivery.attempts)


def test_a_failed_task_posts_the_error_envelope_with_its_task_id(
    receiver: CallbackReceiver,
) -> None:
    luma = manual_service()
    task_id = submit(luma, receiver.url)
    luma.fail(task_id, "used_up")
    body = receiver.wait_for(task_id)
    assert body["success"] is False and body["error"]["code"] == "used_up"
    assert body["task_id"] == task_id and check("acedata/callback", body).ok


def test_ending_a_task_twice_delivers_once(receiver: CallbackReceiver) -> None:
    luma = manual_service()
    task_id = submit(luma, receiver.url)
    luma.complete(task_id)
    luma.complete(task_id)
    luma.advance(3600)
    assert len(receiver.received) == 1


def test_real_clock_delivers_in_the_background(receiver: CallbackReceiver) -> None:
    luma = LumaService(
        Settings(delays=DelayModel(Fixed(0), Fixed(0.05), Fixed(0.05)), callback_backoff=0.05)
    )
    try:
        receiver.answer(500)
        task_id = submit(luma, receiver.url)
        body = receiver.wait_for(task_id)
        assert body["state"] == "completed"
        delivery = luma.delivery(task_id)
        assert delivery is not None and delivery.done.wait(5)
        assert [a.status for a in delivery.attempts] == [500, 200]
    finally:
        luma.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/cb",
        "http://metadata.google.internal/computeMetadata",
        "http://100.100.100.200/latest",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/cb",
    ],
)
def test_metadata_and_link_local_targets_are_refused_at_submission(url: str) -> None:
    luma = manual_service()
    with pytest.raises(ApiError) as raised:
        submit(luma, url)
    assert raised.value.code == "bad_request" and "callback_url" in raised.value.message
    assert len(luma.store) == 0


def test_a_name_that_resolves_to_a_metadata_address_is_refused_at_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    luma = manual_service()
    task_id = submit(luma, "http://rebound.test/cb")

    def resolve(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        assert host == "rebound.test"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    luma.advance(3600)
    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "refused"
    assert len(delivery.attempts) == 1 and "refused" in (delivery.attempts[0].error or "")


def test_allow_list_narrows_targets_at_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = TargetPolicy(allow=("127.0.0.1", "*.hooks.test"))
    policy.check_resolved("http://127.0.0.1:9/x")
    with pytest.raises(TargetRefused, match="allow-list"):
        policy.check_resolved("http://example.test/x")

    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("a URL outside the allow-list must not even be looked up")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    luma = manual_service(callback_allow=("*.hooks.test",))
    task_id = submit(luma, "http://elsewhere.test/cb")  # accepted, as the real service would
    luma.advance(3600)
    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "refused"
    assert "allow-list" in (delivery.attempts[0].error or "") and len(delivery.attempts) == 1


@pytest.mark.parametrize("url", ["http://[::1/cb", "http://hooks.test:99999/cb"])
def test_urls_that_cannot_be_used_are_refused_at_submission(url: str) -> None:
    luma = manual_service()
    with pytest.raises(ApiError) as raised:
        submit(luma, url)
    assert raised.value.code == "bad_request" and "callback_url" in raised.value.message


def test_the_callback_pool_grows_for_a_burst_behind_an_idle_worker() -> None:
    import queue
    import threading

    from mock_server.engine.callbacks import DaemonPool

    pool = DaemonPool(workers=4, name="test-pool")
    warmed = threading.Event()
    pool.submit(warmed.set)
    assert warmed.wait(5)  # one worker started, now idle
    together = threading.Barrier(3, timeout=5)  # passes only if three run at once
    met: queue.Queue[int] = queue.Queue()
    for _ in range(3):
        pool.submit(lambda: met.put(together.wait()))
    arrived = sorted(met.get(timeout=10) for _ in range(3))  # BrokenBarrierError never puts
    pool.shutdown()
    assert arrived == [0, 1, 2]


def test_delivery_connects_to_the_address_it_checked(
    receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebinding name answers a harmless address to the check and a metadata address
    to any later look-up: the attempt must use the address that was checked."""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    answers = iter(["127.0.0.1"])
    resolve = socket.getaddrinfo

    def rebinding(host: str, *args: object, **kwargs: object) -> list[tuple]:
        if host != "rebind.test":  # numeric addresses: no look-up leaves the machine
            return resolve(host, *args, **kwargs)  # type: ignore[arg-type]
        address = next(answers, "169.254.169.254")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    luma = manual_service()
    task_id = submit(luma, f"http://rebind.test:{port}/cb")
    luma.advance(3600)
    delivery = luma.delivery(task_id)
    assert delivery is not None and delivery.state == "delivered", delivery
    headers = {k.lower(): v for k, v in receiver.accepted()[0].headers.items()}
    assert headers["host"] == f"rebind.test:{port}"


def test_the_receiver_takes_a_burst_and_says_nothing_of_a_sender_gone_mid_request(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with CallbackReceiver() as receiver:
        server = receiver._server
        # A fake lets hundreds of callbacks fall due at once: the standard library's
        # listen queue of 5 dropped connection attempts, each sent again a second later
        # (benchmarks/shared_store.py saw a p99 lateness of 1 s from it).
        assert server.request_queue_size >= 128
        try:
            raise ConnectionResetError("the sender was killed mid-request")
        except ConnectionResetError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "Traceback" not in capfd.readouterr().err
        try:
            raise ValueError("a bug of the receiver's own")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError" in capfd.readouterr().err  # still said
