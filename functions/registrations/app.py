"""Device registration API, called by the iOS app: setAPNS, setVOIP, logout, badge; authenticated per user
by a JWT.

PUT    /v1/apps/{sdkAppId}/users/{userId}/apns    {businessId, token}: register this device (setAPNS)
PUT    /v1/apps/{sdkAppId}/users/{userId}/voip    {businessId, token}: its PushKit token (setVOIP)
DELETE /v1/apps/{sdkAppId}/users/{userId}/apns    logout of every device (APNs and PushKit tokens);
                                                  ?token=... logout of one token
PUT    /v1/apps/{sdkAppId}/users/{userId}/badge   {unread}: the app's unread count, base of the pushed badge
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from offline_push.api.http import create_resolver, json_response
from offline_push.api.json_body import parse_json_body
from offline_push.api.registrations import BadgeRequest, RegisterDeviceRequest
from offline_push.api.user_auth import add_bearer_challenge, require_user
from offline_push.dal.app_store import AppSettingsStore
from offline_push.dal.certificate_store import CertificateStore
from offline_push.dal.registration_store import RegistrationStore
from offline_push.dal.user_auth_key_store import UserAuthKeyStore
from offline_push.errors import Unauthorized
from offline_push.logic.apps import AppDirectory
from offline_push.logic.registrations import Registrations, UserRef
from offline_push.models.credential import PushKind
from offline_push.settings import EnvSettings
from offline_push.tracing import function_tracer

logger = Logger()
metrics = Metrics()
tracer = function_tracer()

# Powertools' validation runs before the route, and the caller must be authenticated before their body is
# looked at: bodies are parsed in the routes, after require_user.
USER = "/v1/apps/<sdk_app_id>/users/<user_id>"

app = create_resolver(enable_validation=False, query_parameters={f"DELETE {USER}/apns": ("token",)})


def _count_rejection(exc: Unauthorized) -> None:
    # A surge usually means an app server signing with a key the operator has not configured (or rotated).
    metrics.add_metric(name="UserTokenRejected", unit=MetricUnit.Count, value=1)


add_bearer_challenge(app, on_reject=_count_rejection)


class RegistrationsSettings(EnvSettings):
    registrations_table: str
    apps_table: str
    certificates_table: str
    app_secrets_prefix: str


@dataclass(frozen=True)
class Components:
    registrations: Registrations
    apps: AppDirectory


@cache
def components() -> Components:
    """Built once per container, on first use: configuration errors surface on the first request."""
    settings = RegistrationsSettings.from_environ()
    apps = AppDirectory(AppSettingsStore(settings.apps_table), UserAuthKeyStore(settings.app_secrets_prefix))
    registrations = Registrations(
        RegistrationStore(settings.registrations_table), CertificateStore(settings.certificates_table), apps
    )
    return Components(registrations=registrations, apps=apps)


def _user(sdk_app_id: str, user_id: str) -> UserRef:
    return require_user(app.current_event, sdk_app_id, user_id, components().apps.verification_key)


@app.put(f"{USER}/apns")
def register_device(sdk_app_id: str, user_id: str) -> Response[str]:
    return _register(sdk_app_id, user_id, PushKind.ALERT)


@app.put(f"{USER}/voip")
def register_voip_device(sdk_app_id: str, user_id: str) -> Response[str]:
    return _register(sdk_app_id, user_id, PushKind.VOIP)


def _register(sdk_app_id: str, user_id: str, kind: PushKind) -> Response[str]:
    user = _user(sdk_app_id, user_id)
    request = parse_json_body(RegisterDeviceRequest, app.current_event)
    outcome = components().registrations.register(user, request.business_id, request.token, kind)
    metrics.add_metric(
        name="VoipDeviceRegistered" if kind is PushKind.VOIP else "DeviceRegistered",
        unit=MetricUnit.Count,
        value=1,
    )
    if outcome.kicked:
        metrics.add_metric(name="DeviceKicked", unit=MetricUnit.Count, value=len(outcome.kicked))
    if outcome.taken_from:
        metrics.add_metric(name="DeviceChangedHands", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.OK, outcome.public_view())


@app.delete(f"{USER}/apns")
def unregister_devices(sdk_app_id: str, user_id: str) -> Response[str]:
    user = _user(sdk_app_id, user_id)
    token = app.current_event.get_query_string_value("token")
    if token is None:
        removed = components().registrations.unregister_all(user)
    else:
        removed = int(components().registrations.unregister(user, token))
    metrics.add_metric(name="DeviceUnregistered", unit=MetricUnit.Count, value=removed)
    return json_response(
        HTTPStatus.OK, {"sdkAppId": user.sdk_app_id, "userId": user.user_id, "removedDevices": removed}
    )


@app.put(f"{USER}/badge")
def set_badge(sdk_app_id: str, user_id: str) -> Response[str]:
    user = _user(sdk_app_id, user_id)
    request = parse_json_body(BadgeRequest, app.current_event)
    components().registrations.set_badge(user, request.unread)
    return json_response(
        HTTPStatus.OK, {"sdkAppId": user.sdk_app_id, "userId": user.user_id, "unread": request.unread}
    )


# The event is never logged: it carries the user's bearer token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
