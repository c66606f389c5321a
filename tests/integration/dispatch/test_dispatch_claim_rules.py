"""Stage 3's rules for a unit of work claimed before (README "Dispatch"): a unit whose run finished counts
each of its notifications as a duplicate; one whose run may be alive (its lease ends after now) is held; a
lease ending exactly now is over and the unit is taken over, as is a finished unit whose run left retries it
could not queue; a take-over another run makes first counts as held; a storage error leaves the message on the
queue and sends nothing; a notification sent again after a take-over is attempt 2, with the badge it had.
Moto for AWS, the APNs sandbox over a real TLS socket; another run's take-over goes through the store."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.dal.delivery_store import DeliveryStore
from offline_push.logic.dispatch import Dispatcher
from offline_push.models.delivery import DeliveryKey, UnitTakeOver
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.dispatch_control import (
    NOW,
    Clock,
    Crash,
    before,
    down,
    iso,
    raise_,
    reads_run_markers,
    record,
)
from tests.support.jobs import GROUP, MSG_KEY, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# A run with 30 s left leases its claims until now + 30 s + the 30 s margin.
REMAINING = 30
LEASE = int(NOW) + 60


def reads_deliveries(params: dict[str, Any]) -> bool:
    [request] = params["RequestItems"].values()
    return all(str(key["pk"]["S"]).startswith("m#") for key in request["Keys"])


def updates_the_job_unit(params: dict[str, Any]) -> bool:
    return str(params["Key"]["sk"]["S"]) == "j#"


def quiet_group(users: list[str]) -> dict[str, Any]:
    """A group message that leaves the badge alone (BadgeMode 1)."""
    return job_dict(GROUP, To_Account=users, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})


def crashed_before_sending(harness: DispatchHarness, dispatcher: Dispatcher, job: dict[str, Any]) -> None:
    """A run that claimed ``job``'s unit (and counted its badges) and died before sending anything."""

    s3 = dispatcher.credentials.repository.files.s3  # type: ignore[attr-defined]
    event = "provide-client-params.s3.GetObject"

    def hook(params: dict[str, Any], **_: Any) -> None:
        s3.meta.events.unregister(event, unique_id="crash")
        raise Crash

    s3.meta.events.register(event, hook, unique_id="crash")
    with pytest.raises(Crash):
        dispatcher.dispatch([record("first", job)], remaining_seconds=REMAINING)
    assert harness.received() == []


def test_a_job_whose_unit_finished_is_counted_as_duplicates_and_sends_nothing(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a group message to vinson and mum that one run delivered
    harness.upload_certificate()
    harness.register(["vinson", "mum"])
    job = quiet_group(["vinson", "mum"])
    assert dispatcher.dispatch([record("m-1", job)], remaining_seconds=REMAINING).summary() == {
        "Delivered": 2
    }

    # When SQS delivers the job again to another run
    clock.now += 1
    report = dispatcher.dispatch([record("m-2", job)], remaining_seconds=REMAINING)

    # Then both notifications are counted as duplicates, nothing is sent and the message is done
    assert (report.summary(), report.failed_message_ids, len(harness.received())) == ({"Duplicate": 2}, [], 2)


def test_a_unit_is_held_until_its_lease_ends_and_taken_over_when_it_ends_exactly_now(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that claimed the unit of a message to vinson and mum (lease: now + 60 s) and died
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    job = quiet_group(["vinson", "mum"])
    crashed_before_sending(harness, dispatcher, job)

    # When the job comes back one second before the lease ends
    clock.now = LEASE - 1
    held = dispatcher.dispatch([record("m-2", job)], remaining_seconds=REMAINING)

    # Then the unit is held by that run (it may be alive): nothing is sent, the message is done
    assert (held.summary(), held.failed_message_ids, harness.received()) == ({"HeldByAnotherRun": 2}, [], [])

    # When it comes back at the second the lease ends
    clock.now = LEASE
    taken = dispatcher.dispatch([record("m-3", job)], remaining_seconds=REMAINING)

    # Then the lease is over: the unit is taken over and each receiver gets the message once
    assert (taken.summary(), taken.failed_message_ids) == ({"Delivered": 2, "TakenOver": 2}, [])
    assert [len(harness.received(token)) for user in ("vinson", "mum") for token in tokens[user]] == [1, 1]


def test_a_finished_unit_that_left_a_retry_unqueued_is_taken_over_while_its_lease_holds(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that delivered vinson's notification, could not queue the retry of uncle's, and finished
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [uncle] = harness.register("uncle")["uncle"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=uncle))
    job = quiet_group(["vinson", "uncle"])
    queue = dispatcher.queue.client  # type: ignore[attr-defined]
    for _ in range(2):  # the queue client tries a refused batch twice
        before(queue, "SendMessageBatch", raise_(down("SendMessageBatch")), lambda params: True)
    first = dispatcher.dispatch([record("m-1", job)], remaining_seconds=REMAINING)
    assert first.failed_message_ids == ["m-1"]

    # When the job comes back a second later, long before the unit's lease ends
    clock.now += 1
    second = dispatcher.dispatch([record("m-1", job)], remaining_seconds=REMAINING)

    # Then the unit is taken over at once: uncle's notification is sent, vinson's counted as delivered
    assert (second.summary(), second.failed_message_ids) == (
        {"Delivered": 1, "Duplicate": 1, "TakenOver": 1},
        [],
    )
    assert [len(harness.received(token)) for token in (vinson, uncle)] == [1, 1]


def test_a_take_over_another_run_makes_first_counts_as_held_and_sends_nothing(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that claimed the unit of a message to vinson and mum and died
    harness.upload_certificate()
    harness.register(["vinson", "mum"])
    job = quiet_group(["vinson", "mum"])
    crashed_before_sending(harness, dispatcher, job)

    # ... and another run that takes the unit over just before this one does
    rival = DeliveryStore(
        harness.aws.environment["DELIVERIES_TABLE"], record_seconds=86_400, client=harness.dynamodb
    )

    def take_it_first(params: dict[str, Any]) -> None:
        seen = str(params["ExpressionAttributeValues"][":seen"]["S"])
        now_ms = int(clock.now * 1000)
        takeover = UnitTakeOver(SDK_APP_ID, MSG_KEY, "j#", "rival", LEASE + 120, now_ms, seen, 2)
        assert [repr(result) for result in rival.take_over_units([takeover])] == ["CLAIMED"]

    before(dispatcher.deliveries.client, "UpdateItem", take_it_first, updates_the_job_unit)  # type: ignore[attr-defined]

    # When the job comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("m-2", job)], remaining_seconds=REMAINING)

    # Then both notifications are held by the run that took the unit: this one sends nothing
    assert (report.summary(), report.failed_message_ids, harness.received()) == (
        {"HeldByAnotherRun": 2},
        [],
        [],
    )


@pytest.mark.parametrize(
    ("operation", "when"),
    [
        pytest.param("BatchGetItem", reads_run_markers, id="run-markers-unreadable"),
        pytest.param("UpdateItem", updates_the_job_unit, id="take-over-refused"),
        pytest.param("BatchGetItem", reads_deliveries, id="delivery-records-unreadable"),
    ],
)
def test_a_storage_error_while_taking_a_unit_over_leaves_the_message_on_the_queue(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock, operation: str, when: Any
) -> None:
    # Given a run that claimed the unit of a message to vinson and mum and died, and DynamoDB failing the
    # next read of run markers, take-over of the unit, or read of delivery records
    harness.upload_certificate()
    harness.register(["vinson", "mum"])
    job = quiet_group(["vinson", "mum"])
    crashed_before_sending(harness, dispatcher, job)
    before(dispatcher.deliveries.client, operation, raise_(down(operation)), when)  # type: ignore[attr-defined]

    # When the job comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("m-2", job)], remaining_seconds=REMAINING)

    # Then nothing is sent or counted, and the message stays on the queue to be taken over later
    assert (report.summary(), report.failed_message_ids, harness.received()) == ({}, ["m-2"], [])


def test_a_taken_over_notification_is_attempt_2_with_the_badge_it_had(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that claimed the unit of a message that leaves the badge alone, to vinson and mum, and
    # died; vinson's device now refused by APNs for good
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [mum] = harness.register("mum")["mum"]
    job = quiet_group(["vinson", "mum"])
    crashed_before_sending(harness, dispatcher, job)
    harness.sandbox.state.add_fault(
        Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=vinson)
    )

    # When the job comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("m-2", job)], remaining_seconds=REMAINING)

    # Then both are sent again as the second attempt, without a badge: mum's delivered, vinson's failure
    # recorded as attempt 2
    assert report.summary() == {"Delivered": 1, "NotDelivered:TopicDisallowed": 1, "TakenOver": 2}
    assert [n["payload"]["aps"] for n in harness.received(mum)] == [
        {"alert": {"body": "Dad(Family):hello"}, "sound": "default", "thread-id": GROUP["GroupId"]}
    ]
    status, view = harness.deliveries(SDK_APP_ID, "vinson")
    assert (status, view["deliveries"]) == (
        HTTPStatus.OK,
        [
            {
                "msgKey": MSG_KEY,
                "outcome": "failed",
                "at": iso(LEASE + 1),
                "device": f"{vinson[:8]}…(32B)",
                "businessId": 1,
                "environment": "development",
                "apnsId": DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", vinson).apns_id,
                "attempts": 2,
                "reason": "TopicDisallowed",
                "status": 400,
                "cause": "certificate 1 may not push to com.example.chat",
            }
        ],
    )
