"""The sandbox's control endpoint (JSON over HTTP/1.1) and a client for it, for use from other processes.

- ``GET /health``: status and the listeners' URLs
- ``POST /devices`` ``{"devices": [{"token", "topic", "environment", "unregisteredAt"?}]}``
- ``POST /keys`` ``{"keyId", "teamId", "publicKey" (PEM, or the .p8 itself), "environment"?, "topics"?}``
- ``POST /faults`` ``{"faults": [{"kind", "count"?, "status"?, "reason"?, "delay"?, "token"?, "skip"?}]}``;
  ``DELETE /faults`` drops the pending ones
- ``GET /notifications?token=&apnsId=``: the accepted notifications; ``DELETE /notifications`` clears the
  record and the counters
- ``GET /stats``: accepted, distinct, duplicates (apns-id -> count), responses by status and reason,
  connections, peakStreams, resets, goaways
- ``POST /clock`` ``{"offsetSeconds"}``: move the sandbox's clock (provider token expiry)
- ``POST /settings`` ``{"maxConcurrentStreams"}``: for connections opened afterwards
- ``POST /connections/drop``: close every client connection abruptly
"""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from local.apns_sandbox.state import Fault

if TYPE_CHECKING:
    from local.apns_sandbox.server import ApnsSandbox


class ControlError(Exception):
    pass


def _handle(sandbox: ApnsSandbox, method: str, target: str, body: Any) -> tuple[int, Any]:  # noqa: PLR0911, PLR0912 - a routing table
    state = sandbox.state
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    if (method, path) == ("GET", "/health"):
        return 200, {"status": "ok", **sandbox.describe()}
    if (method, path) == ("POST", "/devices"):
        for device in body["devices"]:
            state.register_device(
                device["token"],
                device["topic"],
                device.get("environment", "development"),
                unregistered_at_ms=device.get("unregisteredAt"),
            )
        return 200, {"registered": len(body["devices"])}
    if (method, path) == ("POST", "/keys"):
        key = state.register_key(
            body["keyId"],
            body["teamId"],
            body["publicKey"],
            environment=body.get("environment"),
            topics=body.get("topics"),
        )
        return 200, {"keyId": key.key_id}
    if (method, path) == ("POST", "/faults"):
        for fault in body["faults"]:
            state.add_fault(Fault.from_json(fault))
        return 200, {"pending": len(state.faults)}
    if (method, path) == ("DELETE", "/faults"):
        state.faults.clear()
        return 200, {"pending": 0}
    if (method, path) == ("GET", "/notifications"):
        found = state.notifications(device_token=query.get("token"), apns_id=query.get("apnsId"))
        return 200, {"count": len(found), "notifications": [item.to_json() for item in found]}
    if (method, path) == ("DELETE", "/notifications"):
        state.clear_record()
        return 200, {"count": 0}
    if (method, path) == ("GET", "/stats"):
        return 200, state.stats()
    if (method, path) == ("POST", "/clock"):
        state.clock_offset = float(body["offsetSeconds"])
        return 200, {"offsetSeconds": state.clock_offset}
    if (method, path) == ("POST", "/settings"):
        state.max_concurrent_streams = int(body.get("maxConcurrentStreams", state.max_concurrent_streams))
        return 200, {"maxConcurrentStreams": state.max_concurrent_streams}
    if (method, path) == ("POST", "/connections/drop"):
        return 200, {"dropped": sandbox.drop_connections()}
    return 404, {"code": "NotFound", "message": f"no control endpoint {method} {path}"}


async def serve_control(sandbox: ApnsSandbox, host: str, port: int) -> asyncio.Server:
    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1").split()
            length = 0
            while True:
                line = (await reader.readline()).decode("latin-1").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            raw = await reader.readexactly(length) if length else b""
            method, target = request_line[0], request_line[1]
            try:
                status, answer = _handle(sandbox, method, target, json.loads(raw) if raw else {})
            except (KeyError, ValueError, TypeError) as exc:
                status, answer = 400, {"code": "BadRequest", "message": f"{type(exc).__name__}: {exc}"}
            payload = json.dumps(answer).encode()
            writer.write(
                f"HTTP/1.1 {status} {http.client.responses.get(status, '')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, IndexError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(on_client, host, port, reuse_address=True)


class SandboxControl:
    """Blocking client of the control endpoint (benchmarks, the local stack, tests in other processes)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            document = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status != 200:
            raise ControlError(f"{method} {path}: {response.status} {document}")
        return document

    def health(self) -> dict[str, Any]:
        return dict(self.call("GET", "/health"))

    def register_devices(self, devices: list[dict[str, Any]]) -> int:
        return int(self.call("POST", "/devices", {"devices": devices})["registered"])

    def register_key(
        self,
        key_id: str,
        team_id: str,
        public_key_pem: str,
        *,
        environment: str | None = None,
        topics: list[str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"keyId": key_id, "teamId": team_id, "publicKey": public_key_pem}
        if environment:
            body["environment"] = environment
        if topics is not None:
            body["topics"] = topics
        self.call("POST", "/keys", body)

    def add_faults(self, faults: list[dict[str, Any]]) -> int:
        return int(self.call("POST", "/faults", {"faults": faults})["pending"])

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def notifications(self, *, token: str | None = None, apns_id: str | None = None) -> list[dict[str, Any]]:
        query = {name: value for name, value in (("token", token), ("apnsId", apns_id)) if value}
        path = "/notifications" + (f"?{urlencode(query)}" if query else "")
        return list(self.call("GET", path)["notifications"])

    def clear_notifications(self) -> None:
        self.call("DELETE", "/notifications")

    def stats(self) -> dict[str, Any]:
        return dict(self.call("GET", "/stats"))

    def set_clock_offset(self, seconds: float) -> None:
        self.call("POST", "/clock", {"offsetSeconds": seconds})

    def set_max_concurrent_streams(self, streams: int) -> None:
        self.call("POST", "/settings", {"maxConcurrentStreams": streams})

    def drop_connections(self) -> int:
        return int(self.call("POST", "/connections/drop", {})["dropped"])
