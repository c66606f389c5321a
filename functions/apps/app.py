"""App settings (admin, IAM-authorized): kick policy, placeholder language, the key of the app's user tokens.

GET /v1/apps                       every app the stack knows (settings saved or certificates uploaded)
PUT /v1/apps/{sdkAppId}/settings   {kickPolicy?, placeholderLanguage?, userAuth?}: create or replace
GET /v1/apps/{sdkAppId}/settings   the settings, never the key
"""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from offline_push.api.auth import require_iam_caller
from offline_push.api.http import create_resolver, json_response
from offline_push.api.json_body import parse_json_body
from offline_push.dal.app_store import AppSettingsStore
from offline_push.dal.certificate_store import CertificateStore
from offline_push.dal.user_auth_key_store import UserAuthKeyStore
from offline_push.logic.apps import AppAdministration, list_apps
from offline_push.models.app import parse_sdk_app_id
from offline_push.settings import EnvSettings
from offline_push.tracing import function_tracer

logger = Logger()
metrics = Metrics()
tracer = function_tracer()

# The caller is checked before the body (which may hold a secret) is parsed: validation happens in the routes.
app = create_resolver(enable_validation=False)

SETTINGS = "/v1/apps/<sdk_app_id>/settings"


class AppsSettings(EnvSettings):
    apps_table: str
    certificates_table: str
    app_secrets_prefix: str
    kms_key_id: str


@cache
def administration() -> AppAdministration:
    settings = AppsSettings.from_environ()
    return AppAdministration(
        AppSettingsStore(settings.apps_table),
        UserAuthKeyStore(settings.app_secrets_prefix, kms_key_id=settings.kms_key_id),
    )


@cache
def catalog() -> tuple[AppSettingsStore, CertificateStore]:
    settings = AppsSettings.from_environ()
    return AppSettingsStore(settings.apps_table), CertificateStore(settings.certificates_table)


@app.get("/v1/apps")
def get_apps() -> Response[str]:
    require_iam_caller(app.current_event.raw_event)
    return json_response(HTTPStatus.OK, {"apps": list_apps(*catalog())})


@app.put(SETTINGS)
def put_settings(sdk_app_id: str) -> Response[str]:
    caller = require_iam_caller(app.current_event.raw_event)
    app_id = parse_sdk_app_id(sdk_app_id)
    # The request's models are built by the PUT that reads them, not by every cold start of the function.
    from offline_push.api.apps import AppSettingsRequest  # noqa: PLC0415

    request = parse_json_body(AppSettingsRequest, app.current_event)
    settings = administration().configure(
        app_id,
        kick_policy=request.kick_policy,
        placeholder_language=request.placeholder_language,
        user_auth=request.user_auth.key() if request.user_auth else None,
    )
    logger.info(
        "app settings saved",
        extra={"caller": caller, "sdkAppId": app_id, "userAuthChanged": request.user_auth is not None},
    )
    return json_response(HTTPStatus.OK, settings.public_view())


@app.get(SETTINGS)
def get_settings(sdk_app_id: str) -> Response[str]:
    caller = require_iam_caller(app.current_event.raw_event)
    app_id = parse_sdk_app_id(sdk_app_id)
    # The audit trail of admin reads: who read which app's settings (the IAM principal, never a credential).
    logger.info("app settings read", extra={"caller": caller, "sdkAppId": app_id})
    return json_response(HTTPStatus.OK, administration().describe(app_id).public_view())


# The event is never logged: a PUT carries the app's secret.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
