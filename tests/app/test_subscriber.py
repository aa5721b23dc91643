"""One worker's invalidation subscription, in-process, on real Redis (standalone and cluster)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import invalidation
from app.invalidation import CHANNEL, Subscriber
from app.l1 import L1
from tests.app.conftest import make_settings

# Never connected to: the subscriber only parses it.
DATABASE_URL = "postgresql://loadline:unused@127.0.0.1:1/loadline"
WAIT_S = 20.0


def _subscriber(urls: list[str], mode: str = "standalone", l1: L1 | None = None) -> Subscriber:
    settings = make_settings(DATABASE_URL, urls, redis_mode=mode, redis_timeout_seconds=0.2)
    return Subscriber(settings, l1 or L1(size=100, ttl_s=60))


class Asked:
    """What a subscriber asks of redis-py and asyncio, recorded on the way through.

    Its bounds and pauses are behaviour that only a clock could otherwise see, and a test that
    times them would fail on a busy machine.
    """

    def __init__(self) -> None:
        self.clients: list[dict] = []  # the keyword arguments of each client: one per attempt
        self.reads: list[float | None] = []  # how long each read waits for a message
        self.bounds: list[float] = []  # how long each subscribe may take
        self.subscribe_errors: list[BaseException] = []  # what ended each failed subscribe
        self.pauses: list[float] = []  # each pause before the next attempt
        self.pubsubs: list = []  # each attempt's subscription object
        self.waits: list[float | None] = []  # the bound of each wait for tasks to end
        self.skip_pauses = 0  # how many pauses to record without taking them


@pytest.fixture
def asked(monkeypatch) -> Asked:
    record = Asked()

    class Recorded(invalidation.Redis):
        def __init__(self, *args, **kwargs):
            record.clients.append(kwargs)
            super().__init__(*args, **kwargs)

        def pubsub(self, **kwargs):
            pubsub = super().pubsub(**kwargs)
            record.pubsubs.append(pubsub)
            get_message = pubsub.get_message

            async def recorded_get_message(*args, **kw):
                record.reads.append(kw.get("timeout"))
                return await get_message(*args, **kw)

            pubsub.get_message = recorded_get_message
            return pubsub

    class RecordedAsyncio:
        def __getattr__(self, name):
            return getattr(asyncio, name)

        async def wait_for(self, fut, timeout):
            record.bounds.append(timeout)
            try:
                return await asyncio.wait_for(fut, timeout)
            except Exception as exc:
                record.subscribe_errors.append(exc)
                raise

        async def wait(self, fs, *, timeout=None, return_when=asyncio.ALL_COMPLETED):
            record.waits.append(timeout)
            return await asyncio.wait(fs, timeout=timeout, return_when=return_when)

        async def sleep(self, delay):
            record.pauses.append(delay)
            await asyncio.sleep(0 if len(record.pauses) <= record.skip_pauses else delay)

    monkeypatch.setattr(invalidation, "Redis", Recorded)
    monkeypatch.setattr(invalidation, "asyncio", RecordedAsyncio())
    return record


# Attempts allowed beyond those a test expects: a healthy local node answers the first one, but a
# busy machine may stall one past its 1 s bound.
SPARE_ATTEMPTS = 3


async def _until(condition, what: str, sub: Subscriber | None = None,
                 asked: Asked | None = None, attempts: int = 1) -> None:
    """Wait for `condition`, failing as soon as `sub` shows it never will.

    A subscriber's task runs until stop(): one that ended cannot get there. `attempts` is how many
    clients the subscriber needs to get there (one per node left behind, plus the one that
    works); one that keeps reconnecting to a node that works will not either. Both fail here at
    once, not at the deadline.
    """
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {WAIT_S} s"
        if sub is not None and sub.task is None:
            pytest.fail(f"the subscriber has no task to get to {what}: start() made none")
        if sub is not None and sub.task.done():
            error = None if sub.task.cancelled() else sub.task.exception()
            pytest.fail(f"the subscriber ended before {what}: {error!r}")
        if asked is not None:
            most = attempts + SPARE_ATTEMPTS
            assert len(asked.clients) <= most, f"{what} in at most {most} attempts: {asked.clients}"
        await asyncio.sleep(0.01)


# A scenario takes seconds; past this the event loop is taken as blocked.
SCENARIO_LIMIT_S = 60


class LoopBlocked(BaseException):
    """Not an Exception: the subscriber's `except Exception` must not swallow it."""


def _run(scenario):
    """asyncio.run, ended by LoopBlocked if it outlasts SCENARIO_LIMIT_S.

    A subscriber that spins without awaiting never lets `_until` run again: only a signal gets
    through. The exception ends the subscriber's task (or the loop itself), so the test fails,
    its servers are torn down as usual, and no run waits for an outside timeout.
    """

    def blocked(signum, frame):
        raise LoopBlocked(f"the event loop was still busy after {SCENARIO_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.setitimer(signal.ITIMER_REAL, SCENARIO_LIMIT_S)
    try:
        return asyncio.run(scenario)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def _stop(sub: Subscriber, asked: Asked | None = None) -> None:
    """stop(), and what it must leave: a task ended without an error and no connection open."""
    await sub.stop()
    assert sub.task is not None
    if not sub.task.done():
        # On Python 3.11 a cancel that meets the read's own 1 s timeout can be lost (asyncio.timeout
        # turns it into that timeout): the task reads on and stop() returns at its bound. Cancel again.
        sub.task.cancel()
        await asyncio.wait({sub.task}, timeout=WAIT_S)
    assert sub.task.cancelled() or sub.task.exception() is None, sub.task.exception()
    if asked is not None:
        assert [p.connection for p in asked.pubsubs if p.connection is not None] == [], "left open by stop()"


def _numsub(server) -> int:
    with server.client() as c:
        return dict(c.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0)


def test_the_nodes_are_read_from_the_urls_with_the_database_only_in_standalone_mode():
    standalone = _subscriber(["redis://10.0.0.7:6390/3"])
    assert standalone.nodes == [("10.0.0.7", 6390, 3)]
    assert _subscriber(["redis://redis-host"]).nodes == [("redis-host", 6379, 0)]
    cluster = _subscriber(["redis://a:7001/2", "redis://b:7002"], mode="cluster")
    assert cluster.nodes == [("a", 7001, 0), ("b", 7002, 0)]
    assert standalone.timeout_s == 0.2
    assert (standalone.connected, standalone.stopping, standalone.messages, standalone.task) == (False, False, 0, None)


def test_a_database_that_is_no_number_is_refused_not_read_as_database_0():
    with pytest.raises(ValueError, match="'X'"):
        _subscriber(["redis://10.0.0.7:6390/X"])


def test_the_subscription_confirmation_drops_every_page():
    l1 = L1(size=100, ttl_s=60)
    l1.put_page("page", b"p", ("h", 1, 1), l1.version)
    l1.put_event("event", b"e")
    sub = _subscriber(["redis://127.0.0.1:6379"], l1=l1)
    sub.handle({"type": "subscribe", "channel": CHANNEL.encode(), "data": 1})
    assert sub.connected is True and sub.messages == 0
    assert l1.get("page") is None and l1.get("event") == b"e"


@pytest.mark.parametrize(("data", "hour_page", "day_page", "other_page"), [
    (b"5 2", None, None, b"o"),        # hour 5, day 2: the pages under them only
    (b"garbage", None, None, None),    # unreadable: anything may have changed
    (b"5 2 9", None, None, None),
    (b"5", None, None, None),
])
def test_a_message_drops_the_pages_under_its_hour_and_day(data, hour_page, day_page, other_page):
    l1 = L1(size=100, ttl_s=60)
    l1.put_page("hour 5", b"h", ("h", 5, 5), l1.version)
    l1.put_page("day 2", b"d", ("d", 2, 2), l1.version)
    l1.put_page("other", b"o", ("h", 40, 41), l1.version)
    sub = _subscriber(["redis://127.0.0.1:6379"], l1=l1)
    sub.handle({"type": "message", "channel": CHANNEL.encode(), "data": data})
    assert sub.messages == 1 and sub.connected is False
    assert [l1.get(k) for k in ("hour 5", "day 2", "other")] == [hour_page, day_page, other_page]
    assert l1.version == 1


def test_every_message_is_counted():
    sub = _subscriber(["redis://127.0.0.1:6379"])
    for data in (b"1 1", b"2 2", b"garbage"):
        sub.handle({"type": "message", "channel": CHANNEL.encode(), "data": data})
    assert sub.messages == 3


def test_other_pubsub_messages_change_nothing():
    l1 = L1(size=100, ttl_s=60)
    l1.put_page("page", b"p", ("h", 1, 1), l1.version)
    sub = _subscriber(["redis://127.0.0.1:6379"], l1=l1)
    sub.handle({"type": "unsubscribe", "channel": CHANNEL.encode(), "data": 0})
    assert (sub.connected, sub.messages, l1.version, l1.get("page")) == (False, 0, 0, b"p")


def test_a_published_write_reaches_the_l1_and_stop_leaves_no_subscription(redis, asked):
    async def scenario():
        l1 = L1(size=100, ttl_s=60)
        l1.put_page("before", b"b", ("h", 7, 7), l1.version)
        sub = _subscriber([redis.url], l1=l1)
        sub.start()
        await _until(lambda: sub.connected, "the subscription is confirmed", sub, asked)
        assert l1.get("before") is None  # cached before the subscription: it may have missed a message
        l1.put_page("hour 7", b"h", ("h", 7, 7), l1.version)
        l1.put_page("hour 8", b"h", ("h", 8, 8), l1.version)
        with redis.client() as c:
            c.publish(CHANNEL, "7 9")
        await _until(lambda: sub.messages == 1, "the message arrives", sub, asked)
        # A subscribe may take 1 s (the Redis timeout when longer), each read waits 1 s for a message.
        assert set(asked.bounds) == {1.0} and set(asked.reads) == {1.0}
        assert l1.get("hour 7") is None and l1.get("hour 8") == b"h"
        await _stop(sub, asked)
        assert sub.task.done()
        return sub

    sub = _run(scenario())
    assert sub.stopping is True
    deadline = time.monotonic() + WAIT_S
    while _numsub(redis):  # the server drops a closed connection's subscription asynchronously
        assert time.monotonic() < deadline, "the subscription outlived stop()"
        time.sleep(0.01)


def test_the_subscription_comes_back_after_redis_restarts_and_drops_every_page(redis, outage, caplog, asked):
    async def scenario():
        l1 = L1(size=100, ttl_s=60)
        sub = _subscriber([redis.url], l1=l1)
        sub.start()
        await _until(lambda: sub.connected, "the subscription is confirmed", sub, asked)
        before = len(asked.pauses)
        await asyncio.to_thread(outage.stop, redis)
        await _until(lambda: not sub.connected, "the lost subscription is noticed", sub)
        assert sub.connected is False
        # A subscription that worked starts the pauses over: the first one is the shortest.
        assert asked.pauses[before] == 0.05, asked.pauses
        lost = [r for r in caplog.records if r.getMessage() == "invalidation subscription lost"]
        assert lost and "Error: " in lost[0].error, "the warning names the error that ended the subscription"
        # Cached while down: a write made meanwhile was never heard of.
        l1.put_page("while down", b"w", ("h", 3, 3), l1.version)
        await asyncio.to_thread(outage.restart, redis)
        # Redis answers again: the attempt under way may still fail, the next one must not.
        await _until(lambda: sub.connected, "the subscription is back", sub, asked, attempts=len(asked.clients) + 2)
        assert l1.get("while down") is None
        with redis.client() as c:
            c.publish(CHANNEL, "3 3")
        await _until(lambda: sub.messages == 1, "a message after the restart arrives", sub)
        assert _numsub(redis) == 1
        await _stop(sub, asked)

    with caplog.at_level(logging.WARNING, logger="app.invalidation"):
        _run(scenario())


def test_the_subscription_sits_on_the_first_startup_node_and_uses_the_urls_database(redis, redis_cluster,
                                                                                   asked):
    async def scenario():
        standalone = _subscriber([redis.url.rsplit("/", 1)[0] + "/3"])
        cluster = _subscriber(redis_cluster.url.split(","), mode="cluster")
        standalone.start()
        cluster.start()
        await _until(lambda: standalone.connected, "the standalone subscription is confirmed", standalone,
                     asked, attempts=2)
        await _until(lambda: cluster.connected, "the cluster subscription is confirmed", cluster,
                     asked, attempts=2)
        with redis.client() as c:
            subscribed = [client for client in c.client_list() if client.get("sub") != "0"]
        # The database does not change what a subscription hears, but it is the one the URL names.
        assert "3" in [client["db"] for client in subscribed], subscribed
        # PUBSUB NUMSUB counts a cluster node's own subscribers only.
        assert [_numsub(n) for n in redis_cluster.nodes] == [1] + [0] * (len(redis_cluster.nodes) - 1)
        await _stop(standalone)
        await _stop(cluster, asked)  # both closed by now

    _run(scenario())


def test_an_unreachable_first_node_is_skipped_quietly_for_the_next_one(redis_cluster, caplog, asked):
    first, second = redis_cluster.nodes[:2]
    # Nothing listens on 127.0.0.2 (the nodes bind 127.0.0.1), but the port is a live node's:
    # a client that ignored the host would reach it.
    urls = [f"redis://127.0.0.2:{first.port}", *redis_cluster.url.split(",")[1:]]

    async def scenario():
        l1 = L1(size=100, ttl_s=60)
        sub = _subscriber(urls, mode="cluster", l1=l1)
        sub.start()
        await _until(lambda: sub.connected, "the subscription on the second node is confirmed", sub, asked,
                     attempts=2)
        assert (_numsub(first), _numsub(second)) == (0, 1)
        l1.put_page("day 4", b"d", ("d", 4, 4), l1.version)
        # A PUBLISH on any node reaches a subscriber on every node of the cluster.
        with redis_cluster.nodes[-1].client() as c:
            c.publish(CHANNEL, "0 4")
        await _until(lambda: sub.messages == 1, "a message published on another node arrives", sub, asked,
                     attempts=2)
        assert l1.get("day 4") is None
        await _stop(sub, asked)

    with caplog.at_level(logging.WARNING, logger="app.invalidation"):
        _run(scenario())
    # Never connected to the unreachable node: nothing was lost there.
    assert not [r for r in caplog.records if r.name == "app.invalidation"]


@pytest.fixture
def silent_node() -> Iterator[str]:
    """A URL whose port accepts no connection and refuses none: its accept queue is full, SYNs are dropped."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    held = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        held.append(s)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}"
    for s in (*held, listener):
        s.close()


def test_a_node_that_never_answers_the_connect_is_left_for_the_next_one(silent_node, redis_cluster, asked):
    async def scenario():
        sub = _subscriber([silent_node, *redis_cluster.url.split(",")], mode="cluster")
        sub.start()
        await _until(lambda: sub.connected, "the subscription past the silent node is confirmed", sub, asked,
                     attempts=2)
        await _stop(sub, asked)
        # Given up by the subscribe's 1 s bound: redis-py retries a connect that timed out (10 times,
        # with backoff), so its own connect timeout (0.2 s here) never ends the attempt first.
        first = asked.subscribe_errors[0]
        assert isinstance(first, TimeoutError) and not isinstance(first, RedisTimeoutError), asked.subscribe_errors

    _run(scenario())


def test_a_hung_node_is_left_for_the_next_one(redis, redis_cluster, asked):
    # The standalone server stands in for a hung cluster node: a stopped cluster node would fail over.
    async def scenario():
        sub = _subscriber([redis.url, *redis_cluster.url.split(",")], mode="cluster")
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            sub.start()
            await _until(lambda: sub.connected, "the subscription past the hung node is confirmed", sub, asked,
                         attempts=2)
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        assert _numsub(redis) == 0
        await _stop(sub, asked)

    _run(scenario())


def test_the_pause_before_the_next_attempt_grows_by_a_twentieth_of_a_second_to_one_second(redis, asked):
    # The 26th pause is taken: stop() finds the subscriber asleep, not halfway through an attempt.
    asked.skip_pauses = 25

    async def scenario():
        # Redis refuses to select a database past its 16th: each attempt fails at once, and
        # redis-py does not retry it.
        sub = _subscriber([redis.url.rsplit("/", 1)[0] + "/99"])
        sub.start()
        await _until(lambda: len(asked.pauses) > 25, "26 failed attempts", sub)
        await _stop(sub, asked)

    _run(scenario())
    assert asked.pauses[:25] == [min(1.0, 0.05 * n) for n in range(1, 26)]


def test_a_quiet_subscription_is_health_checked_with_a_ping_every_second(redis, asked):
    def pinged() -> bool:
        with redis.client() as c:
            return any(client.get("cmd") == "ping" and client.get("sub") == "1" for client in c.client_list())

    async def scenario():
        sub = _subscriber([redis.url])
        sub.start()
        await _until(lambda: sub.connected, "the subscription is confirmed", sub, asked)
        # The health check's PING goes out before a read once the connection was quiet for its interval.
        await _until(pinged, "the server sees the subscription's PING", sub)
        await _stop(sub, asked)

    _run(scenario())
    assert {kwargs["health_check_interval"] for kwargs in asked.clients} == {1}


def test_stop_returns_at_its_bound_when_the_task_reads_on(asked):
    """A cancel lost in a race (see `_stop`) must not hold shutdown: stop() waits 2 s, no longer."""
    async def scenario():
        sub = _subscriber(["redis://127.0.0.1:1"])
        reading = True

        async def reads_on():
            while reading:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0.05)

        sub.task = asyncio.get_running_loop().create_task(reads_on())
        await asyncio.wait_for(sub.stop(), WAIT_S)
        still_running = not sub.task.done()
        reading = False
        await sub.task
        return sub, still_running

    sub, still_running = _run(scenario())
    assert sub.stopping and still_running
    assert asked.waits == [2]
