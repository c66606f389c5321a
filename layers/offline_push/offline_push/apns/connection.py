"""One HTTP/2 connection to APNs: many requests in flight, each answered through a callback.

Written on ``h2`` and an ``asyncio.Protocol`` directly: no task or future per request, header validation
off (we build the headers), and the frames of every request started in one loop iteration leave in one
``write``. That is what makes it several times faster than httpx's HTTP/2 pool (see bench/bench_apns.py).

Failure handling, all of it ending in the request's callback and none of it hanging:

- the server's stream limit (``SETTINGS_MAX_CONCURRENT_STREAMS``) is respected: :attr:`capacity`;
- a response that takes longer than the read timeout cancels its stream (``Timeout``) and the connection is
  PINGed and takes no new request until the PING is answered: no answer within the ping timeout (the
  connect timeout) and the connection is dropped;
- a connection idle for longer than ``idle_ping_after`` is PINGed when next used (a Lambda instance thawed
  after minutes may hold a socket that silently died);
- GOAWAY fails the streams the server did not process (``GoAway``, safe to retry) and lets the others finish;
- connection loss fails every open stream (``ConnectionLost``: APNs may have accepted it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable
from typing import Final

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingAckReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    SettingsAcknowledged,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes

from offline_push.apns.hpack_plain import PlainValueEncoder
from offline_push.apns.outcome import ApnsReason

# hpack logs every header it encodes or decodes at DEBUG, the provider token (authorization) included: a
# Lambda running at DEBUG would write bearer credentials to CloudWatch. Its debug output is never needed.
logging.getLogger("hpack").setLevel(logging.INFO)

# (status, body, apns-unique-id) of a response, or (None, reason, None) when there was none.
ResponseCallback = Callable[[int | None, bytes | str, bytes | None], None]

# Requests started in one loop iteration leave in writes of this many: one write per request costs a
# syscall and a TLS record each; one write per iteration makes the server wait for the whole wave before it
# starts, and client and server take turns instead of working side by side (measured in bench/bench_apns.py).
FLUSH_EVERY: Final = 8
_STREAM_ID_LIMIT: Final = 2**31 - 1 - 2 * 1000  # leave room for the streams in flight
_CONFIG: Final = H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)


class ConnectError(Exception):
    """The connection could not be established; ``reason`` is an :class:`ApnsReason`, ``final`` if retrying
    with the same credential and configuration cannot succeed (a rejected certificate)."""

    def __init__(self, reason: str, detail: str, *, final: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.final = final


def reason_for_exception(exc: BaseException | None) -> tuple[str, bool]:
    """(reason, final) for a transport failure. TLS alerts about our certificate are final."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ApnsReason.SERVER_CERTIFICATE_UNTRUSTED, True
    if isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
        return ApnsReason.BAD_CERTIFICATE, True
    return ApnsReason.CONNECTION_LOST, False


class _Stream:
    __slots__ = ("body", "callback", "deadline", "status", "unique_id")

    def __init__(self, callback: ResponseCallback, deadline: float) -> None:
        self.callback = callback
        self.deadline = deadline
        self.status = 0
        self.body = b""
        self.unique_id: bytes | None = None


class ApnsConnection(asyncio.Protocol):
    """Use :meth:`open`, then :meth:`submit` while :attr:`capacity` > 0."""

    def __init__(
        self,
        *,
        read_timeout: float,
        idle_ping_after: float,
        ping_timeout: float,
        on_change: Callable[[ApnsConnection], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._h2 = H2Connection(_CONFIG)
        self._h2.encoder = PlainValueEncoder((b":path", b"apns-id"))
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._blocked: dict[int, bytes] = {}  # request bodies waiting for flow-control window
        self._read_timeout = read_timeout
        self._idle_ping_after = idle_ping_after
        self._ping_timeout = ping_timeout
        self._on_change = on_change
        self._max_streams = 1  # until the server's SETTINGS say otherwise
        self._settings_received: asyncio.Future[None] = self._loop.create_future()
        self._flush_scheduled = False
        self._unflushed = 0  # requests started since the last write
        self._sweeper: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._last_received = self._loop.time()
        self._suspect = False  # a request timed out: no new ones until a PING proves the peer alive
        self.usable = False  # accepting new requests
        self.closed = False
        self.close_reason: str | None = None
        self.requests_sent = 0

    # --- life cycle --------------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        *,
        connect_timeout: float,
        read_timeout: float,
        idle_ping_after: float,
        on_change: Callable[[ApnsConnection], None] | None = None,
    ) -> ApnsConnection:
        """Connect, negotiate h2, wait for the server's SETTINGS (its stream limit); ConnectError if not."""
        loop = asyncio.get_running_loop()
        connection = cls(
            read_timeout=read_timeout,
            idle_ping_after=idle_ping_after,
            ping_timeout=connect_timeout,
            on_change=on_change,
        )
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(
                    lambda: connection, host, port, ssl=ssl_context, server_hostname=host
                )
                await connection._settings_received
        except TimeoutError as exc:
            connection.abort()
            raise ConnectError(ApnsReason.CONNECTION_FAILED, f"no answer from {host}:{port}") from exc
        except ConnectError:
            connection.abort()
            raise
        except OSError as exc:  # refused, unreachable, TLS errors (ssl.SSLError is an OSError)
            connection.abort()
            reason, final = reason_for_exception(exc)
            if not final:
                reason = ApnsReason.CONNECTION_FAILED
            raise ConnectError(reason, f"{host}:{port}: {exc}", final=final) from exc
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
            self._fail_settings(ConnectError(ApnsReason.CONNECTION_FAILED, "the server did not agree to h2"))
            return
        self._h2.initiate_connection()
        self._flush()

    def _fail_settings(self, exc: BaseException) -> None:
        if not self._settings_received.done():
            self._settings_received.set_exception(exc)
            self._settings_received.exception()  # open() may have given up: no "never retrieved"

    def connection_lost(self, exc: BaseException | None) -> None:
        reason, final = reason_for_exception(exc)
        if not self._settings_received.done():
            if final:
                self._fail_settings(ConnectError(reason, str(exc), final=True))
            else:
                self._fail_settings(ConnectionResetError("the connection closed during setup"))
        self._closed(reason)

    def _closed(self, reason: str) -> None:
        """Fail what is still open with ``reason``: unanswered, maybe processed (never "GoAway" here)."""
        if self.closed:
            return
        self.closed = True
        self.usable = False
        self.close_reason = self.close_reason or reason
        for timer in (self._sweeper, self._ping_timer):
            if timer is not None:
                timer.cancel()
        streams, self._streams = self._streams, {}
        self._blocked.clear()
        for stream in streams.values():
            stream.callback(None, reason, None)
        if self._on_change is not None:
            self._on_change(self)

    def abort(self) -> None:
        """Drop the connection now; open streams fail with ``ConnectionLost``."""
        if self._transport is not None:
            self._transport.abort()
        self._closed(ApnsReason.CONNECTION_LOST)

    def close(self) -> None:
        """Stop taking requests; say GOAWAY and close once the open streams are answered."""
        self.usable = False
        if self._transport is None or self.closed:
            return
        if not self._streams:
            try:
                self._h2.close_connection()
                self._transport.write(self._h2.data_to_send())
            except ProtocolError:
                pass
            self._transport.close()

    # --- requests --------------------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """How many more requests may start now."""
        if not self.usable or self._suspect:
            return 0
        return self._max_streams - len(self._streams)

    @property
    def in_flight(self) -> int:
        return len(self._streams)

    def submit(self, headers: list[tuple[bytes, bytes]], body: bytes, callback: ResponseCallback) -> None:
        """Start one request. Call only while :attr:`capacity` > 0; the answer comes through ``callback``."""
        h2 = self._h2
        stream_id = h2.get_next_available_stream_id()
        now = self._loop.time()
        if now - self._last_received > self._idle_ping_after:
            self._send_ping()
        h2.send_headers(stream_id, headers)
        if len(body) <= h2.local_flow_control_window(stream_id) and len(body) <= h2.max_outbound_frame_size:
            h2.send_data(stream_id, body, end_stream=True)
        else:
            self._blocked[stream_id] = body
        self._streams[stream_id] = _Stream(callback, now + self._read_timeout)
        if self._blocked:
            self._send_blocked()
        self.requests_sent += 1
        if stream_id >= _STREAM_ID_LIMIT:
            self.usable = False  # a fresh connection takes over before stream ids run out
            self.close_reason = ApnsReason.GOAWAY
        if self._sweeper is None:
            self._sweeper = self._loop.call_at(now + self._read_timeout, self._sweep)
        self._unflushed += 1
        if self._unflushed >= FLUSH_EVERY:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _send_blocked(self) -> None:
        h2 = self._h2
        for stream_id in list(self._blocked):
            body = self._blocked[stream_id]
            window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
            while body and window > 0:
                chunk, body = body[:window], body[window:]
                h2.send_data(stream_id, chunk, end_stream=not body)
                window = min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size)
            if body:
                self._blocked[stream_id] = body
            else:
                del self._blocked[stream_id]

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._unflushed = 0
        if self._transport is not None and not self._transport.is_closing():
            data = self._h2.data_to_send()
            if data:
                self._transport.write(data)

    # --- liveness --------------------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Time out the streams past their deadline (they are in deadline order: one read timeout)."""
        self._sweeper = None
        if self.closed:
            return
        now = self._loop.time()
        expired = []
        for stream_id, stream in self._streams.items():
            if stream.deadline > now:
                break
            expired.append(stream_id)
        for stream_id in expired:
            stream = self._streams.pop(stream_id)
            self._blocked.pop(stream_id, None)
            with contextlib.suppress(ProtocolError):
                self._h2.reset_stream(stream_id, ErrorCodes.CANCEL)
            stream.callback(None, ApnsReason.TIMEOUT, None)
        if expired:
            self._suspect = True
            self._send_ping()  # is the connection itself still alive?
            self._flush()
            self._finish_if_drained()
            if self._on_change is not None:
                self._on_change(self)
        if self._streams:
            first = next(iter(self._streams.values()))
            self._sweeper = self._loop.call_at(max(first.deadline, now + 0.001), self._sweep)

    def _send_ping(self) -> None:
        if self._ping_timer is not None or self.closed:
            return
        self._h2.ping(os.urandom(8))
        self._ping_timer = self._loop.call_later(self._ping_timeout, self._ping_expired)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _ping_expired(self) -> None:
        self._ping_timer = None
        self.close_reason = ApnsReason.CONNECTION_LOST
        self.abort()

    # --- events ----------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:  # noqa: PLR0912, PLR0915 - the hot path: one flat dispatch
        self._last_received = self._loop.time()
        try:
            events = self._h2.receive_data(data)
        except ProtocolError:
            self.close_reason = ApnsReason.CONNECTION_LOST
            self.abort()
            return
        streams = self._streams
        changed = False
        for event in events:
            if isinstance(event, ResponseReceived):
                stream = streams.get(event.stream_id)
                if stream is not None:
                    for name, value in event.headers or ():
                        if name == b":status":
                            stream.status = int(value)
                        elif name == b"apns-unique-id":
                            stream.unique_id = bytes(value)
            elif isinstance(event, DataReceived):
                stream = streams.get(event.stream_id)
                if stream is not None and event.data:
                    stream.body += event.data
                if event.flow_controlled_length:
                    self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                stream = streams.pop(event.stream_id, None)
                if stream is not None:
                    changed = True
                    stream.callback(stream.status, stream.body, stream.unique_id)
            elif isinstance(event, StreamReset):
                stream = streams.pop(event.stream_id, None)
                self._blocked.pop(event.stream_id, None)
                if stream is not None:
                    changed = True
                    stream.callback(None, ApnsReason.STREAM_RESET, None)
            elif isinstance(event, RemoteSettingsChanged):
                setting = event.changed_settings.get(SettingCodes.MAX_CONCURRENT_STREAMS)
                if setting is not None:
                    self._max_streams = min(setting.new_value, 2**31)
                    changed = True
                elif not self._settings_received.done() and self._max_streams == 1:
                    # SETTINGS without a limit: HTTP/2 says unlimited; be reasonable.
                    self._max_streams = 1000
                if not self._settings_received.done():
                    self.usable = True
                    self._settings_received.set_result(None)
            elif isinstance(event, WindowUpdated):
                if self._blocked:
                    self._send_blocked()
            elif isinstance(event, PingAckReceived):
                if self._ping_timer is not None:
                    self._ping_timer.cancel()
                    self._ping_timer = None
                if self._suspect:
                    self._suspect = False
                    changed = True
            elif isinstance(event, ConnectionTerminated):
                self._go_away(event)
                changed = True
            elif isinstance(event, SettingsAcknowledged):
                pass
        self._flush()
        if changed:
            self._finish_if_drained()
            if self._on_change is not None:
                self._on_change(self)

    def _go_away(self, event: ConnectionTerminated) -> None:
        """GOAWAY: streams above ``last_stream_id`` were never processed; the rest may still be answered."""
        self.usable = False
        self.close_reason = ApnsReason.GOAWAY
        last = event.last_stream_id if event.last_stream_id is not None else 0
        for stream_id in [sid for sid in self._streams if sid > last]:
            stream = self._streams.pop(stream_id)
            self._blocked.pop(stream_id, None)
            stream.callback(None, ApnsReason.GOAWAY, None)

    def _finish_if_drained(self) -> None:
        if not self.usable and not self._streams and self._transport is not None and not self.closed:
            self._transport.close()
