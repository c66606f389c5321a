"""The dispatcher: one run per SQS batch, through the stages in the order the data goes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from functools import cached_property

from aws_lambda_powertools import Logger

from offline_push.logic.dispatch.delivery_status import DeliveryStatusLog
from offline_push.logic.dispatch.stage1_intake import intake
from offline_push.logic.dispatch.stage2_registrations import collect
from offline_push.logic.dispatch.stage3_claims import claim
from offline_push.logic.dispatch.stage4_badges import assign_badges
from offline_push.logic.dispatch.stage5_send import prepare_requests, send
from offline_push.logic.dispatch.stage6_outcomes import finish, settle
from offline_push.logic.dispatch.work import BatchReport, Parts, QueueRecord, Run

logger = Logger(child=True)


class Dispatcher(Parts):
    """The parts a run uses (:class:`Parts`: stores, queue, APNs pool, policy), and the run itself."""

    @cached_property
    def status_log(self) -> DeliveryStatusLog:
        return DeliveryStatusLog(self.policy.success_sample_rate)

    def dispatch(self, records: Sequence[QueueRecord], *, remaining_seconds: float) -> BatchReport:
        """Process one batch; the report names the messages to leave on the queue (``batchItemFailures``)."""
        started = time.monotonic()
        run_id = uuid.uuid4().hex
        lease = int(self.clock() + remaining_seconds + self.policy.lease_margin_seconds)
        run = Run(self, run_id, lease, BatchReport(run_id, messages=len(records)))
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
