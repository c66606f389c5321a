"""The APNs sandbox's HTTP/2 server: asyncio + h2 over TLS, one listener per Apple environment.

Like APNs it sends its SETTINGS first (with its stream limit), answers a success with a single HEADERS
frame (``:status 200``, ``apns-id``, END_STREAM; the development host adds ``apns-unique-id``) and an error
with HEADERS + one JSON DATA frame. Client certificates are optional at the TLS level (token connections
present none) but must chain to the sandbox's CA when presented: an unknown or expired certificate fails the
handshake, as with Apple.

Faults (see :class:`~local.apns_sandbox.state.Fault`) act per request:

- ``reset`` drops the TCP connection when the chosen request arrives, before that request is evaluated:
  answers already written for earlier requests are flushed first, and neither the chosen request nor any
  request that arrived after it on that connection is recorded. A client that retries them therefore
  produces exactly one record per notification; a duplicate in the record means the client re-sent
  something APNs had accepted.
- ``goaway`` sends GOAWAY whose last-stream-id is the last request processed, then closes once flushed.
- ``hang`` stops reading the connection (no answers, no PING acks, no FIN): a dead peer.
- ``slow`` records the request at once and answers it after ``delay``: a client that gives up earlier and
  retries produces a duplicate, which the record shows.
- ``status`` answers 429/500/503 (Apple's reasons) without processing the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import uuid
from collections.abc import Iterator
from typing import Any, Self

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    PingAckReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
)
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes

from local.apns_sandbox.state import (
    Answer,
    CertificateIdentity,
    FaultKind,
    PushRequest,
    SandboxState,
)
from local.apple_pki import ApplePki
from offline_push.apns.hpack_plain import PlainValueEncoder
from offline_push.models.credential import ApnsEnvironment

_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)
_WINDOW = 16 * 1024 * 1024
_GOAWAY_DATA = b'{"reason":"Shutdown"}'
_GRACE_SECONDS = 1.0  # after a GOAWAY or a reset fault, the longest the connection lives on
_RESET_PING = b"resetnow"
_ANSWER_FIELDS = (b":status", b"apns-id", b"apns-unique-id", b"content-type", b"content-length")


@contextlib.contextmanager
def _memory_file(content: bytes) -> Iterator[str]:
    descriptor = os.memfd_create("apns-sandbox", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, content)
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)


def server_ssl_context(pki: ApplePki) -> ssl.SSLContext:
    issued = pki.issue_server_certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with _memory_file(issued.certificate_pem()) as certificate, _memory_file(issued.private_key_pem()) as key:
        context.load_cert_chain(certificate, key)
    context.load_verify_locations(cadata=pki.ca_pem().decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["h2"])
    return context


class _Request:
    __slots__ = ("body", "duplicate", "headers", "method", "path")

    def __init__(self) -> None:
        self.method = ""
        self.path = ""
        self.headers: dict[str, str] = {}
        self.duplicate = False
        self.body = b""


class _ApnsServerProtocol(asyncio.Protocol):
    def __init__(self, sandbox: ApnsSandbox, environment: ApnsEnvironment) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state
        self.environment = environment
        self.h2 = H2Connection(_CONFIG)
        # Every value of an answer is new (apns-id, apns-unique-id): plain literals, no Huffman in Python.
        self.h2.encoder = PlainValueEncoder(_ANSWER_FIELDS)
        self.transport: asyncio.Transport | None = None
        self.identity: CertificateIdentity | None = None
        self.open: dict[int, _Request] = {}
        self.last_processed = 0
        self.doomed = False  # a reset/goaway/hang fault fired: nothing more is processed
        self.resetting = False  # a reset fault fired: waiting for the ACK of the PING that ends the answers
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sandbox.connections.add(self)
        self.state.connections += 1
        # TLS over memory BIOs rather than asyncio's: when a client certificate is refused, OpenSSL's alert
        # must reach the client (asyncio drops it), as Apple's does.
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = self.sandbox.ssl_context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.handshaken = False

    def _start_h2(self) -> None:
        der = self.tls.getpeercert(binary_form=True)
        if der:
            self.identity = self.sandbox.identity_of(der)
        self.h2.local_settings = type(self.h2.local_settings)(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: self.state.max_concurrent_streams,
                SettingCodes.INITIAL_WINDOW_SIZE: 1024 * 1024,
            },
        )
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(_WINDOW)
        self._write()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.sandbox.connections.discard(self)
        self.open.clear()

    def _send_tls(self) -> None:
        data = self.outgoing.read()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.doomed and not self.resetting:
            return
        self.incoming.write(data)
        if not self.handshaken:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._send_tls()
                return
            except (ssl.SSLError, OSError):
                self._send_tls()  # the alert
                if self.transport is not None:
                    self.transport.close()
                return
            self.handshaken = True
            self._send_tls()
            self._start_h2()
        chunks = []
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLError, OSError):
                if self.transport is not None:
                    self.transport.close()
                return
            if not chunk:  # close_notify
                break
            chunks.append(chunk)
        self._send_tls()
        if chunks:
            self._h2_received(b"".join(chunks))

    def _h2_received(self, data: bytes) -> None:  # noqa: PLR0912 - one flat dispatch of h2 events
        try:
            events = self.h2.receive_data(data)
        except ProtocolError:
            self._write()
            if self.transport is not None:
                self.transport.close()
            return
        if self.resetting:  # nothing is processed any more: only the ACK that ends the connection counts
            if any(isinstance(event, PingAckReceived) and event.ping_data == _RESET_PING for event in events):
                self._abort()
            return
        for event in events:
            if self.doomed:
                break
            if isinstance(event, RequestReceived):
                request = _Request()
                for raw_name, raw_value in event.headers or ():
                    name = raw_name.decode()
                    value = raw_value.decode()
                    if name == ":method":
                        request.method = value
                    elif name == ":path":
                        request.path = value
                    elif name[0] != ":":
                        if name in request.headers:
                            request.duplicate = True
                        request.headers[name] = value
                self.open[event.stream_id] = request
                self.state.peak_streams = max(self.state.peak_streams, len(self.open))
                if event.stream_ended is not None:
                    self._handle(event.stream_id)
            elif isinstance(event, DataReceived):
                receiving = self.open.get(event.stream_id)
                if receiving is not None:
                    receiving.body += event.data
                if event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                self._handle(event.stream_id)
            elif isinstance(event, StreamReset):
                self.open.pop(event.stream_id, None)
            elif isinstance(event, ConnectionTerminated):
                self._write()
                if self.transport is not None:
                    self.transport.close()
                return
        if not self.doomed:
            self._write()

    def _write(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.tls.write(data)
            self._send_tls()

    def _handle(self, stream_id: int) -> None:
        request = self.open.get(stream_id)
        if request is None:
            return
        push = PushRequest(request.method, request.path, request.headers, request.body, request.duplicate)
        fault = self.state.take_fault(push.device_token)
        if fault is not None and fault.kind is FaultKind.RESET:
            self.state.resets += 1
            self._doom()
            self._reset_once_answers_are_read()
            return
        if fault is not None and fault.kind is FaultKind.GOAWAY:
            self.state.goaways += 1
            self._doom()
            self.h2.close_connection(
                error_code=ErrorCodes.NO_ERROR,
                additional_data=_GOAWAY_DATA,
                last_stream_id=self.last_processed,
            )
            self._write()
            # As a server shutting down gracefully does: no more requests are read, and the client closes the
            # connection once its answers are in. Closing at once, with the client's later requests unread,
            # makes the kernel reset the connection, which can discard answers already sent.
            self.loop.call_later(_GRACE_SECONDS, self._close)
            return
        if fault is not None and fault.kind is FaultKind.HANG:
            self.doomed = True  # silent from here on: not even the PING acks h2 has queued go out
            self.open.clear()
            if self.transport is not None:
                self.transport.pause_reading()
            return
        self.last_processed = stream_id
        apns_id = request.headers.get("apns-id") or str(uuid.uuid4()).upper()
        if fault is not None and fault.kind is FaultKind.STATUS:
            answer = Answer(fault.status, apns_id, fault.answer_reason)
            self.state.responses[f"{answer.status} {answer.reason}"] += 1
        else:
            answer = self.state.evaluate(push, self.environment, self.identity)
        if fault is not None and fault.kind is FaultKind.SLOW:
            self.loop.call_later(fault.delay, self._answer_later, stream_id, answer)
            return
        self._answer(stream_id, answer)

    def _doom(self) -> None:
        """Stop processing: flush what was answered, forget the rest (it is never recorded)."""
        self.doomed = True
        self._write()
        self.open.clear()

    def _reset_once_answers_are_read(self) -> None:
        """Die once the client has read the answers already sent: they are followed by a PING, and the
        connection is aborted when its ACK comes back (the client's HTTP/2 layer read everything before it).
        Aborting as soon as they are written would not do: a reset discards what the client's kernel holds
        and the client has not read yet, so answers a busy client has not read would be lost."""
        self.resetting = True
        self.h2.ping(_RESET_PING)
        self._write()
        self.loop.call_later(_GRACE_SECONDS, self._abort)

    def _abort(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()  # no TLS close_notify, no GOAWAY: the connection just dies

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _answer_later(self, stream_id: int, answer: Answer) -> None:
        if self.doomed or self.transport is None or self.transport.is_closing():
            return
        try:
            self._answer(stream_id, answer)
        except ProtocolError:  # the client gave up on the stream meanwhile
            return
        self._write()

    def _answer(self, stream_id: int, answer: Answer) -> None:
        if self.open.pop(stream_id, None) is None:
            return
        apns_id = answer.apns_id.encode()
        if answer.status == 200:
            headers = [(b":status", b"200"), (b"apns-id", apns_id)]
            if self.environment is ApnsEnvironment.DEVELOPMENT:
                headers.append((b"apns-unique-id", str(uuid.uuid4()).encode()))
            self.h2.send_headers(stream_id, headers, end_stream=True)
            return
        body = answer.body()
        self.h2.send_headers(
            stream_id,
            [
                (b":status", str(answer.status).encode()),
                (b"apns-id", apns_id),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        )
        self.h2.send_data(stream_id, body, end_stream=True)


class ApnsSandbox:
    """The whole sandbox: production and development listeners, optionally the JSON control endpoint.

    >>> async with ApnsSandbox(ApplePki()) as sandbox:
    ...     sandbox.state.register_device(token, "com.example.app", "development")
    ...     settings = ApnsSettings(apns_sandbox_url=sandbox.development_url, ...)
    """

    def __init__(
        self,
        pki: ApplePki,
        *,
        host: str = "127.0.0.1",
        production_port: int = 0,
        development_port: int = 0,
        control_port: int | None = None,
        state: SandboxState | None = None,
    ) -> None:
        self.pki = pki
        self.host = host
        self.state = state or SandboxState()
        self._ports = {
            ApnsEnvironment.PRODUCTION: production_port,
            ApnsEnvironment.DEVELOPMENT: development_port,
        }
        self._control_port = control_port
        self._servers: dict[ApnsEnvironment, asyncio.Server] = {}
        self._control: asyncio.Server | None = None
        self.connections: set[_ApnsServerProtocol] = set()
        self._identities: dict[bytes, CertificateIdentity] = {}
        self.ssl_context = server_ssl_context(pki)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for environment, port in self._ports.items():
            self._servers[environment] = await loop.create_server(
                lambda environment=environment: _ApnsServerProtocol(self, environment),  # type: ignore[misc]
                self.host,
                port,
                reuse_address=True,
            )
        if self._control_port is not None:
            from local.apns_sandbox.control import serve_control  # noqa: PLC0415 - optional part

            self._control = await serve_control(self, self.host, self._control_port)

    async def stop(self) -> None:
        servers = list(self._servers.values())
        if self._control is not None:
            servers.append(self._control)
        for server in servers:
            server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        for server in servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        self._control = None

    def identity_of(self, der: bytes) -> CertificateIdentity:
        identity = self._identities.get(der)
        if identity is None:
            identity = CertificateIdentity.from_der(der)
            self._identities[der] = identity
        return identity

    def drop_connections(self) -> int:
        """Close every client connection abruptly (as a network failure would); the count closed."""
        connections = list(self.connections)
        for connection in connections:
            if connection.transport is not None:
                connection.transport.abort()
        return len(connections)

    def _port(self, server: asyncio.Server) -> int:
        return int(server.sockets[0].getsockname()[1])

    def url(self, environment: ApnsEnvironment) -> str:
        return f"https://{self.host}:{self._port(self._servers[environment])}"

    @property
    def production_url(self) -> str:
        return self.url(ApnsEnvironment.PRODUCTION)

    @property
    def development_url(self) -> str:
        return self.url(ApnsEnvironment.DEVELOPMENT)

    @property
    def control_url(self) -> str | None:
        return f"http://{self.host}:{self._port(self._control)}" if self._control is not None else None

    def describe(self) -> dict[str, Any]:
        return {
            "production": self.production_url,
            "development": self.development_url,
            "control": self.control_url,
            "pid": os.getpid(),
        }
