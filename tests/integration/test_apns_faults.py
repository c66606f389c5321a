"""The client under APNs' failure modes, injected by the sandbox: retries, reconnects, limits, deadlines.

The invariant checked throughout: every notification gets exactly one outcome, and the sandbox's record
(which counts every accepted apns-id) shows no duplicates unless a response was lost after acceptance.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from pathlib import Path

import pytest

from local.apns_sandbox import ApnsSandbox, Fault, FaultKind
from local.apple_pki import ApplePki
from offline_push.apns import ApnsClient, ApnsReason, ApnsSettings, Delivered, Retryable
from tests.support.apns import certificate_credential, live_devices, push, sandbox_settings


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (HTTPStatus.INTERNAL_SERVER_ERROR, "InternalServerError"),
        (HTTPStatus.SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        (HTTPStatus.TOO_MANY_REQUESTS, "TooManyRequests"),
    ],
)
async def test_a_short_burst_of_retryable_errors_is_retried_until_delivered_once(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki, status: HTTPStatus, reason: str
) -> None:
    # Given a device whose next two requests APNs answers with a retryable error
    [token] = live_devices(sandbox, 1)
    sandbox.state.add_fault(Fault(FaultKind.STATUS, count=2, status=status, token=token))
    client = ApnsClient(certificate_credential(pki), apns_settings)
    request = push(token)

    # When it is sent with the default three attempts
    outcome = await client.send_one(request)

    # Then the third attempt delivers it, and APNs accepted it once
    assert outcome == Delivered(
        request.apns_id, token, 3, outcome.apns_unique_id if isinstance(outcome, Delivered) else None
    )
    assert sandbox.state.accepted_ids[request.apns_id] == 1
    assert sandbox.state.responses[f"{status.value} {reason}"] == 2
    await client.close()


async def test_errors_outlasting_the_attempts_leave_the_notification_retryable_with_apples_reason(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given APNs answering 503 to everything for a while, and a batch of five
    tokens = live_devices(sandbox, 5)
    sandbox.state.add_fault(Fault(FaultKind.STATUS, count=100, status=503))
    client = ApnsClient(certificate_credential(pki), apns_settings)
    requests = [push(token) for token in tokens]

    # When the batch is sent
    outcomes = await client.send(requests)

    # Then nothing raises: each notification is Retryable with the last answer, after three attempts
    assert outcomes == [
        Retryable(request.apns_id, request.device_token, 503, "ServiceUnavailable", 3) for request in requests
    ]
    assert sandbox.state.accepted == []
    await client.close()


async def test_a_connection_reset_mid_batch_is_survived_and_nothing_is_sent_twice(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given 200 devices and a connection that is reset when the 60th request arrives
    tokens = live_devices(sandbox, 200)
    sandbox.state.add_fault(Fault(FaultKind.RESET, skip=59))
    client = ApnsClient(certificate_credential(pki), apns_settings)
    requests = [push(token) for token in tokens]

    # When they are sent 20 at a time
    outcomes = await client.send(requests, max_in_flight=20)

    # Then all are delivered over a second connection, each accepted exactly once
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert client.stats.connections_opened == 2
    assert sandbox.state.resets == 1
    assert len(sandbox.state.accepted) == 200
    assert sandbox.state.duplicates() == {}
    await client.close()


async def test_goaway_mid_batch_moves_the_unprocessed_requests_to_a_new_connection(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a server that says GOAWAY (Shutdown) when the 31st request arrives
    tokens = live_devices(sandbox, 120)
    sandbox.state.add_fault(Fault(FaultKind.GOAWAY, skip=30))
    client = ApnsClient(certificate_credential(pki), apns_settings)
    requests = [push(token) for token in tokens]

    # When the batch is sent
    outcomes = await client.send(requests, max_in_flight=40)

    # Then every notification is delivered once, the ones GOAWAY excluded on the next connection
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert max(outcome.attempts for outcome in outcomes) == 2
    assert client.stats.connections_opened == 2
    assert sandbox.state.goaways == 1
    assert len(sandbox.state.accepted) == 120
    assert sandbox.state.duplicates() == {}
    await client.close()


async def test_a_dropped_idle_connection_is_replaced_on_the_next_send(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given a client whose connection the network dropped between two invocations
    first, second = live_devices(sandbox, 2)
    client = ApnsClient(certificate_credential(pki), apns_settings)
    assert isinstance(await client.send_one(push(first)), Delivered)
    assert sandbox.drop_connections() == 1
    await asyncio.sleep(0.05)

    # When the next notification is sent
    outcome = await client.send_one(push(second))

    # Then it goes out on a new connection at the first attempt
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 1
    assert client.stats.connections_opened == 2
    await client.close()


async def test_the_servers_stream_limit_is_never_exceeded(
    sandbox: ApnsSandbox, pki: ApplePki, ca_bundle: Path
) -> None:
    # Given a server allowing 4 concurrent streams whose answers take a moment
    sandbox.state.max_concurrent_streams = 4
    tokens = live_devices(sandbox, 40)
    sandbox.state.add_fault(Fault(FaultKind.SLOW, count=40, delay=0.02))
    client = ApnsClient(certificate_credential(pki), sandbox_settings(sandbox, ca_bundle))

    # When 40 notifications are sent with 40 allowed in flight
    outcomes = await client.send([push(token) for token in tokens], max_in_flight=40)

    # Then all are delivered at the first attempt and the server never saw more than 4 open at once
    assert [outcome.attempts for outcome in outcomes if isinstance(outcome, Delivered)] == [1] * 40
    assert sandbox.state.peak_streams == 4
    await client.close()


async def test_a_slow_answer_within_the_read_timeout_is_waited_for(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given an answer that takes 0.3 s (the read timeout is 2 s)
    [token] = live_devices(sandbox, 1)
    sandbox.state.add_fault(Fault(FaultKind.SLOW, delay=0.3))
    client = ApnsClient(certificate_credential(pki), apns_settings)

    # When it is sent
    outcome = await client.send_one(push(token))

    # Then it is delivered at the first attempt
    assert isinstance(outcome, Delivered)
    assert (outcome.attempts, outcome.elapsed >= 0.3) == (1, True)
    await client.close()


async def test_an_answer_slower_than_the_read_timeout_is_retried_and_the_duplicate_is_visible(
    sandbox: ApnsSandbox, pki: ApplePki, ca_bundle: Path
) -> None:
    # Given APNs accepting a notification but answering only after the client's read timeout
    [token] = live_devices(sandbox, 1)
    sandbox.state.add_fault(Fault(FaultKind.SLOW, delay=0.6, token=token))
    client = ApnsClient(
        certificate_credential(pki), sandbox_settings(sandbox, ca_bundle, apns_read_timeout=0.2)
    )
    request = push(token)

    # When it is sent
    outcome = await client.send_one(request)

    # Then the retry delivers it; the record shows the same apns-id twice, which a device de-duplicates
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 2
    assert sandbox.state.duplicates() == {request.apns_id: 2}
    await client.close()


async def test_a_hung_connection_is_detected_by_ping_and_replaced(
    sandbox: ApnsSandbox, pki: ApplePki, ca_bundle: Path
) -> None:
    # Given a connection that goes silent (no answers, no PING acks, no close) after the first notification
    first, second = live_devices(sandbox, 2)
    settings = sandbox_settings(sandbox, ca_bundle, apns_read_timeout=0.3, apns_connect_timeout=0.3)
    client = ApnsClient(certificate_credential(pki), settings)
    assert isinstance(await client.send_one(push(first)), Delivered)
    sandbox.state.add_fault(Fault(FaultKind.HANG))

    # When the next notification is sent
    outcome = await client.send_one(push(second))

    # Then it times out once, the dead connection is dropped, and a new one delivers it
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 2
    assert client.stats.connections_opened == 2
    await client.close()


async def test_an_idle_connection_is_pinged_before_reuse_and_a_dead_one_replaced_quickly(
    sandbox: ApnsSandbox, pki: ApplePki, ca_bundle: Path
) -> None:
    # Given a connection idle longer than the ping threshold whose peer has silently died
    first, second = live_devices(sandbox, 2)
    settings = sandbox_settings(
        sandbox, ca_bundle, apns_idle_ping_after=0.05, apns_connect_timeout=0.2, apns_read_timeout=5.0
    )
    client = ApnsClient(certificate_credential(pki), settings)
    assert isinstance(await client.send_one(push(first)), Delivered)
    sandbox.state.add_fault(Fault(FaultKind.HANG))
    await asyncio.sleep(0.1)

    # When the next notification is sent
    outcome = await client.send_one(push(second))

    # Then the unanswered PING (0.2 s) condemns the connection long before the 5 s read timeout would
    assert isinstance(outcome, Delivered)
    assert outcome.elapsed < 2.0
    assert client.stats.connections_opened == 2
    await client.close()


async def test_an_unreachable_apns_leaves_every_notification_retryable_without_raising(
    pki: ApplePki, ca_bundle: Path
) -> None:
    # Given a sandbox that has stopped listening
    async with ApnsSandbox(pki) as stopped:
        settings = sandbox_settings(stopped, ca_bundle)
    client = ApnsClient(certificate_credential(pki), settings)
    requests = [push("ab" * 32), push("cd" * 32)]

    # When a batch is sent
    outcomes = await client.send(requests)

    # Then each notification is Retryable(ConnectionFailed) after the connection attempts
    assert outcomes == [
        Retryable(request.apns_id, request.device_token, None, ApnsReason.CONNECTION_FAILED, 3)
        for request in requests
    ]


async def test_the_batch_deadline_answers_for_what_is_still_pending(
    sandbox: ApnsSandbox, apns_settings: ApnsSettings, pki: ApplePki
) -> None:
    # Given one device whose answer takes a second and one that answers at once
    slow, fast = live_devices(sandbox, 2)
    sandbox.state.add_fault(Fault(FaultKind.SLOW, delay=1.0, token=slow))
    client = ApnsClient(certificate_credential(pki), apns_settings)
    requests = [push(slow), push(fast)]

    # When the batch may take only 0.3 s (the invocation's remaining time)
    outcomes = await client.send(requests, timeout=0.3)

    # Then the fast one is delivered and the slow one is Retryable(DeadlineExceeded), without waiting for it
    assert isinstance(outcomes[1], Delivered)
    assert outcomes[0] == Retryable(requests[0].apns_id, slow, None, ApnsReason.DEADLINE_EXCEEDED, 1)
    await client.close()
