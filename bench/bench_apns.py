"""APNs client throughput: ours vs aioapns vs a minimal raw-h2 client (the ceiling) vs stock httpx.

    python -m bench.bench_apns [--count 10000] [--in-flight 100,500] [--repeat 3] [--clients ...]

The APNs sandbox runs in its own process (``python -m local.apns_sandbox``) with TLS and a client
certificate, as Apple's certificate-based connections; every client sends the same notifications over one
HTTP/2 connection with N requests in flight. Reported per client and in-flight level (each the median
over the repeats): notifications per second, latency p50/p99 (request start to answer), the client's
CPU seconds per 10,000 notifications, the sandbox process's CPU use as a share of one core (so it is visibly
not the bottleneck), and ratios to aioapns and to the raw-h2 ceiling. The repeats go round-robin over the
clients, so a drift in the machine's load falls on all of them. Every run checks that the sandbox accepted
each notification exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RemoteSettingsChanged, ResponseReceived, StreamEnded

from local.apns_sandbox import SandboxProcess, start_sandbox_process
from local.apple_pki import PushCertificateKind
from offline_push.apns import ApnsClient, ApnsSettings, Delivered
from offline_push.models.credential import ApnsEnvironment, CertificateCredential
from offline_push.models.notification import ApnsRequest, Notification

TOPIC = "com.example.bench"
PAYLOAD = {"aps": {"alert": {"title": "Denny", "body": "hello from the benchmark"}, "sound": "default"}}
PAYLOAD_BYTES = json.dumps(PAYLOAD, separators=(",", ":")).encode()


@dataclass
class Sample:
    client: str
    in_flight: int
    count: int
    wall: float
    client_cpu: float
    sandbox_cpu: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.wall

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    @property
    def cpu_per_10k(self) -> float:
        return self.client_cpu * 10_000 / self.count

    @property
    def sandbox_share(self) -> float:
        return self.sandbox_cpu / self.wall


@dataclass
class Setup:
    sandbox: SandboxProcess
    credential: CertificateCredential
    certificate_file: Path  # cert + key PEM, for the peers that only read files
    tokens: list[str]

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.sandbox.development_url.removeprefix("https://").rsplit(":", 1)
        return host, int(port)

    def ssl_context(self, *, with_certificate: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.sandbox.ca_path))
        context.set_alpn_protocols(["h2"])
        if with_certificate:
            context.load_cert_chain(str(self.certificate_file))
        return context


Runner = Callable[[Setup, list[str], int], Awaitable[tuple[list[float], int]]]


# --- ours -------------------------------------------------------------------------------------------------


def run_ours(topic: str = TOPIC) -> Runner:
    clients: dict[int, ApnsClient] = {}

    async def run(setup: Setup, tokens: list[str], in_flight: int) -> tuple[list[float], int]:
        client = clients.get(id(setup))
        if client is None:
            settings = ApnsSettings(
                apns_sandbox_url=setup.sandbox.development_url,
                apns_production_url=setup.sandbox.production_url,
                apns_extra_ca_bundle=str(setup.sandbox.ca_path),
                apns_read_timeout=30,
            )
            client = clients[id(setup)] = ApnsClient(setup.credential, settings)
        notification = Notification(PAYLOAD_BYTES)
        requests = [ApnsRequest(token, topic, notification, str(uuid.uuid4())) for token in tokens]
        outcomes = await client.send(requests, max_in_flight=in_flight)
        delivered = [outcome for outcome in outcomes if isinstance(outcome, Delivered)]
        return [outcome.elapsed for outcome in delivered], len(delivered)

    return run


# --- peers ------------------------------------------------------------------------------------------------


async def _workers(
    tokens: list[str], in_flight: int, send: Callable[[str], Awaitable[bool]]
) -> tuple[list[float], int]:
    """``in_flight`` workers, each sending one notification at a time: N requests in flight."""
    latencies: list[float] = []
    delivered = 0
    iterator = iter(tokens)
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal delivered
        for token in iterator:
            started = clock()
            if await send(token):
                delivered += 1
                latencies.append(clock() - started)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return latencies, delivered


def run_aioapns() -> Runner:
    from aioapns import APNs, NotificationRequest, PushType  # noqa: PLC0415 - a bench-only peer
    from aioapns.connection import APNsDevelopmentClientProtocol  # noqa: PLC0415

    clients: dict[int, Any] = {}

    async def run(setup: Setup, tokens: list[str], in_flight: int) -> tuple[list[float], int]:
        apns = clients.get(id(setup))
        if apns is None:
            host, port = setup.host_port

            # aioapns has no host/port setting: its protocol class names Apple's host.
            class SandboxProtocol(APNsDevelopmentClientProtocol):
                APNS_SERVER = host
                APNS_PORT = port

            apns = APNs(
                client_cert=str(setup.certificate_file),
                topic=TOPIC,
                use_sandbox=True,
                ssl_context=setup.ssl_context(with_certificate=False),
                max_connections=1,
            )
            apns.pool.protocol_class = SandboxProtocol
            clients[id(setup)] = apns

        async def send(token: str) -> bool:
            request = NotificationRequest(
                device_token=token,
                message=PAYLOAD,
                notification_id=str(uuid.uuid4()),
                push_type=PushType.ALERT,
            )
            result = await apns.send_notification(request)
            return bool(result.is_successful)

        return await _workers(tokens, in_flight, send)

    return run


class _RawH2(asyncio.Protocol):
    """The ceiling: the least a client must do on h2 (a future per stream, one write per request)."""

    def __init__(self) -> None:
        self.h2 = H2Connection(
            H2Configuration(client_side=True, validate_outbound_headers=False, validate_inbound_headers=False)
        )
        self.transport: asyncio.Transport | None = None
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.status: dict[int, int] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            if isinstance(event, ResponseReceived):
                self.status[event.stream_id] = int(dict(event.headers)[b":status"])
            elif isinstance(event, DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, StreamEnded):
                self.pending.pop(event.stream_id).set_result(self.status.pop(event.stream_id))
            elif isinstance(event, RemoteSettingsChanged) and not self.ready.done():
                self.ready.set_result(None)
        assert self.transport is not None
        self.transport.write(self.h2.data_to_send())

    async def post(self, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, headers)
        self.h2.send_data(stream_id, body, end_stream=True)
        assert self.transport is not None
        self.transport.write(self.h2.data_to_send())
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[stream_id] = future
        return await future


def run_raw_h2() -> Runner:
    connections: dict[int, _RawH2] = {}

    async def run(setup: Setup, tokens: list[str], in_flight: int) -> tuple[list[float], int]:
        host, port = setup.host_port
        connection = connections.get(id(setup))
        if connection is None:
            loop = asyncio.get_running_loop()
            _, connection = await loop.create_connection(
                _RawH2, host, port, ssl=setup.ssl_context(with_certificate=True)
            )
            await connection.ready
            connections[id(setup)] = connection
        authority = f"{host}:{port}".encode()

        async def send(token: str) -> bool:
            headers = [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", authority),
                (b":path", b"/3/device/" + token.encode()),
                (b"apns-topic", TOPIC.encode()),
                (b"apns-push-type", b"alert"),
                (b"apns-id", str(uuid.uuid4()).encode()),
            ]
            return await connection.post(headers, PAYLOAD_BYTES) == 200

        return await _workers(tokens, in_flight, send)

    return run


def run_httpx() -> Runner:
    import httpx  # noqa: PLC0415 - a bench-only peer

    clients: dict[int, httpx.AsyncClient] = {}

    async def run(setup: Setup, tokens: list[str], in_flight: int) -> tuple[list[float], int]:
        client = clients.get(id(setup))
        if client is None:
            client = httpx.AsyncClient(
                http2=True,
                verify=setup.ssl_context(with_certificate=True),
                base_url=setup.sandbox.development_url,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                timeout=60,
            )
            clients[id(setup)] = client

        async def send(token: str) -> bool:
            response = await client.post(
                f"/3/device/{token}",
                content=PAYLOAD_BYTES,
                headers={"apns-topic": TOPIC, "apns-push-type": "alert", "apns-id": str(uuid.uuid4())},
            )
            return response.status_code == 200

        return await _workers(tokens, in_flight, send)

    return run


RUNNERS: dict[str, Callable[[], Runner]] = {
    "ours": run_ours,
    "aioapns": run_aioapns,
    "raw-h2": run_raw_h2,
    "httpx": run_httpx,
}


# --- the run ----------------------------------------------------------------------------------------------


async def measure(name: str, run: Runner, setup: Setup, *, count: int, in_flight: int) -> Sample:
    """One timed run; the sandbox must have accepted each notification exactly once."""
    tokens = setup.tokens[:count]
    control = setup.sandbox.control
    control.clear_notifications()
    sandbox_before = setup.sandbox.cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    latencies, delivered = await run(setup, tokens, in_flight)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    sandbox_cpu = setup.sandbox.cpu_seconds() - sandbox_before
    stats = control.stats()
    if delivered != count or stats["accepted"] != count or stats["duplicates"]:
        raise RuntimeError(f"{name}: delivered {delivered}/{count}, sandbox stats {stats}")
    sample = Sample(name, in_flight, count, wall, cpu, sandbox_cpu, latencies)
    print(
        f"  {name:8} {in_flight:4} in flight: {sample.rate:7.0f}/s "
        f"p50 {sample.percentile(0.5):6.1f} ms p99 {sample.percentile(0.99):6.1f} ms "
        f"CPU {sample.cpu_per_10k:.2f} s/10k, sandbox {sample.sandbox_share:.0%}",
        file=sys.stderr,
        flush=True,
    )
    return sample


@dataclass(frozen=True)
class Summary:
    """Each measure's median over the repeats (a noisy run moves one median at most by one rank)."""

    rate: float
    p50: float
    p99: float
    cpu_per_10k: float
    sandbox_share: float

    @classmethod
    def of(cls, samples: list[Sample]) -> Summary:
        return cls(
            rate=statistics.median(sample.rate for sample in samples),
            p50=statistics.median(sample.percentile(0.5) for sample in samples),
            p99=statistics.median(sample.percentile(0.99) for sample in samples),
            cpu_per_10k=statistics.median(sample.cpu_per_10k for sample in samples),
            sandbox_share=statistics.median(sample.sandbox_share for sample in samples),
        )


def render(results: dict[tuple[str, int], Summary], levels: Sequence[int], names: Sequence[str]) -> str:
    lines = [
        "| client | in flight | notifications/s | p50 ms | p99 ms | client CPU s / 10k | sandbox CPU "
        "| vs aioapns | vs raw-h2 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        for name in names:
            summary = results.get((name, level))
            if summary is None:
                continue
            peer = results.get(("aioapns", level))
            ceiling = results.get(("raw-h2", level))
            lines.append(
                f"| {name} | {level} | {summary.rate:,.0f} | {summary.p50:.1f} | {summary.p99:.1f} "
                f"| {summary.cpu_per_10k:.2f} | {summary.sandbox_share:.0%} "
                f"| {f'{summary.rate / peer.rate:.2f}x' if peer else '-'} "
                f"| {f'{summary.rate / ceiling.rate:.0%}' if ceiling else '-'} |"
            )
    return "\n".join(lines)


def pin(mode: str, sandbox_pid: int) -> str:
    """``split``: this process (the clients) on one CPU, the sandbox on another; ``none``: as scheduled."""
    cpus = sorted(os.sched_getaffinity(0))
    if mode == "none" or len(cpus) < 2:
        return "; not pinned"
    os.sched_setaffinity(0, {cpus[0]})
    os.sched_setaffinity(sandbox_pid, {cpus[1]})
    return f"; client pinned to CPU {cpus[0]}, sandbox to CPU {cpus[1]}"


def conditions(count: int, repeat: int) -> str:
    load = os.getloadavg()
    return (
        f"{count:,} notifications per run, medians of {repeat} runs; TLS 1.3 + client certificate, "
        f"one HTTP/2 connection, loopback; sandbox in its own process; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


async def bench(arguments: argparse.Namespace) -> str:
    levels = [int(level) for level in arguments.in_flight.split(",")]
    names = [name for name in arguments.clients.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="bench-apns-") as directory:
        state_dir = Path(directory)
        with start_sandbox_process(state_dir) as sandbox:
            pinning = pin(arguments.pin, sandbox.pid)
            pki = sandbox.pki()
            issued = pki.issue_push_certificate(TOPIC, PushCertificateKind.DEVELOPMENT)
            certificate_file = state_dir / "client.pem"
            certificate_file.touch(mode=0o600)
            certificate_file.write_bytes(issued.certificate_pem() + issued.private_key_pem())
            tokens = [os.urandom(32).hex() for _ in range(arguments.count + 200)]
            for start in range(0, len(tokens), 5000):
                sandbox.control.register_devices(
                    [
                        {"token": token, "topic": TOPIC, "environment": "development"}
                        for token in tokens[start : start + 5000]
                    ]
                )
            credential = CertificateCredential(
                TOPIC, ApnsEnvironment.DEVELOPMENT, issued.certificate, issued.private_key, "bench"
            )
            setup = Setup(sandbox, credential, certificate_file, tokens)
            results: dict[tuple[str, int], Summary] = {}
            for level in levels:
                runners: dict[str, Runner] = {}
                for name in names:
                    try:
                        runners[name] = RUNNERS[name]()
                    except ImportError:
                        print(f"  {name}: not installed, skipped", file=sys.stderr)
                        continue
                    await runners[name](setup, setup.tokens[-200:], min(level, 100))  # connect, warm up
                # Round-robin repeats: the machine's load drifts, and each client gets its share of it.
                samples: dict[str, list[Sample]] = {name: [] for name in runners}
                for _ in range(arguments.repeat):
                    for name, runner in runners.items():
                        count = (
                            min(arguments.count, arguments.httpx_count)
                            if name == "httpx"
                            else arguments.count
                        )
                        samples[name].append(await measure(name, runner, setup, count=count, in_flight=level))
                for name, taken in samples.items():
                    results[(name, level)] = Summary.of(taken)
    return render(results, levels, names) + "\n\n" + conditions(arguments.count, arguments.repeat) + pinning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_apns", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="notifications per run")
    parser.add_argument("--in-flight", default="100,500", help="comma-separated levels")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default="ours,aioapns,raw-h2,httpx")
    parser.add_argument("--pin", choices=("split", "none"), default="split", help="CPU pinning")
    parser.add_argument("--httpx-count", type=int, default=2_000, help="stock httpx is slow: fewer")
    arguments = parser.parse_args(argv)
    print(asyncio.run(bench(arguments)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
