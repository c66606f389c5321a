"""Per-app settings and user-auth keys are cached per warm container, for a short time."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from local.provision import Provisioned
from offline_push.dal.app_store import AppSettingsStore
from offline_push.dal.user_auth_key_store import UserAuthKeyStore
from offline_push.logic.apps import AppAdministration, AppDirectory
from offline_push.models.app import KickPolicy, PlaceholderLanguage, UserAuthAlgorithm, UserAuthKey
from tests.support.user_tokens import SAMPLE_SECRET, rsa_key

APP = 1400000001


class FakeClock:
    """Monotonic time the test advances."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def count_into(calls: Counter[str]) -> Any:
    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    return count


@pytest.fixture
def calls() -> Counter[str]:
    """AWS operations the stores send (for real, to moto), by name."""
    return Counter()


@pytest.fixture
def stores(aws: Provisioned, calls: Counter[str]) -> tuple[AppSettingsStore, UserAuthKeyStore]:
    dynamodb = boto3.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb.*", count_into(calls))
    secrets = boto3.client("secretsmanager")
    secrets.meta.events.register("before-call.secretsmanager.*", count_into(calls))
    return (
        AppSettingsStore(aws.environment["APPS_TABLE"], client=dynamodb),
        UserAuthKeyStore(aws.environment["APP_SECRETS_PREFIX"], client=secrets),
    )


def configure(stores: tuple[AppSettingsStore, UserAuthKeyStore], key: UserAuthKey, **settings: Any) -> None:
    AppAdministration(*stores).configure(
        APP,
        kick_policy=settings.get("kick_policy", KickPolicy.SINGLE),
        placeholder_language=PlaceholderLanguage.ZH,
        user_auth=key,
    )


def test_settings_and_keys_are_read_once_per_ttl(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given an app with an HS256 key, and a warm container's directory
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET), kick_policy=KickPolicy.MULTI)
    clock = FakeClock()
    directory = AppDirectory(*stores, ttl_seconds=60, monotonic=clock)
    calls.clear()

    # When a burst of requests needs the key and the kick policy
    for _ in range(50):
        key = directory.verification_key(APP)
        policy = directory.kick_policy(APP)

    # Then the settings and the secret were each read once
    assert calls == Counter({"GetItem": 1, "GetSecretValue": 1})
    assert key is not None
    assert key.key == SAMPLE_SECRET.encode()
    assert policy is KickPolicy.MULTI

    # And once the TTL has passed, a new key is picked up
    configure(stores, UserAuthKey(UserAuthAlgorithm.RS256, rsa_key().user_auth["publicKey"]))
    assert directory.verification_key(APP) == key
    clock.now += 61
    assert directory.verification_key(APP) is not None
    assert directory.verification_key(APP).algorithm is UserAuthAlgorithm.RS256  # type: ignore[union-attr]


def test_unknown_apps_are_remembered_briefly_and_never_reach_secrets_manager(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given a directory, and tokens naming an app that does not exist
    clock = FakeClock()
    directory = AppDirectory(*stores, ttl_seconds=60, missing_ttl_seconds=10, monotonic=clock)

    # When many arrive within ten seconds
    for _ in range(20):
        assert directory.verification_key(APP) is None

    # Then the apps table was read once and Secrets Manager never
    assert calls == Counter({"GetItem": 1})

    # And an app configured meanwhile is found after the short TTL, not the long one
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET))
    clock.now += 11
    assert directory.verification_key(APP) is not None


def test_a_key_whose_algorithm_disagrees_with_the_settings_is_not_used(
    aws: Provisioned, stores: tuple[AppSettingsStore, UserAuthKeyStore]
) -> None:
    # Given settings saying HS256, and a secret that (half-way through a change) holds an RS256 key
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET))
    stores[1].put(APP, UserAuthKey(UserAuthAlgorithm.RS256, rsa_key().user_auth["publicKey"]))

    # When the directory loads the key, then it fails closed
    assert AppDirectory(*stores).verification_key(APP) is None
