"""The operator's view of deliveries: the seed's FAQ "why no push?" answered for one user or one message.

- For a user: the devices registered now (with their certificate: a wrong environment or app shows here),
  "no device registered" when there is none, and the user's recorded deliveries, newest first.
- For a message: how many notifications ended in each outcome, the reasons of the failures, how many
  receivers had no device, and the reason when the message gave no notification at all.

A stored delivery's state is resolved for display: ``pending`` is *delivered* once its run's completion
marker exists (no write is spent per delivered notification), *sending* while its run's lease lasts, and
*interrupted* after that (its run died; the job's next processing takes it over). A delivered notification
has no item at all (its delivery-status log line says it was sent): its unit of work counts it
(``notifications``), and it resolves the same way through the unit's run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from offline_push.errors import CertificateNotFound, MessageNotFound, StorageError
from offline_push.models.certificate import CertificateRecord
from offline_push.models.delivery import (
    DeliveryRecord,
    DeliveryState,
    DispatchReason,
    Outcome,
    StoredDelivery,
    StoredUnit,
)
from offline_push.models.registration import UserRegistrations, iso_millis, token_hint


class DeliveryReader(Protocol):
    def user_page(
        self, sdk_app_id: int, user_id: str, *, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[list[StoredDelivery], dict[str, Any] | None]: ...

    def message_deliveries(self, sdk_app_id: int, msg_key: str) -> list[StoredDelivery]: ...

    def message_infos(self, sdk_app_id: int, msg_key: str) -> list[dict[str, Any]]: ...

    def message_units(self, sdk_app_id: int, msg_key: str) -> list[StoredUnit]: ...

    def completed_runs(self, runs: Iterable[str]) -> set[str]: ...


class RegistrationReader(Protocol):
    def get(self, sdk_app_id: int, user_id: str, *, consistent: bool = True) -> UserRegistrations: ...


class CertificateReader(Protocol):
    def get(self, sdk_app_id: int, business_id: int, *, consistent: bool = True) -> CertificateRecord: ...


# How many of a user's newest records are read for the devices APNs made us remove.
REMOVED_DEVICES_LOOKBACK = 100
DEVICE_REMOVED = "DeviceRemoved"

NO_DEVICE_MESSAGE = (
    "the user has no registered device: the app never called setAPNS after logging in (or with a "
    "certificate of this app), or the user logged out or was kicked by a login on another device"
)


def resolve(stored: StoredDelivery, completed: set[str], now: float) -> Outcome:
    if stored.state is DeliveryState.PENDING:
        if stored.run in completed:
            return Outcome.DELIVERED
        return Outcome.SENDING if stored.lease > now else Outcome.INTERRUPTED
    return Outcome(stored.state.value)


def record_of(stored: StoredDelivery, outcome: Outcome) -> DeliveryRecord:
    return DeliveryRecord(
        sdk_app_id=stored.sdk_app_id,
        msg_key=stored.msg_key,
        user_id=stored.user_id,
        outcome=outcome,
        at=stored.at,
        device=stored.device,
        business_id=stored.business_id,
        environment=stored.environment,
        push_kind=stored.push_kind,
        apns_id=stored.apns_id,
        badge=stored.badge,
        attempts=stored.attempt if stored.apns_id else None,
        reason=stored.reason if outcome is not Outcome.DELIVERED else None,
        status=stored.status if outcome is not Outcome.DELIVERED else None,
        cause=stored.cause if outcome is not Outcome.DELIVERED else None,
        registration_removed=stored.registration_removed,
        retry_at=stored.retry_at if outcome is Outcome.RETRYING else None,
    )


def removed_devices(
    recent: Iterable[StoredDelivery], registrations: UserRegistrations
) -> list[dict[str, Any]]:
    """The devices whose registration the dispatcher removed because of APNs' answer, newest first, once
    each, unless the device is registered again now: when, Apple's answer, and the cause in words."""
    current = {token_hint(device.token) for device in registrations.devices}
    found: dict[str, dict[str, Any]] = {}
    for item in recent:
        if not item.registration_removed or not item.device or item.device in current or item.device in found:
            continue
        entry: dict[str, Any] = {
            "device": item.device,
            "businessId": item.business_id,
            "environment": item.environment,
            "pushKind": item.push_kind or "alert",
            "removedAt": _iso_ms(item.updated_at or item.at),
            "msgKey": item.msg_key,
            "reason": item.reason,
            "status": item.status,
            "cause": item.cause,
        }
        found[item.device] = entry
    return list(found.values())


def no_device_diagnosis(removed: list[dict[str, Any]]) -> dict[str, str]:
    """Why a user with no device gets no push: APNs' answer that removed the last one, or never registered."""
    if not removed:
        return {"reason": DispatchReason.NO_DEVICE_REGISTERED.value, "message": NO_DEVICE_MESSAGE}
    last = removed[0]
    answer = " ".join(str(part) for part in (last["status"], last["reason"]) if part is not None)
    return {
        "reason": DEVICE_REMOVED,
        "message": (
            f"APNs answered {answer} at {last['removedAt']} for device {last['device']} (certificate "
            f"{last['businessId']}, {last['environment']}): {last['cause']}"
        ),
    }


def _iso_ms(epoch_ms: int) -> str:
    return iso_millis(dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC))


class DeliveryReports:
    def __init__(
        self,
        deliveries: DeliveryReader,
        registrations: RegistrationReader,
        certificates: CertificateReader,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deliveries = deliveries
        self.registrations = registrations
        self.certificates = certificates
        self._clock = clock

    def user_deliveries(
        self, sdk_app_id: int, user_id: str, *, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The user's devices and one page of deliveries; the key the next page starts after."""
        stored, last = self.deliveries.user_page(sdk_app_id, user_id, limit=limit, start=start)
        completed = self.deliveries.completed_runs(
            item.run for item in stored if item.state is DeliveryState.PENDING
        )
        now = self._clock()
        registrations = self.registrations.get(sdk_app_id, user_id, consistent=True)
        view: dict[str, Any] = {
            "sdkAppId": sdk_app_id,
            "userId": user_id,
            "devices": self._devices(sdk_app_id, registrations),
            "recorded": "failures and retries only",
        }
        recent = stored
        if start is not None or (last is not None and limit < REMOVED_DEVICES_LOOKBACK):
            recent, _ = self.deliveries.user_page(
                sdk_app_id, user_id, limit=REMOVED_DEVICES_LOOKBACK, start=None
            )
        removed = removed_devices(recent, registrations)
        view["removedDevices"] = removed
        if not registrations.devices:
            view["diagnosis"] = no_device_diagnosis(removed)
        view["deliveries"] = [record_of(item, resolve(item, completed, now)).public_view() for item in stored]
        return view, last

    def _devices(self, sdk_app_id: int, registrations: UserRegistrations) -> list[dict[str, Any]]:
        certificates: dict[int, dict[str, Any] | None] = {}
        devices = []
        for device in registrations.devices:
            if device.business_id not in certificates:
                try:
                    record = self.certificates.get(sdk_app_id, device.business_id, consistent=False)
                    certificates[device.business_id] = {
                        "name": record.name,
                        "bundleId": record.bundle_id,
                        "environment": record.environment.value,
                        "type": record.type.value,
                    }
                except CertificateNotFound:
                    certificates[device.business_id] = None
                except StorageError:
                    certificates[device.business_id] = {"unavailable": True}
            certificate = certificates[device.business_id]
            entry: dict[str, Any] = {
                "device": token_hint(device.token),
                "businessId": device.business_id,
                "environment": device.environment.value,
                "pushKind": device.push_kind.value,
                "registeredAt": iso_millis(device.registered_at),
                "certificate": certificate,
            }
            if certificate is None:
                entry["problem"] = (
                    f"certificate {device.business_id} does not exist: nothing can be pushed to this device"
                )
            devices.append(entry)
        return devices

    def message_summary(self, sdk_app_id: int, msg_key: str) -> dict[str, Any]:
        """Counts per outcome and reason for one message; :class:`MessageNotFound` if nothing is recorded."""
        stored = self.deliveries.message_deliveries(sdk_app_id, msg_key)
        infos = self.deliveries.message_infos(sdk_app_id, msg_key)
        units = self.deliveries.message_units(sdk_app_id, msg_key)
        if not stored and not infos and not units:
            raise MessageNotFound(
                f"no record of message {msg_key!r} in app {sdk_app_id} (records expire after a few days)"
            )
        notifications = [item for item in stored if item.apns_id]
        completed = self.deliveries.completed_runs(
            [item.run for item in notifications if item.state is DeliveryState.PENDING]
            + [unit.run for unit in units if unit.run]
        )
        now = self._clock()
        outcomes: Counter[str] = Counter()
        # Notifications of a unit without an item of their own (delivered, or still being sent).
        recorded = Counter(item.unit for item in notifications if item.unit)
        unrecorded = 0
        for unit in units:
            count = max(unit.notifications - recorded[unit.unit], 0)
            as_pending = StoredDelivery(
                sdk_app_id, msg_key, "", DeliveryState.PENDING, run=unit.run or "", lease=unit.lease
            )
            outcomes[resolve(as_pending, completed, now).value] += count
            unrecorded += count
        failures: Counter[str] = Counter()
        retrying: Counter[str] = Counter()
        for item in notifications:
            outcome = resolve(item, completed, now)
            outcomes[outcome.value] += 1
            if outcome is Outcome.FAILED:
                failures[item.reason or "Unknown"] += 1
            elif outcome is Outcome.RETRYING:
                retrying[item.reason or "Unknown"] += 1
        summary: dict[str, Any] = {
            "sdkAppId": sdk_app_id,
            "msgKey": msg_key,
            "notifications": len(notifications) + unrecorded,
            "outcomes": {outcome.value: outcomes[outcome.value] for outcome in _NOTIFICATION_OUTCOMES},
            "failures": dict(sorted(failures.items())),
            "retrying": dict(sorted(retrying.items())),
            "pushKind": "voip" if any("pushKind" in info for info in infos) else "alert",
            "receiversWithoutDevice": sum(int(info.get("noDevice", 0)) for info in infos),
            "receiversWithoutVoip": sum(int(info.get("noVoip", 0)) for info in infos),
            "noPush": None,
            "invalidJob": None,
        }
        for info in infos:
            if "noPushReason" in info:
                summary["noPush"] = {"reason": info["noPushReason"], "message": info.get("noPushMessage", "")}
            if "invalidReason" in info:
                summary["invalidJob"] = info["invalidReason"]
        return summary


_NOTIFICATION_OUTCOMES = (
    Outcome.DELIVERED,
    Outcome.FAILED,
    Outcome.RETRYING,
    Outcome.SENDING,
    Outcome.INTERRUPTED,
)
