"""Search invalidations from every worker and replica reach each worker's L1 through Redis pub/sub.

A write's Redis script (search_pages.WRITE) publishes "<hour> <day>" on CHANNEL; every worker
holds one subscription and drops its L1 pages under that hour and day. In a Redis Cluster a
PUBLISH reaches every node, so the subscription may sit on any startup node; it moves to the
next one when its node fails.

Messages are not stored: one sent while a subscription is down is lost. So every time the
subscription is (re)established, which redis-py may also do on its own after a dropped
connection (the server then confirms the subscription again), the worker drops every L1
search page. While no subscription exists the L1 TTL bounds how stale a page can get.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from redis.asyncio import Redis

from app.l1 import L1
from app.settings import Settings

log = logging.getLogger("app.invalidation")
CHANNEL = "events:search:invalidate"
RETRY_MAX_S = 1.0


class Subscriber:
    def __init__(self, settings: Settings, l1: L1):
        self.l1 = l1
        self.timeout_s = settings.redis_timeout_seconds
        self.nodes = [(urlsplit(u).hostname or "127.0.0.1", urlsplit(u).port or 6379,
                       int(urlsplit(u).path.strip("/") or 0) if settings.redis_mode == "standalone" else 0)
                      for u in settings.redis_url]
        self.connected = False
        self.stopping = False
        self.messages = 0
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            # Bounded: shutdown must not hang on a Redis that stopped answering (SIGSTOP).
            await asyncio.wait({self.task}, timeout=2)

    async def run(self) -> None:
        node = failures = 0
        while not self.stopping:
            host, port, db = self.nodes[node % len(self.nodes)]
            # The socket timeout is a backstop only: the subscribe's own bound (below) leaves a
            # silent node first, and each poll waits 1 s at most. A server that hangs once the
            # subscription is up (SIGSTOP) can keep it open for a while (20 s measured): no message
            # the staleness bound depends on is lost, since a hung Redis takes no write's mark
            # either, and every L1 page expires after the L1 TTL regardless.
            client = Redis(host=host, port=port, db=db, socket_connect_timeout=self.timeout_s,
                           socket_timeout=max(1.0, self.timeout_s), health_check_interval=1)
            pubsub = client.pubsub()
            try:
                # redis-py waits for a hung server's answer to a new connection's handshake without its
                # socket timeout: bounded here, so a hung node is left for the next one like a dead one.
                await asyncio.wait_for(pubsub.subscribe(CHANNEL), max(1.0, self.timeout_s))
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self.handle(message)
                        failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (any failure: try the next node after a pause)
                if self.stopping:
                    return
                if self.connected:
                    log.warning("invalidation subscription lost", extra={"error": f"{type(exc).__name__}: {exc}"})
                self.connected = False
                node, failures = node + 1, failures + 1
                await asyncio.sleep(min(RETRY_MAX_S, 0.05 * failures))
            finally:
                await asyncio.wait({asyncio.ensure_future(_close(pubsub, client))}, timeout=1)

    def handle(self, message: dict) -> None:
        if message["type"] == "subscribe":
            # Messages sent while this worker was not subscribed are lost: forget every page.
            self.connected = True
            self.l1.invalidate(None, None)
        elif message["type"] == "message":
            self.messages += 1
            try:
                hour, day = (int(x) for x in message["data"].split())
            except ValueError:
                self.l1.invalidate(None, None)
                return
            self.l1.invalidate(hour, day)


async def _close(pubsub, client) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
    except Exception:  # noqa: BLE001, S110  (closing a connection to a server that is gone)
        pass
