"""The APNs client of one credential and environment: sends batches, retries what can be retried, and
answers every notification with a typed outcome, never with one exception for the batch.

>>> outcomes = await client.send(requests)          # one outcome per request, in order
>>> [o for o in outcomes if isinstance(o, Failed) and o.prune_token]

A batch runs as one coroutine: up to ``max_in_flight`` requests on the connection (bounded also by the
server's stream limit), each answered through a callback that classifies the response and either resolves
the notification or schedules its retry (exponential backoff with full jitter, ``apns_max_attempts`` in
all). Every attempt of a notification carries its ``apns-id``, so a receiver can tell duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from h2.exceptions import ProtocolError

from offline_push.apns.connection import ApnsConnection, ConnectError
from offline_push.apns.outcome import (
    ApnsReason,
    Delivered,
    DeliveryOutcome,
    Failed,
    Retryable,
    is_retryable,
    reason_of,
)
from offline_push.apns.settings import ApnsSettings
from offline_push.apns.tls import certificate_context, client_context
from offline_push.apns.tokens import ProviderTokenSource
from offline_push.models.credential import ApnsCredential, CertificateCredential
from offline_push.models.notification import ApnsRequest

logger = logging.getLogger(__name__)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))] before attempt ``attempt + 1``."""
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0, ceiling)


@dataclass
class ClientStats:
    connections_opened: int = 0
    requests_sent: int = 0
    retries: int = 0
    token_refreshes: int = 0


class ApnsClient:
    """Sends notifications with one credential to one APNs environment over one HTTP/2 connection at a time.

    Create it once per (credential, environment) and keep it (:class:`~offline_push.apns.pool.ApnsClientPool`
    does): the connection and the TLS session outlive the batch, and a warm Lambda reuses them.
    """

    def __init__(
        self,
        credential: ApnsCredential,
        settings: ApnsSettings,
        *,
        token_source: ProviderTokenSource | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.credential = credential
        self.environment = credential.environment
        self.settings = settings
        parts = urlsplit(settings.url_for(credential.environment))
        self.host = parts.hostname or ""
        self.port = parts.port or 443
        self._authority = (self.host if self.port == 443 else f"{self.host}:{self.port}").encode()
        if isinstance(credential, CertificateCredential):
            self._ssl = certificate_context(credential, settings.apns_extra_ca_bundle)
            self.token_source = None
        else:
            self._ssl = client_context(settings.apns_extra_ca_bundle)
            self.token_source = token_source or ProviderTokenSource(
                team_id=credential.team_id, key_id=credential.key_id, signing_key=credential.signing_key
            )
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._connection: ApnsConnection | None = None
        self._connecting: asyncio.Task[ApnsConnection] | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self.stats = ClientStats()

    def __repr__(self) -> str:
        kind = type(self.credential).__name__
        return f"ApnsClient({kind}, topic={self.credential.topic!r}, {self.environment})"

    # --- connection --------------------------------------------------------------------------------------

    def _on_connection_change(self, connection: ApnsConnection) -> None:
        if connection is self._connection and not connection.usable:
            self._connection = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _usable_connection(self) -> ApnsConnection:
        loop = asyncio.get_running_loop()
        connection = self._connection
        if connection is not None:
            if connection.usable and connection._loop is loop:
                return connection
            if connection._loop is not loop:  # a new event loop (asyncio.run per invocation): start over
                self._drop(connection)
            self._connection = None
        connecting = self._connecting
        if connecting is None or connecting.done() or connecting.get_loop() is not loop:
            connecting = loop.create_task(self._open())
            self._connecting = connecting
        return await asyncio.shield(connecting)

    async def _open(self) -> ApnsConnection:
        settings = self.settings
        connection = await ApnsConnection.open(
            self.host,
            self.port,
            self._ssl,
            connect_timeout=settings.apns_connect_timeout,
            read_timeout=settings.apns_read_timeout,
            idle_ping_after=settings.apns_idle_ping_after,
            on_change=self._on_connection_change,
        )
        self.stats.connections_opened += 1
        self._connection = connection
        return connection

    @staticmethod
    def _drop(connection: ApnsConnection) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop is closed: the socket went with it
            connection.abort()

    async def close(self) -> None:
        """Close the connection gracefully (GOAWAY after the open streams are answered)."""
        if self._connection is not None:
            if self._connection._loop is asyncio.get_running_loop():
                self._connection.close()
            else:
                self._drop(self._connection)
            self._connection = None

    # --- sending -------------------------------------------------------------------------------------------

    async def send_one(self, request: ApnsRequest) -> DeliveryOutcome:
        return (await self.send([request]))[0]

    async def send(
        self,
        requests: Sequence[ApnsRequest],
        *,
        max_in_flight: int | None = None,
        timeout: float | None = None,
    ) -> list[DeliveryOutcome]:
        """One outcome per request, in order. ``timeout`` bounds the whole batch (e.g. the Lambda's
        remaining time): what is unanswered by then is ``Retryable(DeadlineExceeded)``."""
        return await _Batch(self, requests, max_in_flight or self.settings.apns_max_in_flight, timeout).run()

    def _headers(self, request: ApnsRequest, authorization: bytes | None) -> list[tuple[bytes, bytes]]:
        notification = request.notification
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", self._authority),
            (b":path", b"/3/device/" + request.device_token.encode()),
            (b"apns-topic", request.topic.encode()),
            (b"apns-push-type", notification.push_type.value.encode()),
            (b"apns-id", request.apns_id.encode()),
            (b"apns-priority", b"10" if notification.priority == 10 else str(notification.priority).encode()),
        ]
        if notification.expiration is not None:
            headers.append((b"apns-expiration", str(notification.expiration).encode()))
        if notification.collapse_id is not None:
            headers.append((b"apns-collapse-id", notification.collapse_id.encode()))
        if authorization is not None:
            headers.append((b"authorization", authorization))
        return headers


class _Batch:
    """The state of one :meth:`ApnsClient.send` call."""

    def __init__(
        self, client: ApnsClient, requests: Sequence[ApnsRequest], max_in_flight: int, timeout: float | None
    ) -> None:
        self.client = client
        self.requests = requests
        self.loop = asyncio.get_running_loop()
        self.max_in_flight = max_in_flight
        self.deadline = None if timeout is None else self.loop.time() + timeout
        count = len(requests)
        self.results: list[DeliveryOutcome | None] = [None] * count
        self.attempts = [0] * count
        self.started = [0.0] * count
        self.token_refreshed = [False] * count
        self.ready: deque[int] = deque(range(count))
        self.unresolved = count
        self.in_flight = 0
        self.retry_timers: dict[int, asyncio.TimerHandle] = {}
        self.rejected_token: bytes | None = None  # a provider token APNs called expired
        self.wakeup: asyncio.Future[None] | None = None
        settings = client.settings
        self.max_attempts = settings.apns_max_attempts

    # --- outcomes --------------------------------------------------------------------------------------

    def _wake(self) -> None:
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _resolve(self, index: int, outcome: DeliveryOutcome) -> None:
        if self.results[index] is None:
            self.results[index] = outcome
            self.unresolved -= 1
            self._wake()

    def _elapsed(self, index: int) -> float:
        started = self.started[index]
        return self.loop.time() - started if started else 0.0

    def _retry_or_give_up(self, index: int, status: int | None, reason: str) -> None:
        attempts = self.attempts[index]
        if attempts >= self.max_attempts + self.token_refreshed[index]:
            request = self.requests[index]
            self._resolve(
                index,
                Retryable(
                    request.apns_id, request.device_token, status, reason, attempts, self._elapsed(index)
                ),
            )
            return
        settings = self.client.settings
        delay = backoff_delay(
            attempts, settings.apns_backoff_base, settings.apns_backoff_max, self.client._rng
        )
        self.client.stats.retries += 1
        self.retry_timers[index] = self.loop.call_later(delay, self._requeue, index)

    def _requeue(self, index: int) -> None:
        self.retry_timers.pop(index, None)
        if self.results[index] is None:
            self.ready.append(index)
            self._wake()

    def _on_response(
        self,
        index: int,
        authorization: bytes | None,
        status: int | None,
        body: bytes | str,
        unique_id: bytes | None,
    ) -> None:
        self.in_flight -= 1
        if self.results[index] is not None:  # the batch's deadline already answered for it
            self._wake()
            return
        request = self.requests[index]
        if status == 200:
            self._resolve(
                index,
                Delivered(
                    request.apns_id,
                    request.device_token,
                    self.attempts[index],
                    unique_id.decode() if unique_id else None,
                    self._elapsed(index),
                ),
            )
            return
        if status is None:  # no response: the connection failed, timed out, or went away
            self._retry_or_give_up(index, None, str(body))
            self._wake()
            return
        reason, unregistered_at = reason_of(body if isinstance(body, bytes) else body.encode())
        if (
            reason == ApnsReason.EXPIRED_PROVIDER_TOKEN
            and self.client.token_source is not None
            and not self.token_refreshed[index]
        ):
            # One refresh and an immediate retry, on top of the attempt budget: the token, not the
            # notification, was at fault.
            self.token_refreshed[index] = True
            self.rejected_token = authorization
            self.ready.append(index)
            self._wake()
            return
        if is_retryable(status, reason):
            self._retry_or_give_up(index, status, reason)
            self._wake()
            return
        self._resolve(
            index,
            Failed(
                request.apns_id,
                request.device_token,
                status,
                reason,
                self.attempts[index],
                unregistered_at,
                self._elapsed(index),
            ),
        )

    def _give_up_ready(self, reason: str, *, final: bool) -> None:
        while self.ready:
            index = self.ready.popleft()
            request = self.requests[index]
            outcome: DeliveryOutcome
            if final:
                outcome = Failed(
                    request.apns_id,
                    request.device_token,
                    None,
                    reason,
                    self.attempts[index],
                    None,
                    self._elapsed(index),
                )
            else:
                outcome = Retryable(
                    request.apns_id,
                    request.device_token,
                    None,
                    reason,
                    self.attempts[index],
                    self._elapsed(index),
                )
            self._resolve(index, outcome)

    # --- the loop --------------------------------------------------------------------------------------

    async def run(self) -> list[DeliveryOutcome]:
        client = self.client
        connect_failures = 0
        try:
            while self.unresolved:
                if self.deadline is not None and self.loop.time() >= self.deadline:
                    self._expire()
                    break
                blocked = False
                if self.ready and self.in_flight < self.max_in_flight:
                    try:
                        authorization = await self._authorization()
                    except Exception:  # a batch answers per notification; it never raises
                        key_id = getattr(client.credential, "key_id", "?")
                        logger.exception("no APNs provider token for key %s", key_id)
                        self._give_up_ready(ApnsReason.PROVIDER_TOKEN_UNAVAILABLE, final=False)
                        continue
                    try:
                        connection = await client._usable_connection()
                    except ConnectError as exc:
                        connect_failures += 1
                        if self._connect_failed(exc, connect_failures):
                            continue
                        await self._sleep(
                            backoff_delay(
                                connect_failures,
                                client.settings.apns_backoff_base,
                                client.settings.apns_backoff_max,
                                client._rng,
                            )
                        )
                        continue
                    connect_failures = 0
                    blocked = self._fill(connection, authorization)
                if self.unresolved:
                    await self._wait(starved=blocked and self.in_flight == 0)
        finally:
            for timer in self.retry_timers.values():
                timer.cancel()
        return [outcome for outcome in self.results if outcome is not None]

    async def _authorization(self) -> bytes | None:
        source = self.client.token_source
        if source is None:
            return None
        header = source.header()
        if header is None or self.rejected_token is not None:
            rejected, self.rejected_token = self.rejected_token, None
            header = await source.refresh(rejected=rejected)
            self.client.stats.token_refreshes += 1
        return header

    def _fill(self, connection: ApnsConnection, authorization: bytes | None) -> bool:
        """Start as many ready requests as the connection and the batch allow; True if stream-limited."""
        room = min(connection.capacity, self.max_in_flight - self.in_flight)
        if room <= 0:
            return bool(self.ready)
        now = self.loop.time()
        client = self.client
        ready = self.ready
        requests = self.requests
        attempts = self.attempts
        on_response = self._on_response
        sent = 0
        while ready and sent < room:
            index = ready.popleft()
            if attempts[index] == 0:
                self.started[index] = now
            request = requests[index]
            try:
                connection.submit(
                    client._headers(request, authorization),
                    request.notification.payload,
                    partial(on_response, index, authorization),
                )
            except ProtocolError:  # the connection's state machine refused: retire it, retry elsewhere
                ready.appendleft(index)
                connection.abort()
                break
            attempts[index] += 1
            sent += 1
        self.in_flight += sent
        client.stats.requests_sent += sent
        return bool(ready) and connection.capacity <= 0

    def _connect_failed(self, exc: ConnectError, failures: int) -> bool:
        """Count a failed connect against the waiting requests; True if it settled them."""
        logger.warning("APNs connection to %s failed: %s", self.client.host, exc.reason)
        if exc.final:
            self._give_up_ready(exc.reason, final=True)
            return True
        if failures >= self.max_attempts:
            for index in self.ready:
                self.attempts[index] = max(self.attempts[index], failures)
            self._give_up_ready(exc.reason, final=False)
            return True
        return False

    async def _wait(self, *, starved: bool) -> None:
        """Sleep until a response, a retry timer, a freed stream or the deadline."""
        self.wakeup = self.loop.create_future()
        waiters = self.client._waiters
        waiters.add(self.wakeup)
        limit = self.deadline
        if starved:  # nothing of ours in flight and no stream free: the pool timeout applies
            pool_deadline = self.loop.time() + self.client.settings.apns_pool_timeout
            limit = pool_deadline if limit is None else min(limit, pool_deadline)
        try:
            if limit is None:
                await self.wakeup
            else:
                try:
                    async with asyncio.timeout_at(limit):
                        await self.wakeup
                except TimeoutError:
                    if starved and (self.deadline is None or self.loop.time() < self.deadline):
                        self._give_up_ready(ApnsReason.POOL_TIMEOUT, final=False)
        finally:
            waiters.discard(self.wakeup)
            self.wakeup = None

    async def _sleep(self, delay: float) -> None:
        if self.deadline is not None:
            delay = min(delay, max(self.deadline - self.loop.time(), 0))
        await asyncio.sleep(delay)

    def _expire(self) -> None:
        for index, outcome in enumerate(self.results):
            if outcome is None:
                request = self.requests[index]
                self._resolve(
                    index,
                    Retryable(
                        request.apns_id,
                        request.device_token,
                        None,
                        ApnsReason.DEADLINE_EXCEEDED,
                        self.attempts[index],
                        self._elapsed(index),
                    ),
                )
