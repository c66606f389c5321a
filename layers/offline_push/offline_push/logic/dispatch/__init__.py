"""Push dispatch: queue messages -> notifications -> APNs, with nothing lost and nothing sent twice.

One call of :meth:`Dispatcher.dispatch` is one *run* (one Lambda invocation, one SQS batch), processed as a
whole so that ten one-to-one jobs cost one registration read instead of ten. The stages, one module each, in
the order the data goes through them:

1. :mod:`.stage1_intake`: parse each message (job, chunk task, retry task; the rest to the dead-letter
   queue), format once per job, fan a large job out into chunk tasks.
2. :mod:`.stage2_registrations`: each receiver's devices, 100 receivers per read.
3. :mod:`.stage3_claims`: one conditional write per unit of work (a job, a chunk); nothing is sent that
   the run does not own.
4. :mod:`.stage4_badges`: the badge counters of the run's receivers, added in batches.
5. :mod:`.stage5_send`: certificates, APNs requests, all batches sent concurrently.
6. :mod:`.stage6_outcomes`: records of what was not delivered, retry tasks, delivery-status log lines
   (:mod:`.delivery_status`), the message summary, and the run's completion marker.

:mod:`.dispatcher` wires them; :mod:`.work` holds what a run carries from stage to stage, :mod:`.ports`
what the stages call (the stores and the queue).

Guarantees. A notification is sent only by the run that owns its unit's claim (or, for a retry, its own
record), and ownership passes only by conditional writes: to the retry task its run scheduled, or, once the
owner's lease (its invocation's remaining time plus a margin) has passed without its completion marker, to
whoever processes the message again. So a job delivered twice notifies nobody twice; a crash after claiming
loses nothing (the message comes back after the queue's visibility timeout, longer than any lease, and the
next run takes the unit over); a partial failure retries only what failed. The one window left: a run that
dies after APNs accepted a notification and before its completion marker is written; the next run sends it
again with the same ``apns-id`` and ``apns-collapse-id``, so the device shows the second in place of the
first.
"""

from offline_push.logic.dispatch.dispatcher import Dispatcher
from offline_push.logic.dispatch.ports import NoUserAuthKeys
from offline_push.logic.dispatch.stage6_outcomes import retry_delay
from offline_push.logic.dispatch.work import BatchReport, DispatchPolicy, QueueRecord

__all__ = ["BatchReport", "DispatchPolicy", "Dispatcher", "NoUserAuthKeys", "QueueRecord", "retry_delay"]
