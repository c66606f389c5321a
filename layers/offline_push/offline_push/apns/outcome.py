# ruff: noqa: S105 - Apple's reason names mention "token"; none is a secret
"""What became of one notification: delivered, failed for good, or worth trying again later.

Every APNs response and every transport failure is mapped here, in one table, so the dispatcher decides on
types (prune a token, record a reason, re-queue) and never parses Apple's status codes itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus


class ApnsReason(StrEnum):
    """Apple's ``reason`` strings, and the client's own names for failures that have no HTTP response."""

    # 400
    BAD_COLLAPSE_ID = "BadCollapseId"
    BAD_DEVICE_TOKEN = "BadDeviceToken"
    BAD_EXPIRATION_DATE = "BadExpirationDate"
    BAD_MESSAGE_ID = "BadMessageId"
    BAD_PRIORITY = "BadPriority"
    BAD_TOPIC = "BadTopic"
    DEVICE_TOKEN_NOT_FOR_TOPIC = "DeviceTokenNotForTopic"
    DUPLICATE_HEADERS = "DuplicateHeaders"
    IDLE_TIMEOUT = "IdleTimeout"
    INVALID_PUSH_TYPE = "InvalidPushType"
    MISSING_DEVICE_TOKEN = "MissingDeviceToken"
    MISSING_TOPIC = "MissingTopic"
    PAYLOAD_EMPTY = "PayloadEmpty"
    TOPIC_DISALLOWED = "TopicDisallowed"
    # 403
    BAD_CERTIFICATE = "BadCertificate"
    BAD_CERTIFICATE_ENVIRONMENT = "BadCertificateEnvironment"
    EXPIRED_PROVIDER_TOKEN = "ExpiredProviderToken"
    FORBIDDEN = "Forbidden"
    INVALID_PROVIDER_TOKEN = "InvalidProviderToken"
    MISSING_PROVIDER_TOKEN = "MissingProviderToken"
    UNRELATED_KEY_ID_IN_TOKEN = "UnrelatedKeyIdInToken"
    BAD_ENVIRONMENT_KEY_IN_TOKEN = "BadEnvironmentKeyInToken"
    # 404, 405
    BAD_PATH = "BadPath"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    # 410
    EXPIRED_TOKEN = "ExpiredToken"
    UNREGISTERED = "Unregistered"
    # 413
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    # 429
    TOO_MANY_PROVIDER_TOKEN_UPDATES = "TooManyProviderTokenUpdates"
    TOO_MANY_REQUESTS = "TooManyRequests"
    # 500, 503
    INTERNAL_SERVER_ERROR = "InternalServerError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    SHUTDOWN = "Shutdown"
    # No HTTP response: named by this client.
    CONNECTION_FAILED = "ConnectionFailed"  # could not connect (refused, unreachable, connect timeout)
    CONNECTION_LOST = "ConnectionLost"  # the connection died with the request in flight
    GOAWAY = "GoAway"  # the server closed the connection before processing the request
    STREAM_RESET = "StreamReset"  # the server reset the request's stream
    TIMEOUT = "Timeout"  # no response within the read timeout
    POOL_TIMEOUT = "PoolTimeout"  # no free stream on the connection within the pool timeout
    DEADLINE_EXCEEDED = "DeadlineExceeded"  # the caller's time budget for the batch ran out
    SERVER_CERTIFICATE_UNTRUSTED = "ServerCertificateUntrusted"  # TLS: APNs' certificate did not verify
    PROVIDER_TOKEN_UNAVAILABLE = "ProviderTokenUnavailable"  # no provider token could be signed or read
    UNKNOWN = "Unknown"  # an error response without a readable reason


# A device token that Apple will never accept again for this topic/environment: the registration goes.
PRUNE_REASONS = frozenset(
    {
        ApnsReason.BAD_DEVICE_TOKEN,
        ApnsReason.DEVICE_TOKEN_NOT_FOR_TOPIC,
        ApnsReason.UNREGISTERED,
        ApnsReason.EXPIRED_TOKEN,
    }
)

# Error responses that a later attempt can turn into a delivery. Every other 4xx is final.
_RETRYABLE_REASONS = frozenset(
    {
        ApnsReason.IDLE_TIMEOUT,  # 400, but about the connection, not the notification
        ApnsReason.EXPIRED_PROVIDER_TOKEN,  # after a token refresh
        ApnsReason.TOO_MANY_PROVIDER_TOKEN_UPDATES,
        ApnsReason.TOO_MANY_REQUESTS,
        ApnsReason.INTERNAL_SERVER_ERROR,
        ApnsReason.SERVICE_UNAVAILABLE,
        ApnsReason.SHUTDOWN,
    }
)


def is_retryable(status: int, reason: str) -> bool:
    """Whether an error response is worth another attempt (5xx and 429 always; some 400/403 reasons)."""
    return status >= 500 or status == HTTPStatus.TOO_MANY_REQUESTS or reason in _RETRYABLE_REASONS


@dataclass(frozen=True, slots=True)
class Delivered:
    """APNs accepted the notification (200). ``apns_unique_id`` is sent by the development host only."""

    apns_id: str
    device_token: str
    attempts: int = 1
    apns_unique_id: str | None = None
    elapsed: float = field(default=0.0, compare=False)  # seconds from the first attempt to the answer


@dataclass(frozen=True, slots=True)
class Failed:
    """A final failure: trying again cannot help. ``reason`` is Apple's (or the client's, for TLS failures).

    ``unregistered_at`` is Apple's 410 timestamp: the last time APNs confirmed the token was no longer valid
    for the topic; a registration made after it is newer and must not be deleted.
    """

    apns_id: str
    device_token: str
    status: int | None  # None: refused before any HTTP response (the TLS handshake)
    reason: str
    attempts: int = 1
    unregistered_at: dt.datetime | None = None
    elapsed: float = field(default=0.0, compare=False)

    @property
    def prune_token(self) -> bool:
        """The device token is dead for this app and environment: delete its registration."""
        return self.reason in PRUNE_REASONS


@dataclass(frozen=True, slots=True)
class Retryable:
    """Not delivered yet, and worth another try later (re-queue): the client's own retries ran out.

    ``status`` is ``None`` when no HTTP response came back (connection failures, timeouts): APNs may or may
    not have accepted the notification, which is why every attempt carries the same ``apns-id``.
    """

    apns_id: str
    device_token: str
    status: int | None
    reason: str
    attempts: int = 1
    elapsed: float = field(default=0.0, compare=False)


DeliveryOutcome = Delivered | Failed | Retryable


def reason_of(body: bytes) -> tuple[str, dt.datetime | None]:
    """Apple's JSON error body -> (reason, 410 timestamp). Unreadable bodies give ``Unknown``."""
    import json  # noqa: PLC0415 - only error responses pay for it

    try:
        document = json.loads(body)
    except ValueError:
        return ApnsReason.UNKNOWN, None
    if not isinstance(document, dict):
        return ApnsReason.UNKNOWN, None
    reason = document.get("reason")
    timestamp = document.get("timestamp")
    moment = None
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        # Apple sends milliseconds since the epoch.
        moment = dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC)
    return (str(reason) if isinstance(reason, str) and reason else ApnsReason.UNKNOWN), moment
