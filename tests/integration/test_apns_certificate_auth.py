"""Certificate-based connections to the APNs sandbox over real TLS sockets: every outcome Apple gives."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from pathlib import Path

import pytest

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.apns import ApnsClient, ApnsReason, ApnsSettings, Delivered, Failed
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.notification import MAX_PAYLOAD_BYTES, PushType
from tests.support.apns import (
    PAYLOAD,
    TOPIC,
    certificate_credential,
    live_devices,
    new_device_token,
    push,
    sandbox_settings,
)


async def test_a_notification_to_a_live_device_is_delivered_and_recorded_as_sent(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a live development device and a client with a universal push certificate for its app
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(certificate_credential(pki), apns_settings)
    request = push(token, expiration=0, collapse_id="chat-42")

    # When the notification is sent
    outcome = await client.send_one(request)

    # Then APNs answers 200 with the development host's unique id, and recorded exactly what was sent
    assert isinstance(outcome, Delivered)
    assert outcome == Delivered(request.apns_id, token, 1, outcome.apns_unique_id)
    assert outcome.apns_unique_id is not None
    [accepted] = sandbox.state.notifications()
    assert accepted.to_json() | {"receivedAt": 0} == {
        "apnsId": request.apns_id,
        "deviceToken": token,
        "topic": TOPIC,
        "pushType": "alert",
        "priority": 10,
        "expiration": 0,
        "collapseId": "chat-42",
        "payload": {
            "aps": {"alert": {"title": "Denny", "body": "hello"}, "sound": "default"},
            "ext": "jump to denny",
        },
        "rawPayload": '{"aps":{"alert":{"title":"Denny","body":"hello"},"sound":"default"},'
        '"ext":"jump to denny"}',
        "environment": "development",
        "auth": "certificate",
        "receivedAt": 0,
    }
    await client.close()


async def test_a_batch_answers_every_notification_in_order_on_one_connection(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given 300 live devices and one dead token in the middle
    tokens = live_devices(sandbox, 300)
    dead = new_device_token()
    requests = (
        [push(token) for token in tokens[:150]] + [push(dead)] + [push(token) for token in tokens[150:]]
    )
    client = ApnsClient(certificate_credential(pki), apns_settings)

    # When they are sent as one batch with 50 in flight
    outcomes = await client.send(requests, max_in_flight=50)

    # Then each request has its outcome at its own index, over a single connection
    assert [type(outcome).__name__ for outcome in outcomes] == ["Delivered"] * 150 + ["Failed"] + [
        "Delivered"
    ] * 150
    assert [outcome.apns_id for outcome in outcomes] == [request.apns_id for request in requests]
    assert outcomes[150] == Failed(requests[150].apns_id, dead, HTTPStatus.BAD_REQUEST, "BadDeviceToken")
    assert client.stats.connections_opened == 1
    assert sandbox.state.stats()["accepted"] == 300
    assert sandbox.state.duplicates() == {}
    await client.close()


def _unregistered_at() -> int:
    return int(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp() * 1000)


FINAL_FAILURES = [
    # (case, how the device is known to the sandbox, request overrides, status, reason)
    ("unknown token", None, {}, HTTPStatus.BAD_REQUEST, "BadDeviceToken"),
    (
        "token of another app",
        ("com.example.other", "development", None),
        {},
        HTTPStatus.BAD_REQUEST,
        "DeviceTokenNotForTopic",
    ),
    (
        "production token on the development host",
        (TOPIC, "production", None),
        {},
        HTTPStatus.BAD_REQUEST,
        "BadDeviceToken",
    ),
    ("unregistered token", (TOPIC, "development", _unregistered_at()), {}, HTTPStatus.GONE, "Unregistered"),
    (
        "payload over 4096 bytes",
        (TOPIC, "development", None),
        {"payload": b'{"aps":{"alert":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}}'},
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "PayloadTooLarge",
    ),
    ("empty payload", (TOPIC, "development", None), {"payload": b""}, HTTPStatus.BAD_REQUEST, "PayloadEmpty"),
    (
        "payload not JSON",
        (TOPIC, "development", None),
        {"payload": b"hello"},
        HTTPStatus.BAD_REQUEST,
        "BadPayload",
    ),
    (
        "topic not in the certificate",
        ("com.example.other", "development", None),
        {"topic": "com.example.other"},
        HTTPStatus.BAD_REQUEST,
        "TopicDisallowed",
    ),
    (
        "collapse id over 64 bytes",
        (TOPIC, "development", None),
        {"collapse_id": "c" * 65},
        HTTPStatus.BAD_REQUEST,
        "BadCollapseId",
    ),
    ("priority 7", (TOPIC, "development", None), {"priority": 7}, HTTPStatus.BAD_REQUEST, "BadPriority"),
    (
        "apns-id not a UUID",
        (TOPIC, "development", None),
        {"apns_id": "message-1"},
        HTTPStatus.BAD_REQUEST,
        "BadMessageId",
    ),
]


@pytest.mark.parametrize(
    ("device", "overrides", "status", "reason"),
    [case[1:] for case in FINAL_FAILURES],
    ids=[case[0] for case in FINAL_FAILURES],
)
async def test_final_failures_carry_apples_status_and_reason_after_one_attempt(
    *,
    sandbox: ApnsSandbox,
    apns_settings: ApnsSettings,
    pki: ApplePki,
    device: tuple[str, str, int | None] | None,
    overrides: dict[str, object],
    status: HTTPStatus,
    reason: str,
) -> None:
    # Given a device as the case describes
    token = new_device_token()
    if device is not None:
        topic, environment, unregistered_at = device
        sandbox.state.register_device(token, topic, environment, unregistered_at_ms=unregistered_at)
    client = ApnsClient(certificate_credential(pki), apns_settings)
    request = push(token, **overrides)  # type: ignore[arg-type]

    # When it is sent
    outcome = await client.send_one(request)

    # Then it fails for good with Apple's status and reason, not retried, and nothing was accepted
    expected_timestamp = (
        dt.datetime.fromtimestamp(device[2] / 1000, dt.UTC) if device is not None and device[2] else None
    )
    assert outcome == Failed(request.apns_id, token, status, reason, 1, expected_timestamp)
    assert sandbox.state.accepted == []
    await client.close()


async def test_unregistered_outcome_says_to_prune_the_token_with_apples_timestamp(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a device Apple reports as unregistered since a known moment
    token = new_device_token()
    sandbox.state.register_device(token, TOPIC, "development", unregistered_at_ms=_unregistered_at())
    client = ApnsClient(certificate_credential(pki), apns_settings)

    # When a notification is sent to it
    outcome = await client.send_one(push(token))

    # Then the outcome tells the dispatcher to delete the registration unless it is newer than the timestamp
    assert isinstance(outcome, Failed)
    assert outcome.prune_token is True
    assert outcome.unregistered_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    await client.close()


@pytest.mark.parametrize(
    ("kind", "environment", "expected"),
    [
        (PushCertificateKind.DEVELOPMENT, ApnsEnvironment.PRODUCTION, "BadCertificateEnvironment"),
        (PushCertificateKind.PRODUCTION, ApnsEnvironment.DEVELOPMENT, "BadCertificateEnvironment"),
        (PushCertificateKind.DEVELOPMENT, ApnsEnvironment.DEVELOPMENT, None),
        (PushCertificateKind.PRODUCTION, ApnsEnvironment.PRODUCTION, None),
        (PushCertificateKind.UNIVERSAL, ApnsEnvironment.PRODUCTION, None),
        (PushCertificateKind.UNIVERSAL, ApnsEnvironment.DEVELOPMENT, None),
    ],
)
async def test_a_certificate_serves_only_the_environments_its_apple_extensions_name(
    *,
    sandbox: ApnsSandbox,
    apns_settings: ApnsSettings,
    pki: ApplePki,
    kind: PushCertificateKind,
    environment: ApnsEnvironment,
    expected: str | None,
) -> None:
    # Given a device of the environment the client connects to, and a certificate of the given kind
    [token] = live_devices(sandbox, 1, environment=environment)
    client = ApnsClient(certificate_credential(pki, kind=kind, environment=environment), apns_settings)
    request = push(token)

    # When a notification is sent to that environment's host
    outcome = await client.send_one(request)

    # Then a certificate for the other environment is refused as Apple refuses it (403), the others deliver
    if expected is None:
        assert isinstance(outcome, Delivered)
    else:
        assert outcome == Failed(request.apns_id, token, HTTPStatus.FORBIDDEN, expected)
    await client.close()


async def test_a_background_push_reaches_the_sandbox_with_its_push_type_and_priority(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a live device
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(certificate_credential(pki), apns_settings)

    # When a background (badge) update is sent at priority 5
    outcome = await client.send_one(
        push(
            token,
            payload=b'{"aps":{"content-available":1,"badge":3}}',
            push_type=PushType.BACKGROUND,
            priority=5,
        )
    )

    # Then it is accepted with those headers
    assert isinstance(outcome, Delivered)
    [accepted] = sandbox.state.notifications(device_token=token)
    assert (accepted.push_type, accepted.priority, accepted.payload) == (
        "background",
        5,
        {"aps": {"content-available": 1, "badge": 3}},
    )
    await client.close()


async def test_a_certificate_from_another_ca_is_refused_at_the_tls_handshake(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given a push certificate that no Apple (here: sandbox) CA issued
    [token] = live_devices(sandbox, 1)
    impostor = ApplePki()
    client = ApnsClient(certificate_credential(impostor), apns_settings)
    request = push(token)

    # When the client tries to send
    outcome = await client.send_one(request)

    # Then the outcome is a final BadCertificate failure without an HTTP status: retrying cannot help
    assert outcome == Failed(request.apns_id, token, None, ApnsReason.BAD_CERTIFICATE, 0)
    assert sandbox.state.accepted == []


async def test_an_untrusted_apns_server_certificate_is_a_final_failure(
    sandbox: ApnsSandbox, pki: ApplePki, tmp_path: Path
) -> None:
    # Given a client that trusts some other CA than the one that signed the server's certificate
    [token] = live_devices(sandbox, 1)
    other_ca = ApplePki().write_ca(tmp_path / "other-ca.pem")
    client = ApnsClient(certificate_credential(pki), sandbox_settings(sandbox, other_ca))
    request = push(token)

    # When it tries to send
    outcome = await client.send_one(request)

    # Then it refuses to talk to the impostor server, for good
    assert outcome == Failed(request.apns_id, token, None, ApnsReason.SERVER_CERTIFICATE_UNTRUSTED, 0)
    assert sandbox.state.accepted == []


async def test_the_payload_bytes_arrive_unchanged(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a payload of exactly Apple's limit with non-ASCII text
    [token] = live_devices(sandbox, 1)
    body = "你好" * 10
    prefix = b'{"aps":{"alert":"' + body.encode() + b'"},"ext":"'
    payload = prefix + b"e" * (MAX_PAYLOAD_BYTES - len(prefix) - 2) + b'"}'
    assert len(payload) == MAX_PAYLOAD_BYTES
    client = ApnsClient(certificate_credential(pki), apns_settings)

    # When it is sent
    outcome = await client.send_one(push(token, payload=payload))

    # Then it is accepted and the sandbox parsed the same JSON
    assert isinstance(outcome, Delivered)
    [accepted] = sandbox.state.notifications()
    assert accepted.payload["aps"]["alert"] == body
    assert payload != PAYLOAD
    await client.close()


async def test_an_empty_batch_answers_at_once_without_connecting(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    client = ApnsClient(certificate_credential(pki), apns_settings)

    assert await client.send([]) == []
    assert (client.stats.connections_opened, sandbox.state.connections) == (0, 0)
