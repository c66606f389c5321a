"""The causes an operator reads beside APNs' reason: every sentence, word for word, for each reason, each
environment and what became of the registration (the seed's FAQ "why no push?")."""

from __future__ import annotations

import datetime as dt

import pytest

from offline_push.logic.delivery_causes import final_cause, prune_cause, retries_exhausted_cause

REMOVED = "; the registration was removed (the app registers again at its next login)"
KEPT = "; the registration was kept: the app registered the token again after that"


@pytest.mark.parametrize(
    ("environment", "comes_from"),
    [
        (
            "development",
            "a TestFlight or App Store build, whose tokens need a production certificate",
        ),
        (
            "production",
            "a development build (run from Xcode), whose tokens need a development certificate",
        ),
    ],
)
def test_a_bad_device_token_names_the_build_of_the_other_environment(
    environment: str, comes_from: str
) -> None:
    # Given APNs refused a token for one environment of a certificate
    # When the cause is written
    cause = prune_cause(
        "BadDeviceToken", business_id=7, topic="com.example.chat", environment=environment, removed=True
    )

    # Then it names the build whose tokens belong to the other environment, and the registration's fate
    assert cause == (
        f"APNs refused the token for the {environment} environment of certificate 7 (com.example.chat): it "
        f"comes from {comes_from} (the app's environment and the certificate's must match), or it is not a "
        f"device token at all{REMOVED}"
    )


def test_a_bad_device_token_of_an_unknown_environment_names_no_build() -> None:
    # Given an environment that is neither development nor production (its "other" is development)
    cause = prune_cause("BadDeviceToken", business_id=3, topic="t", environment="staging", removed=False)

    # Then the build is "a development build", the one of the environment it is not
    assert cause == (
        "APNs refused the token for the staging environment of certificate 3 (t): it comes from a "
        "development build (run from Xcode), whose tokens need a development certificate (the app's "
        "environment and the "
        f"certificate's must match), or it is not a device token at all{KEPT}"
    )


def test_a_token_of_another_app_names_the_certificate_and_its_bundle_id() -> None:
    cause = prune_cause(
        "DeviceTokenNotForTopic",
        business_id=2,
        topic="com.example.lite",
        environment="production",
        removed=False,
    )

    assert cause == (
        "the token belongs to another app than certificate 2's bundle id com.example.lite: the app called "
        "setAPNS with another app's businessId (apps sharing an SdkAppId each need their own certificate and "
        f"businessId){KEPT}"
    )


def test_an_unregistered_token_says_since_when_in_utc_milliseconds() -> None:
    # Given Apple's timestamp in another time zone
    since = dt.datetime(2026, 11, 25, 20, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    cause = prune_cause(
        "Unregistered",
        business_id=1,
        topic="com.example.chat",
        environment="production",
        removed=True,
        unregistered_at=since,
    )

    # Then it reads in UTC, to the millisecond, with a Z
    assert cause == (
        "APNs says the token is no longer valid for com.example.chat since 2026-11-25T12:00:00.123Z (the "
        f"app was uninstalled, or notifications were reset on the device){REMOVED}"
    )


def test_an_expired_token_without_a_timestamp_says_no_since() -> None:
    cause = prune_cause(
        "ExpiredToken", business_id=1, topic="com.example.chat", environment="development", removed=True
    )

    assert cause == (
        "APNs says the token is no longer valid for com.example.chat (the app was uninstalled, or "
        f"notifications were reset on the device){REMOVED}"
    )


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        (
            "BadCertificate",
            "APNs refused certificate 4: revoked, expired or not an APNs certificate; upload a valid one "
            "under the same id (PUT)",
        ),
        (
            "BadCertificateEnvironment",
            "certificate 4 cannot push to the development environment: upload a certificate of that "
            "environment",
        ),
        ("TopicDisallowed", "certificate 4 may not push to com.example.chat"),
        ("BadTopic", "APNs does not accept the topic com.example.chat of certificate 4"),
        (
            "InvalidProviderToken",
            "APNs refused the token key of certificate 4: wrong key id or team id, or the key was revoked",
        ),
        ("BadEnvironmentKeyInToken", "the token key of certificate 4 is restricted to the other environment"),
        (
            "ServerCertificateUntrusted",
            "APNs' server certificate did not verify: check APNS_EXTRA_CA_BUNDLE and the APNs URLs of the "
            "deployment",
        ),
        ("PayloadTooLarge", "the notification exceeded APNs's payload limit"),
    ],
)
def test_each_known_final_failure_has_its_own_cause(reason: str, cause: str) -> None:
    assert (
        final_cause(reason, 403, business_id=4, topic="com.example.chat", environment="development") == cause
    )


def test_an_unknown_final_failure_quotes_apns_answer_with_or_without_a_status() -> None:
    assert final_cause(
        "Forbidden", 403, business_id=4, topic="com.example.chat", environment="development"
    ) == ("APNs answered 403 Forbidden for certificate 4 (com.example.chat, development)")
    assert final_cause("Shutdown", None, business_id=4, topic="?", environment="production") == (
        "APNs answered Shutdown for certificate 4 (?, production)"
    )


def test_exhausted_retries_quote_the_last_answer_and_the_number_of_attempts() -> None:
    assert retries_exhausted_cause("ServiceUnavailable", 503, 5) == (
        "APNs answered 503 ServiceUnavailable on the last of 5 attempts; no more retries"
    )
    assert retries_exhausted_cause("ConnectionLost", None, 3) == (
        "APNs answered ConnectionLost on the last of 3 attempts; no more retries"
    )
