"""What the APNs sandbox knows and decides: devices, signing keys, faults, and Apple's answer to a request.

Everything here is plain data and rules, no sockets, so the rules are unit-tested directly; the HTTP/2
server (:mod:`local.apns_sandbox.server`) parses frames into a :class:`PushRequest` and writes back the
:class:`Answer`.

Apple's behaviour reproduced, per request, in the order APNs reports it:
method (405) -> path (404, 400 MissingDeviceToken) -> duplicate headers -> apns-id -> authentication
(certificate environment, or the provider token: Missing/Invalid/Expired, key environment, 429
TooManyProviderTokenUpdates) -> topic (MissingTopic, TopicDisallowed) -> push type (InvalidPushType, also
for a ``.voip`` topic without push type ``voip`` or push type ``voip`` to another topic), priority,
expiration, collapse id -> payload (PayloadEmpty, 413 PayloadTooLarge over 4,096 bytes, 5,120 for ``voip``,
JSON) -> device token (BadDeviceToken, also
for a token of the other environment; DeviceTokenNotForTopic; 410 Unregistered with its timestamp) -> 200.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local.apple_pki import APNS_DEVELOPMENT_OID, APNS_PRODUCTION_OID, APNS_TOPICS_OID
from offline_push.models.credential import VOIP_TOPIC_SUFFIX, ApnsEnvironment
from offline_push.models.notification import MAX_PAYLOAD_BYTES, MAX_VOIP_PAYLOAD_BYTES
from offline_push.push_credentials import listed_topics

PROVIDER_TOKEN_LIFETIME = 3600  # seconds: Apple's ExpiredProviderToken threshold
TOKEN_UPDATE_INTERVAL = 20 * 60  # a key's token may change at most this often
PUSH_TYPES = frozenset(
    {
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
        "widgets",
    }
)
_PATH = re.compile(r"^/3/device/([^/?]*)$")
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{16,200}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class FaultKind(StrEnum):
    STATUS = "status"  # answer with ``status`` (500, 503, 429 ...) instead of processing: not recorded
    SLOW = "slow"  # process (and record) normally, answer after ``delay`` seconds
    RESET = "reset"  # drop the connection when the request arrives: it and later ones are not recorded
    GOAWAY = "goaway"  # GOAWAY naming the previous stream as the last processed, then close
    HANG = "hang"  # stop reading the connection: no answer, no PING ack, no close


_DEFAULT_REASONS = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


@dataclass
class Fault:
    """A fault for the next ``count`` matching requests (to ``token``, or any), after ``skip`` of them."""

    kind: FaultKind
    count: int = 1
    status: int = 500
    reason: str | None = None
    delay: float = 0.0
    token: str | None = None
    skip: int = 0

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Fault:
        return cls(
            kind=FaultKind(document["kind"]),
            count=int(document.get("count", 1)),
            status=int(document.get("status", 500)),
            reason=document.get("reason"),
            delay=float(document.get("delay", 0.0)),
            token=document.get("token"),
            skip=int(document.get("skip", 0)),
        )

    @property
    def answer_reason(self) -> str:
        return self.reason or _DEFAULT_REASONS.get(self.status, "InternalServerError")


@dataclass(frozen=True)
class Device:
    token: str
    topic: str
    environment: ApnsEnvironment
    unregistered_at_ms: int | None = None  # set: 410 Unregistered with this timestamp


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    team_id: str
    public_key: ec.EllipticCurvePublicKey
    environment: ApnsEnvironment | None = None  # None: a team key for both environments
    topics: frozenset[str] | None = None  # None: any topic of the team


@dataclass(frozen=True)
class CertificateIdentity:
    """What APNs reads from a client certificate: its topics and the environments it serves."""

    default_topic: str | None
    topics: frozenset[str]
    environments: frozenset[ApnsEnvironment]

    @classmethod
    def from_der(cls, der: bytes) -> CertificateIdentity:
        certificate = x509.load_der_x509_certificate(der)
        uids = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
        default_topic = str(uids[0].value) if uids else None
        topics = {default_topic} if default_topic else set()
        environments = set()
        for extension in certificate.extensions:
            if extension.oid == APNS_DEVELOPMENT_OID:
                environments.add(ApnsEnvironment.DEVELOPMENT)
            elif extension.oid == APNS_PRODUCTION_OID:
                environments.add(ApnsEnvironment.PRODUCTION)
            elif extension.oid == APNS_TOPICS_OID and isinstance(extension.value, x509.UnrecognizedExtension):
                topics.update(listed_topics(extension.value.value))
        return cls(default_topic, frozenset(topics), frozenset(environments))


@dataclass
class PushRequest:
    """One HTTP/2 request as the server parsed it. Header names are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    duplicate_headers: bool = False

    @property
    def device_token(self) -> str:
        match = _PATH.match(self.path)
        return match.group(1) if match else ""


@dataclass(frozen=True)
class Answer:
    status: int
    apns_id: str
    reason: str | None = None
    timestamp_ms: int | None = None

    def body(self) -> bytes:
        if self.status == 200:
            return b""
        document: dict[str, Any] = {"reason": self.reason}
        if self.timestamp_ms is not None:
            document["timestamp"] = self.timestamp_ms
        return json.dumps(document).encode()


@dataclass(frozen=True)
class AcceptedNotification:
    apns_id: str
    device_token: str
    topic: str
    push_type: str | None
    priority: int
    expiration: int | None
    collapse_id: str | None
    payload: dict[str, Any]
    environment: ApnsEnvironment
    auth: str  # "certificate" | "token"
    received_at: float
    raw_payload: bytes = b""  # the exact bytes received, for byte-for-byte checks

    def to_json(self) -> dict[str, Any]:
        return {
            "apnsId": self.apns_id,
            "deviceToken": self.device_token,
            "topic": self.topic,
            "pushType": self.push_type,
            "priority": self.priority,
            "expiration": self.expiration,
            "collapseId": self.collapse_id,
            "payload": self.payload,
            "rawPayload": self.raw_payload.decode("utf-8", errors="replace"),
            "environment": self.environment.value,
            "auth": self.auth,
            "receivedAt": self.received_at,
        }


@dataclass
class _KeyUpdates:
    latest_iat: int
    latest_token: str


@dataclass
class SandboxState:
    """Devices, keys, faults and the record of one sandbox; shared by both environments' listeners."""

    devices: dict[str, Device] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    accepted: list[AcceptedNotification] = field(default_factory=list)
    accepted_ids: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    clock_offset: float = 0.0  # seconds added to the sandbox's clock (tests of token expiry)
    max_concurrent_streams: int = 1000
    connections: int = 0
    peak_streams: int = 0
    resets: int = 0
    goaways: int = 0
    _verified_tokens: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    _key_updates: dict[str, _KeyUpdates] = field(default_factory=dict, repr=False)

    # --- configuration ---------------------------------------------------------------------------------

    def register_device(
        self,
        token: str,
        topic: str,
        environment: ApnsEnvironment | str = ApnsEnvironment.DEVELOPMENT,
        *,
        unregistered_at_ms: int | None = None,
    ) -> Device:
        device = Device(token.lower(), topic, ApnsEnvironment(environment), unregistered_at_ms)
        self.devices[device.token] = device
        return device

    def register_key(
        self,
        key_id: str,
        team_id: str,
        public_key: ec.EllipticCurvePublicKey | bytes | str,
        *,
        environment: ApnsEnvironment | str | None = None,
        topics: list[str] | None = None,
    ) -> SigningKey:
        if isinstance(public_key, str | bytes):
            public_key = _load_public_key(public_key)
        key = SigningKey(
            key_id,
            team_id,
            public_key,
            ApnsEnvironment(environment) if environment else None,
            frozenset(topics) if topics is not None else None,
        )
        self.keys[key_id] = key
        return key

    def add_fault(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear_record(self) -> None:
        self.accepted.clear()
        self.accepted_ids.clear()
        self.responses.clear()
        self.peak_streams = 0

    def now(self) -> float:
        return time.time() + self.clock_offset

    # --- faults ----------------------------------------------------------------------------------------

    def take_fault(self, device_token: str) -> Fault | None:
        """The fault that applies to the next request to ``device_token``, consuming one of its uses."""
        for fault in self.faults:
            if fault.count <= 0 or (fault.token is not None and fault.token != device_token.lower()):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.count -= 1
            if fault.count == 0:
                self.faults.remove(fault)
            return fault
        return None

    # --- Apple's rules ---------------------------------------------------------------------------------

    def evaluate(
        self,
        request: PushRequest,
        environment: ApnsEnvironment,
        identity: CertificateIdentity | None,
    ) -> Answer:
        """APNs' answer to ``request`` on ``environment``'s host; an accepted one is recorded."""
        answer = self._evaluate(request, environment, identity)
        self.responses[f"{answer.status} {answer.reason}" if answer.reason else str(answer.status)] += 1
        return answer

    def _evaluate(  # noqa: PLR0911, PLR0912 - one rule per line, in Apple's order
        self,
        request: PushRequest,
        environment: ApnsEnvironment,
        identity: CertificateIdentity | None,
    ) -> Answer:
        headers = request.headers
        apns_id = headers.get("apns-id", "")
        if request.method != "POST":
            return Answer(405, apns_id or _new_id(), "MethodNotAllowed")
        match = _PATH.match(request.path)
        if match is None:
            return Answer(404, apns_id or _new_id(), "BadPath")
        if request.duplicate_headers:
            return Answer(400, apns_id or _new_id(), "DuplicateHeaders")
        if apns_id and not _UUID.match(apns_id):
            return Answer(400, _new_id(), "BadMessageId")
        apns_id = apns_id or _new_id()
        device_token = match.group(1)
        if not device_token:
            return Answer(400, apns_id, "MissingDeviceToken")
        # Authentication: a client certificate, else a provider token.
        topic = headers.get("apns-topic")
        if identity is not None:
            if environment not in identity.environments:
                return Answer(403, apns_id, "BadCertificateEnvironment")
            if topic is None:
                if identity.default_topic is None or len(identity.topics) > 1:
                    return Answer(400, apns_id, "MissingTopic")
                topic = identity.default_topic
            if topic not in identity.topics:
                return Answer(400, apns_id, "TopicDisallowed")
            auth = "certificate"
        else:
            failure = self._check_provider_token(headers.get("authorization"), environment)
            if failure is not None:
                status, reason = failure
                return Answer(status, apns_id, reason)
            if not topic:
                return Answer(400, apns_id, "MissingTopic")
            key = self.keys[self._verified_tokens[_bearer(headers["authorization"])][0]]
            if key.topics is not None and topic not in key.topics:
                return Answer(400, apns_id, "TopicDisallowed")
            auth = "token"
        push_type = headers.get("apns-push-type")
        if push_type is not None and push_type not in PUSH_TYPES:
            return Answer(400, apns_id, "InvalidPushType")
        # PushKit: the .voip topic takes VoIP pushes only, and a VoIP push goes to the .voip topic only.
        if topic.endswith(VOIP_TOPIC_SUFFIX) != (push_type == "voip"):
            return Answer(400, apns_id, "InvalidPushType")
        priority = headers.get("apns-priority", "10")
        if priority not in ("1", "5", "10"):
            return Answer(400, apns_id, "BadPriority")
        expiration = headers.get("apns-expiration")
        if expiration is not None and not expiration.isdigit():
            return Answer(400, apns_id, "BadExpirationDate")
        collapse_id = headers.get("apns-collapse-id")
        if collapse_id is not None and len(collapse_id.encode()) > 64:
            return Answer(400, apns_id, "BadCollapseId")
        if not request.body:
            return Answer(400, apns_id, "PayloadEmpty")
        if len(request.body) > (MAX_VOIP_PAYLOAD_BYTES if push_type == "voip" else MAX_PAYLOAD_BYTES):
            return Answer(413, apns_id, "PayloadTooLarge")
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            # Apple documents no reason for a body that is not a JSON dictionary; this is the sandbox's.
            return Answer(400, apns_id, "BadPayload")
        device = self.devices.get(device_token.lower()) if _HEX_TOKEN.match(device_token) else None
        if device is None or device.environment is not environment:
            return Answer(400, apns_id, "BadDeviceToken")
        if device.topic != topic:
            return Answer(400, apns_id, "DeviceTokenNotForTopic")
        if device.unregistered_at_ms is not None:
            return Answer(410, apns_id, "Unregistered", device.unregistered_at_ms)
        self.accepted.append(
            AcceptedNotification(
                apns_id=apns_id,
                device_token=device.token,
                topic=topic,
                push_type=push_type,
                priority=int(priority),
                expiration=int(expiration) if expiration is not None else None,
                collapse_id=collapse_id,
                payload=payload,
                environment=environment,
                auth=auth,
                received_at=time.time(),
                raw_payload=bytes(request.body),
            )
        )
        self.accepted_ids[apns_id] += 1
        return Answer(200, apns_id)

    def _check_provider_token(
        self, authorization: str | None, environment: ApnsEnvironment
    ) -> tuple[int, str] | None:
        if not authorization:
            return 403, "MissingProviderToken"
        token = _bearer(authorization)
        verified = self._verified_tokens.get(token)
        if verified is None:
            verified = self._verify(token)
            if verified is None:
                return 403, "InvalidProviderToken"
        key_id, issued_at = verified
        key = self.keys[key_id]
        if key.environment is not None and key.environment is not environment:
            return 403, "BadEnvironmentKeyInToken"
        if self.now() - issued_at > PROVIDER_TOKEN_LIFETIME:
            return 403, "ExpiredProviderToken"
        updates = self._key_updates.get(key_id)
        if updates is None:
            self._key_updates[key_id] = _KeyUpdates(issued_at, token)
        elif token != updates.latest_token and issued_at >= updates.latest_iat:
            if issued_at - updates.latest_iat < TOKEN_UPDATE_INTERVAL:
                return 429, "TooManyProviderTokenUpdates"
            self._key_updates[key_id] = _KeyUpdates(issued_at, token)
        return None

    def _verify(self, token: str) -> tuple[str, int] | None:
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys.get(str(header.get("kid")))
            if key is None or header.get("alg") != "ES256":
                return None
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["ES256"],
                options={"verify_iat": False, "verify_exp": False, "require": ["iss", "iat"]},
            )
        except jwt.PyJWTError:
            return None
        issued_at = claims.get("iat")
        if claims.get("iss") != key.team_id or not isinstance(issued_at, int):
            return None
        self._verified_tokens[token] = (key.key_id, issued_at)
        return key.key_id, issued_at

    # --- reading the record ----------------------------------------------------------------------------

    def notifications(
        self, *, device_token: str | None = None, apns_id: str | None = None
    ) -> list[AcceptedNotification]:
        return [
            notification
            for notification in self.accepted
            if (device_token is None or notification.device_token == device_token.lower())
            and (apns_id is None or notification.apns_id.lower() == apns_id.lower())
        ]

    def duplicates(self) -> dict[str, int]:
        """apns-id -> times accepted, for the ids accepted more than once."""
        return {apns_id: count for apns_id, count in self.accepted_ids.items() if count > 1}

    def stats(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "distinct": len(self.accepted_ids),
            "duplicates": self.duplicates(),
            "responses": dict(self.responses),
            "connections": self.connections,
            "peakStreams": self.peak_streams,
            "resets": self.resets,
            "goaways": self.goaways,
            "pendingFaults": len(self.faults),
        }


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else authorization.strip()


def _new_id() -> str:
    return str(uuid.uuid4()).upper()


def _load_public_key(pem: bytes | str) -> ec.EllipticCurvePublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:  # a .p8 as Apple hands it out: take its public half
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("a provider token key must be an EC (P-256) key")
        return private.public_key()
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ValueError("a provider token key must be an EC (P-256) key")
    return public
