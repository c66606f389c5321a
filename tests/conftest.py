"""Fixtures shared by every test: isolated AWS credentials, and moto with template.yaml's resources."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache

import boto3
import pytest
from moto import mock_aws

from local.provision import Provisioned, provision
from offline_push.apple_ca import TEST_CA_ENVIRONMENT_VARIABLE
from tests.support.certificates import test_ca_file

REGION = "us-east-1"

# Function modules create their Powertools Logger / Metrics at import, which for tests is collection time,
# before any fixture runs: set what Lambda sets before it imports a handler, so they are configured as there
# (a Metrics without namespace refuses to flush; loggers of another service name would not be captured).
os.environ["POWERTOOLS_SERVICE_NAME"] = "offline-push"
os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "OfflinePushTests"


@cache
def _session() -> boto3.Session:
    # One session for every test: botocore caches the service models it loads per session, and loading
    # them again for each test costs more than the test itself.
    return boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


# The APNs sandbox fixtures (sandbox, apns_settings, pki, ca_bundle), and the record of every AWS operation
# each function performs (for the privilege test, tests/integration/deploy/test_privileges.py).
pytest_plugins = ("tests.support.apns", "tests.support.aws_operations")


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real AWS account: fake credentials, a fixed region, no profile or endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OfflinePushTests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "offline-push")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    # The tests' push certificates come from their own Apple-like CA, trusted as the local stack trusts its.
    monkeypatch.setenv(TEST_CA_ENVIRONMENT_VARIABLE, str(test_ca_file()))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    """moto (in-process) with every table, bucket, key and queue of template.yaml, and the functions'
    environment variables set as CloudFormation would set them."""
    with mock_aws():
        provisioned = provision(_session())
        for name, value in provisioned.environment.items():
            monkeypatch.setenv(name, value)
        yield provisioned
