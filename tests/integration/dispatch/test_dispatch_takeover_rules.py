"""Stage 3's rules for a notification claimed on its own (README "Dispatch"): the IM backend resending a
MsgKey to more receivers claims each new receiver's notification with a record of its own, listed in the
receiver's deliveries. That record, met again, goes by its run: finished -> a duplicate; leased until after
now -> held; lease ended (exactly now included) -> taken over as the next attempt, with the badge it was given
or, when the message was counted but its badge not kept, the counter as it is (not counted again). A take-over
another run makes first counts as held; a claim or read DynamoDB fails leaves the message on the queue and
sends nothing. Moto for AWS, the APNs sandbox over a real TLS socket; another run's take-over goes through
the store."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.dal.delivery_store import DeliveryStore
from offline_push.logic.dispatch import Dispatcher
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import Delivery, DeliveryKey, TakeOver
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.dispatch_control import (
    NOW,
    Clock,
    Crash,
    always,
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
FIRST = job_dict(GROUP, To_Account=["vinson"])
RESENT = job_dict(GROUP, To_Account=["vinson", "mum"])


def on_delivery_item(params: dict[str, Any]) -> bool:
    key = params["Key"] if "Key" in params else params["Item"]
    return str(key["pk"]["S"]).startswith("m#")


def first_job_delivered(harness: DispatchHarness) -> dict[str, str]:
    """vinson, mum and dad registered, and the message delivered to vinson (by another container); their
    tokens."""
    harness.upload_certificate()
    tokens = {user: token for user in ("vinson", "mum", "dad") for token in harness.register(user)[user]}
    harness.enqueue(FIRST)
    [batch] = harness.drain()
    assert (batch.failed, len(harness.received(tokens["vinson"]))) == ([], 1)
    return tokens


def crashed_before_sending(dispatcher: Dispatcher, job: dict[str, Any]) -> None:
    """A run that claimed ``job``'s notifications (and counted their badges) and died before sending."""
    s3 = dispatcher.credentials.repository.files.s3  # type: ignore[attr-defined]
    before(s3, "GetObject", raise_(Crash()), always)
    with pytest.raises(Crash):
        dispatcher.dispatch([record("resent-1", job)], remaining_seconds=REMAINING)


def delivered_view(token: str, user: str, *, at: float, attempts: int, badge: int | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "msgKey": MSG_KEY,
        "outcome": "delivered",
        "at": iso(at),
        "device": f"{token[:8]}…(32B)",
        "businessId": 1,
        "environment": "development",
        "apnsId": DeliveryKey(SDK_APP_ID, MSG_KEY, user, token).apns_id,
        "attempts": attempts,
    }
    if badge is not None:
        view["badge"] = badge
    return view


def test_a_resend_claims_the_new_receivers_notification_on_its_own_and_its_redelivery_is_a_duplicate(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a message delivered to vinson
    tokens = first_job_delivered(harness)

    # When the IM backend resends its MsgKey to vinson and mum
    resent = dispatcher.dispatch([record("resent-1", RESENT)], remaining_seconds=REMAINING)

    # Then mum gets it and vinson's, served by the first job, is counted as a duplicate; mum's notification,
    # claimed on its own, is listed in her deliveries
    assert (resent.summary(), resent.failed_message_ids) == ({"Delivered": 1, "Duplicate": 1}, [])
    assert [len(harness.received(tokens[user])) for user in ("vinson", "mum")] == [1, 1]
    status, view = harness.deliveries(SDK_APP_ID, "mum")
    assert (status, view["deliveries"]) == (
        HTTPStatus.OK,
        [delivered_view(tokens["mum"], "mum", at=NOW, attempts=1, badge=None)],
    )

    # When SQS delivers the resend again to another run
    clock.now += 1
    again = dispatcher.dispatch([record("resent-2", RESENT)], remaining_seconds=REMAINING)

    # Then both are duplicates (mum's by her record, whose run finished) and nothing is sent
    assert (again.summary(), again.failed_message_ids) == ({"Duplicate": 2}, [])
    assert [len(harness.received(tokens[user])) for user in ("vinson", "mum")] == [1, 1]


def test_a_new_receivers_claim_dynamodb_refuses_leaves_the_resend_on_the_queue(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a message delivered to vinson, and DynamoDB failing the next claim of a notification
    tokens = first_job_delivered(harness)
    client = dispatcher.deliveries.client  # type: ignore[attr-defined]
    before(client, "PutItem", raise_(down("PutItem")), on_delivery_item)

    # When the IM backend resends its MsgKey to vinson and mum
    report = dispatcher.dispatch([record("resent-1", RESENT)], remaining_seconds=REMAINING)

    # Then mum gets nothing now and the resend stays on the queue; vinson's is a duplicate
    assert (report.summary(), report.failed_message_ids) == ({"Duplicate": 1}, ["resent-1"])
    assert harness.received(tokens["mum"]) == []


def test_new_receivers_claims_are_held_until_their_lease_ends_then_taken_over_as_attempt_2_counted_once(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a resend to vinson, mum and dad whose run claimed mum's and dad's notifications, counted their
    # badges (1 each) and died
    tokens = first_job_delivered(harness)
    family = job_dict(GROUP, To_Account=["vinson", "mum", "dad"])
    crashed_before_sending(dispatcher, family)
    assert ([harness.received(tokens[user]) for user in ("mum", "dad")], harness.badge_of("mum")) == (
        [[], []],
        1,
    )

    # When the resend comes back one second before that run's lease ends
    clock.now = LEASE - 1
    held = dispatcher.dispatch([record("resent-2", family)], remaining_seconds=REMAINING)

    # Then both notifications are held by that run (it may be alive): nothing is sent
    assert (held.summary(), held.failed_message_ids) == ({"Duplicate": 1, "HeldByAnotherRun": 2}, [])
    assert [harness.received(tokens[user]) for user in ("mum", "dad")] == [[], []]

    # When it comes back at the second the lease ends
    clock.now = LEASE
    taken = dispatcher.dispatch([record("resent-3", family)], remaining_seconds=REMAINING)

    # Then the claims are taken over and each gets it once, as attempt 2, showing the badge already counted
    # (the counter is not counted again)
    assert (taken.summary(), taken.failed_message_ids) == (
        {"Delivered": 2, "Duplicate": 1, "TakenOver": 2},
        [],
    )
    for user in ("mum", "dad"):
        assert [n["payload"]["aps"].get("badge") for n in harness.received(tokens[user])] == [1]
        assert harness.badge_of(user) == 1
        status, view = harness.deliveries(SDK_APP_ID, user)
        assert (status, view["deliveries"]) == (
            HTTPStatus.OK,
            [delivered_view(tokens[user], user, at=NOW, attempts=2, badge=1)],
        )


def test_a_taken_over_notification_of_a_message_that_leaves_the_badge_alone_shows_none(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a resend that leaves the badge alone (BadgeMode 1), whose run claimed mum's notification and died
    tokens = first_job_delivered(harness)
    quiet = job_dict(RESENT, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})
    crashed_before_sending(dispatcher, quiet)

    # When it comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("resent-2", quiet)], remaining_seconds=REMAINING)

    # Then mum's is taken over and sent without a badge, her counter untouched and her record without one
    assert report.summary() == {"Delivered": 1, "Duplicate": 1, "TakenOver": 1}
    assert [n["payload"]["aps"] for n in harness.received(tokens["mum"])] == [
        {"alert": {"body": "Dad(Family):hello"}, "sound": "default", "thread-id": GROUP["GroupId"]}
    ]
    assert harness.badge_of("mum") == 0
    status, view = harness.deliveries(SDK_APP_ID, "mum")
    assert (status, view["deliveries"]) == (
        HTTPStatus.OK,
        [delivered_view(tokens["mum"], "mum", at=NOW, attempts=2, badge=None)],
    )


def test_a_retry_the_queue_refused_is_taken_over_by_the_resend_with_the_badge_it_was_given(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a resend whose run sent mum's notification (badge 1), had a retryable answer from APNs, and
    # could not queue the retry: her record is retrying, leased until now
    tokens = first_job_delivered(harness)
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=tokens["mum"]))
    queue = dispatcher.queue.client  # type: ignore[attr-defined]
    for _ in range(2):  # the queue client tries a refused batch twice
        before(queue, "SendMessageBatch", raise_(down("SendMessageBatch")), always)
    first = dispatcher.dispatch([record("resent-1", RESENT)], remaining_seconds=REMAINING)
    assert (first.failed_message_ids, harness.badge_of("mum")) == (["resent-1"], 1)

    # When the resend comes back
    clock.now += 1
    second = dispatcher.dispatch([record("resent-1", RESENT)], remaining_seconds=REMAINING)

    # Then mum's is taken over and delivered as attempt 2 with the badge it was given, not counted again
    assert (second.summary(), second.failed_message_ids) == (
        {"Delivered": 1, "Duplicate": 1, "TakenOver": 1},
        [],
    )
    assert [n["payload"]["aps"].get("badge") for n in harness.received(tokens["mum"])] == [1]
    assert harness.badge_of("mum") == 1
    status, view = harness.deliveries(SDK_APP_ID, "mum")
    assert (status, view["deliveries"]) == (
        HTTPStatus.OK,
        [delivered_view(tokens["mum"], "mum", at=NOW, attempts=2, badge=1)],
    )


def test_a_take_over_another_run_makes_first_counts_as_held_and_sends_nothing(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a resend whose run claimed mum's notification and died
    tokens = first_job_delivered(harness)
    crashed_before_sending(dispatcher, RESENT)

    # ... and another run that takes mum's notification over just before this one does
    rival = DeliveryStore(
        harness.aws.environment["DELIVERIES_TABLE"], record_seconds=86_400, client=harness.dynamodb
    )
    mum = Delivery(
        DeliveryKey(SDK_APP_ID, MSG_KEY, "mum", tokens["mum"]),
        business_id=1,
        environment=ApnsEnvironment.DEVELOPMENT,
        registered_at=dt.datetime(2026, 9, 21, tzinfo=dt.UTC),
        attempt=2,
    )

    def take_it_first(params: dict[str, Any]) -> None:
        seen = str(params["ExpressionAttributeValues"][":seen"]["S"])
        takeover = TakeOver(mum, "rival", LEASE + 120, int(clock.now * 1000), indexed=True, seen_run=seen)
        assert [repr(result) for result in rival.take_over([takeover])] == ["CLAIMED"]

    before(dispatcher.deliveries.client, "UpdateItem", take_it_first, on_delivery_item)  # type: ignore[attr-defined]

    # When the resend comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("resent-2", RESENT)], remaining_seconds=REMAINING)

    # Then mum's is held by the run that took it: this one sends nothing and the message is done
    assert (report.summary(), report.failed_message_ids) == ({"Duplicate": 1, "HeldByAnotherRun": 1}, [])
    assert harness.received(tokens["mum"]) == []


@pytest.mark.parametrize(
    ("operation", "when"),
    [
        pytest.param("BatchGetItem", reads_run_markers, id="run-markers-unreadable"),
        pytest.param("UpdateItem", on_delivery_item, id="take-over-refused"),
    ],
)
def test_a_storage_error_while_taking_a_notification_over_leaves_the_resend_on_the_queue(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock, operation: str, when: Any
) -> None:
    # Given a resend whose run claimed mum's notification and died, and DynamoDB failing the next read of run
    # markers or take-over of a notification
    tokens = first_job_delivered(harness)
    crashed_before_sending(dispatcher, RESENT)
    before(dispatcher.deliveries.client, operation, raise_(down(operation)), when)  # type: ignore[attr-defined]

    # When the resend comes back after the lease
    clock.now = LEASE + 1
    report = dispatcher.dispatch([record("resent-2", RESENT)], remaining_seconds=REMAINING)

    # Then mum gets nothing now and the resend stays on the queue (vinson's is a duplicate)
    assert (report.summary(), report.failed_message_ids) == ({"Duplicate": 1}, ["resent-2"])
    assert harness.received(tokens["mum"]) == []
