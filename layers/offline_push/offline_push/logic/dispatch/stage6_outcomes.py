"""Stage 6, outcomes and retries: APNs' answers -> records of what was not delivered, retry tasks, the
delivery-status log, the message summary, and the run's completion marker.

- delivered: nothing written (the completion marker covers it), a delivery-status line (sampled);
- 410 / BadDeviceToken / DeviceTokenNotForTopic: the registration removed (410: unless registered again
  since Apple's timestamp), and a failure record with the likely cause;
- other final answers, certificate problems: a failure record (25 per batch write);
- retryable (429, 5xx, connection lost): a retry task holding just these deliveries goes back on the queue
  with a delay (exponential, jittered), then their records; after ``max_attempts``: ``RetriesExhausted``.

A retry the queue refused leaves its unit marked (``orphans``) and the job's message on the queue: its
redelivery takes just those retries over. The completion marker comes last: a unit's notifications without a
record of their own were delivered once it exists.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Mapping

from aws_lambda_powertools import Logger

from offline_push.apns import ApnsReason, Delivered, Failed, Retryable
from offline_push.dal.push_queue import OutgoingTask
from offline_push.errors import StorageError
from offline_push.logic.delivery_causes import final_cause, prune_cause, retries_exhausted_cause
from offline_push.logic.dispatch.delivery_status import DeliveryStatusLog
from offline_push.logic.dispatch.work import DispatchPolicy, Item, OutcomeDetails, Run, Work, outcome_update
from offline_push.models.delivery import DeliveryState, DispatchReason, MessageInfo, OutcomeUpdate
from offline_push.models.registration import token_hint
from offline_push.models.task import MAX_TASK_BYTES, RetryItem, WorkKind, encoded_size, retry_task

logger = Logger(child=True)

# Credential failures that a rotated certificate may fix: the cached credential is checked again.
_CREDENTIAL_REASONS = frozenset(
    {
        ApnsReason.BAD_CERTIFICATE,
        ApnsReason.BAD_CERTIFICATE_ENVIRONMENT,
        ApnsReason.INVALID_PROVIDER_TOKEN,
        ApnsReason.BAD_ENVIRONMENT_KEY_IN_TOKEN,
        ApnsReason.TOPIC_DISALLOWED,
    }
)


def retry_delay(policy: DispatchPolicy, attempt: int, rng: random.Random) -> int:
    """Seconds before attempt ``attempt + 1``: base doubling per attempt, capped, with equal jitter."""
    if policy.retry_base_seconds <= 0:
        return 0
    doubling = float(2 ** max(attempt - 1, 0))
    ceiling = min(policy.retry_max_seconds, policy.retry_base_seconds * doubling)
    return round(ceiling / 2 + rng.uniform(0, ceiling / 2))


def settle(run: Run, owned: list[Item], status_log: DeliveryStatusLog) -> None:
    """Every owned notification's outcome counted; the ones not delivered recorded (and retried)."""
    report = run.report
    updates: list[OutcomeUpdate] = []
    retries: dict[Work, list[tuple[Item, Retryable]]] = defaultdict(list)
    for item in owned:
        if item.final is not None:
            updates.append(item.final)
            report.count("NotDelivered", item.final.reason)
            continue
        outcome = item.outcome
        if isinstance(outcome, Delivered):
            report.count("Delivered")
        elif isinstance(outcome, Failed):
            updates.append(_failure(run, item, outcome))
            report.count("NotDelivered", outcome.reason)
        elif isinstance(outcome, Retryable):
            if item.delivery.attempt >= run.policy.max_attempts:
                cause = retries_exhausted_cause(outcome.reason, outcome.status, item.delivery.attempt)
                updates.append(
                    outcome_update(
                        run,
                        item,
                        DeliveryState.FAILED,
                        DispatchReason.RETRIES_EXHAUSTED,
                        status=outcome.status,
                        cause=cause,
                    )
                )
                report.count("NotDelivered", DispatchReason.RETRIES_EXHAUSTED.value)
            else:
                retries[item.work].append((item, outcome))
    updates.extend(_schedule_retries(run, retries))
    status_log.write(run.id, owned, updates)
    _record(run, [dataclasses.replace(update, run=run.id) for update in updates])


def _record(run: Run, updates: list[OutcomeUpdate]) -> None:
    deliveries = run.parts.deliveries
    own_items = [update for update in updates if update.unit is None]
    unit_failures = [u for u in updates if u.unit is not None and u.state is not DeliveryState.RETRYING]
    unit_retries = [u for u in updates if u.unit is not None and u.state is DeliveryState.RETRYING]
    unwritten = 0
    if own_items:
        unwritten += deliveries.record(own_items).count(False)
    if unit_failures:
        try:
            deliveries.put_unit_outcomes(unit_failures)
        except StorageError:
            unwritten += len(unit_failures)
    if unit_retries:
        unwritten += deliveries.put_unit_retries(unit_retries).count(False)
        _mark_orphans(run, unit_retries)
    if unwritten:
        # A metric to alarm on: such a notification reads as its run's others do in the deliveries API.
        run.report.count("OutcomeNotRecorded", "", unwritten)
        logger.error("outcomes not recorded", extra={"run": run.id, "count": unwritten})


def _mark_orphans(run: Run, unit_retries: list[OutcomeUpdate]) -> None:
    """Retries of a unit that no task holds (the queue refused it): the unit says so, and the job's message,
    left on the queue, takes them over when it comes back."""
    orphaned = {
        (update.delivery.key.sdk_app_id, update.delivery.key.msg_key, update.unit)
        for update in unit_retries
        if update.retry_at_ms is None and update.unit is not None
    }
    for app, msg_key, unit in sorted(orphaned):
        assert unit is not None
        try:
            run.parts.deliveries.mark_orphans(app, msg_key, unit, run.id)
        except StorageError:
            logger.error("orphaned retries not marked on their unit", extra={"run": run.id})


def _failure(run: Run, item: Item, failed: Failed) -> OutcomeUpdate:
    delivery = item.delivery
    # The topic the push went to: <bundle>.voip for a call to a PushKit token.
    topic = item.request.topic if item.request is not None else "?"
    environment = delivery.environment.value
    removed = False
    if failed.prune_token:
        removed = _remove_dead_token(run, item, failed)
        cause = prune_cause(
            failed.reason,
            business_id=delivery.business_id,
            topic=topic,
            environment=environment,
            removed=removed,
            unregistered_at=failed.unregistered_at,
        )
    else:
        if failed.reason in _CREDENTIAL_REASONS:
            run.parts.credentials.invalidate(delivery.key.sdk_app_id, delivery.business_id)
        cause = final_cause(
            failed.reason,
            failed.status,
            business_id=delivery.business_id,
            topic=topic,
            environment=environment,
        )
    details: OutcomeDetails = {"status": failed.status, "cause": cause, "registration_removed": removed}
    return outcome_update(run, item, DeliveryState.FAILED, failed.reason, **details)


def _remove_dead_token(run: Run, item: Item, failed: Failed) -> bool:
    """APNs says the token is dead: its registration goes, unless the device registered it again since
    (410: after Apple's timestamp; otherwise after the registration this delivery used)."""
    delivery = item.delivery
    deadline = failed.unregistered_at if failed.status == 410 else delivery.registered_at
    try:
        removed = run.parts.registrations.remove_device(
            delivery.key.sdk_app_id,
            delivery.key.user_id,
            delivery.key.token,
            unless_registered_after=deadline,
        )
    except StorageError:
        removed = False
        logger.warning("dead registration not removed", extra={"device": token_hint(delivery.key.token)})
    logger.info(
        "dead device token",
        extra={
            "reason": failed.reason,
            "device": token_hint(delivery.key.token),
            "businessId": delivery.business_id,
            "removed": removed,
        },
    )
    return removed


def _schedule_retries(run: Run, retries: Mapping[Work, list[tuple[Item, Retryable]]]) -> list[OutcomeUpdate]:
    """Queue a retry task per message (split to fit SQS) holding just the deliveries to try again."""
    if not retries:
        return []
    tasks: list[OutgoingTask] = []
    members: list[list[tuple[Item, Retryable, int]]] = []
    for work, pairs in retries.items():
        # Deliveries due at the same attempt share a task (and its delay).
        by_attempt: dict[int, list[tuple[Item, Retryable]]] = defaultdict(list)
        for item, outcome in pairs:
            by_attempt[item.delivery.attempt].append((item, outcome))
        for attempt, group in by_attempt.items():
            delay = retry_delay(run.policy, attempt, run.parts.rng)
            for body, pairs_in_task in _retry_bodies(work, run.id, group):
                tasks.append(OutgoingTask(body, delay))
                members.append([(item, outcome, delay) for item, outcome in pairs_in_task])
    accepted = run.parts.queue.send(tasks)
    updates = []
    now = run.parts.clock()
    lease_margin = run.policy.lease_margin_seconds
    for ok, task_members in zip(accepted, members, strict=True):
        for item, outcome, delay in task_members:
            if ok:
                run.report.count("RetryScheduled", outcome.reason)
                lease = int(now + delay + lease_margin)
                retry_at: int | None = int((now + delay) * 1000)
            else:
                # No task: the lease ends now, so this message, back from the queue, takes it over.
                item.work.failed = True
                run.report.count("RetryByRedelivery", outcome.reason)
                lease, retry_at = int(now), None
            details: OutcomeDetails = {"status": outcome.status, "lease": lease, "retry_at_ms": retry_at}
            updates.append(outcome_update(run, item, DeliveryState.RETRYING, outcome.reason, **details))
    return updates


def _retry_bodies(
    work: Work, run: str, group: list[tuple[Item, Retryable]]
) -> list[tuple[str, list[tuple[Item, Retryable]]]]:
    """Retry task bodies for ``group``, halved until each fits an SQS message."""
    parts = [group]
    done: list[tuple[str, list[tuple[Item, Retryable]]]] = []
    while parts:
        part = parts.pop()
        items = [
            RetryItem(
                user_id=item.key.user_id,
                token=item.key.token,
                business_id=item.delivery.business_id,
                badge=item.delivery.badge,
                attempts=item.delivery.attempt,
                reason=outcome.reason,
                unit=item.unit,
            )
            for item, outcome in part
        ]
        body = retry_task(work.queued.raw_job, run, items)
        if encoded_size(body) > MAX_TASK_BYTES and len(part) > 1:
            half = len(part) // 2
            parts.extend([part[half:], part[:half]])
            continue
        done.append((body, part))
    return done


def finish(run: Run, works: list[Work], owned: list[Item]) -> None:
    """The message summary's counts beyond the notifications (no push, no device), then the run's
    completion marker: the notifications it owns without a record of their own were delivered."""
    now_ms = run.now_ms()
    infos: list[MessageInfo] = []
    for work in works:
        call = work.queued.job.call is not None
        # A call's summary always says it was one; other messages', only what their deliveries do not.
        worth_telling = call or work.no_push is not None or bool(work.no_device)
        if work.failed or work.queued.kind is WorkKind.RETRY or not worth_telling:
            continue
        no_push = work.no_push
        infos.append(
            MessageInfo(
                work.app,
                work.msg_key,
                work.chunk_id,
                now_ms,
                receivers=len(work.receivers),
                no_device=len(work.no_device),
                call=call,
                no_voip=len(work.no_voip),
                no_push_reason=no_push.reason.value if no_push is not None else None,
                no_push_message=no_push.message if no_push is not None else None,
            )
        )
    deliveries = run.parts.deliveries
    try:
        if infos:
            deliveries.put_message_infos(infos)
    except StorageError:
        logger.warning("message summaries not recorded", extra={"run": run.id})
    if not owned:
        return
    for attempt in range(3):
        if attempt:
            run.parts.sleep(0.1 * 2 ** (attempt - 1))  # 0.1 s, then 0.2 s: none after the last try
        try:
            deliveries.complete_run(run.id, run.now_ms())
            return
        except StorageError:
            continue
    # Not failing the batch: the messages coming back would resend what this run delivered.
    logger.error(
        "run completion not recorded: its deliveries show as interrupted and would be sent again if "
        "their jobs came back",
        extra={"run": run.id, "deliveries": len(owned)},
    )
