"""The dispatcher: one run per SQS batch, through the stages in the order the data goes."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence

from aws_lambda_powertools import Logger

from offline_push.apns import ApnsClientPool
from offline_push.logic.dispatch.delivery_status import DeliveryStatusLog
from offline_push.logic.dispatch.ports import (
    CredentialSource,
    DeliveryLedger,
    LanguageSource,
    RegistrationSource,
    TaskQueue,
)
from offline_push.logic.dispatch.stage1_intake import intake
from offline_push.logic.dispatch.stage2_registrations import collect
from offline_push.logic.dispatch.stage3_claims import claim
from offline_push.logic.dispatch.stage4_badges import assign_badges
from offline_push.logic.dispatch.stage5_send import prepare_requests, send
from offline_push.logic.dispatch.stage6_outcomes import finish, settle
from offline_push.logic.dispatch.work import BatchReport, DispatchPolicy, Parts, QueueRecord, Run

logger = Logger(child=True)


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
        self.parts = Parts(
            registrations=registrations,
            credentials=credentials,
            languages=languages,
            deliveries=deliveries,
            queue=queue,
            apns=apns,
            policy=policy or DispatchPolicy(),
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not secrecy
        )
        self.status_log = DeliveryStatusLog(self.parts.policy.success_sample_rate)

    @property
    def deliveries(self) -> DeliveryLedger:
        return self.parts.deliveries

    @property
    def registrations(self) -> RegistrationSource:
        return self.parts.registrations

    @property
    def languages(self) -> LanguageSource:
        return self.parts.languages

    @property
    def queue(self) -> TaskQueue:
        return self.parts.queue

    @property
    def credentials(self) -> CredentialSource:
        return self.parts.credentials

    @property
    def apns(self) -> ApnsClientPool:
        return self.parts.apns

    @property
    def policy(self) -> DispatchPolicy:
        return self.parts.policy

    def dispatch(self, records: Sequence[QueueRecord], *, remaining_seconds: float) -> BatchReport:
        """Process one batch; the report names the messages to leave on the queue (``batchItemFailures``)."""
        started = time.monotonic()
        run_id = uuid.uuid4().hex
        lease = int(self.parts.clock() + remaining_seconds + self.policy.lease_margin_seconds)
        run = Run(self.parts, run_id, lease, BatchReport(run_id, messages=len(records)))
        works = intake(run, records)
        run.lap("parse")
        items = collect(run, works)
        run.lap("registrations")
        owned = claim(run, items)
        run.lap("claims")
        assign_badges(run, owned)
        run.lap("badges")
        prepare_requests(run, owned)
        run.lap("credentials")
        send(run, owned, remaining_seconds - (time.monotonic() - started) - self.policy.send_reserve_seconds)
        run.lap("send")
        settle(run, owned, self.status_log)
        finish(run, works, owned)
        run.lap("record")
        report = run.report
        report.failed_message_ids.extend(work.record.message_id for work in works if work.failed)
        logger.info(
            "push batch dispatched",
            extra={
                "run": run_id,
                "messages": len(records),
                "failedMessages": len(report.failed_message_ids),
                "outcomes": report.summary(),
                "seconds": report.seconds,
            },
        )
        return report
