"""Fixtures of the certificate integration tests: the function's handler on moto with template.yaml's
resources, and direct access to what it stores."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from local.provision import Provisioned
from offline_push.logic.certificates import CertificateService
from tests.support.certificates import CertificateApi, StoredState, stored_state


@dataclass(frozen=True)
class Storage:
    bucket: str
    table: str
    dynamodb: Any
    s3: Any
    kms: Any

    def state(self) -> StoredState:
        return stored_state(self.bucket, self.table, s3=self.s3, dynamodb=self.dynamodb)


@pytest.fixture
def app() -> ModuleType:
    """The function's module, imported once the test environment is set (as Lambda imports it: with the
    function's environment variables already in place)."""
    return importlib.import_module("functions.certificates.app")


@pytest.fixture
def service(aws: Provisioned, app: ModuleType) -> Iterator[CertificateService]:
    """The function's service, built fresh (as on a cold start) against this test's moto."""
    app.certificates.cache_clear()
    yield app.certificates()
    app.certificates.cache_clear()


@pytest.fixture
def api(service: CertificateService, app: ModuleType) -> CertificateApi:
    return CertificateApi(app.lambda_handler)


@pytest.fixture
def storage(aws: Provisioned, service: CertificateService) -> Storage:
    repository = service.repository
    return Storage(
        bucket=aws.environment["CERTIFICATE_BUCKET"],
        table=aws.environment["CERTIFICATES_TABLE"],
        dynamodb=repository.store.client,
        s3=repository.files.s3,
        kms=repository.files.kms,
    )


LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines(app: ModuleType) -> Iterator[LogLines]:
    """The function's log lines (JSON, as CloudWatch gets them), from every logger of the service."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(app.logger.registered_formatter)
    service_logger = logging.getLogger(app.logger.name)
    service_logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        service_logger.removeHandler(handler)
