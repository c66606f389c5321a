"""What a registration does to the user's other devices: the kick policy, as a pure function."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.logic.registrations import MAX_DEVICES_PER_USER, DevicePlan, plan_devices
from offline_push.models.app import KickPolicy
from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.registration import DeviceRegistration

T0 = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def device(token: str, minutes: int = 0, business_id: int = 1) -> DeviceRegistration:
    return DeviceRegistration(
        token=token * 32,
        business_id=business_id,
        environment=ApnsEnvironment.PRODUCTION,
        registered_at=T0 + dt.timedelta(minutes=minutes),
    )


def test_single_replaces_every_other_device() -> None:
    phone, tablet, new = device("aa", 1), device("bb", 2), device("cc", 3)

    assert plan_devices([phone, tablet], new, KickPolicy.SINGLE) == DevicePlan(
        devices=(new,), dropped=(tablet, phone)
    )


def test_single_re_registration_of_the_same_device_kicks_nobody() -> None:
    phone = device("aa", 1)
    again = device("aa", 5, business_id=2)

    assert plan_devices([phone], again, KickPolicy.SINGLE) == DevicePlan(devices=(again,), dropped=())


def test_multi_adds_the_device_newest_first() -> None:
    phone, tablet, new = device("aa", 1), device("bb", 2), device("cc", 3)

    assert plan_devices([phone, tablet], new, KickPolicy.MULTI) == DevicePlan(
        devices=(new, tablet, phone), dropped=()
    )


def test_multi_re_registration_refreshes_the_device_in_place() -> None:
    phone, tablet = device("aa", 1), device("bb", 2)
    again = device("aa", 5)

    assert plan_devices([phone, tablet], again, KickPolicy.MULTI) == DevicePlan(
        devices=(again, tablet), dropped=()
    )


def test_multi_drops_the_oldest_devices_beyond_the_cap() -> None:
    old = [device(f"{n:02x}", n) for n in range(MAX_DEVICES_PER_USER)]
    new = device("ff", 100)

    plan = plan_devices(old, new, KickPolicy.MULTI)

    assert plan == DevicePlan(devices=(new, *reversed(old[1:])), dropped=(old[0],))


tokens = st.sampled_from([f"{n:02x}" for n in range(24)])
devices = st.builds(device, tokens, st.integers(0, 10_000), st.integers(1, 3))


@settings(max_examples=200)
@given(
    current=st.lists(devices, max_size=15, unique_by=lambda d: d.token),
    new=devices,
    policy=st.sampled_from(KickPolicy),
)
def test_a_plan_keeps_the_new_device_first_and_loses_nothing_else_silently(
    current: list[DeviceRegistration], new: DeviceRegistration, policy: KickPolicy
) -> None:
    plan = plan_devices(current, new, policy)

    assert plan.devices[0] == new
    assert len({d.token for d in plan.devices}) == len(plan.devices) <= MAX_DEVICES_PER_USER
    # Every other device is either kept or reported dropped (so its token can be released), never both
    others = {d.token for d in current} - {new.token}
    kept = {d.token for d in plan.devices[1:]}
    dropped = {d.token for d in plan.dropped}
    assert kept | dropped == others
    assert not kept & dropped
    if policy is KickPolicy.SINGLE:
        assert kept == set()


def _voip(token: str, minutes: int = 0) -> DeviceRegistration:
    return device(token, minutes).model_copy(update={"push_kind": PushKind.VOIP})


def test_the_policy_applies_among_registrations_of_one_push_kind() -> None:
    # Given a phone's APNs token and PushKit token, and an older tablet's PushKit token
    phone, phone_voip, tablet_voip = device("aa", 3), _voip("bb", 2), _voip("cc", 1)
    new_voip = _voip("dd", 4)

    # When a new PushKit token is registered with the single policy
    plan = plan_devices([phone, phone_voip, tablet_voip], new_voip, KickPolicy.SINGLE)

    # Then it replaces the PushKit tokens only
    assert plan == DevicePlan(devices=(new_voip, phone), dropped=(phone_voip, tablet_voip))


def test_the_device_cap_counts_registrations_of_one_push_kind() -> None:
    # Given a user at the cap of PushKit tokens, and one APNs token
    voips = [_voip(f"{index:02x}", index) for index in range(MAX_DEVICES_PER_USER)]
    phone = device("ff", 100)
    new_voip = _voip("ee", 200)

    # When one more PushKit token is registered with the multi policy
    plan = plan_devices([*voips, phone], new_voip, KickPolicy.MULTI)

    # Then the oldest PushKit token goes; the APNs token stays
    assert plan == DevicePlan(devices=(new_voip, phone, *reversed(voips[1:])), dropped=(voips[0],))
