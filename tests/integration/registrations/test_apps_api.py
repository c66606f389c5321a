"""The app settings (admin) API through its Lambda handler, on moto: settings in DynamoDB, keys in Secrets
Manager, never answered."""

from __future__ import annotations

import hashlib
import json
from http import HTTPStatus
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from functions.apps import app as apps_function
from tests.integration.registrations.conftest import Stack
from tests.support.events import ADMIN_ARN
from tests.support.logs import captured_logs
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_SECRET, ec_key, hmac_key, rsa_key, user_token

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

SETTINGS = f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings"
NOW_ISO = "2026-11-25T12:00:00.000Z"
NEW_APP = 1400000042


def secret_value(stack: Stack, sdk_app_id: int) -> Any:
    prefix = stack.aws.environment["APP_SECRETS_PREFIX"]
    answer = boto3.client("secretsmanager").get_secret_value(SecretId=f"{prefix}{sdk_app_id}/user-auth")
    return json.loads(answer["SecretString"])


def apps_items(stack: Stack) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=stack.aws.environment["APPS_TABLE"])["Items"]


def test_settings_default_to_single_login_and_chinese_placeholders(stack: Stack) -> None:
    # When an admin creates an app's settings with only its user-auth key
    answer = stack.admin(
        "PUT",
        f"/v1/apps/{NEW_APP}/settings",
        json_body={"userAuth": {"algorithm": "HS256", "secret": SAMPLE_SECRET}},
    )

    # Then the defaults are Tencent's: one device per user, placeholders in Chinese; the key is described only
    expected = {
        "sdkAppId": NEW_APP,
        "kickPolicy": "single",
        "placeholderLanguage": "zh",
        "userAuth": {"algorithm": "HS256", "updatedAt": NOW_ISO},
        "createdAt": NOW_ISO,
        "updatedAt": NOW_ISO,
    }
    assert (answer.status, answer.body) == (HTTPStatus.OK, expected)
    got = stack.admin("GET", f"/v1/apps/{NEW_APP}/settings")
    assert (got.status, got.body) == (HTTPStatus.OK, expected)


def test_the_key_is_stored_in_secrets_manager_only(stack: Stack) -> None:
    # Given an app configured with an HS256 secret (the stack fixture's sample app)
    # Then the secret is in Secrets Manager, encrypted with the stack's key
    assert secret_value(stack, SAMPLE_SDK_APP_ID) == {"algorithm": "HS256", "key": SAMPLE_SECRET}
    prefix = stack.aws.environment["APP_SECRETS_PREFIX"]
    description = boto3.client("secretsmanager").describe_secret(
        SecretId=f"{prefix}{SAMPLE_SDK_APP_ID}/user-auth"
    )
    assert description["KmsKeyId"] == stack.aws.environment["KMS_KEY_ID"]

    # And neither the apps table nor any answer holds it
    assert SAMPLE_SECRET not in json.dumps(apps_items(stack))
    assert SAMPLE_SECRET not in stack.admin("GET", SETTINGS).raw_body


@pytest.mark.parametrize("key", [rsa_key(), ec_key()], ids=["RS256", "ES256"])
def test_public_keys_are_described_by_their_fingerprint(stack: Stack, key: Any) -> None:
    # When an admin sets a public key
    answer = stack.admin("PUT", SETTINGS, json_body={"userAuth": key.user_auth})

    # Then the answer names the algorithm and the key's SHA-256 fingerprint, not the key
    der = serialization.load_pem_public_key(key.user_auth["publicKey"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert answer.status == HTTPStatus.OK
    assert answer.body["userAuth"] == {
        "algorithm": key.algorithm,
        "updatedAt": NOW_ISO,
        "publicKeySha256": hashlib.sha256(der).hexdigest(),
    }
    assert secret_value(stack, SAMPLE_SDK_APP_ID)["algorithm"] == key.algorithm


def test_settings_without_user_auth_keep_the_key_already_set(stack: Stack) -> None:
    # Given the sample app with its HS256 key
    # When an admin changes the kick policy and the language, without sending the (write-only) key
    answer = stack.admin("PUT", SETTINGS, json_body={"kickPolicy": "multi", "placeholderLanguage": "en"})

    # Then the settings change, and the key is still set: users keep logging in
    assert answer.status == HTTPStatus.OK
    assert answer.body == {
        "sdkAppId": SAMPLE_SDK_APP_ID,
        "kickPolicy": "multi",
        "placeholderLanguage": "en",
        "userAuth": {"algorithm": "HS256", "updatedAt": NOW_ISO},
        "createdAt": NOW_ISO,
        "updatedAt": NOW_ISO,
    }
    stack.certificate(1)
    registered = stack.app_call(
        "PUT",
        f"{SETTINGS.removesuffix('/settings')}/users/vinson/apns",
        bearer=user_token(hmac_key()),
        json_body={"businessId": 1, "token": "ab" * 32},
    )
    assert registered.status == HTTPStatus.OK


def test_a_new_key_replaces_the_old_one(stack: Stack) -> None:
    # Given the sample app's HS256 key, rotated to a new secret
    new_key = hmac_key("a-brand-new-secret-for-the-app-0123456789")
    stack.admin("PUT", SETTINGS, json_body={"userAuth": new_key.user_auth})
    stack.certificate(1)
    apns = f"{SETTINGS.removesuffix('/settings')}/users/vinson/apns"

    # When users register with tokens signed by the old and the new secret (in a new container)
    old = stack.app_call(
        "PUT", apns, bearer=user_token(hmac_key()), json_body={"businessId": 1, "token": "ab" * 32}
    )
    new = stack.app_call(
        "PUT", apns, bearer=user_token(new_key), json_body={"businessId": 1, "token": "ab" * 32}
    )

    # Then only the new secret's tokens are accepted
    assert (old.status, old.body["code"]) == (HTTPStatus.UNAUTHORIZED, "InvalidToken")
    assert new.status == HTTPStatus.OK
    assert secret_value(stack, SAMPLE_SDK_APP_ID) == {
        "algorithm": "HS256",
        "key": new_key.user_auth["secret"],
    }


def _private_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


_P384 = ec.generate_private_key(ec.SECP384R1())
_RSA_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key refused
PRIVATE_PEM = _private_pem(_P384)

BAD_SETTINGS = [
    pytest.param(
        {"kickPolicy": "kick-everyone"},
        "kickPolicy: Input should be 'single' or 'multi'",
        id="unknown kick policy",
    ),
    pytest.param(
        {"placeholderLanguage": "fr"},
        "placeholderLanguage: Input should be 'zh' or 'en'",
        id="unknown language",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "HS512", "secret": SAMPLE_SECRET}},
        "userAuth.algorithm: Input should be 'HS256', 'RS256' or 'ES256'",
        id="unsupported algorithm",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "HS256"}},
        "userAuth: Value error, HS256 takes a secret (and no publicKey)",
        id="HS256 without a secret",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "HS256", "secret": SAMPLE_SECRET, "publicKey": _public_pem(_P384)}},
        "userAuth: Value error, HS256 takes a secret (and no publicKey)",
        id="HS256 with a public key too",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "HS256", "secret": "short-secret"}},
        "userAuth.secret must be at least 32 bytes for HS256 (RFC 7518 3.2)",
        id="HS256 secret too short",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "RS256", "secret": SAMPLE_SECRET}},
        "userAuth: Value error, RS256 takes a publicKey in PEM (and no secret)",
        id="RS256 with a secret",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "RS256", "publicKey": "not a pem"}},
        "userAuth.publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----); never send a private key",
        id="RS256 not PEM",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "ES256", "publicKey": PRIVATE_PEM}},
        "userAuth.publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----); never send a private key",
        id="a private key",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "RS256", "publicKey": _public_pem(_P384)}},
        "userAuth.publicKey must be an RSA key for RS256",
        id="RS256 with an EC key",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "RS256", "publicKey": _public_pem(_RSA_1024)}},
        "userAuth.publicKey must be at least 2048 bits for RS256",
        id="RSA 1024",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "ES256", "publicKey": _public_pem(_P384)}},
        "userAuth.publicKey must be an EC P-256 key for ES256",
        id="ES256 with a P-384 key",
    ),
    pytest.param(
        {"userAuth": {"algorithm": "ES256", "publicKey": _public_pem(_RSA_1024)}},
        "userAuth.publicKey must be an EC P-256 key for ES256",
        id="ES256 with an RSA key",
    ),
    pytest.param(
        {"kickpolicy": "multi"},
        "kickpolicy: Extra inputs are not permitted",
        id="misspelt field",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_SETTINGS)
def test_bad_settings_are_refused_with_a_reason_and_store_nothing(
    stack: Stack, body: Any, message: str
) -> None:
    # Given the sample app's settings and key
    before = stack.stored_state()

    # When an admin sends bad settings
    answer = stack.admin("PUT", SETTINGS, json_body=body)

    # Then 400 names the problem without echoing any key material, and nothing changed
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"code": "InvalidRequest", "message": message}
    assert stack.stored_state() == before
    assert "PRIVATE KEY" not in answer.raw_body
    assert SAMPLE_SECRET not in answer.raw_body


@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_settings_need_an_iam_caller(stack: Stack, method: str) -> None:
    # Given a request that did not come through API Gateway's IAM authorizer
    before = stack.stored_state()

    # When it reaches the function
    answer = stack.admin(
        method, SETTINGS, admin=False, json_body={"kickPolicy": "multi"} if method == "PUT" else None
    )

    # Then it is refused and changes nothing
    assert answer.status == HTTPStatus.FORBIDDEN
    assert answer.body == {
        "code": "Forbidden",
        "message": "this route needs an IAM-authorized (admin) caller",
    }
    assert stack.stored_state() == before


def test_settings_of_an_unknown_app_are_not_found(stack: Stack) -> None:
    answer = stack.admin("GET", f"/v1/apps/{NEW_APP}/settings")

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "AppNotFound", "message": f"app {NEW_APP} has no settings"}


@pytest.mark.parametrize("sdk_app_id", ["abc", "0", "-5", "01400000001", "99999999999999999999"])
def test_sdk_app_ids_must_be_canonical_positive_integers(stack: Stack, sdk_app_id: str) -> None:
    before = stack.stored_state()

    answer = stack.admin("PUT", f"/v1/apps/{sdk_app_id}/settings", json_body={"kickPolicy": "multi"})

    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {
        "code": "InvalidRequest",
        "message": "sdkAppId must be a positive decimal integer (like 1400000001)",
    }
    assert stack.stored_state() == before


def test_an_admin_read_of_the_settings_logs_the_caller(stack: Stack) -> None:
    # When an admin reads an app's settings
    with captured_logs(apps_function.logger.name) as logs:
        answer = stack.admin("GET", SETTINGS)

    # Then the read is logged with the caller's IAM principal and the app, and the answer holds no key
    reads = [
        {key: value for key, value in line.items() if key in ("message", "caller", "sdkAppId")}
        for line in map(json.loads, logs.getvalue().splitlines())
        if line.get("message") == "app settings read"
    ]
    assert answer.status == HTTPStatus.OK
    assert reads == [{"message": "app settings read", "caller": ADMIN_ARN, "sdkAppId": SAMPLE_SDK_APP_ID}]
    assert SAMPLE_SECRET not in logs.getvalue()


def test_the_app_list_names_every_configured_app_and_every_app_with_certificates(stack: Stack) -> None:
    # Given the sample app (settings and two certificates), an app with settings only, and an app with one
    # certificate and no settings
    stack.configure_app(NEW_APP, kickPolicy="multi", placeholderLanguage="en")
    stack.certificate(1, sdk_app_id=1400000077)

    # When an admin lists the apps
    answer = stack.admin("GET", "/v1/apps")

    # Then each app appears once, by sdkAppId, with its certificate count and its settings' public facts
    assert (answer.status, answer.body) == (
        HTTPStatus.OK,
        {
            "apps": [
                {
                    "sdkAppId": SAMPLE_SDK_APP_ID,
                    "certificates": 2,
                    "configured": True,
                    "kickPolicy": "single",
                    "placeholderLanguage": "zh",
                    "userAuth": "HS256",
                },
                {
                    "sdkAppId": NEW_APP,
                    "certificates": 0,
                    "configured": True,
                    "kickPolicy": "multi",
                    "placeholderLanguage": "en",
                    "userAuth": None,
                },
                {
                    "sdkAppId": 1400000077,
                    "certificates": 1,
                    "configured": False,
                    "kickPolicy": None,
                    "placeholderLanguage": None,
                    "userAuth": None,
                },
            ]
        },
    )


def test_a_deleted_certificate_is_not_counted_and_its_app_stays_listed(stack: Stack) -> None:
    # Given an app whose only certificate is being deleted, and whose allocation counter remains
    table = stack.aws.environment["CERTIFICATES_TABLE"]
    stack.certificate(1, sdk_app_id=1400000077)
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_item(
        TableName=table,
        Key={"sdkAppId": {"S": "1400000077"}, "businessId": {"N": "1"}},
        UpdateExpression="SET deletedAt = :now",
        ExpressionAttributeValues={":now": {"S": NOW_ISO}},
    )
    dynamodb.put_item(
        TableName=table,
        Item={"sdkAppId": {"S": "1400000077"}, "businessId": {"N": "0"}, "lastBusinessId": {"N": "1"}},
    )

    # When an admin lists the apps
    answer = stack.admin("GET", "/v1/apps")

    # Then the app is listed with no certificate
    assert answer.status == HTTPStatus.OK
    assert [(app["sdkAppId"], app["certificates"]) for app in answer.body["apps"]] == [
        (SAMPLE_SDK_APP_ID, 2),
        (1400000077, 0),
    ]


def test_only_an_admin_lists_the_apps(stack: Stack) -> None:
    # When a caller without IAM authorization lists the apps
    answer = stack.admin("GET", "/v1/apps", admin=False)

    # Then it is refused, with the API's error shape
    assert (answer.status, answer.body) == (
        HTTPStatus.FORBIDDEN,
        {"code": "Forbidden", "message": "this route needs an IAM-authorized (admin) caller"},
    )
