"""The rules of device registration: setAPNS, setVOIP, logout, kick, badge.

- ``setAPNS`` (:meth:`Registrations.register`): the token is normalised, the ``businessId`` must be one of
  the app's certificates (its environment is recorded with the device), and the app's kick policy decides
  what happens to the user's other devices: ``single`` replaces them (the kicked devices receive nothing),
  ``multi`` adds the device (at most :data:`MAX_DEVICES_PER_USER`; the oldest goes first). Registering is
  idempotent: the same call again changes nothing but ``registeredAt``.
- A token belongs to one user at a time: when another user of the app registers a token (the phone changed
  hands without a logout), the previous user loses it, so their messages stop appearing on someone else's
  phone.
- Logout removes one device or all of them; a logged-out device receives nothing.
- ``setVOIP`` (:meth:`Registrations.register` with ``PushKind.VOIP``) is setAPNS's twin for PushKit tokens:
  the certificate must serve VoIP (and for setAPNS, alerts). A PushKit token and the APNs token of the same
  phone are two registrations; the kick policy and the device cap apply among the registrations of one kind
  (a new PushKit token replaces the user's other PushKit tokens, never their APNs tokens). Logging out of
  every device removes both kinds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from offline_push.errors import (
    CertificateNotForAlerts,
    CertificateNotForVoip,
    CertificateNotFound,
    RegistrationConflict,
    UnknownBusinessId,
)
from offline_push.models.app import KickPolicy
from offline_push.models.certificate import CertificateRecord
from offline_push.models.credential import PushKind
from offline_push.models.registration import (
    DeviceRegistration,
    TokenClaim,
    UserRegistrations,
    normalize_device_token,
    token_hint,
    truncate_to_millis,
)

logger = Logger(child=True)

MAX_DEVICES_PER_USER = 10
# Optimistic-concurrency attempts of one registration before answering 409.
SAVE_ATTEMPTS = 5


class CertificateLookup(Protocol):
    def get(self, sdk_app_id: int, business_id: int, *, consistent: bool = True) -> CertificateRecord: ...


class KickPolicySource(Protocol):
    def kick_policy(self, sdk_app_id: int) -> KickPolicy: ...


class RegistrationStorage(Protocol):
    def get(self, sdk_app_id: int, user_id: str, *, consistent: bool = True) -> UserRegistrations: ...

    def save_devices(
        self,
        sdk_app_id: int,
        user_id: str,
        devices: Sequence[DeviceRegistration],
        *,
        expected_version: int,
        released_tokens: Sequence[str] = (),
        claim: tuple[str, int] | None = None,
    ) -> int: ...

    def claim_token(self, sdk_app_id: int, token: str, user_id: str) -> TokenClaim: ...

    def token_holder(self, sdk_app_id: int, token: str) -> str | None: ...

    def remove_device(
        self,
        sdk_app_id: int,
        user_id: str,
        token: str,
        *,
        unless_registered_after: dt.datetime | None = None,
        claimed_before: int | None = None,
    ) -> bool: ...

    def remove_all(self, sdk_app_id: int, user_id: str) -> tuple[str, ...]: ...

    def set_badge(self, sdk_app_id: int, user_id: str, unread: int) -> None: ...


@dataclass(frozen=True, slots=True)
class UserRef:
    """An authenticated user of an app: the only user a request may act for."""

    sdk_app_id: int
    user_id: str


@dataclass(frozen=True, slots=True)
class DevicePlan:
    devices: tuple[DeviceRegistration, ...]  # the user's devices after the registration, newest first
    dropped: tuple[DeviceRegistration, ...]  # devices the registration removes (kicked or over the cap)


def plan_devices(
    current: Sequence[DeviceRegistration],
    new: DeviceRegistration,
    policy: KickPolicy,
    *,
    max_devices: int = MAX_DEVICES_PER_USER,
) -> DevicePlan:
    """The user's devices after registering ``new``: pure, so the policy is tested without storage. The
    policy and the cap apply among the devices of ``new``'s push kind; the other kind's are kept."""
    others = sorted(
        (device for device in current if device.token != new.token),
        key=lambda device: device.registered_at,
        reverse=True,
    )
    same = [device for device in others if device.push_kind is new.push_kind]
    kept = [] if policy is KickPolicy.SINGLE else same[: max_devices - 1]
    dropped = same[len(kept) :]
    remaining = [device for device in others if device not in dropped]
    return DevicePlan(devices=(new, *remaining), dropped=tuple(dropped))


@dataclass(frozen=True, slots=True)
class RegistrationOutcome:
    user: UserRef
    registration: DeviceRegistration
    kicked: tuple[str, ...]  # tokens of this user's devices the registration removed
    taken_from: str | None  # the user who held the token before, and lost it

    def public_view(self) -> dict[str, Any]:
        return {
            "sdkAppId": self.user.sdk_app_id,
            "userId": self.user.user_id,
            **self.registration.public_view(),
            "replacedDevices": len(self.kicked),
        }


def check_serves(certificate: CertificateRecord, kind: PushKind) -> None:
    """A registration's certificate must be able to push its kind: the 400 names the certificate's kinds."""
    if certificate.serves(kind):
        return
    serves = ", ".join(served.value for served in certificate.push_kinds)
    if kind is PushKind.VOIP:
        raise CertificateNotForVoip(
            f"certificate {certificate.business_id} serves {serves} pushes, not VoIP: setVOIP needs a "
            "VoIP Services certificate, a universal certificate with the <bundle>.voip topic, or a .p8 key"
        )
    raise CertificateNotForAlerts(
        f"certificate {certificate.business_id} serves {serves} pushes only: setAPNS needs a certificate "
        "for alerts (an APNs push certificate or a .p8 key); use this one with setVOIP"
    )


class Registrations:
    def __init__(
        self,
        store: RegistrationStorage,
        certificates: CertificateLookup,
        policies: KickPolicySource,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.certificates = certificates
        self.policies = policies
        self.clock = clock

    def register(
        self, user: UserRef, business_id: int, raw_token: str, kind: PushKind = PushKind.ALERT
    ) -> RegistrationOutcome:
        """setAPNS (``kind`` alert) or setVOIP (``kind`` voip): register (or refresh) the device ``raw_token``
        of ``user`` with certificate ``business_id``. Validation happens before any write: a rejected call
        stores nothing."""
        token = normalize_device_token(raw_token)
        try:
            certificate = self.certificates.get(user.sdk_app_id, business_id)
        except CertificateNotFound:
            raise UnknownBusinessId(
                f"businessId {business_id} is not a certificate of app {user.sdk_app_id}: "
                "use the id the certificate upload returned"
            ) from None
        check_serves(certificate, kind)
        policy = self.policies.kick_policy(user.sdk_app_id)
        registration = DeviceRegistration(
            token=token,
            business_id=business_id,
            environment=certificate.environment,
            registered_at=truncate_to_millis(self.clock()),
            push_kind=kind,
        )
        # One holder per token, however registrations interleave: the claims of a token are numbered by
        # DynamoDB, and the latest claim wins. This registration takes the token from the user who claimed
        # it before (unless they registered it again since), and yields it if someone claimed it after.
        claim = self.store.claim_token(user.sdk_app_id, token, user.user_id)
        taken_from = None
        if (
            claim.previous is not None
            and claim.previous != user.user_id
            and self.store.remove_device(user.sdk_app_id, claim.previous, token, claimed_before=claim.number)
        ):
            taken_from = claim.previous
        plan = self._save(user, registration, policy, claim.number)
        if self.store.token_holder(user.sdk_app_id, token) != user.user_id:
            # Another user claimed the token meanwhile and may have looked for it here before it was saved.
            self.store.remove_device(user.sdk_app_id, user.user_id, token, claimed_before=claim.number + 1)
        logger.info(
            "device registered",
            extra={
                "sdkAppId": user.sdk_app_id,
                "businessId": business_id,
                "pushKind": kind.value,
                "device": token_hint(token),
                "kickPolicy": policy.value,
                "kicked": len(plan.dropped),
                "tokenChangedHands": taken_from is not None,
            },
        )
        return RegistrationOutcome(
            user=user,
            registration=registration,
            kicked=tuple(device.token for device in plan.dropped),
            taken_from=taken_from,
        )

    def _save(
        self, user: UserRef, registration: DeviceRegistration, policy: KickPolicy, claim: int
    ) -> DevicePlan:
        for _attempt in range(SAVE_ATTEMPTS):
            current = self.store.get(user.sdk_app_id, user.user_id, consistent=True)
            plan = plan_devices(current.devices, registration, policy)
            try:
                self.store.save_devices(
                    user.sdk_app_id,
                    user.user_id,
                    plan.devices,
                    expected_version=current.version,
                    released_tokens=[device.token for device in plan.dropped],
                    claim=(registration.token, claim),
                )
            except RegistrationConflict:
                continue
            return plan
        raise RegistrationConflict("the user's registrations kept changing during the update; retry")

    def unregister(self, user: UserRef, raw_token: str) -> bool:
        """Logout of one device; True if it was registered. Idempotent."""
        token = normalize_device_token(raw_token)
        removed = self.store.remove_device(user.sdk_app_id, user.user_id, token)
        logger.info(
            "device unregistered",
            extra={"sdkAppId": user.sdk_app_id, "device": token_hint(token), "removed": removed},
        )
        return removed

    def unregister_all(self, user: UserRef) -> int:
        """Logout of every device (and forget the badge); the number of devices removed. Idempotent."""
        removed = self.store.remove_all(user.sdk_app_id, user.user_id)
        logger.info("all devices unregistered", extra={"sdkAppId": user.sdk_app_id, "removed": len(removed)})
        return len(removed)

    def set_badge(self, user: UserRef, unread: int) -> None:
        """The app's unread count (reported when it goes to the background): the base the dispatcher adds
        one to per pushed message."""
        self.store.set_badge(user.sdk_app_id, user.user_id, unread)
