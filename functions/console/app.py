"""The console's page (GET /console, /console/{asset}; no authorization: the page holds no authority).

The page signs in with Cognito (user pool -> identity pool -> the console's admin role) and signs each admin
API call with SigV4 in the browser; this function only serves its files and the pool ids it needs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from offline_push.api.console import ConsoleConfig, SignIn, console_response
from offline_push.settings import EnvSettings

logger = Logger()


class ConsoleSettings(EnvSettings):
    aws_region: str
    console_user_pool_id: str
    console_user_pool_client_id: str
    console_identity_pool_id: str


@cache
def config() -> ConsoleConfig:
    settings = ConsoleSettings.from_environ()
    return ConsoleConfig(
        sign_in=SignIn.COGNITO,
        region=settings.aws_region,
        user_pool_id=settings.console_user_pool_id,
        user_pool_client_id=settings.console_user_pool_client_id,
        identity_pool_id=settings.console_identity_pool_id,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "GET"))
    return console_response(method, str(event.get("rawPath", "")), config()).lambda_proxy()
