"""Clients kept per (credential, environment) across warm invocations, and the sandbox as its own process
(started with ``python -m local.apns_sandbox``, driven through its JSON control endpoint)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from local.apns_sandbox import ControlError, SandboxProcess, start_sandbox_process
from local.apple_pki import ApplePki
from offline_push.apns import ApnsClientPool, ApnsSettings, Delivered, Failed, run_in_warm_loop
from offline_push.models.credential import ApnsEnvironment
from tests.support.apns import (
    KEY_ID,
    TEAM_ID,
    TOPIC,
    certificate_credential,
    new_device_token,
    new_signing_key,
    public_pem,
    push,
    token_credential,
)


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    with start_sandbox_process(tmp_path_factory.mktemp("apns-sandbox")) as process:
        yield process


@pytest.fixture
def process_settings(sandbox_process: SandboxProcess) -> ApnsSettings:
    return ApnsSettings(
        apns_production_url=sandbox_process.production_url,
        apns_sandbox_url=sandbox_process.development_url,
        apns_extra_ca_bundle=str(sandbox_process.ca_path),
        apns_backoff_base=0.01,
    )


def _live(sandbox_process: SandboxProcess, count: int, environment: str = "development") -> list[str]:
    tokens = [new_device_token() for _ in range(count)]
    sandbox_process.control.register_devices(
        [{"token": token, "topic": TOPIC, "environment": environment} for token in tokens]
    )
    return tokens


def test_the_pool_keeps_one_client_per_credential_and_environment(process_settings: ApnsSettings) -> None:
    # Given a pool and credentials: the same certificate twice, a rotated one, and two token credentials
    # (two apps) signed by one key
    pki = ApplePki()
    pool = ApnsClientPool(process_settings)
    certificate = certificate_credential(pki, cache_key="1400000001:1:v1")
    same = certificate_credential(pki, cache_key="1400000001:1:v1")
    rotated = certificate_credential(pki, cache_key="1400000001:1:v2")
    key = new_signing_key()
    app_one = token_credential(key, cache_key="1400000001:2:v1")
    app_two = token_credential(key, topic="com.example.other", cache_key="1400000001:3:v1")

    # When clients are asked for
    clients = [pool.client_for(credential) for credential in (certificate, same, rotated, app_one, app_two)]

    # Then the same credential and environment share a client, a rotation gets a new one, and one signing key
    # has one token source whatever app uses it
    assert clients[0] is clients[1]
    assert clients[2] is not clients[0]
    assert clients[3].token_source is clients[4].token_source
    assert len(pool) == 4


def test_a_pool_without_cache_keys_refuses_to_guess(process_settings: ApnsSettings) -> None:
    pool = ApnsClientPool(process_settings)
    with pytest.raises(ValueError, match="cache_key"):
        pool.client_for(dataclasses.replace(certificate_credential(ApplePki()), cache_key=""))


def test_warm_invocations_reuse_the_connection(
    sandbox_process: SandboxProcess, process_settings: ApnsSettings
) -> None:
    # Given a pool kept at module level by a Lambda instance, and the sandbox's CA issuing the certificate
    credential = certificate_credential(sandbox_process.pki(), cache_key=f"warm:{uuid.uuid4()}")
    pool = ApnsClientPool(process_settings)
    first, second = _live(sandbox_process, 2)

    async def invocation(token: str) -> Delivered | Failed | object:
        return await pool.client_for(credential).send_one(push(token))

    # When two invocations run on the instance's warm event loop
    outcomes = [run_in_warm_loop(invocation(first)), run_in_warm_loop(invocation(second))]

    # Then both are delivered over the one connection opened by the first
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert pool.client_for(credential).stats.connections_opened == 1
    run_in_warm_loop(pool.close())


# The connection of a closed loop cannot be closed any more (its transport needs its loop): the garbage
# collector closes the socket, with a ResourceWarning. run_in_warm_loop is the way to avoid both.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_new_event_loop_per_invocation_still_works_by_reconnecting(
    sandbox_process: SandboxProcess, process_settings: ApnsSettings
) -> None:
    # Given a handler that (wrongly, but commonly) calls asyncio.run per invocation
    credential = certificate_credential(sandbox_process.pki(), cache_key=f"cold:{uuid.uuid4()}")
    pool = ApnsClientPool(process_settings)
    first, second = _live(sandbox_process, 2)

    async def invocation(token: str) -> object:
        return await pool.client_for(credential).send_one(push(token))

    # When two invocations each run on a fresh loop
    outcomes = [asyncio.run(invocation(first)), asyncio.run(invocation(second))]

    # Then both are delivered: the connection of the dead loop is dropped and a new one opened
    assert all(isinstance(outcome, Delivered) for outcome in outcomes)
    assert pool.client_for(credential).stats.connections_opened == 2
    asyncio.run(pool.close())
    gc.collect()


def test_the_sandbox_process_serves_both_environments_and_reports_through_its_control_endpoint(
    sandbox_process: SandboxProcess, process_settings: ApnsSettings
) -> None:
    # Given a production device, a token key registered over the control endpoint, and a production client
    control = sandbox_process.control
    [token] = _live(sandbox_process, 1, environment="production")
    key = new_signing_key()
    control.register_key(KEY_ID, TEAM_ID, public_pem(key).decode())
    pool = ApnsClientPool(process_settings)
    production = token_credential(key, environment=ApnsEnvironment.PRODUCTION, cache_key=f"p:{uuid.uuid4()}")
    development = token_credential(
        key, environment=ApnsEnvironment.DEVELOPMENT, cache_key=f"d:{uuid.uuid4()}"
    )
    to_production, to_development = push(token), push(token)

    # When the same token is pushed through the production and the development hosts
    async def both() -> list[object]:
        return [
            await pool.client_for(production).send_one(to_production),
            await pool.client_for(development).send_one(to_development),
        ]

    outcomes = run_in_warm_loop(both())
    run_in_warm_loop(pool.close())

    # Then production delivers, development refuses the production token, and the record (read from another
    # process) holds the one accepted notification
    assert isinstance(outcomes[0], Delivered)
    assert outcomes[1] == Failed(to_development.apns_id, token, HTTPStatus.BAD_REQUEST, "BadDeviceToken")
    [accepted] = control.notifications(token=token)
    assert (accepted["apnsId"], accepted["environment"], accepted["auth"]) == (
        to_production.apns_id,
        "production",
        "token",
    )


def test_faults_set_over_the_control_endpoint_apply_to_the_next_requests(
    sandbox_process: SandboxProcess, process_settings: ApnsSettings
) -> None:
    # Given a 503 for the next request to one device, set from another process
    credential = certificate_credential(sandbox_process.pki(), cache_key=f"f:{uuid.uuid4()}")
    [token] = _live(sandbox_process, 1)
    assert sandbox_process.control.add_faults([{"kind": "status", "status": 503, "token": token}]) == 1
    pool = ApnsClientPool(process_settings)
    request = push(token)

    # When a notification is sent to it
    outcome = run_in_warm_loop(pool.client_for(credential).send_one(request))
    run_in_warm_loop(pool.close())

    # Then the retry delivers it, and the stats tell the story
    assert isinstance(outcome, Delivered)
    assert outcome.attempts == 2
    stats = sandbox_process.control.stats()
    assert stats["responses"]["503 ServiceUnavailable"] >= 1
    assert stats["pendingFaults"] == 0
    assert len(sandbox_process.control.notifications(apns_id=request.apns_id)) == 1


def test_the_control_endpoint_answers_bad_input_with_a_4xx_naming_it(sandbox_process: SandboxProcess) -> None:
    with pytest.raises(ControlError, match=r"400 .*KeyError.*devices"):
        sandbox_process.control.call("POST", "/devices", {"device": []})
    with pytest.raises(ControlError, match=r"404 .*no control endpoint GET /nothing"):
        sandbox_process.control.call("GET", "/nothing")


def test_the_ca_saved_by_the_sandbox_process_loads_as_the_same_ca(sandbox_process: SandboxProcess) -> None:
    loaded = ApplePki.load(sandbox_process.state_dir)
    assert loaded.ca_pem() == Path(sandbox_process.ca_path).read_bytes()
