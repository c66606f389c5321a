"""How APNs answers become outcomes: the one table the dispatcher relies on."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.apns import PRUNE_REASONS, ApnsReason, Failed, backoff_delay, is_retryable
from offline_push.apns.outcome import reason_of

RETRYABLE = [
    (500, "InternalServerError"),
    (503, "ServiceUnavailable"),
    (503, "Shutdown"),
    (429, "TooManyRequests"),
    (429, "TooManyProviderTokenUpdates"),
    (403, "ExpiredProviderToken"),
    (400, "IdleTimeout"),
    (502, "SomethingNew"),
]
FINAL = [
    (400, "BadDeviceToken"),
    (400, "DeviceTokenNotForTopic"),
    (400, "TopicDisallowed"),
    (400, "BadTopic"),
    (400, "MissingTopic"),
    (400, "PayloadEmpty"),
    (400, "BadPriority"),
    (403, "BadCertificate"),
    (403, "BadCertificateEnvironment"),
    (403, "InvalidProviderToken"),
    (403, "MissingProviderToken"),
    (403, "BadEnvironmentKeyInToken"),
    (404, "BadPath"),
    (405, "MethodNotAllowed"),
    (410, "Unregistered"),
    (410, "ExpiredToken"),
    (413, "PayloadTooLarge"),
    (400, "SomethingNew"),
]


@pytest.mark.parametrize(("status", "reason"), RETRYABLE)
def test_server_errors_throttling_and_token_expiry_are_retryable(status: int, reason: str) -> None:
    assert is_retryable(status, reason) is True


@pytest.mark.parametrize(("status", "reason"), FINAL)
def test_errors_about_the_notification_token_or_credential_are_final(status: int, reason: str) -> None:
    assert is_retryable(status, reason) is False


def test_exactly_the_dead_token_reasons_prune_the_registration() -> None:
    pruned = {reason for _, reason in FINAL if Failed("id", "token", 400, reason).prune_token}
    assert pruned == {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"}
    assert pruned == set(PRUNE_REASONS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"reason":"BadDeviceToken"}', ("BadDeviceToken", None)),
        (
            b'{"reason":"Unregistered","timestamp":1767323045000}',
            ("Unregistered", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ),
        (b"", (ApnsReason.UNKNOWN, None)),
        (b"<html>", (ApnsReason.UNKNOWN, None)),
        (b'["reason"]', (ApnsReason.UNKNOWN, None)),
        (b'{"reason":""}', (ApnsReason.UNKNOWN, None)),
        (b'{"reason":"Unregistered","timestamp":true}', ("Unregistered", None)),
    ],
)
def test_apples_error_body_gives_the_reason_and_the_410_timestamp(
    body: bytes, expected: tuple[str, dt.datetime | None]
) -> None:
    assert reason_of(body) == expected


@settings(max_examples=200)
@given(
    attempt=st.integers(min_value=1, max_value=40),
    base=st.floats(min_value=0, max_value=5),
    cap=st.floats(min_value=0, max_value=30),
    seed=st.integers(),
)
def test_backoff_is_full_jitter_below_the_exponential_ceiling_and_the_cap(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    delay = backoff_delay(attempt, base, cap, random.Random(seed))  # noqa: S311 - jitter
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))
