"""Deliveries: one notification of one message to one device of one receiver, and what became of it.

A delivery is identified by (sdkAppId, MsgKey, receiver, device token). The dispatcher claims the *unit of
work* holding it (a job, a chunk of one) with a conditional write before it sends, so the same job delivered
twice (SQS delivers at least once; an IM backend may resend a MsgKey) never notifies a device twice; a
delivery gets an item of its own only when it is not delivered (failed, retrying). Every attempt at one
delivery carries the same ``apns-id`` (a UUIDv5 of the key), so APNs' side and the sandbox can tell repeats
apart.

The states a stored delivery goes through (README.md "Dispatch" has the whole table):

``pending``   claimed by a run (``run``), which owns it until ``lease``; it is *delivered* once that run's
              completion marker exists (no write per delivered notification), *sending* while the lease runs,
              *interrupted* after (the run died: whoever processes the job again takes it over).
``retrying``  APNs answered something worth retrying (429, 5xx, connection loss): a retry task is queued.
``failed``    final: ``reason`` says why (Apple's reason, or ours: certificate deleted, retries exhausted...).
``noDevice`` / ``noPush``   per-receiver records of a message that gave no notification, written by earlier
              releases (read, no longer written: the message's info counts these receivers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.registration import token_hint

# apns-id = UUIDv5(this namespace, key): stable across attempts, runs and redeliveries of one delivery.
APNS_ID_NAMESPACE: Final = uuid.UUID("5b0f2f1c-9a4e-5d7c-8e21-6f1d0c4b9a37")
# A message's deliveries are spread over this many partitions (by receiver), so a large group's claims are
# not all written to one DynamoDB partition key (1,000 WRU/s each). Changing it hides older records.
MESSAGE_SHARDS: Final = 16
RECEIVER_DIGEST_BYTES: Final = 8
# The job item keeps every receiver's digest; DynamoDB items hold 400 KB: larger jobs claim per notification.
MAX_UNIT_JOB_RECEIVERS: Final = 40_000


class DeliveryState(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    FAILED = "failed"
    NO_DEVICE = "noDevice"
    NO_PUSH = "noPush"


class Outcome(StrEnum):
    """What an operator reads for one delivery (the stored state, resolved against run markers)."""

    DELIVERED = "delivered"
    SENDING = "sending"
    INTERRUPTED = "interrupted"
    RETRYING = "retrying"
    FAILED = "failed"
    NO_DEVICE = "noDevice"
    NO_PUSH = "noPush"


class DispatchReason(StrEnum):
    """The dispatcher's own reasons, beside Apple's (``BadDeviceToken``) and the formatter's."""

    NO_DEVICE_REGISTERED = (
        "NoDeviceRegistered"  # the receiver has no registration (never setAPNS, logged out)
    )
    NO_VOIP_REGISTRATION = "NoVoipRegistration"  # a call, to a receiver without PushKit token nor fallback
    PUSH_KIND_NOT_SERVED = "PushKindNotServed"  # the certificate no longer serves the registration's kind
    DEVICE_NO_LONGER_REGISTERED = "DeviceNoLongerRegistered"  # logged out or kicked before a retry
    CERTIFICATE_NOT_FOUND = "CertificateNotFound"  # the businessId's certificate was deleted
    CREDENTIAL_UNUSABLE = "CredentialUnusable"  # expired certificate, damaged file
    RETRIES_EXHAUSTED = "RetriesExhausted"  # retryable answers every time, up to DISPATCH_MAX_ATTEMPTS
    STORAGE_UNAVAILABLE = "StorageUnavailable"  # the credential could not be read: retried
    INVALID_PUSH_JOB = "InvalidPushJob"


def message_shard(user_id: str) -> int:
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).digest()[0] % MESSAGE_SHARDS


def receiver_digest(user_id: str) -> bytes:
    """8 bytes of a receiver's id: a job's receivers are kept as these (a 10,000-receiver job in 80 KB)."""
    return hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).digest()[:RECEIVER_DIGEST_BYTES]


def token_digest(token: str) -> str:
    """The device token as it appears in keys and cursors: a digest, so keys never carry a whole token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    sdk_app_id: int
    msg_key: str
    user_id: str
    token: str

    @property
    def apns_id(self) -> str:
        name = f"{self.sdk_app_id}\x1f{self.msg_key}\x1f{self.user_id}\x1f{self.token}"
        return str(
            uuid.uuid5(APNS_ID_NAMESPACE, name.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        )

    @property
    def device(self) -> str:
        return token_hint(self.token)


@dataclass(slots=True)
class Delivery:
    """One notification to send: the key, the registration it goes through, and its badge."""

    key: DeliveryKey
    business_id: int
    environment: ApnsEnvironment
    registered_at: dt.datetime
    badge: int | None = (
        None  # None: not known yet (counter not incremented yet), or the message does not count
    )
    attempt: int = 1  # task-level attempt this run makes (the APNs client retries within an attempt too)
    counts_toward_badge: bool = False
    badge_supplied: bool = False  # the job gave this receiver's badge: no counter write
    push_kind: PushKind = PushKind.ALERT  # voip: a call invitation to a PushKit token


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery item as stored (read back from a failed conditional write, or by a query)."""

    sdk_app_id: int
    msg_key: str
    user_id: str
    state: DeliveryState
    run: str = ""
    lease: int = 0  # epoch seconds: the owning run's claim holds until then
    attempt: int = 1
    badge: int | None = None
    device: str | None = None
    business_id: int | None = None
    environment: str | None = None
    push_kind: str | None = None  # "voip": a call's VoIP push (absent: an alert)
    apns_id: str | None = None
    reason: str | None = None
    status: int | None = None
    cause: str | None = None
    registration_removed: bool = False
    retry_at: int | None = None  # epoch ms
    at: int = 0  # epoch ms: first claimed (or recorded)
    unit: str | None = None  # the unit of work that sent it (absent: claimed on its own)
    updated_at: int | None = None  # epoch ms: its outcome was last written (when APNs answered)

    @property
    def terminal(self) -> bool:
        return self.state not in (DeliveryState.PENDING, DeliveryState.RETRYING)


@dataclass(frozen=True, slots=True)
class StoredUnit:
    """A unit of work's claim (or a job's), as stored.

    The dispatcher claims a *unit* (a job, or a job's chunk of receivers) with one
    conditional write instead of one per notification: ``run`` owns every notification of the unit until
    ``lease``; they are delivered once the run's completion marker exists, unless a per-notification record
    (failed, retrying) says otherwise. The job item (``unit`` ``j#``) names the job that owns the message
    key (``job``, its digest) and its receivers (digests), so that a different job with the same MsgKey
    serves only receivers the first did not have."""

    sdk_app_id: int
    msg_key: str
    unit: str  # the item's sort key: "j#" (the job, also its only unit when not split) or "u#<chunk id>"
    run: str | None = None  # None: a job item that is not a unit (the job was split into chunks)
    lease: int = 0
    notifications: int = 0
    orphans: bool = False  # retries its run could not queue: the job's redelivery takes them over
    job: str | None = None
    receivers: frozenset[bytes] = frozenset()
    at: int = 0


@dataclass(frozen=True, slots=True)
class UnitClaim:
    """Claim a unit (conditional put); ``job``/``receivers`` make it the message's job item too."""

    sdk_app_id: int
    msg_key: str
    unit: str
    run: str | None
    lease: int
    now_ms: int
    notifications: int = 0
    job: str | None = None
    receivers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UnitTakeOver:
    """Take a unit over from ``seen_run``: its lease expired without a completion marker, or it left
    retries it could not queue (``orphans``)."""

    sdk_app_id: int
    msg_key: str
    unit: str
    run: str
    lease: int
    now_ms: int
    seen_run: str
    notifications: int


# --- what the dispatcher writes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """Claim a delivery nobody has claimed yet (conditional put)."""

    delivery: Delivery
    run: str
    lease: int  # epoch seconds
    now_ms: int
    indexed: bool  # listed in the receiver's deliveries from now on (every outcome recorded)
    unit: str | None = None  # a retry of a delivery claimed per unit: that unit (it counts the record)


@dataclass(frozen=True, slots=True)
class TakeOver:
    """Take a claimed delivery over: as the retry its run scheduled (``retry_of``), or after its owner
    ``seen_run`` died (lease expired, no completion marker)."""

    delivery: Delivery
    run: str
    lease: int
    now_ms: int
    indexed: bool
    retry_of: str | None = None
    seen_run: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeUpdate:
    """A delivery's outcome, written by the run that owns it (final failure, or retry scheduled)."""

    delivery: Delivery
    run: str
    state: DeliveryState
    reason: str
    now_ms: int
    status: int | None = None
    cause: str | None = None
    lease: int | None = None  # retrying: the retry task owns it until then
    retry_at_ms: int | None = None
    registration_removed: bool = False
    unit: str | None = None  # the delivery was claimed per unit: its record is written whole, unconditionally


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What one chunk of a message says beyond its deliveries (one item per message and chunk)."""

    sdk_app_id: int
    msg_key: str
    chunk_id: str
    now_ms: int
    receivers: int = 0
    no_device: int = 0
    call: bool = False  # the message is a call invitation (pushed through PushKit where registered)
    no_voip: int = 0  # call receivers with no PushKit token and no alert fallback
    no_push_reason: str | None = None
    no_push_message: str | None = None
    invalid_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What the deliveries API shows for one notification (or one receiver without one)."""

    sdk_app_id: int
    msg_key: str
    user_id: str
    outcome: Outcome
    at: int  # epoch ms the delivery was first claimed (or recorded)
    device: str | None = None
    business_id: int | None = None
    environment: str | None = None
    push_kind: str | None = None  # "voip": a call's VoIP push (absent: an alert)
    apns_id: str | None = None
    badge: int | None = None
    attempts: int | None = None
    reason: str | None = None
    status: int | None = None
    cause: str | None = None
    registration_removed: bool = False
    retry_at: int | None = None  # epoch ms

    def public_view(self) -> dict[str, object]:
        view: dict[str, object] = {
            "msgKey": self.msg_key,
            "outcome": self.outcome.value,
            "at": _iso_ms(self.at),
        }
        optional: dict[str, object | None] = {
            "device": self.device,
            "businessId": self.business_id,
            "environment": self.environment,
            "pushKind": self.push_kind,
            "apnsId": self.apns_id,
            "badge": self.badge,
            "attempts": self.attempts,
            "reason": self.reason,
            "status": self.status,
            "cause": self.cause,
            "nextAttemptAt": _iso_ms(self.retry_at) if self.retry_at is not None else None,
        }
        view.update({name: value for name, value in optional.items() if value is not None})
        if self.registration_removed:
            view["registrationRemoved"] = True
        return view


def _iso_ms(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
