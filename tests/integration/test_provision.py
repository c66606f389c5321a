"""The tests' AWS resources are template.yaml's own."""

from __future__ import annotations

import boto3

from local.provision import Provisioned
from local.template import dynamodb_tables


def test_tables_are_created_with_the_template_key_schemas(aws: Provisioned) -> None:
    client = boto3.client("dynamodb")
    for table in dynamodb_tables():
        description = client.describe_table(TableName=table.logical_id)["Table"]
        assert description["KeySchema"] == table.create_table_kwargs["KeySchema"]


def test_certificate_bucket_encrypts_with_the_data_key_by_default(aws: Provisioned) -> None:
    bucket = aws.environment["CERTIFICATE_BUCKET"]
    rules = boto3.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]

    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == aws.attributes[("DataKey", "Arn")]


def test_the_local_stack_runs_untraced_as_the_template_does_with_tracing_passthrough(
    aws: Provisioned,
) -> None:
    # The template traces with X-Ray by default; no X-Ray daemon runs locally, so the local stack deploys it
    # as `--parameter-overrides Tracing=PassThrough` would, and the functions' Tracer is disabled.
    assert aws.parameters["Tracing"] == "PassThrough"
    assert aws.conditions == {
        "TracingActive": False,
        "UsesLocalAwsEndpoint": False,
        "ConsoleEnabled": False,
        "ConsoleAdminGiven": False,
    }
    assert aws.environment["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_aws_endpoint_url_is_absent_from_the_functions_environment_unless_local_aws_endpoint_is_set(
    aws: Provisioned,
) -> None:
    # The template declares AWS_ENDPOINT_URL only so `sam local invoke --env-vars` can set it: with the
    # parameter empty (its default, and every real deploy) it is dropped, as CloudFormation drops AWS::NoValue
    assert aws.parameters["LocalAwsEndpoint"] == ""
    assert "AWS_ENDPOINT_URL" not in aws.environment


def test_resources_whose_condition_is_false_are_not_deployed(aws: Provisioned) -> None:
    # The console is off by default: its function's variables (naming Cognito pools) are not in the
    # functions' environment, as CloudFormation would not create the function
    assert {name for name in aws.environment if name.startswith("CONSOLE_")} == set()
