"""Certificate admin API: upload, list, get, rotate and delete an app's APNs credentials (.p12 or .p8).

Routes (IAM-authorized in template.yaml; the local stack checks its admin key and sets the same context):
``POST|GET /v1/apps/{sdkAppId}/certificates`` and
``GET|PUT|DELETE /v1/apps/{sdkAppId}/certificates/{businessId}``.
The event is never logged: an upload carries a password and key material.
"""

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from offline_push.api.auth import require_iam_caller
from offline_push.api.certificates import parse_business_id, parse_sdk_app_id, parse_upload
from offline_push.api.http import create_resolver, json_response
from offline_push.dal.certificate_repository import CertificateRepository, CertificateStorageSettings
from offline_push.logic.certificates import CertificateService
from offline_push.models.certificate import CertificateRecord
from offline_push.tracing import function_tracer

logger = Logger()
metrics = Metrics()
tracer = function_tracer()
# No Powertools request validation: the routes take only str path ids (parsed by parse_sdk_app_id and
# parse_business_id) and read the body with parse_upload; validation would add its OpenAPI models to every
# cold start and check nothing.
app = create_resolver(enable_validation=False)


@cache
def certificates() -> CertificateService:
    """Built on the first request of a container (settings read once, clients created lazily)."""
    settings = CertificateStorageSettings.from_environ()
    return CertificateService(CertificateRepository.from_settings(settings))


def _admins_only(resolver: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    caller = require_iam_caller(resolver.current_event.raw_event)
    logger.append_keys(caller=caller)
    return next_middleware(resolver)


app.use(middlewares=[_admins_only])


def _audit(action: str, record: CertificateRecord) -> None:
    logger.info(
        f"certificate {action}",
        extra={
            "sdkAppId": record.sdk_app_id,
            "businessId": record.business_id,
            "type": record.type.value,
            "bundleId": record.bundle_id,
            "environment": record.environment.value,
            "version": record.version,
        },
    )
    metrics.add_metric(name=f"Certificate{action.capitalize()}", unit=MetricUnit.Count, value=1)


@app.post("/v1/apps/<sdkAppId>/certificates")
@tracer.capture_method(capture_response=False)
def create_certificate(sdkAppId: str) -> Response[str]:
    sdk_app_id = parse_sdk_app_id(sdkAppId)
    upload = parse_upload(app.current_event)
    record = certificates().create(sdk_app_id, upload)
    _audit("created", record)
    return json_response(
        HTTPStatus.CREATED,
        record.public_view(),
        headers={"Location": f"/v1/apps/{sdk_app_id}/certificates/{record.business_id}"},
    )


@app.get("/v1/apps/<sdkAppId>/certificates")
@tracer.capture_method(capture_response=False)
def list_certificates(sdkAppId: str) -> Response[str]:
    sdk_app_id = parse_sdk_app_id(sdkAppId)
    records = certificates().list(sdk_app_id)
    return json_response(HTTPStatus.OK, {"certificates": [record.public_view() for record in records]})


@app.get("/v1/apps/<sdkAppId>/certificates/<businessId>")
@tracer.capture_method(capture_response=False)
def get_certificate(sdkAppId: str, businessId: str) -> Response[str]:
    sdk_app_id, business_id = parse_sdk_app_id(sdkAppId), parse_business_id(businessId)
    record = certificates().get(sdk_app_id, business_id)
    return json_response(HTTPStatus.OK, record.public_view())


@app.put("/v1/apps/<sdkAppId>/certificates/<businessId>")
@tracer.capture_method(capture_response=False)
def rotate_certificate(sdkAppId: str, businessId: str) -> Response[str]:
    sdk_app_id, business_id = parse_sdk_app_id(sdkAppId), parse_business_id(businessId)
    upload = parse_upload(app.current_event)
    record = certificates().rotate(sdk_app_id, business_id, upload)
    _audit("rotated", record)
    return json_response(HTTPStatus.OK, record.public_view())


@app.delete("/v1/apps/<sdkAppId>/certificates/<businessId>")
@tracer.capture_method(capture_response=False)
def delete_certificate(sdkAppId: str, businessId: str) -> Response[str]:
    sdk_app_id, business_id = parse_sdk_app_id(sdkAppId), parse_business_id(businessId)
    certificates().delete(sdk_app_id, business_id)
    logger.info("certificate deleted", extra={"sdkAppId": sdk_app_id, "businessId": business_id})
    metrics.add_metric(name="CertificateDeleted", unit=MetricUnit.Count, value=1)
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")


# log_event stays off whatever POWERTOOLS_LOGGER_LOG_EVENT says: an upload carries a password and a key.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
