"""The shared store's hot-path commands (`engine.shared.lane`) against a real Redis: a
connection idle across a Redis restart, a script Redis has forgotten, a command cut off
mid-reply and an error reply each leave the next command its own, right answer."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from mock_server.engine.shared.lane import KEEP_IDLE, Lane
from tests.redis_server import RedisServer, start_redis

COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own: it is killed and started again."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


def test_a_connection_idle_across_a_redis_restart_is_replaced(own_redis: RedisServer) -> None:
    client = redis.Redis.from_url(own_redis.url())
    lane = Lane(client)
    assert lane.call("SET", "k", "before") == b"OK"
    assert lane.call("GET", "k") == b"before"
    own_redis.kill()
    own_redis.start_again()  # empty: its scripts are gone too
    assert lane.call("GET", "k") is None  # the stale connection was not this answer's
    counter = client.register_script(COUNT)
    assert lane.script(counter, ["n"], [2]) == 2  # NOSCRIPT: loaded, then run
    assert lane.script(counter, ["n"], [3]) == 5
    lane.close()


def test_redis_down_raises_a_connection_error_and_the_lane_recovers(
    own_redis: RedisServer,
) -> None:
    lane = Lane(redis.Redis.from_url(own_redis.url(), socket_connect_timeout=1))
    lane.call("SET", "k", "v")
    own_redis.kill()
    with pytest.raises(redis.ConnectionError):  # the web layer answers it 503
        lane.call("GET", "k")
    own_redis.start_again()
    lane.call("SET", "k", "again")
    assert lane.call("GET", "k") == b"again"
    lane.close()


def test_a_command_cut_off_mid_reply_leaves_no_reply_for_the_next(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=0.2)
    lane = Lane(client)
    lane.call("SET", "k", "v")
    with pytest.raises(redis.TimeoutError):
        lane.call("BLPOP", "queue", 5)  # still blocked in Redis when the read gives up
    client.rpush("queue", "late")  # would be the BLPOP's reply on a reused connection
    assert lane.call("GET", "k") == b"v"
    assert client.lrange("queue", 0, -1) == [b"late"]  # nobody was left popping
    lane.close()


def test_an_error_reply_is_raised_and_the_connection_serves_on(redis_url: str) -> None:
    lane = Lane(redis.Redis.from_url(redis_url))
    lane.call("SET", "word", "not a number")
    connection = lane.call("CLIENT", "ID")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        lane.call("INCR", "word")
    assert lane.call("HMGET", "nothing", "a", "b") == [None, None]
    assert lane.call("INCRBY", "n", 4) == 4
    assert lane.call("CLIENT", "ID") == connection  # kept, not dropped and made again
    lane.close()


def test_a_burst_leaves_at_most_keep_idle_connections_open(own_redis: RedisServer) -> None:
    """A burst of concurrent commands opens a connection each; once it is over, the lane
    keeps `KEEP_IDLE` of them and closes the rest (a fake's sockets stay bounded)."""
    client = redis.Redis.from_url(own_redis.url())
    lane = Lane(client)
    burst = KEEP_IDLE + 12
    key = f"burst-{uuid.uuid4().hex}"
    # Each thread blocks in Redis on a connection of its own until the list is filled.
    threads = [threading.Thread(target=lane.call, args=("BLPOP", key, 30)) for _ in range(burst)]
    for thread in threads:
        thread.start()
    while int(client.info("clients")["blocked_clients"]) < burst:
        client.ping()  # wait on Redis's own count of the blocked commands
    client.rpush(key, *range(burst))
    for thread in threads:
        thread.join()
    assert len(lane._idle) == KEEP_IDLE
    # The server's own count: the kept ones and this test's client, once it has read
    # the others' closes (they reach it a moment after the lane has let them go).
    deadline = time.monotonic() + 10
    while (connected := int(client.info("clients")["connected_clients"])) > KEEP_IDLE + 1:
        if time.monotonic() > deadline:
            break
    assert connected == KEEP_IDLE + 1
    lane.close()
