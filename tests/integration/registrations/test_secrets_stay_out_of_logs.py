"""User JWTs, app secrets and device tokens never reach a log line or stdout, whatever the outcome."""

from __future__ import annotations

import pytest

from functions.apps import app as apps_function
from functions.registrations import app as registrations_function
from tests.integration.registrations.conftest import Stack
from tests.support.logs import captured_logs
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_SECRET, hmac_key, rsa_key, user_token

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

USER = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/vinson"
DEVICE_TOKEN = "5ec12e7a" * 8
NEW_SECRET = "rotated-secret-that-must-never-be-logged-0123456789"


def test_no_request_logs_a_token_or_a_secret(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    valid = user_token(hmac_key())
    expired = user_token(hmac_key(), expires_in=-60)
    forged = user_token(hmac_key("forged-secret-forged-secret-forged-secret"))
    other_user = user_token(hmac_key(), sub="denny")
    capsys.readouterr()

    # When every kind of request is made, with the service's loggers at DEBUG
    with (
        captured_logs(registrations_function.logger.name) as app_logs,
        captured_logs(apps_function.logger.name) as admin_logs,
    ):
        stack.app_call(
            "PUT", f"{USER}/apns", bearer=valid, json_body={"businessId": 1, "token": DEVICE_TOKEN}
        )
        stack.app_call("PUT", f"{USER}/badge", bearer=valid, json_body={"unread": 1})
        stack.app_call("DELETE", f"{USER}/apns", bearer=valid, query={"token": DEVICE_TOKEN})
        stack.app_call("DELETE", f"{USER}/apns", bearer=valid)
        for refused in (expired, forged, other_user, "x" + valid):
            stack.app_call(
                "PUT", f"{USER}/apns", bearer=refused, json_body={"businessId": 1, "token": DEVICE_TOKEN}
            )
        stack.app_call(
            "PUT", f"{USER}/apns", bearer=valid, json_body={"businessId": 9, "token": DEVICE_TOKEN}
        )
        stack.admin(
            "PUT",
            f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings",
            json_body={"userAuth": hmac_key(NEW_SECRET).user_auth},
        )
        stack.admin(
            "PUT",
            f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings",
            json_body={"userAuth": {"algorithm": "HS256", "secret": NEW_SECRET[:20]}},
        )
        stack.admin(
            "PUT", f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings", json_body={"userAuth": rsa_key().user_auth}
        )
        stack.admin("GET", f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings")

    # Then the logs tell what happened...
    logged = app_logs.getvalue() + admin_logs.getvalue() + capsys.readouterr().out
    assert '"message":"device registered"' in logged
    assert '"code":"TokenExpired"' in logged
    assert '"message":"app settings saved"' in logged
    assert '"UserTokenRejected":[1.0]' in logged

    # ...but hold no credential, no key material, and no whole device token
    for secret in (
        valid,
        expired,
        forged,
        other_user,
        SAMPLE_SECRET,
        NEW_SECRET,
        NEW_SECRET[:20],
        DEVICE_TOKEN,
    ):
        assert secret not in logged
    for part in valid.split("."):
        assert part not in logged
    assert rsa_key().user_auth["publicKey"].splitlines()[1] not in logged
