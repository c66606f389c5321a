"""One holder per device token, however registrations interleave: users registering the same token at the
same moment, on threads against moto (each AWS request atomic, as DynamoDB serves it), with random pauses
between requests so that every order of their steps comes up."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from functions.registrations import app as registrations_function
from offline_push.dal.registration_store import RegistrationStore
from offline_push.logic.registrations import Registrations, UserRef
from offline_push.models.app import KickPolicy
from tests.support.certificates import one_request_at_a_time
from tests.support.user_tokens import SAMPLE_SDK_APP_ID

from .conftest import Stack

TRIALS = 60


def _jitter(client: Any, rng: random.Random) -> Callable[[], None]:
    """Pause 0-3 ms before each request of ``client``; returns the function that stops it."""

    def pause(**_: Any) -> None:
        time.sleep(rng.random() * 0.003)

    client.meta.events.register("before-call", pause, unique_id="jitter")
    return lambda: client.meta.events.unregister("before-call", unique_id="jitter")


def _registrations(stack: Stack) -> tuple[Registrations, RegistrationStore]:
    # The function's own components, with a real clock (a fixed clock would give both users the same time).
    components = registrations_function.components()
    store = components.registrations.store
    assert isinstance(store, RegistrationStore)
    return Registrations(
        store,
        components.registrations.certificates,
        components.apps,
        clock=lambda: dt.datetime.now(dt.UTC),
    ), store


def _holders(stack: Stack, token: str, users: list[str]) -> list[str]:
    return [user for user in users if stack.registrations(user).device(token) is not None]


@pytest.mark.parametrize(("users", "policy"), [(2, KickPolicy.SINGLE), (3, KickPolicy.MULTI)])
def test_concurrent_registrations_of_one_token_leave_exactly_one_holder(
    stack: Stack, users: int, policy: KickPolicy
) -> None:
    # Given the app's kick policy and the registration logic on one store shared by the threads
    stack.configure_app(kickPolicy=policy.value)
    registrations, store = _registrations(stack)
    rng = random.Random(12)  # noqa: S311 - timing jitter, not a secret
    stop_jitter = _jitter(store.client, rng)
    names = [f"user-{index}" for index in range(users)]
    outcomes: list[tuple[list[str], str | None]] = []
    errors: list[BaseException] = []
    try:
        with one_request_at_a_time(store.client, boto3.client("dynamodb")):
            for trial in range(TRIALS):
                token = f"{trial:04x}" * 16
                barrier = threading.Barrier(users)

                def register(user: str, token: str = token, barrier: threading.Barrier = barrier) -> None:
                    barrier.wait()
                    try:
                        registrations.register(UserRef(SAMPLE_SDK_APP_ID, user), 1, token)
                    except BaseException as exc:
                        errors.append(exc)

                # When the users register the same token at the same moment
                threads = [threading.Thread(target=register, args=(user,)) for user in names]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(30)
                outcomes.append((_holders(stack, token, names), store.token_holder(SAMPLE_SDK_APP_ID, token)))
    finally:
        stop_jitter()

    # Then every registration succeeded, and in every trial exactly one user has the device, the one the
    # token is recorded for
    assert errors == []
    assert [len(holders) for holders, _ in outcomes] == [1] * TRIALS
    assert all(holders == [recorded] for holders, recorded in outcomes)
    # and the race was real: each user won some trials
    assert {holders[0] for holders, _ in outcomes} == set(names)


def test_a_holder_registering_again_while_another_user_takes_the_token_leaves_one_holder(
    stack: Stack,
) -> None:
    # Given vinson holds a token and registers it again while denny registers it too, many times over
    registrations, store = _registrations(stack)
    stop_jitter = _jitter(store.client, random.Random(7))  # noqa: S311 - timing jitter
    outcomes = []
    errors: list[BaseException] = []

    def register(user: str, token: str) -> None:
        try:
            registrations.register(UserRef(SAMPLE_SDK_APP_ID, user), 1, token)
        except BaseException as exc:
            errors.append(exc)

    try:
        with one_request_at_a_time(store.client):
            for trial in range(30):
                token = f"{trial:04x}" * 16 + "ff"
                registrations.register(UserRef(SAMPLE_SDK_APP_ID, "vinson"), 1, token)
                threads = [
                    threading.Thread(target=register, args=(user, token)) for user in ("vinson", "denny")
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(30)
                outcomes.append(
                    (
                        _holders(stack, token, ["vinson", "denny"]),
                        store.token_holder(SAMPLE_SDK_APP_ID, token),
                    )
                )
    finally:
        stop_jitter()

    # Then each time exactly one of them has it, the one the token is recorded for
    assert errors == []
    assert [holders for holders, _ in outcomes] == [[recorded] for _, recorded in outcomes]
