"""Push dispatch: the push queue's consumer (SQS trigger, ReportBatchItemFailures).

Each invocation takes a batch of jobs (and the dispatcher's own chunk and retry tasks), formats, sends over
APNs and records the outcomes (offline_push.logic.dispatch); it answers with the messages to leave on the
queue. Invalid jobs are moved to the dead-letter queue by the dispatcher itself, with their reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from offline_push.api.dispatch import batch_response, publish_metrics, queue_records
from offline_push.apns import ApnsClientPool, ApnsSettings
from offline_push.dal.app_store import AppSettingsStore
from offline_push.dal.credentials import CredentialLoader
from offline_push.dal.delivery_store import DeliveryStore
from offline_push.dal.provider_token_store import ProviderTokenStore
from offline_push.dal.push_queue import MAX_DELAY_SECONDS, PushQueue
from offline_push.dal.registration_store import RegistrationStore
from offline_push.logic.apps import AppDirectory
from offline_push.logic.dispatch import Dispatcher, DispatchPolicy, NoUserAuthKeys
from offline_push.settings import EnvSettings
from offline_push.tracing import function_tracer

logger = Logger()
metrics = Metrics()
tracer = function_tracer()


class DispatchSettings(EnvSettings):
    deliveries_table: str
    registrations_table: str
    apps_table: str
    push_queue_url: str
    push_dead_letter_queue_url: str
    delivery_record_days: float = Field(default=7.0, gt=0)
    dispatch_chunk_size: int = Field(default=500, ge=1, le=10_000)
    dispatch_max_attempts: int = Field(default=5, ge=1, le=20)
    dispatch_retry_base_seconds: float = Field(default=5.0, ge=0)
    dispatch_retry_max_seconds: float = Field(default=MAX_DELAY_SECONDS, ge=0, le=MAX_DELAY_SECONDS)
    dispatch_lease_margin_seconds: float = Field(default=30.0, ge=0)
    dispatch_send_reserve_seconds: float = Field(default=5.0, ge=0)
    # Parallel single-item DynamoDB writes (claims, outcomes) per instance: they hide DynamoDB's latency.
    dispatch_write_concurrency: int = Field(default=32, ge=1, le=128)
    # Percent of delivered pushes given a delivery-status log line (failures always get one).
    delivery_success_sample_rate: float = Field(default=100.0, ge=0, le=100)

    def policy(self) -> DispatchPolicy:
        return DispatchPolicy(
            chunk_size=self.dispatch_chunk_size,
            max_attempts=self.dispatch_max_attempts,
            retry_base_seconds=self.dispatch_retry_base_seconds,
            retry_max_seconds=self.dispatch_retry_max_seconds,
            lease_margin_seconds=self.dispatch_lease_margin_seconds,
            send_reserve_seconds=self.dispatch_send_reserve_seconds,
            success_sample_rate=self.delivery_success_sample_rate,
        )


def build_dispatcher(settings: DispatchSettings, *, clock: Callable[[], float] = time.time) -> Dispatcher:
    apns_settings = ApnsSettings.from_environ()
    token_store = None
    if apns_settings.provider_tokens_table and apns_settings.kms_key_id:
        token_store = ProviderTokenStore(apns_settings.provider_tokens_table, apns_settings.kms_key_id)
    return Dispatcher(
        registrations=RegistrationStore(settings.registrations_table),
        credentials=CredentialLoader.from_environ(),
        languages=AppDirectory(AppSettingsStore(settings.apps_table), NoUserAuthKeys()),
        deliveries=DeliveryStore(
            settings.deliveries_table,
            record_seconds=int(settings.delivery_record_days * 86400),
            workers=settings.dispatch_write_concurrency,
        ),
        queue=PushQueue(settings.push_queue_url, settings.push_dead_letter_queue_url),
        apns=ApnsClientPool(apns_settings, token_store=token_store),
        policy=settings.policy(),
        clock=clock,
    )


@cache
def dispatcher() -> Dispatcher:
    """Built once per container: the APNs connections and loaded credentials serve every warm invocation."""
    return build_dispatcher(DispatchSettings.from_environ())


# The event is never logged: jobs carry message text and device tokens travel in retry tasks.
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000
    report = dispatcher().dispatch(queue_records(event), remaining_seconds=remaining)
    publish_metrics(report, metrics)
    return batch_response(report)
