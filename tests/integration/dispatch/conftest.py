"""Fixtures of the dispatch tests: moto with template.yaml's resources, the APNs sandbox on its own thread,
and the dispatch and deliveries functions built fresh (as on a cold start) for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local.apns_sandbox import ApnsSandbox
from local.provision import Provisioned
from tests.support.certificates import pki
from tests.support.dispatch import DispatchHarness, ThreadedSandbox, apns_environment, fresh_modules

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
