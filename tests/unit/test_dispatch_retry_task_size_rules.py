"""Retry tasks fit an SQS message (README "Dispatch", stage 6): a task of exactly ``MAX_TASK_BYTES`` is queued
whole, one byte more and it is halved; a task of one delivery is never split further, however large."""

from __future__ import annotations

import datetime as dt
import json

from offline_push.apns import Retryable
from offline_push.logic.dispatch.stage6_outcomes import _retry_bodies
from offline_push.logic.dispatch.work import Item, QueueRecord, Work
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import Delivery, DeliveryKey
from offline_push.models.task import MAX_TASK_BYTES, encoded_size, parse_queue_message
from tests.support.jobs import GROUP, SDK_APP_ID

Pair = tuple[Item, Retryable]


def work() -> Work:
    body = json.dumps(GROUP)
    return Work(QueueRecord("m", body), parse_queue_message(body))


def retry(owner: Work, user: str, badge: int) -> Pair:
    """One delivery to retry: ``user``'s device, with ``badge`` (its digits are in the task, once)."""
    token = f"{len(user):064x}"
    delivery = Delivery(
        key=DeliveryKey(SDK_APP_ID, "m-1", user, token),
        business_id=2,
        environment=ApnsEnvironment.PRODUCTION,
        registered_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        badge=badge,
        attempt=2,
    )
    return Item(owner, delivery), Retryable(delivery.key.apns_id, token, 503, "ServiceUnavailable")


def two_deliveries_of(size: int) -> list[Pair]:
    """Two deliveries whose retry task is ``size`` bytes: a receiver id (in the job and in its delivery: two
    bytes per character) sized to within one byte, the last byte by a badge of one digit more."""
    owner = work()
    short = [retry(owner, "mum", 1), retry(owner, "v", 1)]
    base = encoded_size(_retry_bodies(owner, "run-1", short)[0][0])
    padding, odd = divmod(size - base, 2)
    return [retry(owner, "mum", 1), retry(owner, "v" * (1 + padding), 10 if odd else 1)]


def test_a_task_of_exactly_the_limit_is_queued_whole() -> None:
    # Given two deliveries whose retry task is exactly MAX_TASK_BYTES
    group = two_deliveries_of(MAX_TASK_BYTES)

    # When the retry tasks are written
    tasks = _retry_bodies(group[0][0].work, "run-1", group)

    # Then one task holds both
    assert [encoded_size(body) for body, _ in tasks] == [MAX_TASK_BYTES]
    assert [members for _, members in tasks] == [group]


def test_a_task_one_byte_over_the_limit_is_halved() -> None:
    # Given two deliveries whose retry task would be MAX_TASK_BYTES + 1
    group = two_deliveries_of(MAX_TASK_BYTES + 1)

    # When the retry tasks are written
    tasks = _retry_bodies(group[0][0].work, "run-1", group)

    # Then each delivery has a task of its own, the first first
    assert [members for _, members in tasks] == [[group[0]], [group[1]]]
    assert [json.loads(body)["Deliveries"][0]["userId"] for body, _ in tasks] == [
        "mum",
        group[1][0].key.user_id,
    ]


def test_a_task_of_one_delivery_over_the_limit_is_not_split() -> None:
    # Given one delivery whose receiver id alone makes its retry task larger than MAX_TASK_BYTES
    owner = work()
    group = [retry(owner, "v" * MAX_TASK_BYTES, 1)]

    # When the retry tasks are written
    tasks = _retry_bodies(owner, "run-1", group)

    # Then it stays one task (the queue refuses it, and the message's redelivery retries it)
    assert [members for _, members in tasks] == [group]
    assert encoded_size(tasks[0][0]) > MAX_TASK_BYTES
