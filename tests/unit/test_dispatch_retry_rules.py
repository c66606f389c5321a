"""Retry rules (README "Dispatch", stage 6): the delay before each attempt to the second, and retry tasks
halved until each fits an SQS message, every delivery in exactly one of them, with what it needs."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from offline_push.apns import Retryable
from offline_push.logic.dispatch import DispatchPolicy, retry_delay
from offline_push.logic.dispatch.stage6_outcomes import _retry_bodies
from offline_push.logic.dispatch.work import Item, QueueRecord, Work
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import Delivery, DeliveryKey
from offline_push.models.task import MAX_TASK_BYTES, encoded_size, parse_queue_message
from tests.support.jobs import GROUP


class MidpointRandom(random.Random):
    """Jitter drawn at the middle of its range: the delay's formula, to the second."""

    def random(self) -> float:
        return 0.5


@pytest.mark.parametrize(
    ("base", "attempt", "delay"),
    [
        (5.0, 1, 4),  # ceiling 5: 2.5 + 1.25 -> 3.75
        (5.0, 2, 8),  # ceiling 10: 5 + 2.5
        (5.0, 3, 15),  # ceiling 20: 10 + 5
        (5.0, 0, 4),  # an attempt below 1 counts as the first
        (1.0, 1, 1),  # ceiling 1: 0.5 + 0.25
        (5.0, 20, 675),  # capped at SQS's 900 s: 450 + 225
        (0.0, 3, 0),
        (-1.0, 3, 0),  # no base: at once
    ],
)
def test_the_delay_is_half_the_doubled_base_plus_up_to_as_much_again(
    base: float, attempt: int, delay: int
) -> None:
    policy = DispatchPolicy(retry_base_seconds=base)

    assert retry_delay(policy, attempt, MidpointRandom()) == delay


def test_the_jitter_spans_the_whole_upper_half() -> None:
    class Highest(random.Random):
        def random(self) -> float:
            return 1.0

    assert retry_delay(DispatchPolicy(retry_base_seconds=5.0), 3, Highest()) == 20


def test_retry_tasks_too_large_for_sqs_are_halved_with_each_delivery_once() -> None:
    # Given 20 deliveries to retry whose receiver ids are 10,000 characters long (400 KB in one task:
    # each id is in the job and in its delivery)
    body = json.dumps(GROUP)
    work = Work(QueueRecord("m", body), parse_queue_message(body))
    group = []
    for index in range(20):
        user = f"{index:02d}" + "u" * 9_998
        token = f"{index:064x}"
        delivery = Delivery(
            key=DeliveryKey(1400000001, "m-1", user, token),
            business_id=2,
            environment=ApnsEnvironment.PRODUCTION,
            registered_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            badge=index,
            attempt=2,
        )
        item = Item(work, delivery, unit="j#" if index % 2 else None)
        group.append((item, Retryable(delivery.key.apns_id, token, 503, "ServiceUnavailable")))

    # When the retry tasks are written
    tasks = _retry_bodies(work, "run-1", group)

    # Then two tasks of 10 (first half first), each within SQS's limit, each holding its own deliveries
    assert [len(members) for _, members in tasks] == [10, 10]
    assert [pair for _, members in tasks for pair in members] == group
    for task, members in tasks:
        assert encoded_size(task) <= MAX_TASK_BYTES
        decoded = json.loads(task)
        assert decoded["OfflinePushTask"] == {"version": 1, "kind": "retry", "run": "run-1"}
        assert decoded["Deliveries"] == [
            {
                "userId": item.key.user_id,
                "token": item.key.token,
                "businessId": 2,
                "badge": item.delivery.badge,
                "attempts": 2,
                "reason": "ServiceUnavailable",
                **({"unit": "j#"} if item.unit else {}),
            }
            for item, _ in members
        ]
