"""Stage 2, registrations: work -> one item per (receiver, device), 100 receivers per DynamoDB read.

A receiver without a device is counted (``NoDeviceRegistered``) and goes no further. A retry task's
deliveries are looked up again: a device logged out since gets a final record instead of a send.

Which registrations a message goes to: an ordinary message to the receiver's APNs tokens only (a VoIP push
without a call makes iOS kill the app); a call invitation (``Call``) to their PushKit tokens, else, when the
job asks for it (``Call.AlertFallback``), to their APNs tokens as an alert; else the receiver is counted
(``NoVoipRegistration``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

from aws_lambda_powertools import Logger

from offline_push.errors import StorageError
from offline_push.logic.dispatch.work import Item, Run, Work
from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.delivery import Delivery, DeliveryKey, DispatchReason
from offline_push.models.job import PushJob
from offline_push.models.registration import DeviceRegistration, UserRegistrations
from offline_push.models.task import WorkKind

logger = Logger(child=True)


def collect(run: Run, works: list[Work]) -> list[Item]:
    wanted: dict[int, list[str]] = defaultdict(list)
    for work in works:
        if not work.failed and work.no_push is None:
            wanted[work.app].extend(work.receivers)
    found: dict[int, dict[str, UserRegistrations]] = {}
    for app, users in wanted.items():
        try:
            found[app] = run.parts.registrations.get_many(app, users)
        except StorageError:
            logger.warning("registrations unreadable", extra={"sdkAppId": app})
            for work in works:
                if work.app == app:
                    work.failed = True
    items: list[Item] = []
    # Per job digest: two jobs with one MsgKey in a batch are not duplicates of each other (the job item
    # decides which serves a receiver both have, stage 3).
    seen: set[tuple[DeliveryKey, str | None]] = set()
    for work in works:
        registrations = found.get(work.app)
        if work.failed or work.no_push is not None or registrations is None:
            continue
        before = len(items)
        if work.queued.kind is WorkKind.RETRY:
            _collect_retries(work, registrations, items)
        else:
            _collect_receivers(work, registrations, items)
        # The same delivery twice in one batch (a job sent twice at once): the first one goes.
        kept = []
        for item in items[before:]:
            marker = (item.key, work.job_digest)
            if marker in seen:
                run.report.count("Duplicate")
                continue
            seen.add(marker)
            kept.append(item)
        items[before:] = kept
        run.report.count("NotDelivered", DispatchReason.NO_DEVICE_REGISTERED.value, len(work.no_device))
        run.report.count("NotDelivered", DispatchReason.NO_VOIP_REGISTRATION.value, len(work.no_voip))
    return items


def devices_for(job: PushJob, devices: Sequence[DeviceRegistration]) -> tuple[DeviceRegistration, ...] | None:
    """The registrations ``job`` goes to among a receiver's ``devices``; None: a call to a receiver with no
    PushKit token and no alert fallback asked for (``NoVoipRegistration``). Empty: no device for it."""
    alerts = tuple(device for device in devices if device.push_kind is PushKind.ALERT)
    if job.call is None:
        return alerts
    voips = tuple(device for device in devices if device.push_kind is PushKind.VOIP)
    if voips:
        return voips
    return alerts if job.call.alert_fallback == 1 else None


def _collect_receivers(work: Work, registrations: Mapping[str, UserRegistrations], items: list[Item]) -> None:
    job = work.queued.job
    prepared = work.prepared
    counts = prepared is not None and prepared.counts_toward_badge
    supplied = job.badges or {}
    for user in work.receivers:
        found = registrations.get(user)
        if found is None:
            work.no_device.append(user)
            continue
        devices = devices_for(job, found.devices)
        if devices is None:
            work.no_voip.append(user)
            continue
        if not devices:
            work.no_device.append(user)
            continue
        badge = supplied.get(user) if counts else None
        for device in devices:
            delivery = Delivery(
                key=DeliveryKey(job.sdk_app_id, job.msg_key, user, device.token),
                business_id=device.business_id,
                environment=device.environment,
                registered_at=device.registered_at,
                badge=badge,
                counts_toward_badge=counts,
                badge_supplied=badge is not None,
                push_kind=device.push_kind,
            )
            items.append(Item(work, delivery, registered_badge=found.badge))


def _collect_retries(work: Work, registrations: Mapping[str, UserRegistrations], items: list[Item]) -> None:
    job = work.queued.job
    for retry in work.queued.retries:
        found = registrations.get(retry.user_id)
        device = found.device(retry.token) if found is not None else None
        key = DeliveryKey(job.sdk_app_id, job.msg_key, retry.user_id, retry.token)
        delivery = Delivery(
            key=key,
            business_id=device.business_id if device is not None else retry.business_id,
            environment=device.environment if device is not None else ApnsEnvironment.PRODUCTION,  # unused
            registered_at=device.registered_at if device is not None else dt.datetime.now(dt.UTC),
            badge=retry.badge,
            attempt=retry.attempts + 1,
            badge_supplied=True,  # the badge was computed by the first attempt
            push_kind=device.push_kind if device is not None else PushKind.ALERT,
        )
        items.append(
            Item(
                work,
                delivery,
                retry_of=work.queued.run,
                retry_unit=retry.unit,
                gone=device is None,
                registered_badge=found.badge if found is not None else 0,
            )
        )
