"""Large groups and faults, at scale: a 5,000-receiver group split into chunk tasks that other runs take, and
10,000 notifications while APNs answers 5xx bursts and 429s and drops connections: every notification ends
delivered exactly once or recorded as failed with its reason; none lost, none duplicated (the sandbox counts
what it accepted by apns-id).

Both leave the badge alone (BadgeMode 1): counters are tested with small groups, and here each would cost a
DynamoDB call that moto makes slow (milliseconds each, in-process)."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID, counting_calls
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY, job_dict

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

# Generous: moto serves every DynamoDB call in-process, far slower than DynamoDB.
REMAINING_MS = 600_000


def group_job(users: list[str]) -> dict[str, object]:
    return job_dict(GROUP, To_Account=users, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})


def test_a_5000_receiver_group_is_split_into_chunk_tasks_and_delivered_once_each(
    harness: DispatchHarness,
) -> None:
    # Given 5,000 group members with a device each
    harness.upload_certificate()
    users = [f"member-{index:05d}" for index in range(5000)]
    tokens = harness.register(users)
    harness.enqueue(group_job(users))

    # When the job is processed
    queue = harness.app.dispatcher().queue.client
    with counting_calls(queue) as calls:
        first = harness.invoke(harness.receive(), remaining_ms=REMAINING_MS)

    # Then it kept the first 500 receivers and queued the other 4,500 as nine chunk tasks in one request
    assert (first.failed, calls) == ([], ["SendMessageBatch"])
    assert len(harness.received()) == 500
    chunks = harness.queued_bodies()
    assert [(chunk["OfflinePushTask"]["version"], chunk["OfflinePushTask"]["kind"]) for chunk in chunks] == [
        (1, "chunk")
    ] * 9
    assert sorted(user for chunk in chunks for user in chunk["Job"]["To_Account"]) == users[500:]
    assert {json.dumps({k: v for k, v in chunk["Job"].items() if k != "To_Account"}) for chunk in chunks} == {
        json.dumps({k: v for k, v in group_job(users).items() if k != "To_Account"})
    }

    # When the chunk tasks are taken from the queue
    dispatcher = harness.app.dispatcher()
    tables = (dispatcher.deliveries.client, dispatcher.registrations.client)
    with counting_calls(*tables) as dynamodb:
        batches = harness.drain(remaining_ms=REMAINING_MS)

    # Then every device got the message exactly once
    assert [batch.failed for batch in batches] == [[]]
    received = Counter(notification["deviceToken"] for notification in harness.received())
    assert received == Counter(token for user in users for token in tokens[user])
    assert harness.sandbox.state.duplicates() == {}

    # ... and the chunks' DynamoDB requests per 1,000 receivers: the registrations (100 per read), one claim
    # per unit of 500, and one completion marker per run (the drain's runs took the nine chunks in one batch)
    per_1000 = len(dynamodb) * 1000 / 4500
    assert Counter(dynamodb) == {"BatchGetItem": 45, "PutItem": 9 + 1}
    assert per_1000 <= 15


def test_10000_notifications_through_apns_faults_end_delivered_once_or_recorded(
    harness: DispatchHarness, caplog: pytest.LogCaptureFixture
) -> None:
    # Given 10,000 receivers, one of whose devices APNs answers 503 every time, and 50 others it answers 503
    # long enough to outlast the APNs client's own retries (3 attempts) once
    harness.upload_certificate()
    users = [f"member-{index:05d}" for index in range(10_000)]
    tokens = harness.register(users)
    doomed_user = users[4321]
    [doomed] = tokens[doomed_user]
    state = harness.sandbox.state
    state.add_fault(Fault(FaultKind.STATUS, status=503, count=1000, token=doomed))
    for user in users[100:10_000:200]:
        state.add_fault(Fault(FaultKind.STATUS, status=500, count=3, token=tokens[user][0]))

    # ... and APNs in trouble: 5xx bursts and 429s, dropped connections (resets: what was in flight is lost)
    # and GOAWAYs
    state.add_fault(Fault(FaultKind.STATUS, status=503, count=1500, skip=300))
    state.add_fault(Fault(FaultKind.STATUS, status=429, count=800, skip=3000))
    state.add_fault(Fault(FaultKind.RESET, count=1, skip=2500))
    state.add_fault(Fault(FaultKind.GOAWAY, count=1, skip=4500))
    state.add_fault(Fault(FaultKind.STATUS, status=500, count=1200, skip=6000))
    state.add_fault(Fault(FaultKind.RESET, count=1, skip=8000))
    state.add_fault(Fault(FaultKind.GOAWAY, count=1, skip=9000))

    # When the job, its chunks and every retry task are processed
    harness.enqueue(group_job(users))
    with caplog.at_level(logging.INFO):
        batches = harness.drain(remaining_ms=REMAINING_MS)

    # Then the faults happened, and nothing was left for SQS to redeliver
    stats = state.stats()
    assert (stats["resets"], stats["goaways"]) == (2, 2)
    assert [fault.token for fault in state.faults] == [doomed]  # every other fault was used up
    assert stats["responses"]["429 TooManyRequests"] == 800
    assert all(batch.failed == [] for batch in batches)

    # ... every other notification was accepted exactly once, under its own apns-id
    expected = {
        DeliveryKey(SDK_APP_ID, MSG_KEY, user, token).apns_id
        for user in users
        for token in tokens[user]
        if token != doomed
    }
    assert state.duplicates() == {}
    assert set(state.accepted_ids) == expected
    assert len(state.accepted) == 9999

    # ... the runs' outcomes add up: 9,999 delivered (50 of them by retry tasks), 1 failed for good
    outcomes: Counter[str] = Counter()
    for record in caplog.records:
        if record.getMessage() == "push batch dispatched":
            outcomes.update(record.__dict__["outcomes"])
    assert outcomes["Delivered"] == 9999
    assert outcomes["NotDelivered:RetriesExhausted"] == 1
    assert outcomes["RetryScheduled:InternalServerError"] == 50

    # ... and the one that never got through is recorded as failed with its reason
    _, view = harness.deliveries(SDK_APP_ID, doomed_user)
    assert [(d["outcome"], d["reason"], d["attempts"]) for d in view["deliveries"]] == [
        ("failed", "RetriesExhausted", 5)
    ]
