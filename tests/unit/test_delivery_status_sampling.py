"""The success sample of delivery-status lines: a fixed share of apns-ids, the same ones every time."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from offline_push.logic.dispatch.delivery_status import sampled

APNS_IDS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"push-{index}")) for index in range(20_000)]


def test_the_rate_is_the_share_of_notifications_logged() -> None:
    shares = {
        rate: sum(sampled(apns_id, rate) for apns_id in APNS_IDS) / len(APNS_IDS) for rate in (0, 10, 50, 100)
    }
    assert shares[0] == 0.0
    assert shares[100] == 1.0
    assert abs(shares[10] - 0.10) < 0.01
    assert abs(shares[50] - 0.50) < 0.015


@given(st.uuids(), st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_a_notification_sampled_at_one_rate_is_sampled_at_every_higher_rate(
    apns_id: uuid.UUID, first: float, second: float
) -> None:
    low, high = sorted((first, second))
    assert not sampled(str(apns_id), low) or sampled(str(apns_id), high)
