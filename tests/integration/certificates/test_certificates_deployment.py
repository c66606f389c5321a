"""template.yaml and the sample events agree with the certificate function."""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local.apple_pki import PushCertificateKind
from local.template import load_template
from tests.support.certificates import PASSWORD, SDK_APP_ID, CertificateApi, b64, push_certificate
from tests.support.events import LambdaContext, response_json

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ROOT = Path(__file__).resolve().parents[3]


def _function() -> dict[str, Any]:
    return dict(load_template()["Resources"]["CertificatesFunction"])


def _routes() -> dict[tuple[str, str], dict[str, Any]]:
    events = _function()["Properties"]["Events"]
    return {(event["Properties"]["Method"], event["Properties"]["Path"]): event for event in events.values()}


def test_every_certificate_route_is_an_iam_authorized_route_of_the_shared_api() -> None:
    api = load_template()["Resources"]["OfflinePushApi"]

    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api["Properties"]["Auth"]["EnableIamAuthorizer"] is True
    assert set(_routes()) == {
        ("POST", "/v1/apps/{sdkAppId}/certificates"),
        ("GET", "/v1/apps/{sdkAppId}/certificates"),
        ("GET", "/v1/apps/{sdkAppId}/certificates/{businessId}"),
        ("PUT", "/v1/apps/{sdkAppId}/certificates/{businessId}"),
        ("DELETE", "/v1/apps/{sdkAppId}/certificates/{businessId}"),
    }
    for event in _routes().values():
        assert event["Type"] == "HttpApi"
        assert event["Properties"]["ApiId"] == {"Ref": "OfflinePushApi"}
        assert event["Properties"]["Auth"] == {"Authorizer": "AWS_IAM"}


def test_the_function_policy_names_its_actions_and_resources() -> None:
    # Least privilege: no wildcard action, every resource one of this stack's, KMS use bound to its purpose
    (policy,) = _function()["Properties"]["Policies"]
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}

    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions)
        assert statement["Resource"] != "*"
    assert statements["SealPasswords"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:purpose": "p12-password"}
    }
    assert "kms:Decrypt" not in json.dumps(policy), "the admin API never reads a password back"
    assert "s3:GetObject" not in json.dumps(policy), "the admin API never reads a credential file back"


def test_each_template_route_reaches_its_handler(api: CertificateApi) -> None:
    # Given every route template.yaml deploys, called without a body on an empty app
    answers = {}
    for method, path in _routes():
        concrete = path.format(sdkAppId=SDK_APP_ID, businessId=1)
        answer = api.call(method, concrete)
        answers[(method, path)] = (answer.status, (answer.body or {}).get("code"))

    # Then each is handled by its own route (none is "no such route")
    assert answers == {
        ("POST", "/v1/apps/{sdkAppId}/certificates"): (HTTPStatus.BAD_REQUEST, "InvalidRequest"),
        ("GET", "/v1/apps/{sdkAppId}/certificates"): (HTTPStatus.OK, None),
        ("GET", "/v1/apps/{sdkAppId}/certificates/{businessId}"): (
            HTTPStatus.NOT_FOUND,
            "CertificateNotFound",
        ),
        ("PUT", "/v1/apps/{sdkAppId}/certificates/{businessId}"): (HTTPStatus.BAD_REQUEST, "InvalidRequest"),
        ("DELETE", "/v1/apps/{sdkAppId}/certificates/{businessId}"): (
            HTTPStatus.NOT_FOUND,
            "CertificateNotFound",
        ),
    }


def _sample(name: str, p12: bytes | None = None) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / f"certificates-{name}.json").read_text())
    if p12 is not None:
        body = json.loads(event["body"])
        body.update(password=PASSWORD, file=b64(p12))
        event["body"] = json.dumps(body)
    return dict(event)


def test_the_sample_events_run_a_certificate_through_its_life(app: ModuleType, api: CertificateApi) -> None:
    # Given the sample events, with a real certificate in place of the placeholders
    p12 = push_certificate(PushCertificateKind.UNIVERSAL).p12(PASSWORD)
    steps = [
        ("create", _sample("create", p12)),
        ("list", _sample("list")),
        ("get", _sample("get")),
        ("rotate", _sample("rotate", p12)),
        ("delete", _sample("delete")),
        ("get after delete", _sample("get")),
    ]

    # When they are handled in order
    outcomes = []
    for step, event in steps:
        answer = app.lambda_handler(event, LambdaContext())
        body = response_json(answer) or {}
        outcomes.append((step, answer["statusCode"], body.get("businessId", body.get("code"))))

    # Then the certificate is created as id 1, listed, read, rotated and deleted
    assert outcomes == [
        ("create", HTTPStatus.CREATED, 1),
        ("list", HTTPStatus.OK, None),
        ("get", HTTPStatus.OK, 1),
        ("rotate", HTTPStatus.OK, 1),
        ("delete", HTTPStatus.NO_CONTENT, None),
        ("get after delete", HTTPStatus.NOT_FOUND, "CertificateNotFound"),
    ]


def test_the_sample_create_event_as_shipped_explains_the_placeholder(
    app: ModuleType, api: CertificateApi
) -> None:
    answer = app.lambda_handler(_sample("create"), LambdaContext())

    assert answer["statusCode"] == HTTPStatus.BAD_REQUEST
    assert response_json(answer) == {
        "code": "InvalidRequest",
        "message": "file must be the file's content in base64",
    }
