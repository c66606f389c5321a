"""VoIP pushes through the APNs client to the sandbox over a real TLS socket: token auth (the topic is
``<bundle>.voip``), certificate auth (a VoIP Services certificate), and the 5,120-byte payload limit."""

from __future__ import annotations

import pytest

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.apns import ApnsClient, ApnsSettings, Delivered, Failed
from offline_push.models.notification import ApnsRequest, PushType
from tests.support.apns import (
    KEY_ID,
    TEAM_ID,
    TOPIC,
    certificate_credential,
    live_devices,
    new_signing_key,
    public_pem,
    push,
    token_credential,
)

VOIP_TOPIC = f"{TOPIC}.voip"


def _payload(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    prefix = b'{"call":{"callId":"'
    return prefix + b"c" * (size - len(prefix) - 3) + b'"}}'


def _voip(
    token: str, *, size: int = 64, topic: str = VOIP_TOPIC, push_type: PushType = PushType.VOIP
) -> ApnsRequest:
    return push(token, topic=topic, payload=_payload(size), push_type=push_type, expiration=0)


@pytest.mark.parametrize(
    ("key_topics", "expected"),
    [(None, "delivered"), ([VOIP_TOPIC], "delivered"), ([TOPIC], "TopicDisallowed")],
    ids=["team key", "key for the voip topic", "key for the app topic only"],
)
async def test_a_voip_push_with_token_auth_goes_to_the_voip_topic(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, key_topics: list[str] | None, expected: str
) -> None:
    # Given a p8 key registered with APNs (for any topic of the team, or restricted), and a PushKit token
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key), topics=key_topics)
    [token] = live_devices(sandbox, 1, topic=VOIP_TOPIC)
    client = ApnsClient(token_credential(key), apns_settings)

    # When a VoIP push is sent to <bundle>.voip
    outcome = await client.send_one(_voip(token))
    await client.close()

    # Then APNs delivers it over token auth, unless the key may not push to that topic
    if expected == "delivered":
        assert isinstance(outcome, Delivered)
        [accepted] = sandbox.state.notifications()
        assert (accepted.auth, accepted.topic, accepted.push_type, accepted.expiration) == (
            "token",
            VOIP_TOPIC,
            "voip",
            0,
        )
    else:
        assert isinstance(outcome, Failed)
        assert (outcome.status, outcome.reason) == (400, expected)


@pytest.mark.parametrize(("size", "delivered"), [(5120, True), (5121, False)])
async def test_a_voip_services_certificate_pushes_up_to_5120_bytes(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki, size: int, delivered: bool
) -> None:
    # Given a VoIP Services certificate and a PushKit token
    credential = certificate_credential(pki, kind=PushCertificateKind.VOIP)
    [token] = live_devices(sandbox, 1, topic=VOIP_TOPIC)
    client = ApnsClient(credential, apns_settings)

    # When a VoIP push of exactly ``size`` bytes is sent
    outcome = await client.send_one(_voip(token, size=size))
    await client.close()

    # Then 5,120 bytes are delivered whole and 5,121 refused as too large
    if delivered:
        assert isinstance(outcome, Delivered)
        assert len(sandbox.state.notifications()[0].raw_payload) == 5120
    else:
        assert isinstance(outcome, Failed)
        assert (outcome.status, outcome.reason, sandbox.state.notifications()) == (413, "PayloadTooLarge", [])


async def test_a_voip_services_certificate_cannot_push_alerts(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    credential = certificate_credential(pki, kind=PushCertificateKind.VOIP)
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(credential, apns_settings)

    outcome = await client.send_one(_voip(token, topic=TOPIC, push_type=PushType.ALERT))
    await client.close()

    assert isinstance(outcome, Failed)
    assert (outcome.status, outcome.reason) == (400, "TopicDisallowed")
