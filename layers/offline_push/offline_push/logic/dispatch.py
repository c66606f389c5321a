"""Push dispatch: queue messages -> notifications -> APNs, with nothing lost and nothing sent twice.

One call of :meth:`Dispatcher.dispatch` is one *run* (one Lambda invocation, one SQS batch), processed as a
whole so that ten one-to-one jobs cost one registration read instead of ten:

1. **Parse** every message: an IM backend's job, a chunk of a large group, or a retry task
   (:mod:`offline_push.models.task`). A message that is not one goes to the dead-letter queue with its
   reason; it never fails the batch and is never retried.
2. **Fan out** a job with more receivers than ``chunk_size``: this run keeps the first chunk, the others go
   back on the queue as chunk tasks (SendMessageBatch), for other instances to take.
3. **Format** once per job (:func:`offline_push.logic.formatter.prepare`; placeholder language: the job's,
   else the app's setting, else Chinese). A job that gives no notification at all (``PushFlag``, a custom
   message without description...) is recorded with its reason and goes no further.
4. **Registrations** of every receiver, 100 per read; a receiver without a device is counted (and recorded
   per receiver when every outcome is recorded).
5. **Claim** before sending, with conditional writes. When every outcome is recorded (``record_all``), each
   delivery (sdkAppId, MsgKey, receiver, token) is claimed on its own. When only failures are, each *unit of
   work* is: a job not split, or one chunk of a split job (one write per 500 receivers), the job itself
   first keeping its receivers' digests; a retry task still claims (takes over) each of its deliveries. A
   delivery or unit already claimed is skipped when it is finished or another run holds it, and taken over
   when its run died (lease expired, no completion marker): see "Guarantees" below.
6. **Badge**: the receiver's counter is incremented once per (message, receiver) the run claimed, and the
   new value sent; a job may give the badge itself (``Badges``), and a retry carries the one computed first.
7. **Send**: one APNs client per (certificate, environment), all batches concurrently; the certificate of
   each registration's ``businessId`` gives the topic and the endpoint.
8. **Outcomes**: delivered; a dead token's registration removed (410 unless re-registered since Apple's
   timestamp; BadDeviceToken / DeviceTokenNotForTopic) with the likely cause; other final failures recorded;
   retryable ones re-queued as a retry task holding just them, with an exponential delay, until
   ``max_attempts``, then recorded as ``RetriesExhausted``. Then the run's completion marker.

Guarantees. A delivery is sent by the run that owns its claim, and ownership passes only by conditional
writes: to the retry task its run scheduled, or, once the owner's lease (its invocation's remaining time plus
a margin) has passed without a completion marker, to whoever processes the job again. So a job delivered
twice notifies nobody twice. A crash after claiming and before sending loses nothing: the job's message comes
back (SQS visibility timeout, longer than the lease) and the next run takes the claims over. A crash after
sending and before the completion marker makes the next run send those notifications again, with the same
``apns-id`` and ``apns-collapse-id``: the device replaces the first with the second instead of showing two;
that window (milliseconds, per run) is the only way APNs can see a notification twice.

Per unit (only failures recorded), the same holds with the unit in place of each delivery: its claim is the
only conditional write before sending, and nothing is written for a notification delivered (its run's
completion marker says so). A notification not delivered gets its own item, written whole by the unit's
owner (the only writer while its lease lasts): final failures batched (25 per request), retries one by one
*after* their retry task is queued, unless that task's run claimed the delivery first (a retry that finds no
item claims it with a conditional put). A unit taken over (its run died) is sent again except for the
deliveries that have an item, which go by it (failed: skipped; retrying: taken over as a per-notification
claim, or left to their task while it holds them). A run that could not queue a retry marks the unit
(``orphans``) and leaves the job's message on the queue: its redelivery takes just those retries over. The
job item holds the MsgKey for one job (its digest: the body and the chunk size): another job with the same
MsgKey (the IM backend resending it to more receivers) serves only receivers the first did not have, with
per-notification claims.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aws_lambda_powertools import Logger

from offline_push.apns import (
    ApnsClientPool,
    ApnsReason,
    Delivered,
    DeliveryOutcome,
    Failed,
    Retryable,
    run_in_warm_loop,
)
from offline_push.dal.delivery_store import Claimed, ClaimResult, UnitClaimResult
from offline_push.dal.push_queue import MAX_DELAY_SECONDS, OutgoingTask
from offline_push.errors import (
    CertificateNotFound,
    CredentialUnusable,
    InvalidPushJob,
    OfflinePushError,
    StorageError,
)
from offline_push.logic.delivery_causes import final_cause, prune_cause, retries_exhausted_cause
from offline_push.logic.formatter import NoPush, PreparedPush, prepare
from offline_push.models.app import PlaceholderLanguage, UserAuthKey
from offline_push.models.credential import ApnsCredential, ApnsEnvironment
from offline_push.models.delivery import (
    MAX_UNIT_JOB_RECEIVERS,
    Claim,
    Delivery,
    DeliveryKey,
    DeliveryState,
    DispatchReason,
    MessageInfo,
    OutcomeUpdate,
    ReceiverRecord,
    StoredDelivery,
    StoredUnit,
    TakeOver,
    UnitClaim,
    UnitTakeOver,
    receiver_digest,
)
from offline_push.models.job import Language
from offline_push.models.notification import ApnsRequest
from offline_push.models.registration import UserRegistrations, token_hint
from offline_push.models.task import (
    MAX_TASK_BYTES,
    QueuedWork,
    RetryItem,
    WorkKind,
    chunk_task,
    encoded_size,
    invalid_job_identity,
    job_digest,
    parse_queue_message,
    retry_task,
)

logger = Logger(child=True)

# What DeliveryStore.take_over answers for a retry whose delivery has no item (see _claim).
_RECORD_MISSING = "RecordExpired"

_NO_DEVICE_CAUSE = (
    "the receiver has no registered device: the app never called setAPNS after login, or the user logged "
    "out or was kicked"
)

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


# --- what the dispatcher works with ----------------------------------------------------------------------


class RegistrationSource(Protocol):
    def get_many(
        self, sdk_app_id: int, user_ids: Iterable[str], *, consistent: bool = False
    ) -> dict[str, UserRegistrations]: ...

    def increment_badge(self, sdk_app_id: int, user_id: str, by: int = 1) -> int | None: ...

    def increment_badges(self, sdk_app_id: int, user_ids: Iterable[str], by: int = 1) -> dict[str, int]: ...

    def remove_device(
        self, sdk_app_id: int, user_id: str, token: str, *, unless_registered_after: dt.datetime | None = None
    ) -> bool: ...


class CredentialSource(Protocol):
    def load(self, sdk_app_id: int, business_id: int) -> ApnsCredential: ...

    def invalidate(self, sdk_app_id: int, business_id: int) -> None: ...


class LanguageSource(Protocol):
    def placeholder_language(self, sdk_app_id: int) -> PlaceholderLanguage: ...


class DeliveryLedger(Protocol):
    def claim(self, claims: Sequence[Claim]) -> list[ClaimResult]: ...

    def take_over(self, takeovers: Sequence[TakeOver]) -> list[ClaimResult]: ...

    def record(self, updates: Sequence[OutcomeUpdate]) -> list[bool]: ...

    def put_receiver_records(self, records: Sequence[ReceiverRecord]) -> None: ...

    def put_message_infos(self, infos: Sequence[MessageInfo]) -> None: ...

    def complete_run(self, run: str, now_ms: int) -> None: ...

    def completed_runs(self, runs: Iterable[str]) -> set[str]: ...

    def claim_units(self, claims: Sequence[UnitClaim]) -> list[UnitClaimResult]: ...

    def take_over_units(self, takeovers: Sequence[UnitTakeOver]) -> list[UnitClaimResult]: ...

    def mark_orphans(self, sdk_app_id: int, msg_key: str, unit: str, run: str) -> None: ...

    def deliveries_of(self, keys: Sequence[DeliveryKey]) -> dict[DeliveryKey, StoredDelivery]: ...

    def put_unit_outcomes(self, updates: Sequence[OutcomeUpdate]) -> None: ...

    def put_unit_retries(self, updates: Sequence[OutcomeUpdate]) -> list[bool]: ...


class TaskQueue(Protocol):
    def send(self, tasks: Sequence[OutgoingTask]) -> list[bool]: ...

    def dead_letter(self, body: str, *, code: str, reason: str, message_id: str) -> None: ...


@dataclass(frozen=True)
class DispatchPolicy:
    """The dispatcher's knobs (environment variables of the dispatch function, README "Dispatch")."""

    record_all: bool = True  # every outcome listed per receiver; False: failures only (cheaper)
    chunk_size: int = 500  # receivers one run keeps of a job; the rest go to chunk tasks (README "Chunking")
    max_attempts: int = 5  # task-level attempts per delivery (each has the APNs client's own retries)
    retry_base_seconds: float = 5.0  # delay before the 2nd attempt; doubles per attempt (with jitter)
    retry_max_seconds: float = MAX_DELAY_SECONDS
    lease_margin_seconds: float = 30.0  # a claim outlives its run's invocation by this much
    send_reserve_seconds: float = 5.0  # invocation time kept after sending, to record outcomes
    default_language: Language = Language.ZH


@dataclass(frozen=True)
class QueueRecord:
    message_id: str
    body: str


@dataclass
class BatchReport:
    """What a run did: the messages to leave on the queue, and counts per outcome and reason."""

    run: str
    messages: int = 0
    failed_message_ids: list[str] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage (parse, claims, send ...)

    def count(self, outcome: str, reason: str = "", n: int = 1) -> None:
        if n:
            self.counts[(outcome, reason)] += n

    def total(self, outcome: str) -> int:
        return sum(n for (name, _), n in self.counts.items() if name == outcome)

    def summary(self) -> dict[str, int]:
        return {
            f"{name}:{reason}" if reason else name: n for (name, reason), n in sorted(self.counts.items())
        }


class _StageClock:
    def __init__(self, report: BatchReport) -> None:
        self.report = report
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.report.seconds[stage] = round(self.report.seconds.get(stage, 0.0) + now - self.last, 4)
        self.last = now


# --- per-run state ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Work:
    """One queue message being processed."""

    record: QueueRecord
    queued: QueuedWork
    receivers: list[str] = field(default_factory=list)
    prepared: PreparedPush | None = None
    no_push: NoPush | None = None
    failed: bool = False
    no_device: list[str] = field(default_factory=list)
    job_digest: str | None = None  # set: this work's deliveries are claimed per unit (see _claim)
    unit: str | None = None  # the unit's key: "j#" (a job not split) or "u#<chunk id>"
    job_receivers: tuple[str, ...] = ()  # "j#": every receiver of the job, kept in its job item

    @property
    def app(self) -> int:
        return self.queued.job.sdk_app_id

    @property
    def msg_key(self) -> str:
        return self.queued.job.msg_key

    @property
    def chunk_id(self) -> str:
        digest = hashlib.sha256("\x00".join(self.receivers).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:16]


@dataclass(eq=False)
class _Item:
    """One delivery through the run."""

    work: _Work
    delivery: Delivery
    retry_of: str | None = None  # a retry task's generating run
    retry_unit: str | None = None  # a retry of a delivery claimed per unit: that unit
    gone: bool = False  # a retry whose device is no longer registered
    registered_badge: int = 0
    credential: ApnsCredential | None = None
    request: ApnsRequest | None = None
    outcome: DeliveryOutcome | None = None
    final: OutcomeUpdate | None = None  # decided without APNs (credential problem, device gone)
    unit: str | None = None  # owned through its unit's claim (no item of its own until it fails)

    @property
    def key(self) -> DeliveryKey:
        return self.delivery.key


def _retry_delay(policy: DispatchPolicy, attempt: int, rng: random.Random) -> int:
    """Seconds before attempt ``attempt + 1``: base doubling per attempt, capped, with equal jitter."""
    if policy.retry_base_seconds <= 0:
        return 0
    doubling = float(2 ** max(attempt - 1, 0))
    ceiling = min(policy.retry_max_seconds, policy.retry_base_seconds * doubling)
    return round(ceiling / 2 + rng.uniform(0, ceiling / 2))


class Dispatcher:
    def __init__(
        self,
        *,
        registrations: RegistrationSource,
        credentials: CredentialSource,
        languages: LanguageSource,
        deliveries: DeliveryLedger,
        queue: TaskQueue,
        apns: ApnsClientPool,
        policy: DispatchPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.registrations = registrations
        self.credentials = credentials
        self.languages = languages
        self.deliveries = deliveries
        self.queue = queue
        self.apns = apns
        self.policy = policy or DispatchPolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # --- the run ---------------------------------------------------------------------------------------

    def dispatch(self, records: Sequence[QueueRecord], *, remaining_seconds: float) -> BatchReport:
        """Process one batch; the report names the messages to leave on the queue (``batchItemFailures``)."""
        started = time.monotonic()
        run = uuid.uuid4().hex
        report = BatchReport(run, messages=len(records))
        lease = int(self._clock() + remaining_seconds + self.policy.lease_margin_seconds)
        clock = _StageClock(report)
        works = [work for record in records if (work := self._parse(record, report)) is not None]
        self._prepare(works, report)
        self._fan_out(works, report, run)
        clock.lap("parse")
        items = self._collect(works, report)
        clock.lap("registrations")
        owned = self._claim(items, run, lease, report)
        clock.lap("claims")
        self._assign_badges(owned)
        clock.lap("badges")
        self._load_credentials(owned, report)
        clock.lap("credentials")
        budget = remaining_seconds - (time.monotonic() - started) - self.policy.send_reserve_seconds
        self._send(owned, budget)
        clock.lap("send")
        self._settle(owned, run, report)
        self._finish(works, owned, run, report)
        clock.lap("record")
        report.failed_message_ids.extend(work.record.message_id for work in works if work.failed)
        logger.info(
            "push batch dispatched",
            extra={
                "run": run,
                "messages": len(records),
                "failedMessages": len(report.failed_message_ids),
                "outcomes": report.summary(),
                "seconds": report.seconds,
            },
        )
        return report

    # --- 1. parse --------------------------------------------------------------------------------------

    def _parse(self, record: QueueRecord, report: BatchReport) -> _Work | None:
        try:
            queued = parse_queue_message(record.body)
        except InvalidPushJob as exc:
            report.count("InvalidJob", exc.code)
            logger.warning(
                "invalid push job sent to the dead-letter queue",
                extra={"messageId": record.message_id, "reason": exc.message},
            )
            self._note_invalid(record.body, exc.message)
            try:
                self.queue.dead_letter(
                    record.body, code=exc.code, reason=exc.message, message_id=record.message_id
                )
            except StorageError:
                # Left on the queue: it comes back, and the queue's redrive moves it after maxReceiveCount.
                report.failed_message_ids.append(record.message_id)
            return None
        work = _Work(record, queued)
        if queued.kind is WorkKind.RETRY:
            work.receivers = list(dict.fromkeys(item.user_id for item in queued.retries))
        else:
            work.receivers = list(dict.fromkeys(queued.job.to_account))
        if queued.kind is WorkKind.CHUNK and queued.job_digest is not None:
            # Its job was claimed per unit: so is the chunk, whatever this deployment records.
            work.job_digest = queued.job_digest
            work.unit = f"u#{work.chunk_id}"
        return work

    def _note_invalid(self, body: str, reason: str) -> None:
        """Best effort: when a broken job still names its app and message, the message's summary says why."""
        identity = invalid_job_identity(body)  # guarded: the body is the broken job itself
        if identity is None:
            return
        app, msg_key = identity
        info = MessageInfo(app, msg_key, "invalid", self._now_ms(), invalid_reason=reason)
        try:
            self.deliveries.put_message_infos([info])
        except StorageError:
            logger.warning("invalid job not recorded in the message summary")

    # --- 2. fan out ------------------------------------------------------------------------------------

    def _fan_out(self, works: list[_Work], report: BatchReport, run: str) -> None:
        size = self.policy.chunk_size
        for work in works:
            if work.queued.kind is not WorkKind.JOB or work.no_push is not None or work.failed:
                continue
            per_unit = not self.policy.record_all and len(work.receivers) <= MAX_UNIT_JOB_RECEIVERS
            if per_unit:
                work.job_digest = job_digest(work.queued.raw_job, size)
                work.unit = "j#"
                work.job_receivers = tuple(work.receivers)
            if len(work.receivers) <= size:
                continue
            if per_unit and not self._claim_job(work, run, report):
                continue
            rest = work.receivers[size:]
            work.receivers = work.receivers[:size]
            if not rest:
                continue
            if work.job_digest is not None:
                work.unit = f"u#{work.chunk_id}"
            bodies = self._chunk_bodies(work.queued.raw_job, rest, size, work.job_digest)
            accepted = self.queue.send([OutgoingTask(body) for body in bodies])
            if not all(accepted):
                # The job comes back whole; claims make the chunks that did go out harmless duplicates.
                work.failed = True
                logger.warning("chunk tasks not queued", extra={"msgKey": work.msg_key})
                continue
            report.count("ChunksQueued", "", len(bodies))
            logger.info(
                "large job split",
                extra={"msgKey": work.msg_key, "receivers": len(rest) + size, "chunks": len(bodies) + 1},
            )

    def _claim_job(self, work: _Work, run: str, report: BatchReport) -> bool:
        """A job split into chunks claims its message key before any chunk task exists (the job item, with
        every receiver); False when the work cannot go on now. Another job already holding the key leaves
        this one the receivers it did not have, claimed per notification."""
        claim = UnitClaim(
            work.app,
            work.msg_key,
            "j#",
            None,
            0,
            self._now_ms(),
            job=work.job_digest,
            receivers=work.job_receivers,
        )
        [result] = self.deliveries.claim_units([claim])
        if isinstance(result, StorageError):
            work.failed = True
            return False
        if isinstance(result, StoredUnit) and result.job != work.job_digest:
            self._leave_to_other_job(work, result, report)
        return True

    @staticmethod
    def _leave_to_other_job(work: _Work, other: StoredUnit, report: BatchReport) -> None:
        kept = [user for user in work.receivers if receiver_digest(user) not in other.receivers]
        report.count("Duplicate", "", len(work.receivers) - len(kept))
        work.receivers = kept
        work.job_digest = work.unit = None
        work.job_receivers = ()

    @staticmethod
    def _chunk_bodies(
        raw_job: Mapping[str, object], receivers: list[str], size: int, job: str | None = None
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

    # --- 3. format -------------------------------------------------------------------------------------

    def _prepare(self, works: list[_Work], report: BatchReport) -> None:
        languages: dict[int, Language] = {}
        for work in works:
            if work.failed:
                continue
            language = languages.get(work.app)
            if language is None:
                try:
                    language = Language(self.languages.placeholder_language(work.app).value)
                except StorageError:
                    logger.warning(
                        "app settings unreadable: default placeholder language", extra={"sdkAppId": work.app}
                    )
                    language = self.policy.default_language
                languages[work.app] = language
            work.prepared = prepare(work.queued.job, language=language)
            first = work.prepared.notification(None)
            if isinstance(first, NoPush):
                work.no_push = first
                report.count("NoPush", first.reason.value, len(work.receivers))

    # --- 4. registrations --------------------------------------------------------------------------------

    def _collect(self, works: list[_Work], report: BatchReport) -> list[_Item]:
        wanted: dict[int, list[str]] = defaultdict(list)
        for work in works:
            if not work.failed and work.no_push is None:
                wanted[work.app].extend(work.receivers)
        found: dict[int, dict[str, UserRegistrations]] = {}
        for app, users in wanted.items():
            try:
                found[app] = self.registrations.get_many(app, users)
            except StorageError:
                logger.warning("registrations unreadable", extra={"sdkAppId": app})
                for work in works:
                    if work.app == app:
                        work.failed = True
        items: list[_Item] = []
        # Per job digest when claimed per unit: two jobs with one MsgKey in a batch are not duplicates of each
        # other (the job item decides which serves a receiver both have, see _claim_units).
        seen: set[tuple[DeliveryKey, str | None]] = set()
        for work in works:
            registrations = found.get(work.app)
            if work.failed or work.no_push is not None or registrations is None:
                continue
            before = len(items)
            if work.queued.kind is WorkKind.RETRY:
                self._collect_retries(work, registrations, items)
            else:
                self._collect_receivers(work, registrations, items)
            # The same delivery twice in one batch (a job sent twice at once): the first one goes.
            kept = []
            for item in items[before:]:
                marker = (item.key, work.job_digest)
                if marker in seen:
                    report.count("Duplicate")
                    continue
                seen.add(marker)
                kept.append(item)
            items[before:] = kept
            report.count("NotDelivered", DispatchReason.NO_DEVICE_REGISTERED.value, len(work.no_device))
        return items

    def _collect_receivers(
        self, work: _Work, registrations: Mapping[str, UserRegistrations], items: list[_Item]
    ) -> None:
        job = work.queued.job
        prepared = work.prepared
        counts = prepared is not None and prepared.counts_toward_badge
        supplied = job.badges or {}
        for user in work.receivers:
            found = registrations.get(user)
            if found is None:
                work.no_device.append(user)
                continue
            badge = supplied.get(user) if counts else None
            for device in found.devices:
                delivery = Delivery(
                    key=DeliveryKey(job.sdk_app_id, job.msg_key, user, device.token),
                    business_id=device.business_id,
                    environment=device.environment,
                    registered_at=device.registered_at,
                    badge=badge,
                    counts_toward_badge=counts,
                    badge_supplied=badge is not None,
                )
                items.append(_Item(work, delivery, registered_badge=found.badge))

    def _collect_retries(
        self, work: _Work, registrations: Mapping[str, UserRegistrations], items: list[_Item]
    ) -> None:
        job = work.queued.job
        for retry in work.queued.retries:
            found = registrations.get(retry.user_id)
            device = found.device(retry.token) if found is not None else None
            key = DeliveryKey(job.sdk_app_id, job.msg_key, retry.user_id, retry.token)
            delivery = Delivery(
                key=key,
                business_id=device.business_id if device is not None else retry.business_id,
                environment=device.environment
                if device is not None
                else ApnsEnvironment.PRODUCTION,  # unused
                registered_at=device.registered_at if device is not None else dt.datetime.now(dt.UTC),
                badge=retry.badge,
                attempt=retry.attempts + 1,
                badge_supplied=True,  # the badge was computed by the first attempt
            )
            items.append(
                _Item(
                    work,
                    delivery,
                    retry_of=work.queued.run,
                    retry_unit=retry.unit,
                    gone=device is None,
                    registered_badge=found.badge if found is not None else 0,
                )
            )

    # --- 5. claim --------------------------------------------------------------------------------------

    def _claim(self, items: list[_Item], run: str, lease: int, report: BatchReport) -> list[_Item]:
        now_ms = self._now_ms()
        indexed = self.policy.record_all
        per_unit: dict[_Work, list[_Item]] = defaultdict(list)
        fresh: list[_Item] = []
        retries: list[_Item] = []
        for item in items:
            if item.retry_of is not None:
                retries.append(item)
            elif item.work.job_digest is not None:
                per_unit[item.work].append(item)
            else:
                fresh.append(item)
        owned: list[_Item] = []
        existing: list[tuple[_Item, StoredDelivery]] = []
        if per_unit:
            owned.extend(self._claim_units(per_unit, run, lease, report, fresh=fresh, existing=existing))
        results: list[tuple[_Item, ClaimResult]] = []
        if fresh:
            claims = [Claim(item.delivery, run, lease, now_ms, indexed) for item in fresh]
            results.extend(zip(fresh, self.deliveries.claim(claims), strict=True))
        if retries:
            results.extend(self._claim_retries(retries, run, lease, now_ms))
        for item, result in results:
            if isinstance(result, Claimed):
                owned.append(item)
            elif isinstance(result, StoredDelivery):
                existing.append((item, result))
            else:
                item.work.failed = True  # could not claim: the message comes back
        if existing:
            owned.extend(self._reclaim(existing, run, lease, report))
        return owned

    def _claim_retries(
        self, retries: list[_Item], run: str, lease: int, now_ms: int
    ) -> list[tuple[_Item, ClaimResult]]:
        takeovers = [
            TakeOver(item.delivery, run, lease, now_ms, indexed=True, retry_of=item.retry_of)
            for item in retries
        ]
        results: list[tuple[_Item, ClaimResult]] = []
        unrecorded: list[_Item] = []
        for item, result in zip(retries, self.deliveries.take_over(takeovers), strict=True):
            if isinstance(result, StoredDelivery) and result.reason == _RECORD_MISSING:
                unrecorded.append(item)
            else:
                results.append((item, result))
        if unrecorded:
            # A delivery claimed per unit whose retry came before its record was written (or a record
            # expired): whoever claims the key first sends it; the unit's owner never overwrites a claim.
            claims = [
                Claim(item.delivery, run, lease, now_ms, indexed=True, unit=item.retry_unit)
                for item in unrecorded
            ]
            results.extend(zip(unrecorded, self.deliveries.claim(claims), strict=True))
        return results

    def _claim_units(
        self,
        per_unit: Mapping[_Work, list[_Item]],
        run: str,
        lease: int,
        report: BatchReport,
        *,
        fresh: list[_Item],
        existing: list[tuple[_Item, StoredDelivery]],
    ) -> list[_Item]:
        """One conditional write per unit of work (only failures recorded); the deliveries of a unit claimed
        before go the way of their unit: finished, held, or taken over."""
        now_ms = self._now_ms()
        works = list(per_unit)
        claims = []
        for work in works:
            assert work.unit is not None  # set with job_digest
            is_job = work.unit == "j#"
            claims.append(
                UnitClaim(
                    work.app,
                    work.msg_key,
                    work.unit,
                    run,
                    lease,
                    now_ms,
                    notifications=len(per_unit[work]),
                    job=work.job_digest if is_job else None,
                    receivers=work.job_receivers if is_job else (),
                )
            )
        owned: list[_Item] = []
        claimed_before: list[tuple[_Work, StoredUnit]] = []
        for work, result in zip(works, self.deliveries.claim_units(claims), strict=True):
            members = per_unit[work]
            if isinstance(result, Claimed):
                for item in members:
                    item.unit = work.unit
                owned.extend(members)
            elif isinstance(result, StoredUnit) and result.job not in (None, work.job_digest):
                # Another job with this MsgKey holds it: the receivers it did not have, per notification.
                for item in members:
                    if receiver_digest(item.key.user_id) in result.receivers:
                        report.count("Duplicate")
                    else:
                        fresh.append(item)
            elif isinstance(result, StoredUnit) and result.run is not None:
                claimed_before.append((work, result))
            else:
                work.failed = True
        if claimed_before:
            owned.extend(self._reclaim_units(claimed_before, per_unit, run, lease, report, existing=existing))
        return owned

    def _reclaim_units(
        self,
        claimed_before: list[tuple[_Work, StoredUnit]],
        per_unit: Mapping[_Work, list[_Item]],
        run: str,
        lease: int,
        report: BatchReport,
        *,
        existing: list[tuple[_Item, StoredDelivery]],
    ) -> list[_Item]:
        """Units claimed before: skip the finished and the held; take over the interrupted (and those whose
        run left retries it could not queue), then each delivery goes by its own record if it has one
        (failed, retrying: as per-notification claims), else by the unit's run (finished: delivered)."""
        now = self._clock()
        try:
            completed = self.deliveries.completed_runs(unit.run or "" for _, unit in claimed_before)
        except StorageError:
            for work, _ in claimed_before:
                work.failed = True
            return []
        takeovers: list[tuple[_Work, StoredUnit]] = []
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
        now_ms = self._now_ms()
        results = self.deliveries.take_over_units(
            [
                UnitTakeOver(
                    work.app,
                    work.msg_key,
                    unit.unit,
                    run,
                    lease,
                    now_ms,
                    seen_run=unit.run or "",
                    notifications=len(per_unit[work]),
                )
                for work, unit in takeovers
            ]
        )
        taken: list[tuple[_Work, StoredUnit]] = []
        for (work, unit), result in zip(takeovers, results, strict=True):
            if isinstance(result, Claimed):
                taken.append((work, unit))
            elif isinstance(result, StoredUnit):
                report.count("HeldByAnotherRun", "", len(per_unit[work]))  # another run took it first
            else:
                work.failed = True
        if not taken:
            return []
        return self._resolve_taken(taken, per_unit, completed, report, existing)

    def _resolve_taken(
        self,
        taken: list[tuple[_Work, StoredUnit]],
        per_unit: Mapping[_Work, list[_Item]],
        completed: set[str],
        report: BatchReport,
        existing: list[tuple[_Item, StoredDelivery]],
    ) -> list[_Item]:
        try:
            records = self.deliveries.deliveries_of(
                [item.key for work, _ in taken for item in per_unit[work]]
            )
        except StorageError:
            for work, _ in taken:
                work.failed = True  # back after this run's lease: taken over again
            return []
        owned: list[_Item] = []
        for work, unit in taken:
            finished = unit.run in completed
            for item in per_unit[work]:
                stored = records.get(item.key)
                if stored is not None:
                    existing.append((item, stored))
                    continue
                if finished:
                    report.count("Duplicate")  # delivered by the run that finished
                    continue
                # Interrupted: sent again with the same apns-id and collapse id; the badge as it is now
                # (the interrupted run counted the message right after claiming it).
                delivery = item.delivery
                delivery.attempt = 2
                if delivery.counts_toward_badge and not delivery.badge_supplied:
                    delivery.badge = item.registered_badge
                    delivery.badge_supplied = True
                item.unit = work.unit
                report.count("TakenOver")
                owned.append(item)
        return owned

    def _reclaim(
        self, existing: list[tuple[_Item, StoredDelivery]], run: str, lease: int, report: BatchReport
    ) -> list[_Item]:
        """Deliveries claimed before: skip the finished and the held, take over the interrupted."""
        now = self._clock()
        pending_runs = {stored.run for _, stored in existing if stored.state is DeliveryState.PENDING}
        try:
            completed = self.deliveries.completed_runs(pending_runs) if pending_runs else set()
        except StorageError:
            for item, _ in existing:
                item.work.failed = True
            return []
        takeovers: list[tuple[_Item, TakeOver]] = []
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
                # The interrupted run counted this message right after claiming it: show the counter as it
                # is rather than count the message again.
                delivery.badge = item.registered_badge
                delivery.badge_supplied = True
            takeovers.append(
                (
                    item,
                    TakeOver(
                        delivery, run, lease, self._now_ms(), self.policy.record_all, seen_run=stored.run
                    ),
                )
            )
        if not takeovers:
            return []
        owned = []
        results = self.deliveries.take_over([takeover for _, takeover in takeovers])
        for (item, _), result in zip(takeovers, results, strict=True):
            if isinstance(result, Claimed):
                report.count("TakenOver")
                owned.append(item)
            elif isinstance(result, StoredDelivery):
                report.count("HeldByAnotherRun")  # another run took it over first
            else:
                item.work.failed = True
        return owned

    # --- 6. badges -------------------------------------------------------------------------------------

    def _assign_badges(self, owned: list[_Item]) -> None:
        """One increment per (message, receiver) this run claimed, for messages that count toward it."""

        def counted(item: _Item) -> bool:
            delivery = item.delivery
            return delivery.counts_toward_badge and not delivery.badge_supplied and not item.gone

        wanted: dict[tuple[int, str], list[str]] = defaultdict(list)  # (app, user) -> message keys, in order
        base: dict[tuple[int, str], int] = {}
        for item in filter(counted, owned):
            key = item.key
            user = (key.sdk_app_id, key.user_id)
            if key.msg_key not in wanted[user]:
                wanted[user].append(key.msg_key)
            base[user] = item.registered_badge
        if not wanted:
            return
        new_values = self._increment(wanted)
        for item in filter(counted, owned):
            key = item.key
            user = (key.sdk_app_id, key.user_id)
            messages = wanted[user]
            position = messages.index(key.msg_key)
            top = new_values.get(user)
            # The counter's new value is for this batch's last message to the receiver; without it (the
            # increment failed), the value read with the registrations plus one per message is the best guess.
            item.delivery.badge = (
                top - len(messages) + 1 + position if top is not None else base[user] + 1 + position
            )

    def _increment(self, wanted: Mapping[tuple[int, str], list[str]]) -> dict[tuple[int, str], int]:
        new_values: dict[tuple[int, str], int] = {}
        singles: dict[int, list[str]] = defaultdict(list)
        for (app, user), messages in wanted.items():
            if len(messages) == 1:
                singles[app].append(user)
                continue
            try:
                value = self.registrations.increment_badge(app, user, by=len(messages))
            except StorageError:
                value = None
            if value is not None:
                new_values[(app, user)] = value
        for app, users in singles.items():
            for user, value in self.registrations.increment_badges(app, users).items():
                new_values[(app, user)] = value
        return new_values

    # --- 7. credentials and requests -------------------------------------------------------------------

    def _load_credentials(self, owned: list[_Item], report: BatchReport) -> None:
        cache: dict[tuple[int, int], ApnsCredential | OfflinePushError] = {}
        for item in owned:
            delivery = item.delivery
            if item.gone:
                item.final = self._outcome(
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
                    loaded = self.credentials.load(*source)
                except OfflinePushError as exc:
                    loaded = exc
                cache[source] = loaded
            if isinstance(loaded, CertificateNotFound):
                item.final = self._outcome(
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
                item.final = self._outcome(
                    item, DeliveryState.FAILED, DispatchReason.CREDENTIAL_UNUSABLE, cause=loaded.message
                )
            else:
                item.credential = loaded
                delivery.environment = loaded.environment
                prepared = item.work.prepared
                assert prepared is not None  # works without one have no items
                notification = prepared.notification(delivery.badge)
                if isinstance(notification, NoPush):  # the job-level check catches these first
                    item.final = self._outcome(
                        item, DeliveryState.FAILED, notification.reason.value, cause=notification.message
                    )
                    continue
                item.request = ApnsRequest(
                    delivery.key.token, loaded.topic, notification, delivery.key.apns_id
                )

    # --- 8. send ---------------------------------------------------------------------------------------

    def _send(self, owned: list[_Item], budget: float) -> None:
        groups: dict[int, tuple[ApnsCredential, list[_Item]]] = {}
        for item in owned:
            if item.request is None or item.credential is None:
                continue
            client = self.apns.client_for(item.credential)
            groups.setdefault(id(client), (item.credential, []))[1].append(item)
        if not groups:
            return
        if budget <= 0:
            for _, members in groups.values():
                for item in members:
                    item.outcome = Retryable(
                        item.key.apns_id, item.key.token, None, ApnsReason.DEADLINE_EXCEEDED
                    )
            return

        async def send_all() -> list[list[DeliveryOutcome]]:
            batches = [
                self.apns.client_for(credential).send(
                    [item.request for item in members if item.request is not None], timeout=budget
                )
                for credential, members in groups.values()
            ]
            answers = await asyncio.gather(*batches)
            await self.apns.close_retired()
            return list(answers)

        for (_, members), outcomes in zip(groups.values(), run_in_warm_loop(send_all()), strict=True):
            for item, outcome in zip(members, outcomes, strict=True):
                item.outcome = outcome

    # --- 9. outcomes -----------------------------------------------------------------------------------

    def _outcome(
        self,
        item: _Item,
        state: DeliveryState,
        reason: str,
        *,
        cause: str | None = None,
        status: int | None = None,
        lease: int | None = None,
        retry_at_ms: int | None = None,
        removed: bool = False,
    ) -> OutcomeUpdate:
        return OutcomeUpdate(
            item.delivery,
            "",
            state,
            reason,
            self._now_ms(),
            status=status,
            cause=cause,
            lease=lease,
            retry_at_ms=retry_at_ms,
            registration_removed=removed,
            unit=item.unit,
        )

    def _settle(self, owned: list[_Item], run: str, report: BatchReport) -> None:
        updates: list[OutcomeUpdate] = []
        retries: dict[_Work, list[tuple[_Item, Retryable]]] = defaultdict(list)
        for item in owned:
            if item.final is not None:
                updates.append(item.final)
                report.count("NotDelivered", item.final.reason)
                continue
            outcome = item.outcome
            if isinstance(outcome, Delivered):
                report.count("Delivered")
            elif isinstance(outcome, Failed):
                updates.append(self._failure(item, outcome))
                report.count("NotDelivered", outcome.reason)
            elif isinstance(outcome, Retryable):
                if item.delivery.attempt >= self.policy.max_attempts:
                    updates.append(
                        self._outcome(
                            item,
                            DeliveryState.FAILED,
                            DispatchReason.RETRIES_EXHAUSTED,
                            status=outcome.status,
                            cause=retries_exhausted_cause(
                                outcome.reason, outcome.status, item.delivery.attempt
                            ),
                        )
                    )
                    report.count("NotDelivered", DispatchReason.RETRIES_EXHAUSTED.value)
                else:
                    retries[item.work].append((item, outcome))
        updates.extend(self._schedule_retries(retries, run, report))
        owned_updates = [dataclasses.replace(update, run=run) for update in updates]
        claimed = [update for update in owned_updates if update.unit is None]
        unit_failures = [
            update
            for update in owned_updates
            if update.unit is not None and update.state is not DeliveryState.RETRYING
        ]
        unit_retries = [
            update
            for update in owned_updates
            if update.unit is not None and update.state is DeliveryState.RETRYING
        ]
        unwritten = 0
        if claimed:
            unwritten += self.deliveries.record(claimed).count(False)
        if unit_failures:
            try:
                self.deliveries.put_unit_outcomes(unit_failures)
            except StorageError:
                unwritten += len(unit_failures)
        if unit_retries:
            unwritten += self.deliveries.put_unit_retries(unit_retries).count(False)
            self._mark_orphans(unit_retries, run)
        if unwritten:
            logger.error("outcomes not recorded", extra={"run": run, "count": unwritten})

    def _mark_orphans(self, unit_retries: list[OutcomeUpdate], run: str) -> None:
        """Retries of a unit that no task holds (the queue refused it): the unit says so, and the job's
        message, left on the queue, takes them over when it comes back."""
        orphaned = {
            (update.delivery.key.sdk_app_id, update.delivery.key.msg_key, update.unit)
            for update in unit_retries
            if update.retry_at_ms is None and update.unit is not None
        }
        for app, msg_key, unit in sorted(orphaned):
            assert unit is not None
            try:
                self.deliveries.mark_orphans(app, msg_key, unit, run)
            except StorageError:
                logger.error("orphaned retries not marked on their unit", extra={"run": run})

    def _failure(self, item: _Item, failed: Failed) -> OutcomeUpdate:
        delivery = item.delivery
        credential = item.credential
        topic = credential.topic if credential is not None else "?"
        environment = delivery.environment.value
        if failed.prune_token:
            deadline = failed.unregistered_at if failed.status == 410 else delivery.registered_at
            try:
                removed = self.registrations.remove_device(
                    delivery.key.sdk_app_id,
                    delivery.key.user_id,
                    delivery.key.token,
                    unless_registered_after=deadline,
                )
            except StorageError:
                removed = False
                logger.warning(
                    "dead registration not removed", extra={"device": token_hint(delivery.key.token)}
                )
            cause = prune_cause(
                failed.reason,
                business_id=delivery.business_id,
                topic=topic,
                environment=environment,
                removed=removed,
                unregistered_at=failed.unregistered_at,
            )
            logger.info(
                "dead device token",
                extra={
                    "reason": failed.reason,
                    "device": token_hint(delivery.key.token),
                    "businessId": delivery.business_id,
                    "removed": removed,
                },
            )
            return self._outcome(
                item, DeliveryState.FAILED, failed.reason, status=failed.status, cause=cause, removed=removed
            )
        if failed.reason in _CREDENTIAL_REASONS:
            self.credentials.invalidate(delivery.key.sdk_app_id, delivery.business_id)
        cause = final_cause(
            failed.reason,
            failed.status,
            business_id=delivery.business_id,
            topic=topic,
            environment=environment,
        )
        return self._outcome(item, DeliveryState.FAILED, failed.reason, status=failed.status, cause=cause)

    def _schedule_retries(
        self, retries: Mapping[_Work, list[tuple[_Item, Retryable]]], run: str, report: BatchReport
    ) -> list[OutcomeUpdate]:
        """Queue a retry task per message (split to fit SQS) holding just the deliveries to try again."""
        if not retries:
            return []
        tasks: list[OutgoingTask] = []
        members: list[list[tuple[_Item, Retryable, int]]] = []
        for work, pairs in retries.items():
            # Deliveries due at the same attempt share a task (and its delay).
            by_attempt: dict[int, list[tuple[_Item, Retryable]]] = defaultdict(list)
            for item, outcome in pairs:
                by_attempt[item.delivery.attempt].append((item, outcome))
            for attempt, group in by_attempt.items():
                delay = _retry_delay(self.policy, attempt, self._rng)
                for body, pairs_in_task in self._retry_bodies(work, run, group):
                    tasks.append(OutgoingTask(body, delay))
                    members.append([(item, outcome, delay) for item, outcome in pairs_in_task])
        accepted = self.queue.send(tasks)
        updates = []
        now = self._clock()
        lease_margin = self.policy.lease_margin_seconds
        for ok, task_members in zip(accepted, members, strict=True):
            for item, outcome, delay in task_members:
                if ok:
                    report.count("RetryScheduled", outcome.reason)
                    lease = int(now + delay + lease_margin)
                    retry_at = int((now + delay) * 1000)
                else:
                    # No task: the lease ends now, so this message, back from the queue, takes it over.
                    item.work.failed = True
                    report.count("RetryByRedelivery", outcome.reason)
                    lease, retry_at = int(now), None
                updates.append(
                    self._outcome(
                        item,
                        DeliveryState.RETRYING,
                        outcome.reason,
                        status=outcome.status,
                        lease=lease,
                        retry_at_ms=retry_at,
                    )
                )
        return updates

    @staticmethod
    def _retry_bodies(
        work: _Work, run: str, group: list[tuple[_Item, Retryable]]
    ) -> list[tuple[str, list[tuple[_Item, Retryable]]]]:
        """Retry task bodies for ``group``, halved until each fits an SQS message."""
        parts = [group]
        done: list[tuple[str, list[tuple[_Item, Retryable]]]] = []
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

    # --- 10. finish ------------------------------------------------------------------------------------

    def _finish(self, works: list[_Work], owned: list[_Item], run: str, report: BatchReport) -> None:
        now_ms = self._now_ms()
        infos: list[MessageInfo] = []
        receivers: list[ReceiverRecord] = []
        for work in works:
            if work.failed or work.queued.kind is WorkKind.RETRY:
                continue
            if work.no_push is not None:
                infos.append(
                    MessageInfo(
                        work.app,
                        work.msg_key,
                        work.chunk_id,
                        now_ms,
                        receivers=len(work.receivers),
                        no_push_reason=work.no_push.reason.value,
                        no_push_message=work.no_push.message,
                    )
                )
                if self.policy.record_all:
                    receivers.extend(
                        ReceiverRecord(
                            work.app,
                            work.msg_key,
                            user,
                            DeliveryState.NO_PUSH,
                            work.no_push.reason.value,
                            work.no_push.message,
                            now_ms,
                        )
                        for user in work.receivers
                    )
            elif work.no_device:
                infos.append(
                    MessageInfo(
                        work.app,
                        work.msg_key,
                        work.chunk_id,
                        now_ms,
                        receivers=len(work.receivers),
                        no_device=len(work.no_device),
                    )
                )
                if self.policy.record_all:
                    receivers.extend(
                        ReceiverRecord(
                            work.app,
                            work.msg_key,
                            user,
                            DeliveryState.NO_DEVICE,
                            DispatchReason.NO_DEVICE_REGISTERED.value,
                            _NO_DEVICE_CAUSE,
                            now_ms,
                        )
                        for user in work.no_device
                    )
        try:
            if infos:
                self.deliveries.put_message_infos(infos)
            if receivers:
                self.deliveries.put_receiver_records(receivers)
        except StorageError:
            logger.warning("message summaries not recorded", extra={"run": run})
        if not owned:
            return
        for attempt in range(3):
            try:
                self.deliveries.complete_run(run, self._now_ms())
                return
            except StorageError:
                time.sleep(0.1 * 2**attempt)
        # Not failing the batch: the messages coming back would resend what this run delivered.
        logger.error(
            "run completion not recorded: its deliveries show as interrupted and would be sent again if "
            "their jobs came back",
            extra={"run": run, "deliveries": len(owned)},
        )


class NoUserAuthKeys:
    """The dispatcher reads app settings (the placeholder language) and never the app's user-auth keys:
    it has no access to them (least privilege)."""

    def put(self, sdk_app_id: int, key: UserAuthKey) -> None:
        raise PermissionError("the dispatcher does not write user-auth keys")

    def get(self, sdk_app_id: int) -> UserAuthKey | None:
        return None
