"""Stage 1, intake: queue messages -> work (parse, format once per job, fan a large job out into chunks).

A message is an IM backend's job, a chunk of a large group, or a retry task (:mod:`offline_push.models.task`).
One that is none of these goes to the dead-letter queue with its reason: it never fails the batch and is
never retried. A job is formatted once (placeholder language: the job's, else the app's, else Chinese); one
that gives no notification (``PushFlag``, a custom message without description...) goes no further.

Every job is claimed per *unit of work* (stage 3): a job not split is one unit, ``j#``, its job item. A job
with more receivers than ``chunk_size`` keeps its first chunk and puts the rest back on the queue as chunk
tasks, each a unit ``u#<chunk id>``; it claims its job item first (with every receiver's digest), so that
no chunk runs before the MsgKey is claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_lambda_powertools import Logger

from offline_push.dal.push_queue import OutgoingTask
from offline_push.errors import InvalidPushJob, StorageError
from offline_push.logic.dispatch.work import QueueRecord, Run, Work
from offline_push.logic.formatter import NoPush, NoPushReason, prepare
from offline_push.logic.voip_payload import format_call
from offline_push.models.delivery import (
    MAX_UNIT_JOB_RECEIVERS,
    MessageInfo,
    StoredUnit,
    UnitClaim,
    receiver_digest,
)
from offline_push.models.job import Language
from offline_push.models.task import (
    MAX_TASK_BYTES,
    WorkKind,
    chunk_task,
    encoded_size,
    invalid_job_identity,
    job_digest,
    parse_queue_message,
)

logger = Logger(child=True)

JOB_UNIT = "j#"


def intake(run: Run, records: Sequence[QueueRecord]) -> list[Work]:
    """The batch's work, formatted and fanned out; invalid messages are dead-lettered."""
    works = [work for record in records if (work := _parse(run, record)) is not None]
    _prepare(run, works)
    _fan_out(run, works)
    return works


def _parse(run: Run, record: QueueRecord) -> Work | None:
    try:
        queued = parse_queue_message(record.body)
    except InvalidPushJob as exc:
        run.report.count("InvalidJob", exc.code)
        logger.warning(
            "invalid push job sent to the dead-letter queue",
            extra={"messageId": record.message_id, "reason": exc.message},
        )
        _note_invalid(run, record.body, exc.message)
        try:
            run.parts.queue.dead_letter(
                record.body, code=exc.code, reason=exc.message, message_id=record.message_id
            )
        except StorageError:
            # Left on the queue: it comes back, and the queue's redrive moves it after maxReceiveCount.
            run.report.failed_message_ids.append(record.message_id)
        return None
    work = Work(record, queued)
    if queued.kind is WorkKind.RETRY:
        work.receivers = list(dict.fromkeys(item.user_id for item in queued.retries))
    else:
        work.receivers = list(dict.fromkeys(queued.job.to_account))
    if queued.kind is WorkKind.CHUNK and queued.job_digest is not None:
        work.job_digest = queued.job_digest
        work.unit = f"u#{work.chunk_id}"
    return work


def _note_invalid(run: Run, body: str, reason: str) -> None:
    """Best effort: when a broken job still names its app and message, the message's summary says why."""
    identity = invalid_job_identity(body)  # guarded: the body is the broken job itself
    if identity is None:
        return
    app, msg_key = identity
    info = MessageInfo(app, msg_key, "invalid", run.now_ms(), invalid_reason=reason)
    try:
        run.parts.deliveries.put_message_infos([info])
    except StorageError:
        logger.warning("invalid job not recorded in the message summary")


def _prepare(run: Run, works: list[Work]) -> None:
    languages: dict[int, Language] = {}
    for work in works:
        language = languages.get(work.app)
        if language is None:
            try:
                language = Language(run.parts.languages.placeholder_language(work.app).value)
            except StorageError:
                logger.warning(
                    "app settings unreadable: default placeholder language", extra={"sdkAppId": work.app}
                )
                language = run.policy.default_language
            languages[work.app] = language
        job = work.queued.job
        work.prepared = prepare(job, language=language)
        # A call is checked on its VoIP push; its alert, a fallback, is checked per notification (stage 5).
        first = work.prepared.notification(None)
        disabled = isinstance(first, NoPush) and first.reason is NoPushReason.PUSH_DISABLED
        if job.call is not None and not disabled:
            first = work.voip = format_call(job)
        if isinstance(first, NoPush):
            work.no_push = first
            run.report.count("NoPush", first.reason.value, len(work.receivers))


def _fan_out(run: Run, works: list[Work]) -> None:
    size = run.policy.chunk_size
    for work in works:
        if work.queued.kind is not WorkKind.JOB or work.no_push is not None:
            continue
        work.job_digest = job_digest(work.queued.raw_job, size)
        work.unit = JOB_UNIT
        # DynamoDB items hold 400 KB: the job item of a larger job keeps no receiver list (README "Dispatch").
        work.job_receivers = tuple(work.receivers) if len(work.receivers) <= MAX_UNIT_JOB_RECEIVERS else ()
        if len(work.receivers) <= size:
            continue
        if not _claim_job(run, work):
            continue
        rest = work.receivers[size:]
        work.receivers = work.receivers[:size]
        if not rest:
            continue
        work.unit = f"u#{work.chunk_id}"
        bodies = _chunk_bodies(work.queued.raw_job, rest, size, work.job_digest)
        accepted = run.parts.queue.send([OutgoingTask(body) for body in bodies])
        if not all(accepted):
            # The job comes back whole; claims make the chunks that did go out harmless duplicates.
            work.failed = True
            logger.warning("chunk tasks not queued", extra={"msgKey": work.msg_key})
            continue
        run.report.count("ChunksQueued", "", len(bodies))
        logger.info(
            "large job split",
            extra={"msgKey": work.msg_key, "receivers": len(rest) + size, "chunks": len(bodies) + 1},
        )


def _claim_job(run: Run, work: Work) -> bool:
    """A job split into chunks claims its message key before any chunk task exists (the job item, with
    every receiver); False when the work cannot go on now. Another job already holding the key leaves this
    one the receivers it did not have."""
    claim = UnitClaim(
        work.app,
        work.msg_key,
        JOB_UNIT,
        None,
        0,
        run.now_ms(),
        job=work.job_digest,
        receivers=work.job_receivers,
    )
    [result] = run.parts.deliveries.claim_units([claim])
    if isinstance(result, StorageError):
        work.failed = True
        return False
    if isinstance(result, StoredUnit) and result.job != work.job_digest:
        leave_to_other_job(run, work, result)
    return True


def leave_to_other_job(run: Run, work: Work, other: StoredUnit) -> None:
    """Another job holds this MsgKey (the IM backend resent it to more receivers): this work keeps only the
    receivers that job did not have, claimed per notification (stage 3). A job item without a receiver list
    (a job over ``MAX_UNIT_JOB_RECEIVERS``) served everyone this one could name."""
    served = other.receivers
    kept = [user for user in work.receivers if served and receiver_digest(user) not in served]
    run.report.count("Duplicate", "", len(work.receivers) - len(kept))
    work.receivers = kept
    work.job_digest = work.unit = None
    work.job_receivers = ()


def _chunk_bodies(
    raw_job: Mapping[str, object], receivers: list[str], size: int, job: str | None
) -> list[str]:
    bodies: list[str] = []
    pending = [receivers[start : start + size] for start in range(0, len(receivers), size)]
    while pending:
        chunk = pending.pop(0)
        body = chunk_task(raw_job, chunk, job=job)
        if encoded_size(body) > MAX_TASK_BYTES and len(chunk) > 1:
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        bodies.append(body)
    return bodies
