"""Stage 5, send: each owned notification -> its certificate -> an APNs request -> APNs' answer.

The certificate of each registration's ``businessId`` gives the topic (its bundle ID) and the host
(development -> sandbox). One APNs client per (certificate, environment), kept warm across invocations; all
of a run's batches are sent concurrently. A notification whose certificate is gone or unusable gets a final
record instead; one whose certificate could not be read is retried.
"""

from __future__ import annotations

import asyncio

from offline_push.apns import ApnsReason, DeliveryOutcome, Retryable, run_in_warm_loop
from offline_push.errors import CertificateNotFound, CredentialUnusable, OfflinePushError, StorageError
from offline_push.logic.dispatch.work import Item, Run, outcome_update
from offline_push.models.credential import ApnsCredential
from offline_push.models.delivery import DeliveryState, DispatchReason
from offline_push.models.notification import ApnsRequest, Notification


def prepare_requests(run: Run, owned: list[Item]) -> None:
    cache: dict[tuple[int, int], ApnsCredential | OfflinePushError] = {}
    for item in owned:
        delivery = item.delivery
        if item.gone:
            item.final = outcome_update(
                run,
                item,
                DeliveryState.FAILED,
                DispatchReason.DEVICE_NO_LONGER_REGISTERED,
                cause="the device was logged out, kicked or re-registered elsewhere before this retry",
            )
            continue
        source = (delivery.key.sdk_app_id, delivery.business_id)
        loaded = cache.get(source)
        if loaded is None:
            try:
                loaded = run.parts.credentials.load(*source)
            except OfflinePushError as exc:
                loaded = exc
            cache[source] = loaded
        if isinstance(loaded, CertificateNotFound):
            item.final = outcome_update(
                run,
                item,
                DeliveryState.FAILED,
                DispatchReason.CERTIFICATE_NOT_FOUND,
                cause=f"certificate {delivery.business_id} of app {delivery.key.sdk_app_id} does not "
                "exist (deleted?): upload one and have the app call setAPNS with its businessId",
            )
        elif isinstance(loaded, StorageError):
            item.outcome = Retryable(
                delivery.key.apns_id, delivery.key.token, None, DispatchReason.STORAGE_UNAVAILABLE
            )
        elif isinstance(loaded, CredentialUnusable | OfflinePushError):
            item.final = outcome_update(
                run, item, DeliveryState.FAILED, DispatchReason.CREDENTIAL_UNUSABLE, cause=loaded.message
            )
        else:
            item.credential = loaded
            delivery.environment = loaded.environment
            prepared = item.work.prepared
            assert prepared is not None  # works without one have no items
            notification = prepared.notification(delivery.badge)
            # A job without a notification has no items (stage 1), and the badge never makes one too large:
            # the formatter keeps room for its digits.
            assert isinstance(notification, Notification)
            item.request = ApnsRequest(delivery.key.token, loaded.topic, notification, delivery.key.apns_id)


def send(run: Run, owned: list[Item], budget: float) -> None:
    """Every prepared request to APNs within ``budget`` seconds; each item gets its outcome."""
    apns = run.parts.apns
    groups: dict[int, tuple[ApnsCredential, list[Item]]] = {}
    for item in owned:
        if item.request is None or item.credential is None:
            continue
        client = apns.client_for(item.credential)
        groups.setdefault(id(client), (item.credential, []))[1].append(item)
    if not groups:
        return
    if budget <= 0:
        for _, members in groups.values():
            for item in members:
                item.outcome = Retryable(item.key.apns_id, item.key.token, None, ApnsReason.DEADLINE_EXCEEDED)
        return

    async def send_all() -> list[list[DeliveryOutcome]]:
        batches = [
            apns.client_for(credential).send(
                [item.request for item in members if item.request is not None], timeout=budget
            )
            for credential, members in groups.values()
        ]
        answers = await asyncio.gather(*batches)
        await apns.close_retired()
        return list(answers)

    for (_, members), outcomes in zip(groups.values(), run_in_warm_loop(send_all()), strict=True):
        for item, outcome in zip(members, outcomes, strict=True):
            item.outcome = outcome
