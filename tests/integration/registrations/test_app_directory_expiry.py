"""When a warm container's cached app settings and keys expire: 60 s for what was found, 10 s for what was
not, both to the instant."""

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
from tests.support.user_tokens import SAMPLE_SECRET

APP = 1400000001
STARTED = 1000.0


class Clock:
    """Monotonic time the test sets."""

    def __init__(self) -> None:
        self.now = STARTED

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def calls() -> Counter[str]:
    """AWS operations the stores send (for real, to moto), by name."""
    return Counter()


@pytest.fixture
def stores(aws: Provisioned, calls: Counter[str]) -> tuple[AppSettingsStore, UserAuthKeyStore]:
    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    dynamodb = boto3.client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb.*", count)
    secrets = boto3.client("secretsmanager")
    secrets.meta.events.register("before-call.secretsmanager.*", count)
    return (
        AppSettingsStore(aws.environment["APPS_TABLE"], client=dynamodb),
        UserAuthKeyStore(aws.environment["APP_SECRETS_PREFIX"], client=secrets),
    )


def configure(stores: tuple[AppSettingsStore, UserAuthKeyStore], key: UserAuthKey | None) -> None:
    AppAdministration(*stores).configure(
        APP, kick_policy=KickPolicy.MULTI, placeholder_language=PlaceholderLanguage.EN, user_auth=key
    )


def test_found_settings_and_key_are_read_again_exactly_60_seconds_later(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given an app with an HS256 key, and a directory with the default lifetimes
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET))
    clock = Clock()
    directory = AppDirectory(*stores, monotonic=clock)
    calls.clear()

    # When the key and the settings are asked for now, 59.5 s later and 60 s later
    first = directory.verification_key(APP)
    settings_now = (directory.kick_policy(APP), directory.placeholder_language(APP))
    clock.now = STARTED + 59.5
    assert directory.verification_key(APP) == first
    assert calls == Counter({"GetItem": 1, "GetSecretValue": 1})
    clock.now = STARTED + 60

    # Then both are read once in the first minute, and again at its end
    assert directory.verification_key(APP) == first
    assert calls == Counter({"GetItem": 2, "GetSecretValue": 2})
    assert first is not None
    assert first.key == SAMPLE_SECRET.encode()
    assert settings_now == (KickPolicy.MULTI, PlaceholderLanguage.EN)


def test_an_unknown_app_is_looked_up_again_exactly_10_seconds_later(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given a directory with the default lifetimes, and an app not configured yet
    clock = Clock()
    directory = AppDirectory(*stores, monotonic=clock)
    calls.clear()

    # When it is asked for 9.5 s long
    answers: list[object] = [
        directory.verification_key(APP),
        directory.kick_policy(APP),
        directory.placeholder_language(APP),
    ]
    clock.now = STARTED + 9.5
    answers += [directory.settings(APP), directory.verification_key(APP)]

    # Then it has no key, the defaults (single login, Chinese) and no settings, from one read
    assert answers == [None, KickPolicy.SINGLE, PlaceholderLanguage.ZH, None, None]
    assert calls == Counter({"GetItem": 1})

    # And once configured, it is found at the tenth second
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET))
    calls.clear()
    clock.now = STARTED + 10
    key = directory.verification_key(APP)
    assert key is not None
    assert key.key == SAMPLE_SECRET.encode()
    assert directory.kick_policy(APP) is KickPolicy.MULTI
    assert calls == Counter({"GetItem": 1, "GetSecretValue": 1})


def test_a_key_that_was_found_is_kept_past_the_short_lifetime_of_one_that_was_not(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given an app with an HS256 key, read by a directory with the default lifetimes
    configure(stores, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET))
    clock = Clock()
    directory = AppDirectory(*stores, monotonic=clock)
    first = directory.verification_key(APP)
    calls.clear()

    # When it is asked for again 30 s later
    clock.now = STARTED + 30

    # Then nothing is read: a key found lives 60 s
    assert directory.verification_key(APP) == first
    assert calls == Counter()


def test_an_app_without_a_key_is_not_asked_of_secrets_manager(
    stores: tuple[AppSettingsStore, UserAuthKeyStore], calls: Counter[str]
) -> None:
    # Given an app configured without a user-auth key
    configure(stores, None)
    directory = AppDirectory(*stores, monotonic=Clock())
    calls.clear()

    # When its key is asked for
    # Then there is none, and only the settings were read
    assert directory.verification_key(APP) is None
    assert calls == Counter({"GetItem": 1})


def test_an_admin_reads_settings_consistently_and_the_hot_path_reads_them_eventually_consistent(
    stores: tuple[AppSettingsStore, UserAuthKeyStore],
) -> None:
    # Given an app just configured, and the GetItem requests the stores send
    configure(stores, None)
    sent: list[dict[str, Any]] = []
    stores[0].client.meta.events.register(
        "before-parameter-build.dynamodb.GetItem", lambda params, **_: sent.append(dict(params))
    )

    # When an admin reads its settings, then a function's directory does
    described = AppAdministration(*stores).describe(APP)
    AppDirectory(*stores, monotonic=Clock()).settings(APP)

    # Then the admin sees what was just written (a strongly consistent read), and the hot path pays half
    assert (described.kick_policy, described.placeholder_language) == (
        KickPolicy.MULTI,
        PlaceholderLanguage.EN,
    )
    assert [request["ConsistentRead"] for request in sent] == [True, False]
