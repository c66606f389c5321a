"""Fixtures of the dispatch tests: moto with template.yaml's resources, the APNs sandbox on its own thread,
the dispatch and deliveries functions built fresh (as on a cold start) for each test, and a dispatcher as the
function builds it on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.dispatch.app import DispatchSettings, build_dispatcher
from local.apns_sandbox import ApnsSandbox
from local.provision import Provisioned
from offline_push.apns import run_in_warm_loop
from offline_push.logic.dispatch import Dispatcher
from tests.support.certificates import pki
from tests.support.dispatch import DispatchHarness, ThreadedSandbox, apns_environment, fresh_modules
from tests.support.dispatch_control import Clock

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def apns() -> Iterator[ApnsSandbox]:
    threaded = ThreadedSandbox()
    yield threaded.start()
    threaded.stop()


@pytest.fixture
def harness(
    aws: Provisioned, apns: ApnsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DispatchHarness]:
    ca_bundle = pki().write_ca(tmp_path / "ca.pem")
    for name, value in apns_environment(apns, ca_bundle).items():
        monkeypatch.setenv(name, value)
    modules = fresh_modules()
    dispatch, deliveries = next(modules)
    yield DispatchHarness(aws, apns, dispatch, deliveries)
    next(modules, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(harness: DispatchHarness, clock: Clock) -> Iterator[Dispatcher]:
    """A dispatcher as the function builds it (from the harness's environment), on ``clock``."""
    built = build_dispatcher(DispatchSettings.from_environ(), clock=clock)
    yield built
    run_in_warm_loop(built.apns.close())
