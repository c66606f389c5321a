"""What a run works with: the dispatcher's knobs, the messages and deliveries in flight, and the run itself.

Every stage module takes a :class:`Run` and the run's :class:`Work` (one per queue message) or :class:`Item`
(one per notification) lists, and leaves its decisions on them for the next stage.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

from offline_push.apns import ApnsClientPool, DeliveryOutcome
from offline_push.dal.push_queue import MAX_DELAY_SECONDS
from offline_push.logic.dispatch.ports import (
    CredentialSource,
    DeliveryLedger,
    LanguageSource,
    RegistrationSource,
    TaskQueue,
)
from offline_push.logic.formatter import NoPush, PreparedPush
from offline_push.models.credential import ApnsCredential
from offline_push.models.delivery import Delivery, DeliveryKey, DeliveryState, OutcomeUpdate
from offline_push.models.job import Language
from offline_push.models.notification import ApnsRequest, Notification
from offline_push.models.task import QueuedWork


@dataclass(frozen=True)
class DispatchPolicy:
    """The dispatcher's knobs (environment variables of the dispatch function, README "Dispatch")."""

    chunk_size: int = 500  # receivers one run keeps of a job; the rest go to chunk tasks
    max_attempts: int = 5  # task-level attempts per delivery (each has the APNs client's own retries)
    retry_base_seconds: float = 5.0  # delay before the 2nd attempt; doubles per attempt (with jitter)
    retry_max_seconds: float = MAX_DELAY_SECONDS
    lease_margin_seconds: float = 30.0  # a claim outlives its run's invocation by this much
    send_reserve_seconds: float = 5.0  # invocation time kept after sending, to record outcomes
    success_sample_rate: float = 100.0  # percent of delivered pushes given a delivery-status log line
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


@dataclass(frozen=True, kw_only=True)
class Parts:
    """The stores, queue and APNs pool every run uses, and the dispatcher's knobs: held for a container's
    life (the dispatcher is its Parts, with the run added)."""

    registrations: RegistrationSource
    credentials: CredentialSource
    languages: LanguageSource
    deliveries: DeliveryLedger
    queue: TaskQueue
    apns: ApnsClientPool
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    clock: Callable[[], float] = field(default=time.time)
    rng: random.Random = field(default_factory=random.Random)  # retry jitter, not secrecy
    sleep: Callable[[float], None] = field(default=time.sleep)  # back-off between tries of a write


@dataclass
class Run:
    """One run (one invocation, one SQS batch): its id, how long its claims hold, and its report."""

    parts: Parts
    id: str
    lease: int  # epoch seconds
    report: BatchReport
    _last_lap: float = field(default_factory=time.perf_counter)

    @property
    def policy(self) -> DispatchPolicy:
        return self.parts.policy

    def now_ms(self) -> int:
        return int(self.parts.clock() * 1000)

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage`` in the report."""
        now = time.perf_counter()
        seconds = self.report.seconds
        seconds[stage] = round(seconds.get(stage, 0.0) + now - self._last_lap, 4)
        self._last_lap = now


@dataclass(eq=False)
class Work:
    """One queue message being processed."""

    record: QueueRecord
    queued: QueuedWork
    receivers: list[str] = field(default_factory=list)
    prepared: PreparedPush | None = None
    no_push: NoPush | None = None
    failed: bool = False
    no_device: list[str] = field(default_factory=list)
    voip: Notification | NoPush | None = None  # a call invitation's VoIP push, formatted once per job
    no_voip: list[str] = field(default_factory=list)  # call receivers without PushKit token, no fallback
    job_digest: str | None = None  # set: this work's deliveries are claimed per unit (stage 3)
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
class Item:
    """One delivery through the run."""

    work: Work
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


class OutcomeDetails(TypedDict, total=False):
    """What a record of a notification not delivered may say beyond its state and reason."""

    status: int | None
    cause: str | None
    lease: int | None
    retry_at_ms: int | None
    registration_removed: bool


def outcome_update(
    run: Run, item: Item, state: DeliveryState, reason: str, **details: Unpack[OutcomeDetails]
) -> OutcomeUpdate:
    """The record of a notification not delivered, owned by ``run``."""
    return OutcomeUpdate(item.delivery, run.id, state, reason, run.now_ms(), unit=item.unit, **details)
