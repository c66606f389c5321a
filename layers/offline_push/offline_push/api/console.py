"""The console's page: static files (HTML, CSS, JS; no build step, no Node) and its sign-in configuration.

The console is the seed's step 2 as a web page: apps -> iOS push settings -> certificates, app settings, and
"why no push?". It calls the admin API from the browser, so it holds no authority of its own: deployed, it
signs every call with SigV4 using temporary credentials of the console's admin role (Cognito user pool ->
identity pool); on the local stack it sends the stack's admin key. :func:`console_response` answers one GET
under ``/console``; the deployed stack serves it from ``ConsoleFunction``, the local stack from its API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent.parent / "console_assets"
PREFIX = "/console"

_ASSET_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "sigv4.js": "text/javascript; charset=utf-8",
    "signin.js": "text/javascript; charset=utf-8",
}


class SignIn(StrEnum):
    COGNITO = "cognito"  # deployed: Cognito user pool + identity pool -> the admin role's credentials
    ADMIN_KEY = "admin-key"  # the local stack: its admin key, in X-Admin-Key


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """What the page needs to sign in; public values only (pool ids are not secrets)."""

    sign_in: SignIn
    region: str = ""
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    identity_pool_id: str = ""

    def public_view(self) -> dict[str, str]:
        view = {"signIn": self.sign_in.value}
        if self.sign_in is SignIn.COGNITO:
            view |= {
                "region": self.region,
                "userPoolId": self.user_pool_id,
                "userPoolClientId": self.user_pool_client_id,
                "identityPoolId": self.identity_pool_id,
            }
        return view

    def content_security_policy(self) -> str:
        connect = ["'self'"]
        if self.sign_in is SignIn.COGNITO:
            connect += [
                f"https://cognito-idp.{self.region}.amazonaws.com",
                f"https://cognito-identity.{self.region}.amazonaws.com",
            ]
        return "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data:",
                f"connect-src {' '.join(connect)}",
                "form-action 'none'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
            ]
        )


@dataclass(frozen=True, slots=True)
class ConsoleResponse:
    status: HTTPStatus
    headers: dict[str, str]
    body: str

    def lambda_proxy(self) -> dict[str, Any]:
        """The answer in API Gateway's payload 2.0 shape."""
        return {"statusCode": self.status.value, "headers": self.headers, "body": self.body}


def console_response(method: str, path: str, config: ConsoleConfig) -> ConsoleResponse:
    """The answer to ``method path`` (a path under ``/console``): a page file, the config, or 404/405."""
    headers = {
        "content-security-policy": config.content_security_policy(),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
    }
    if method not in ("GET", "HEAD"):
        return ConsoleResponse(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {**headers, "content-type": "application/json", "allow": "GET, HEAD"},
            json.dumps({"code": "MethodNotAllowed", "message": "the console is read with GET"}),
        )
    name = path.removeprefix(PREFIX).strip("/") or "index.html"
    if name == "config.json":
        return ConsoleResponse(
            HTTPStatus.OK, {**headers, "content-type": "application/json"}, json.dumps(config.public_view())
        )
    content_type = _ASSET_TYPES.get(name)
    if content_type is None or not path.startswith(PREFIX):
        return ConsoleResponse(
            HTTPStatus.NOT_FOUND,
            {**headers, "content-type": "application/json"},
            json.dumps({"code": "NotFound", "message": "no such console page"}),
        )
    return ConsoleResponse(
        HTTPStatus.OK,
        {**headers, "content-type": content_type},
        _asset(name),
    )


@cache
def _asset(name: str) -> str:
    """A page file (one of ``_ASSET_TYPES``), read once per warm container."""
    return (ASSETS / name).read_text(encoding="utf-8")
