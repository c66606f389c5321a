"""Stage 3, claims: nothing is sent that this run does not own, and ownership is one write per unit of work.

A *unit* is a job not split (its job item ``j#``) or one chunk of a split job (``u#<chunk id>``): one
conditional put claims all of its notifications (DynamoDB returns the stored item when the unit exists), and
nothing is written per notification delivered: the run's completion marker (stage 6) says they were. The
jobs of one run are claimed together, their puts in parallel.

A unit claimed before goes by its run: finished -> a duplicate, nothing sent; still leased -> held by a run
that may be alive, nothing sent; lease over without completion (the run died), or retries its run could not
queue (``orphans``) -> taken over with a conditional update, and each notification goes by its own record if
it has one (failed: skipped; retrying: taken over or left to its task), else is sent again with the same
``apns-id`` and collapse id.

Per notification, two cases only, both of the failure path or of a conflict: a retry task takes over each of
its deliveries (they have records: retries are failures until delivered), and a job that reuses another job's
MsgKey (the IM backend resending it to more receivers) claims each new receiver's notification on its own,
so that two such resends can never both serve one receiver.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from offline_push.dal.delivery_store import Claimed, ClaimResult
from offline_push.errors import StorageError
from offline_push.logic.dispatch.stage1_intake import JOB_UNIT
from offline_push.logic.dispatch.work import Item, Run, Work
from offline_push.models.delivery import (
    Claim,
    DeliveryState,
    StoredDelivery,
    StoredUnit,
    TakeOver,
    UnitClaim,
    UnitTakeOver,
    receiver_digest,
)

# What DeliveryStore.take_over answers for a retry whose delivery has no item.
RECORD_MISSING = "RecordExpired"


def claim(run: Run, items: list[Item]) -> list[Item]:
    """The items this run owns now; the others are duplicates, held elsewhere, or left on the queue."""
    per_unit: dict[Work, list[Item]] = defaultdict(list)
    resent: list[Item] = []
    retries: list[Item] = []
    for item in items:
        if item.retry_of is not None:
            retries.append(item)
        elif item.work.job_digest is not None:
            per_unit[item.work].append(item)
        else:
            resent.append(item)
    owned: list[Item] = []
    existing: list[tuple[Item, StoredDelivery]] = []
    if per_unit:
        owned.extend(_claim_units(run, per_unit, resent=resent, existing=existing))
    results: list[tuple[Item, ClaimResult]] = []
    if resent:
        results.extend(_claim_each(run, resent))
    if retries:
        results.extend(_claim_retries(run, retries))
    for item, result in results:
        if isinstance(result, Claimed):
            owned.append(item)
        elif isinstance(result, StoredDelivery):
            existing.append((item, result))
        else:
            item.work.failed = True  # could not claim: the message comes back
    if existing:
        owned.extend(_reclaim_each(run, existing))
    return owned


def _claim_each(run: Run, items: list[Item], unit: bool = False) -> list[tuple[Item, ClaimResult]]:
    now_ms = run.now_ms()
    claims = [
        Claim(item.delivery, run.id, run.lease, now_ms, indexed=True, unit=item.retry_unit if unit else None)
        for item in items
    ]
    return list(zip(items, run.parts.deliveries.claim(claims), strict=True))


def _claim_retries(run: Run, retries: list[Item]) -> list[tuple[Item, ClaimResult]]:
    now_ms = run.now_ms()
    takeovers = [
        TakeOver(item.delivery, run.id, run.lease, now_ms, indexed=True, retry_of=item.retry_of)
        for item in retries
    ]
    results: list[tuple[Item, ClaimResult]] = []
    unrecorded: list[Item] = []
    for item, result in zip(retries, run.parts.deliveries.take_over(takeovers), strict=True):
        if isinstance(result, StoredDelivery) and result.reason == RECORD_MISSING:
            unrecorded.append(item)
        else:
            results.append((item, result))
    if unrecorded:
        # A retry that came before its unit's owner wrote the delivery's record (or after it expired):
        # whoever claims the key first sends it; the unit's owner never overwrites a claim.
        results.extend(_claim_each(run, unrecorded, unit=True))
    return results


def _claim_units(
    run: Run,
    per_unit: Mapping[Work, list[Item]],
    *,
    resent: list[Item],
    existing: list[tuple[Item, StoredDelivery]],
) -> list[Item]:
    now_ms = run.now_ms()
    works = list(per_unit)
    claims = []
    for work in works:
        assert work.unit is not None  # set with job_digest
        is_job = work.unit == JOB_UNIT
        claims.append(
            UnitClaim(
                work.app,
                work.msg_key,
                work.unit,
                run.id,
                run.lease,
                now_ms,
                notifications=len(per_unit[work]),
                job=work.job_digest if is_job else None,
                receivers=work.job_receivers if is_job else (),
            )
        )
    owned: list[Item] = []
    claimed_before: list[tuple[Work, StoredUnit]] = []
    for work, result in zip(works, run.parts.deliveries.claim_units(claims), strict=True):
        members = per_unit[work]
        if isinstance(result, Claimed):
            for item in members:
                item.unit = work.unit
            owned.extend(members)
        elif isinstance(result, StoredUnit) and result.job not in (None, work.job_digest):
            # Another job with this MsgKey holds it: the receivers it did not have, per notification.
            for item in members:
                if result.receivers and receiver_digest(item.key.user_id) not in result.receivers:
                    resent.append(item)
                else:
                    run.report.count("Duplicate")
        elif isinstance(result, StoredUnit) and result.run is not None:
            claimed_before.append((work, result))
        else:
            work.failed = True
    if claimed_before:
        owned.extend(_reclaim_units(run, claimed_before, per_unit, existing))
    return owned


def _reclaim_units(
    run: Run,
    claimed_before: list[tuple[Work, StoredUnit]],
    per_unit: Mapping[Work, list[Item]],
    existing: list[tuple[Item, StoredDelivery]],
) -> list[Item]:
    """Units claimed before: skip the finished and the held; take over the interrupted (and those whose run
    left retries it could not queue)."""
    report = run.report
    now = run.parts.clock()
    try:
        completed = run.parts.deliveries.completed_runs(unit.run or "" for _, unit in claimed_before)
    except StorageError:
        for work, _ in claimed_before:
            work.failed = True
        return []
    takeovers: list[tuple[Work, StoredUnit]] = []
    for work, unit in claimed_before:
        members = per_unit[work]
        finished = unit.run in completed
        if finished and not unit.orphans:
            report.count("Duplicate", "", len(members))
        elif not finished and unit.lease > now:
            report.count("HeldByAnotherRun", "", len(members))
        else:
            takeovers.append((work, unit))
    if not takeovers:
        return []
    now_ms = run.now_ms()
    results = run.parts.deliveries.take_over_units(
        [
            UnitTakeOver(
                work.app,
                work.msg_key,
                unit.unit,
                run.id,
                run.lease,
                now_ms,
                seen_run=unit.run or "",
                notifications=len(per_unit[work]),
            )
            for work, unit in takeovers
        ]
    )
    taken: list[tuple[Work, StoredUnit]] = []
    for (work, unit), result in zip(takeovers, results, strict=True):
        if isinstance(result, Claimed):
            taken.append((work, unit))
        elif isinstance(result, StoredUnit):
            report.count("HeldByAnotherRun", "", len(per_unit[work]))  # another run took it first
        else:
            work.failed = True
    if not taken:
        return []
    return _resolve_taken(run, taken, per_unit, completed, existing)


def _resolve_taken(
    run: Run,
    taken: list[tuple[Work, StoredUnit]],
    per_unit: Mapping[Work, list[Item]],
    completed: set[str],
    existing: list[tuple[Item, StoredDelivery]],
) -> list[Item]:
    """Each notification of a unit taken over goes by its own record if it has one, else by the unit's run
    (finished: delivered; interrupted: sent again)."""
    try:
        records = run.parts.deliveries.deliveries_of(
            [item.key for work, _ in taken for item in per_unit[work]]
        )
    except StorageError:
        for work, _ in taken:
            work.failed = True  # back after this run's lease: taken over again
        return []
    owned: list[Item] = []
    for work, unit in taken:
        finished = unit.run in completed
        for item in per_unit[work]:
            stored = records.get(item.key)
            if stored is not None:
                existing.append((item, stored))
                continue
            if finished:
                run.report.count("Duplicate")  # delivered by the run that finished
                continue
            # Interrupted: sent again with the same apns-id and collapse id; the badge as it is now (the
            # interrupted run counted the message right after claiming it).
            delivery = item.delivery
            delivery.attempt = 2
            if delivery.counts_toward_badge and not delivery.badge_supplied:
                delivery.badge = item.registered_badge
                delivery.badge_supplied = True
            item.unit = work.unit
            run.report.count("TakenOver")
            owned.append(item)
    return owned


def _reclaim_each(run: Run, existing: list[tuple[Item, StoredDelivery]]) -> list[Item]:
    """Notifications with a record of their own: skip the finished and the held, take over the interrupted."""
    report = run.report
    now = run.parts.clock()
    pending_runs = {stored.run for _, stored in existing if stored.state is DeliveryState.PENDING}
    try:
        completed = run.parts.deliveries.completed_runs(pending_runs) if pending_runs else set()
    except StorageError:
        for item, _ in existing:
            item.work.failed = True
        return []
    takeovers: list[tuple[Item, TakeOver]] = []
    for item, stored in existing:
        if stored.terminal or (stored.state is DeliveryState.PENDING and stored.run in completed):
            report.count("Duplicate")
            continue
        if stored.lease > now:
            report.count("HeldByAnotherRun")
            continue
        delivery = item.delivery
        delivery.attempt = stored.attempt + 1
        if stored.badge is not None:
            delivery.badge = stored.badge
            delivery.badge_supplied = True
        elif delivery.counts_toward_badge and not delivery.badge_supplied:
            # The interrupted run counted this message right after claiming it: show the counter as it is
            # rather than count the message again.
            delivery.badge = item.registered_badge
            delivery.badge_supplied = True
        takeovers.append(
            (item, TakeOver(delivery, run.id, run.lease, run.now_ms(), indexed=True, seen_run=stored.run))
        )
    if not takeovers:
        return []
    owned = []
    results = run.parts.deliveries.take_over([takeover for _, takeover in takeovers])
    for (item, _), result in zip(takeovers, results, strict=True):
        if isinstance(result, Claimed):
            report.count("TakenOver")
            owned.append(item)
        elif isinstance(result, StoredDelivery):
            report.count("HeldByAnotherRun")  # another run took it over first
        else:
            item.work.failed = True
    return owned
