"""The APNs sandbox's PushKit rules, without sockets: the ``.voip`` topic, the ``voip`` push type and the
5,120-byte VoIP payload limit (4,096 for alerts)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from local.apns_sandbox import Answer, CertificateIdentity, PushRequest, SandboxState
from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.models.credential import ApnsEnvironment
from tests.support.apns import TOPIC

DEV = ApnsEnvironment.DEVELOPMENT
VOIP_TOKEN = "b2" * 32
ALERT_TOKEN = "a1" * 32
APNS_ID = "6E8C6F1B-0A6B-4C0B-9B9C-2A1F3B8E0C11"
VOIP_TOPIC = f"{TOPIC}.voip"


def _identity(pki: ApplePki, kind: PushCertificateKind, *, voip_topic: bool = True) -> CertificateIdentity:
    certificate = pki.issue_push_certificate(TOPIC, kind, voip_topic=voip_topic).certificate
    return CertificateIdentity.from_der(certificate.public_bytes(serialization.Encoding.DER))


def _body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    prefix = b'{"call":"'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


def _request(
    token: str = VOIP_TOKEN,
    *,
    topic: str | None = VOIP_TOPIC,
    push_type: str | None = "voip",
    body: bytes = b"",
) -> PushRequest:
    headers = {"apns-id": APNS_ID, "apns-priority": "10", "apns-expiration": "0"}
    if topic is not None:
        headers["apns-topic"] = topic
    if push_type is not None:
        headers["apns-push-type"] = push_type
    return PushRequest("POST", f"/3/device/{token}", headers, body or b'{"call":{"callId":"c1"}}')


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState()
    state.register_device(VOIP_TOKEN, VOIP_TOPIC, DEV)
    state.register_device(ALERT_TOKEN, TOPIC, DEV)
    return state


@pytest.mark.parametrize(
    ("kind", "voip_topic", "expected"),
    [
        (PushCertificateKind.UNIVERSAL, True, frozenset({TOPIC, VOIP_TOPIC, f"{TOPIC}.complication"})),
        (PushCertificateKind.UNIVERSAL, False, frozenset({TOPIC, f"{TOPIC}.complication"})),
        (PushCertificateKind.VOIP, True, frozenset({VOIP_TOPIC})),
        (PushCertificateKind.DEVELOPMENT, True, frozenset({TOPIC})),
    ],
    ids=["universal", "universal without voip", "voip services", "development"],
)
def test_a_certificates_topics_are_read_from_its_uid_and_topics_extension(
    pki: ApplePki, kind: PushCertificateKind, voip_topic: bool, expected: frozenset[str]
) -> None:
    # Given a push certificate of one kind; When the sandbox reads it as APNs does
    identity = _identity(pki, kind, voip_topic=voip_topic)

    # Then its topics are exactly those Apple would allow
    assert identity.topics == expected


def test_a_voip_push_to_a_pushkit_token_is_accepted_with_its_headers(
    state: SandboxState, pki: ApplePki
) -> None:
    # Given a VoIP Services certificate; When a VoIP push goes to the PushKit token
    answer = state.evaluate(_request(), DEV, _identity(pki, PushCertificateKind.VOIP))

    # Then it is accepted and recorded as a voip push to the .voip topic, to expire now
    assert answer == Answer(200, APNS_ID)
    [accepted] = state.accepted
    assert (accepted.topic, accepted.push_type, accepted.priority, accepted.expiration) == (
        VOIP_TOPIC,
        "voip",
        10,
        0,
    )


@pytest.mark.parametrize(
    ("token", "topic", "push_type", "reason"),
    [
        (VOIP_TOKEN, VOIP_TOPIC, None, "InvalidPushType"),
        (VOIP_TOKEN, VOIP_TOPIC, "alert", "InvalidPushType"),
        (ALERT_TOKEN, TOPIC, "voip", "InvalidPushType"),
        (ALERT_TOKEN, VOIP_TOPIC, "voip", "DeviceTokenNotForTopic"),
        (VOIP_TOKEN, TOPIC, "alert", "DeviceTokenNotForTopic"),
    ],
    ids=[
        "voip topic without push type",
        "alert push type to the voip topic",
        "voip push type to the app topic",
        "alert token on the voip topic",
        "pushkit token on the app topic",
    ],
)
def test_the_voip_topic_and_the_voip_push_type_go_together(
    state: SandboxState, pki: ApplePki, *, token: str, topic: str, push_type: str | None, reason: str
) -> None:
    # Given a universal certificate (it may push to both topics)
    identity = _identity(pki, PushCertificateKind.UNIVERSAL)

    # When a push mixes topics, push types and tokens
    answer = state.evaluate(_request(token, topic=topic, push_type=push_type), DEV, identity)

    # Then APNs refuses it with its reason, and nothing is delivered
    assert answer == Answer(400, APNS_ID, reason)
    assert state.accepted == []


@pytest.mark.parametrize(
    ("kind", "voip_topic", "token", "topic", "push_type"),
    [
        (PushCertificateKind.VOIP, True, ALERT_TOKEN, TOPIC, "alert"),
        (PushCertificateKind.UNIVERSAL, False, VOIP_TOKEN, VOIP_TOPIC, "voip"),
        (PushCertificateKind.DEVELOPMENT, True, VOIP_TOKEN, VOIP_TOPIC, "voip"),
    ],
    ids=["alert with a voip-only certificate", "voip without the voip topic", "voip with a development one"],
)
def test_a_certificate_pushes_only_to_its_topics(
    state: SandboxState,
    pki: ApplePki,
    *,
    kind: PushCertificateKind,
    voip_topic: bool,
    token: str,
    topic: str,
    push_type: str,
) -> None:
    # Given a certificate whose topics leave out the one asked for
    identity = _identity(pki, kind, voip_topic=voip_topic)

    # When a push names that topic
    answer = state.evaluate(_request(token, topic=topic, push_type=push_type), DEV, identity)

    # Then APNs refuses the topic
    assert answer == Answer(400, APNS_ID, "TopicDisallowed")


@pytest.mark.parametrize(
    ("size", "status", "reason"),
    [(4096, 200, None), (4097, 200, None), (5120, 200, None), (5121, 413, "PayloadTooLarge")],
)
def test_a_voip_payload_may_take_5120_bytes(
    state: SandboxState, pki: ApplePki, size: int, status: int, reason: str | None
) -> None:
    # Given a VoIP push whose payload is exactly ``size`` bytes
    request = _request(body=_body(size))

    # When APNs evaluates it
    answer = state.evaluate(request, DEV, _identity(pki, PushCertificateKind.VOIP))

    # Then up to 5,120 bytes pass
    assert answer == Answer(status, APNS_ID, reason)
    assert len(request.body) == size


@pytest.mark.parametrize(("size", "status"), [(4096, 200), (4097, 413)])
def test_an_alert_payload_keeps_the_4096_byte_limit(
    state: SandboxState, pki: ApplePki, size: int, status: int
) -> None:
    # Given an alert push of exactly ``size`` bytes
    request = _request(ALERT_TOKEN, topic=TOPIC, push_type="alert", body=_body(size))

    # When APNs evaluates it
    answer = state.evaluate(request, DEV, _identity(pki, PushCertificateKind.UNIVERSAL))

    # Then the alert limit stays 4,096 bytes
    assert answer.status == status
