"""The privilege test's judge, on the stack's own roles and policies: it allows what AWS allows and refuses
what AWS refuses, conditions and resource policies included."""

from __future__ import annotations

from functools import cache

import pytest

from local.sam_transform import transform
from local.template import load_template
from tests.support.aws_operations import StackNames
from tests.support.iam_policy import Decision, Request, Statement, decide
from tests.support.stack_roles import StackPolicies, stack_policies

NAMES = StackNames()
BUCKET_OBJECT = "arn:aws:s3:::offline-push-certificatebucket/credentials/1400000001/a.p12"
KEY = NAMES.key_arn("DataKey")
VIA_S3 = ("kms:ViaService", "s3.us-east-1.amazonaws.com")
HTTPS = ("aws:SecureTransport", "true")


@cache
def _policies() -> StackPolicies:
    parameters = {"Tracing": "Active"}
    return stack_policies(transform(load_template(), parameters), parameters, NAMES)


def _decide(function: str, request: Request) -> Decision:
    policies = _policies()
    return decide(
        request,
        policies.roles[function].statements,
        policies.resource_policies(request),
        key_policy=policies.key_policy(request),
    )


def test_an_upload_is_allowed_only_over_tls_and_with_kms_as_the_bucket_policy_demands() -> None:
    # Given the certificates function, whose role may put credential files
    kms = ("s3:x-amz-server-side-encryption", "aws:kms")

    # When it uploads with SSE-KMS over TLS, without naming the encryption, and over plain HTTP
    with_kms = _decide("CertificatesFunction", Request("s3:PutObject", BUCKET_OBJECT, (HTTPS, kms)))
    unnamed = _decide("CertificatesFunction", Request("s3:PutObject", BUCKET_OBJECT, (HTTPS,)))
    plain = _decide(
        "CertificatesFunction",
        Request("s3:PutObject", BUCKET_OBJECT, (("aws:SecureTransport", "false"), kms)),
    )

    # Then only the first is allowed: the bucket policy's denies win over the role's allow
    assert with_kms == Decision(
        True, "allowed by CertificatesFunctionRole/CertificatesFunctionRolePolicy0:CredentialFiles"
    )
    assert unnamed == Decision(False, "explicitly denied by CertificateBucketPolicy:DenyUploadsWithoutKms")
    assert plain == Decision(False, "explicitly denied by CertificateBucketPolicy:DenyInsecureTransport")


def test_the_dispatcher_decrypts_only_through_s3_or_with_its_purposes_in_the_encryption_context() -> None:
    # When the dispatcher asks KMS to decrypt: through S3, with a p12 password's context, with another context
    through_s3 = _decide("DispatchFunction", Request("kms:Decrypt", KEY, (VIA_S3,)))
    password = _decide(
        "DispatchFunction", Request("kms:Decrypt", KEY, (("kms:EncryptionContext:purpose", "p12-password"),))
    )
    other = _decide(
        "DispatchFunction", Request("kms:Decrypt", KEY, (("kms:EncryptionContext:purpose", "user-auth"),))
    )

    # Then the first two are allowed by their statements, the last by none
    assert through_s3 == Decision(
        True, "allowed by DispatchFunctionRole/DispatchFunctionRolePolicy0:DecryptCredentialFiles"
    )
    assert password == Decision(
        True, "allowed by DispatchFunctionRole/DispatchFunctionRolePolicy0:OpenPasswordsAndProviderTokens"
    )
    assert other == Decision(False, "no statement of the role allows it (implicit deny)")


@pytest.mark.parametrize(
    ("function", "action", "table"),
    [
        ("RegistrationsFunction", "dynamodb:Scan", "RegistrationsTable"),
        ("RegistrationsFunction", "dynamodb:BatchWriteItem", "RegistrationsTable"),
        ("RegistrationsFunction", "dynamodb:Query", "AppsTable"),
        ("AppsFunction", "dynamodb:DeleteItem", "AppsTable"),
        ("DeliveriesFunction", "dynamodb:PutItem", "DeliveriesTable"),
    ],
)
def test_roles_grant_no_table_action_their_code_does_not_perform(
    function: str, action: str, table: str
) -> None:
    # When a function would do to a table what its code never does
    decision = _decide(function, Request(action, NAMES.table_arn(table)))

    # Then its role refuses it
    assert decision == Decision(False, "no statement of the role allows it (implicit deny)")


def test_a_condition_operator_the_judge_cannot_evaluate_stops_it() -> None:
    # Given a statement with a multivalued-key operator
    statement = Statement.from_json(
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["purpose"]}},
        },
        "test",
    )

    # Then it is never taken as passed
    with pytest.raises(NotImplementedError, match="ForAnyValue:StringEquals"):
        decide(Request("kms:Decrypt", KEY), [statement])


def test_every_role_writes_its_logs_and_only_the_dispatcher_polls_the_queue() -> None:
    # Given each function's expanded role
    policies = _policies()
    log_stream = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/offline-push-X-1:log-stream:*"
    queue = "arn:aws:sqs:us-east-1:123456789012:offline-push-PushQueue"

    # Then every function may write its logs; only the dispatcher may receive from the push queue
    for function in policies.roles:
        assert _decide(function, Request("logs:PutLogEvents", log_stream)).allowed, function
    assert {
        function
        for function in policies.roles
        if _decide(function, Request("sqs:ReceiveMessage", queue)).allowed
    } == {"DispatchFunction"}
