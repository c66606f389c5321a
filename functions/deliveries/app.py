"""Deliveries (admin, IAM-authorized, read-only): why a user got no push, and what became of a message.

GET /v1/apps/{sdkAppId}/users/{userId}/deliveries?limit=&cursor=   devices now + deliveries, newest first
GET /v1/apps/{sdkAppId}/messages/{msgKey}                          counts per outcome and reason
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from offline_push.api.auth import require_iam_caller
from offline_push.api.deliveries import (
    decode_cursor,
    encode_cursor,
    parse_limit,
    parse_msg_key,
    parse_user_id,
)
from offline_push.api.http import create_resolver, json_response
from offline_push.dal.certificate_store import CertificateStore
from offline_push.dal.delivery_store import DeliveryStore, user_partition
from offline_push.dal.registration_store import RegistrationStore
from offline_push.logic.deliveries import DeliveryReports
from offline_push.models.app import parse_sdk_app_id
from offline_push.settings import EnvSettings
from offline_push.tracing import function_tracer

logger = Logger()
tracer = function_tracer()

APP = "/v1/apps/<sdk_app_id>"

app = create_resolver(
    enable_validation=False, query_parameters={f"GET {APP}/users/<user_id>/deliveries": ("limit", "cursor")}
)


class DeliveriesSettings(EnvSettings):
    deliveries_table: str
    registrations_table: str
    certificates_table: str


@cache
def reports() -> DeliveryReports:
    settings = DeliveriesSettings.from_environ()
    return DeliveryReports(
        # Reads only: the retention matters to writers.
        DeliveryStore(settings.deliveries_table, record_seconds=0),
        RegistrationStore(settings.registrations_table),
        CertificateStore(settings.certificates_table),
    )


@app.get(f"{APP}/users/<user_id>/deliveries")
def user_deliveries(sdk_app_id: str, user_id: str) -> Response[str]:
    caller = require_iam_caller(app.current_event.raw_event)
    app_id = parse_sdk_app_id(sdk_app_id)
    user = parse_user_id(user_id)
    # The audit trail of admin reads: who read whose deliveries (the IAM principal, never a credential).
    logger.info("user deliveries read", extra={"caller": caller, "sdkAppId": app_id, "userId": user})
    limit = parse_limit(app.current_event.get_query_string_value("limit"))
    start = decode_cursor(
        app.current_event.get_query_string_value("cursor"), user_partition=user_partition(app_id, user)
    )
    view, last = reports().user_deliveries(app_id, user, limit=limit, start=start)
    view["nextCursor"] = encode_cursor(last)
    return json_response(HTTPStatus.OK, view)


@app.get(f"{APP}/messages/<msg_key>")
def message_summary(sdk_app_id: str, msg_key: str) -> Response[str]:
    caller = require_iam_caller(app.current_event.raw_event)
    app_id, key = parse_sdk_app_id(sdk_app_id), parse_msg_key(msg_key)
    logger.info("message summary read", extra={"caller": caller, "sdkAppId": app_id, "msgKey": key})
    summary = reports().message_summary(app_id, key)
    return json_response(HTTPStatus.OK, summary)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
