"""Token-based connections: provider JWTs verified by the sandbox, refresh by Apple's rules, and the
fleet-wide token shared through DynamoDB (moto) so many instances never trip TooManyProviderTokenUpdates."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from local.apns_sandbox import ApnsSandbox
from local.provision import Provisioned
from offline_push.apns import (
    ApnsClient,
    ApnsClientPool,
    ApnsReason,
    ApnsSettings,
    Delivered,
    Failed,
    ProviderTokenSource,
    Retryable,
    StoredProviderToken,
)
from offline_push.apns.tokens import sign_provider_token
from offline_push.dal.provider_token_store import ProviderTokenStore
from offline_push.models.credential import ApnsEnvironment
from tests.support.apns import (
    KEY_ID,
    TEAM_ID,
    live_devices,
    new_signing_key,
    public_pem,
    push,
    sandbox_settings,
    token_credential,
)


class Clock:
    """A wall clock that tests can set back or forward (the client's idea of now)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def _store(aws: Provisioned) -> ProviderTokenStore:
    return _SerialisedStore(aws.environment["PROVIDER_TOKENS_TABLE"], aws.environment["KMS_KEY_ID"])


async def test_a_notification_with_a_valid_provider_token_is_delivered(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given a team key registered with APNs and a live device
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(token_credential(key), apns_settings)

    # When a notification is sent
    outcome = await client.send_one(push(token))

    # Then it is delivered over token auth with one freshly minted token
    assert isinstance(outcome, Delivered)
    [accepted] = sandbox.state.notifications()
    assert accepted.auth == "token"
    assert client.token_source is not None
    assert (client.token_source.minted, client.token_source.adopted) == (1, 0)
    await client.close()


@pytest.mark.parametrize(
    ("registered", "key_environment", "expected"),
    [
        ("none", None, "InvalidProviderToken"),  # the key id is unknown to APNs
        ("other key", None, "InvalidProviderToken"),  # the signature does not verify
        ("same key", ApnsEnvironment.PRODUCTION, "BadEnvironmentKeyInToken"),
    ],
)
async def test_a_token_apns_cannot_accept_is_a_final_403(
    sandbox: ApnsSandbox,
    apns_settings: ApnsSettings,
    registered: str,
    key_environment: ApnsEnvironment | None,
    expected: str,
) -> None:
    # Given a signing key APNs does not know (or knows for the other environment only)
    key = new_signing_key()
    if registered != "none":
        public = public_pem(key if registered == "same key" else new_signing_key())
        sandbox.state.register_key(KEY_ID, TEAM_ID, public, environment=key_environment)
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(token_credential(key), apns_settings)
    request = push(token)

    # When a notification is sent to the development host
    outcome = await client.send_one(request)

    # Then it fails for good with Apple's 403 reason
    assert outcome == Failed(request.apns_id, token, HTTPStatus.FORBIDDEN, expected)
    await client.close()


async def test_a_token_apns_calls_expired_is_replaced_once_and_the_notification_delivered(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given a token minted 30 minutes ago (by this client's clock), and APNs's clock 35 minutes ahead, so
    # that APNs sees it 65 minutes old
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    [token] = live_devices(sandbox, 1)
    clock = Clock(offset=-30 * 60)
    source = ProviderTokenSource(team_id=TEAM_ID, key_id=KEY_ID, signing_key=key, clock=clock)
    await source.refresh()
    clock.offset = 0
    sandbox.state.clock_offset = 35 * 60
    client = ApnsClient(token_credential(key), apns_settings, token_source=source)
    request = push(token)

    # When a notification is sent
    outcome = await client.send_one(request)

    # Then the first attempt gets 403 ExpiredProviderToken, a new token is minted, and the second delivers
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 2
    assert source.minted == 2
    assert sandbox.state.responses == {"403 ExpiredProviderToken": 1, "200": 1}
    await client.close()


async def test_with_clocks_an_hour_apart_the_token_is_not_re_minted_and_the_push_stays_retryable(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given APNs's clock 61 minutes ahead of ours: every token we mint looks expired to it
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    sandbox.state.clock_offset = 61 * 60
    [token] = live_devices(sandbox, 1)
    client = ApnsClient(token_credential(key), apns_settings)
    request = push(token)

    # When a notification is sent
    outcome = await client.send_one(request)

    # Then the minutes-old token is kept (minting more would trip TooManyProviderTokenUpdates) and the
    # notification is left Retryable with Apple's reason
    assert outcome == Retryable(
        request.apns_id, token, HTTPStatus.FORBIDDEN, ApnsReason.EXPIRED_PROVIDER_TOKEN, 4
    )
    assert client.token_source is not None
    assert client.token_source.minted == 1
    await client.close()


async def test_instances_that_mint_their_own_tokens_trip_too_many_provider_token_updates(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given two instances with the same key and no shared token store
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    first, second = live_devices(sandbox, 2)
    one = ApnsClient(token_credential(key), apns_settings)
    other = ApnsClient(token_credential(key), apns_settings)

    # When each sends a notification
    delivered = await one.send_one(push(first))
    refused = await other.send_one(push(second))

    # Then APNs refuses the second instance's token: this is why the fleet shares one
    assert isinstance(delivered, Delivered)
    assert isinstance(refused, Retryable)
    assert (refused.status, refused.reason) == (HTTPStatus.TOO_MANY_REQUESTS, "TooManyProviderTokenUpdates")
    await one.close()
    await other.close()


async def test_instances_sharing_the_token_store_use_one_token(
    sandbox: ApnsSandbox, aws: Provisioned, ca_bundle: Path
) -> None:
    # Given two Lambda instances (two pools) sharing the provider token table
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    tokens = live_devices(sandbox, 20)
    settings = sandbox_settings(sandbox, ca_bundle)
    instances = [ApnsClientPool(settings, token_store=_store(aws)) for _ in range(2)]
    credential = token_credential(key)

    # When both send at the same time
    batches = await asyncio.gather(
        *(
            pool.client_for(credential).send([push(token) for token in tokens[i::2]])
            for i, pool in enumerate(instances)
        )
    )

    # Then all are delivered; one instance minted the token, the other adopted it from the store
    assert all(isinstance(outcome, Delivered) for batch in batches for outcome in batch)
    sources = [pool.client_for(credential).token_source for pool in instances]
    assert sorted((source.minted, source.adopted) for source in sources if source) == [(0, 1), (1, 0)]
    assert "429 TooManyProviderTokenUpdates" not in sandbox.state.responses
    for pool in instances:
        await pool.close()


_ITEM_WRITES = threading.Lock()


class _SerialisedStore(ProviderTokenStore):
    """The real store. DynamoDB applies conditional writes to one item one at a time; moto, serving several
    threads in-process, does not, so the writes are serialised here as the service would."""

    def put_if_unchanged(
        self, team_id: str, key_id: str, token: StoredProviderToken, *, expected_issued_at: int | None
    ) -> bool:
        with _ITEM_WRITES:
            return super().put_if_unchanged(team_id, key_id, token, expected_issued_at=expected_issued_at)


class _RacingStore(_SerialisedStore):
    """Every writer held at a barrier, so that two refreshes that both saw the stale token race to write."""

    def __init__(self, *args: Any, barrier: threading.Barrier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.barrier = barrier

    def put_if_unchanged(
        self, team_id: str, key_id: str, token: StoredProviderToken, *, expected_issued_at: int | None
    ) -> bool:
        self.barrier.wait(timeout=5)
        return super().put_if_unchanged(team_id, key_id, token, expected_issued_at=expected_issued_at)


async def test_a_stale_shared_token_is_replaced_by_exactly_one_writer(aws: Provisioned) -> None:
    # Given a shared token 55 minutes old, and two instances that both see it stale at once
    key = new_signing_key()
    store = _store(aws)
    stale_iat = int(time.time()) - 55 * 60
    stale = StoredProviderToken(sign_provider_token(TEAM_ID, KEY_ID, key, stale_iat), stale_iat)
    assert store.put_if_unchanged(TEAM_ID, KEY_ID, stale, expected_issued_at=None)
    barrier = threading.Barrier(2)
    sources = [
        ProviderTokenSource(
            team_id=TEAM_ID,
            key_id=KEY_ID,
            signing_key=key,
            store=_RacingStore(store.table_name, store.kms_key_id, barrier=barrier),
        )
        for _ in range(2)
    ]

    # When both refresh concurrently
    headers = await asyncio.gather(*(source.refresh() for source in sources))

    # Then the conditional write lets one win; the loser adopts the winner's token
    assert headers[0] == headers[1]
    assert sorted((source.minted, source.adopted) for source in sources) == [(0, 1), (1, 0)]
    shared = store.get(TEAM_ID, KEY_ID)
    assert shared is not None
    assert headers[0] == b"bearer " + shared.token.encode()
    assert shared.issued_at > stale_iat


async def test_the_shared_token_is_stored_kms_encrypted_and_expires_with_apples_hour(
    aws: Provisioned,
) -> None:
    # Given a token written through the store
    key = new_signing_key()
    store = _store(aws)
    now = int(time.time())
    token = StoredProviderToken(sign_provider_token(TEAM_ID, KEY_ID, key, now), now)

    # When it is stored
    assert store.put_if_unchanged(TEAM_ID, KEY_ID, token, expected_issued_at=None)

    # Then the item holds KMS ciphertext (bound to the key's identity), never the JWT, with a TTL at iat + 1 h
    item = boto3.client("dynamodb").get_item(
        TableName=store.table_name, Key={"tokenKey": {"S": f"{TEAM_ID}.{KEY_ID}"}}
    )["Item"]
    assert set(item) == {"tokenKey", "issuedAt", "ciphertext", "expiresAt"}
    assert token.token.encode() not in item["ciphertext"]["B"]
    assert (int(item["issuedAt"]["N"]), int(item["expiresAt"]["N"])) == (now, now + 3600)
    plaintext = boto3.client("kms").decrypt(
        CiphertextBlob=item["ciphertext"]["B"],
        EncryptionContext={"purpose": "apns-provider-token", "teamId": TEAM_ID, "keyId": KEY_ID},
    )["Plaintext"]
    assert plaintext.decode() == token.token
    assert store.get(TEAM_ID, KEY_ID) == token


async def test_a_token_signed_for_apns_carries_apples_claims(aws: Provisioned) -> None:
    # Given a source with the shared store
    key = new_signing_key()
    source = ProviderTokenSource(team_id=TEAM_ID, key_id=KEY_ID, signing_key=key, store=_store(aws))

    # When it produces its header
    header = await source.refresh()

    # Then it is "bearer <ES256 JWT>" with kid in the header and iss/iat in the claims, and nothing else
    token = header.removeprefix(b"bearer ").decode()
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"], options={"verify_iat": False})
    assert set(claims) == {"iss", "iat"}
    assert claims["iss"] == TEAM_ID
    assert abs(claims["iat"] - time.time()) < 5


async def test_provider_tokens_and_keys_never_reach_the_logs(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a token client and every log record captured, down to DEBUG
    caplog.set_level(logging.DEBUG)
    key = new_signing_key()
    sandbox.state.register_key(KEY_ID, TEAM_ID, public_pem(key))
    sandbox.state.clock_offset = 61 * 60  # forces the expired-token path and its warning
    [token] = live_devices(sandbox, 1)
    credential = token_credential(key)
    client = ApnsClient(credential, apns_settings)

    # When it sends (and is refused, and logs about it)
    await client.send_one(push(token))

    # Then no log line, repr or outcome contains the JWT or the key
    assert client.token_source is not None
    header = client.token_source.header() or b""
    jwt_text = header.removeprefix(b"bearer ").decode()
    assert jwt_text
    logged = caplog.text + repr(credential) + repr(client) + repr(client.token_source)
    assert "WARNING" in caplog.text
    assert jwt_text not in logged
    assert jwt_text.split(".")[2] not in logged
    assert "PRIVATE KEY" not in logged
    await client.close()


async def test_a_key_that_cannot_sign_es256_leaves_the_batch_retryable_instead_of_raising(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings
) -> None:
    # Given a token credential whose key is on the wrong curve for ES256 (a corrupt upload, say)
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415

    wrong_curve = ec.generate_private_key(ec.SECP384R1())
    tokens = live_devices(sandbox, 2)
    client = ApnsClient(token_credential(wrong_curve), apns_settings)
    requests = [push(token) for token in tokens]

    # When a batch is sent
    outcomes = await client.send(requests)

    # Then every notification has an outcome naming the problem, and nothing reached APNs
    assert outcomes == [
        Retryable(request.apns_id, request.device_token, None, ApnsReason.PROVIDER_TOKEN_UNAVAILABLE, 0)
        for request in requests
    ]
    assert sandbox.state.connections == 0
