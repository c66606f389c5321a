"""The APNs sandbox's rules, without sockets: what Apple answers to each kind of request."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from local.apns_sandbox import Answer, CertificateIdentity, Fault, FaultKind, PushRequest, SandboxState
from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.apns.tokens import sign_provider_token
from offline_push.models.credential import ApnsEnvironment
from tests.support.apns import KEY_ID, TEAM_ID, TOPIC, new_signing_key, public_pem

DEV = ApnsEnvironment.DEVELOPMENT
PROD = ApnsEnvironment.PRODUCTION
TOKEN = "a1" * 32
APNS_ID = "6E8C6F1B-0A6B-4C0B-9B9C-2A1F3B8E0C11"


def _identity(pki: ApplePki, kind: PushCertificateKind, topic: str = TOPIC) -> CertificateIdentity:
    certificate = pki.issue_push_certificate(topic, kind).certificate
    return CertificateIdentity.from_der(certificate.public_bytes(serialization.Encoding.DER))


def _request(**changes: object) -> PushRequest:
    headers = {"apns-topic": TOPIC, "apns-push-type": "alert", "apns-id": APNS_ID, "apns-priority": "10"}
    headers.update({name: str(value) for name, value in changes.pop("headers", {}).items()})  # type: ignore[attr-defined]
    for name in changes.pop("without", ()):  # type: ignore[attr-defined]
        headers.pop(name)
    request = PushRequest("POST", f"/3/device/{TOKEN}", headers, b'{"aps":{"alert":"hi"}}')
    for name, value in changes.items():
        setattr(request, name, value)
    return request


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState()
    state.register_device(TOKEN, TOPIC, DEV)
    return state


CERTIFICATE_CASES = [
    ("delivered", {}, Answer(200, APNS_ID)),
    ("GET", {"method": "GET"}, Answer(405, APNS_ID, "MethodNotAllowed")),
    ("wrong path", {"path": "/3/devices/abc"}, Answer(404, APNS_ID, "BadPath")),
    ("no token in path", {"path": "/3/device/"}, Answer(400, APNS_ID, "MissingDeviceToken")),
    ("repeated header", {"duplicate_headers": True}, Answer(400, APNS_ID, "DuplicateHeaders")),
    (
        "no topic with a multi-topic certificate",
        {"without": ["apns-topic"]},
        Answer(400, APNS_ID, "MissingTopic"),
    ),
    (
        "other topic",
        {"headers": {"apns-topic": "com.example.other"}},
        Answer(400, APNS_ID, "TopicDisallowed"),
    ),
    (
        "voip topic of a universal certificate, to an alert token",
        {"headers": {"apns-topic": f"{TOPIC}.voip", "apns-push-type": "voip"}},
        Answer(400, APNS_ID, "DeviceTokenNotForTopic"),
    ),
    ("unknown push type", {"headers": {"apns-push-type": "banner"}}, Answer(400, APNS_ID, "InvalidPushType")),
    ("priority 7", {"headers": {"apns-priority": "7"}}, Answer(400, APNS_ID, "BadPriority")),
    (
        "expiration not a number",
        {"headers": {"apns-expiration": "tomorrow"}},
        Answer(400, APNS_ID, "BadExpirationDate"),
    ),
    (
        "collapse id of 65 bytes",
        {"headers": {"apns-collapse-id": "x" * 65}},
        Answer(400, APNS_ID, "BadCollapseId"),
    ),
    ("empty payload", {"body": b""}, Answer(400, APNS_ID, "PayloadEmpty")),
    ("4097-byte payload", {"body": b"{" + b" " * 4095 + b"}"}, Answer(413, APNS_ID, "PayloadTooLarge")),
    ("4096-byte payload", {"body": b"{" + b" " * 4094 + b"}"}, Answer(200, APNS_ID)),
    ("JSON array", {"body": b"[1]"}, Answer(400, APNS_ID, "BadPayload")),
    ("token not hex", {"path": "/3/device/not-a-token"}, Answer(400, APNS_ID, "BadDeviceToken")),
]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [case[1:] for case in CERTIFICATE_CASES],
    ids=[case[0] for case in CERTIFICATE_CASES],
)
def test_certificate_requests_get_apples_answers(
    state: SandboxState, pki: ApplePki, changes: dict[str, object], expected: Answer
) -> None:
    answer = state.evaluate(_request(**changes), DEV, _identity(pki, PushCertificateKind.UNIVERSAL))

    assert answer == expected
    assert len(state.accepted) == (1 if expected.status == 200 else 0)


def test_an_accepted_notification_keeps_the_exact_payload_bytes(state: SandboxState, pki: ApplePki) -> None:
    # Given a payload whose bytes differ from its re-serialised JSON (spacing, raw UTF-8)
    raw = '{"aps": {"alert":"晚上好"}, "ext":"jump to denny"}'.encode()

    # When the sandbox accepts it
    state.evaluate(_request(body=raw), DEV, _identity(pki, PushCertificateKind.DEVELOPMENT))

    # Then the record holds those bytes, as well as the parsed payload
    record = state.accepted[0].to_json()
    assert record["rawPayload"].encode() == raw
    assert record["payload"] == {"aps": {"alert": "晚上好"}, "ext": "jump to denny"}


def test_a_request_without_apns_id_gets_one_from_apns(state: SandboxState, pki: ApplePki) -> None:
    answer = state.evaluate(
        _request(without=["apns-id"]), DEV, _identity(pki, PushCertificateKind.DEVELOPMENT)
    )

    assert answer.status == 200
    assert answer.apns_id != APNS_ID
    assert len(answer.apns_id) == 36


def test_an_unregistered_token_answers_410_with_its_timestamp_in_milliseconds(pki: ApplePki) -> None:
    state = SandboxState()
    state.register_device(TOKEN, TOPIC, DEV, unregistered_at_ms=1_767_323_045_000)

    answer = state.evaluate(_request(), DEV, _identity(pki, PushCertificateKind.DEVELOPMENT))

    assert answer == Answer(410, APNS_ID, "Unregistered", 1_767_323_045_000)
    assert json.loads(answer.body()) == {"reason": "Unregistered", "timestamp": 1_767_323_045_000}


@pytest.mark.parametrize(
    ("kind", "environments", "topics"),
    [
        (PushCertificateKind.DEVELOPMENT, {DEV}, {TOPIC}),
        (PushCertificateKind.PRODUCTION, {PROD}, {TOPIC}),
        (PushCertificateKind.UNIVERSAL, {DEV, PROD}, {TOPIC, f"{TOPIC}.voip", f"{TOPIC}.complication"}),
        (PushCertificateKind.NOT_APNS, set(), {TOPIC}),
    ],
)
def test_a_client_certificate_is_read_as_apns_reads_it(
    pki: ApplePki, kind: PushCertificateKind, environments: set[ApnsEnvironment], topics: set[str]
) -> None:
    identity = _identity(pki, kind)

    assert identity == CertificateIdentity(TOPIC, frozenset(topics), frozenset(environments))


def _token_state(**key_options: object) -> tuple[SandboxState, bytes]:
    key = new_signing_key()
    state = SandboxState()
    state.register_device(TOKEN, TOPIC, DEV)
    state.register_key(KEY_ID, TEAM_ID, public_pem(key), **key_options)  # type: ignore[arg-type]
    jwt = sign_provider_token(TEAM_ID, KEY_ID, key, int(time.time()))
    return state, f"bearer {jwt}".encode()


def test_token_requests_are_checked_against_the_registered_key() -> None:
    state, authorization = _token_state()
    other_team, _ = _token_state()
    forged = authorization[:-4] + (b"AAAA" if not authorization.endswith(b"AAAA") else b"BBBB")

    answers = [
        state.evaluate(_request(headers={"authorization": authorization.decode()}), DEV, None),
        state.evaluate(_request(), DEV, None),
        state.evaluate(_request(headers={"authorization": forged.decode()}), DEV, None),
        state.evaluate(
            _request(headers={"authorization": authorization.decode()}, without=["apns-topic"]), DEV, None
        ),
        other_team.evaluate(_request(headers={"authorization": authorization.decode()}), DEV, None),
    ]

    assert [(answer.status, answer.reason) for answer in answers] == [
        (200, None),
        (403, "MissingProviderToken"),
        (403, "InvalidProviderToken"),
        (400, "MissingTopic"),
        (403, "InvalidProviderToken"),
    ]


def test_a_token_older_than_an_hour_is_expired() -> None:
    state, authorization = _token_state()
    state.clock_offset = 3601

    answer = state.evaluate(_request(headers={"authorization": authorization.decode()}), DEV, None)

    assert (answer.status, answer.reason) == (403, "ExpiredProviderToken")


def test_a_key_restricted_to_topics_or_an_environment_is_held_to_them() -> None:
    by_topic, topic_token = _token_state(topics=["com.example.other"])
    by_environment, environment_token = _token_state(environment="production")

    topic_answer = by_topic.evaluate(_request(headers={"authorization": topic_token.decode()}), DEV, None)
    environment_answer = by_environment.evaluate(
        _request(headers={"authorization": environment_token.decode()}), DEV, None
    )

    assert (topic_answer.status, topic_answer.reason) == (400, "TopicDisallowed")
    assert (environment_answer.status, environment_answer.reason) == (403, "BadEnvironmentKeyInToken")


def test_faults_apply_to_matching_requests_after_skipping_and_are_used_up(state: SandboxState) -> None:
    other = "b2" * 32
    state.add_fault(Fault(FaultKind.STATUS, count=2, status=503, token=TOKEN, skip=1))

    taken = [
        state.take_fault(other),
        state.take_fault(TOKEN),
        state.take_fault(TOKEN),
        state.take_fault(TOKEN),
    ]
    taken.append(state.take_fault(TOKEN))

    assert [fault.kind if fault else None for fault in taken] == [
        None,
        None,
        FaultKind.STATUS,
        FaultKind.STATUS,
        None,
    ]
    assert state.faults == []
    assert Fault.from_json({"kind": "status", "status": 429}).answer_reason == "TooManyRequests"
