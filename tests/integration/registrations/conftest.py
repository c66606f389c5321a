"""The registration and app-settings functions on moto with template.yaml's resources, fresh per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.apps import app as apps_function
from functions.registrations import app as registrations_function
from local.provision import Provisioned
from offline_push.dal.registration_store import RegistrationStore
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import UserRegistrations
from tests.support.api_calls import Answer, call
from tests.support.certificate_records import store_certificate_metadata
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SigningKey, hmac_key

# Every function's cold start publishes no metric for some routes (a 401 has nothing to count): not a defect.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _new_containers() -> Iterator[None]:
    """Each test is a cold start: no cached clients, settings or keys from a previous moto world."""
    registrations_function.components.cache_clear()
    apps_function.administration.cache_clear()
    apps_function.catalog.cache_clear()
    yield
    registrations_function.components.cache_clear()
    apps_function.administration.cache_clear()
    apps_function.catalog.cache_clear()


@dataclass
class Stack:
    """The deployed pieces a test talks to: the two functions, and the tables and secrets behind them."""

    aws: Provisioned

    @property
    def registrations_table(self) -> str:
        return self.aws.environment["REGISTRATIONS_TABLE"]

    def store(self) -> RegistrationStore:
        return RegistrationStore(self.registrations_table)

    def configure_app(
        self, sdk_app_id: int = SAMPLE_SDK_APP_ID, key: SigningKey | None = None, **settings: Any
    ) -> Answer:
        body: dict[str, Any] = dict(settings)
        if key is not None:
            body["userAuth"] = key.user_auth
        answer = self.admin("PUT", f"/v1/apps/{sdk_app_id}/settings", json_body=body)
        assert answer.status == 200, answer.body
        return answer

    def certificate(
        self,
        business_id: int,
        environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION,
        sdk_app_id: int = SAMPLE_SDK_APP_ID,
        push_kinds: tuple[str, ...] | None = None,
    ) -> None:
        store_certificate_metadata(
            self.aws.environment["CERTIFICATES_TABLE"],
            sdk_app_id,
            business_id,
            environment=environment,
            push_kinds=push_kinds,
        )

    def app_call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return call(registrations_function.lambda_handler, method, path, **kwargs)

    def admin(self, method: str, path: str, *, admin: bool = True, **kwargs: Any) -> Answer:
        return call(apps_function.lambda_handler, method, path, admin=admin, **kwargs)

    def registrations(self, user_id: str, sdk_app_id: int = SAMPLE_SDK_APP_ID) -> UserRegistrations:
        return self.store().get(sdk_app_id, user_id)

    def stored_state(self) -> dict[str, Any]:
        """Everything the functions can write, to prove a refused request wrote nothing."""
        dynamodb = boto3.client("dynamodb")
        secrets = boto3.client("secretsmanager")
        tables = {
            name: sorted(
                (str(item) for item in dynamodb.scan(TableName=self.aws.environment[name])["Items"]),
            )
            for name in ("REGISTRATIONS_TABLE", "APPS_TABLE")
        }
        secret_versions = {
            entry["Name"]: sorted(entry.get("SecretVersionsToStages", {}))
            for entry in secrets.list_secrets()["SecretList"]
        }
        return {"tables": tables, "secrets": secret_versions}


@pytest.fixture
def stack(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Sample app 1400000001 configured with an HS256 key (kick policy single), certificate 1 (production)
    and certificate 2 (development); the functions' clocks fixed at NOW."""
    monkeypatch.setattr(registrations_function.components().registrations, "clock", lambda: NOW)
    monkeypatch.setattr(apps_function.administration(), "clock", lambda: NOW)
    world = Stack(aws)
    world.configure_app(key=hmac_key())
    world.certificate(1, ApnsEnvironment.PRODUCTION)
    world.certificate(2, ApnsEnvironment.DEVELOPMENT)
    return world
