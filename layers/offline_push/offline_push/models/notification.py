"""An APNs notification as the formatter decides it and the APNs client sends it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Apple's limit for the JSON payload of a regular (non-VoIP) remote notification.
MAX_PAYLOAD_BYTES = 4096
# Apple's limit for a VoIP (PushKit) notification's payload.
MAX_VOIP_PAYLOAD_BYTES = 5120


class PushType(StrEnum):
    """The ``apns-push-type`` header."""

    ALERT = "alert"
    BACKGROUND = "background"
    VOIP = "voip"


@dataclass(frozen=True, slots=True)
class Notification:
    """The device-independent part: payload and the headers the formatter decides.

    ``payload`` is the exact JSON bytes sent (at most :data:`MAX_PAYLOAD_BYTES`). ``priority`` is 10 (deliver
    now) or 5 (power-considerate; required for background pushes). ``expiration`` is the ``apns-expiration``
    header in epoch seconds (0: try once, do not store), ``None`` leaves it to Apple's default.
    """

    payload: bytes
    push_type: PushType = PushType.ALERT
    priority: int = 10
    expiration: int | None = None
    collapse_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApnsRequest:
    """One notification to one device: ``POST /3/device/<device_token>`` with ``apns-topic: <topic>``.

    ``apns_id`` is chosen by us (a UUID derived from message, receiver and token), so every attempt at the
    same delivery carries the same id and a receiver of duplicates can tell.
    """

    device_token: str
    topic: str
    notification: Notification
    apns_id: str
