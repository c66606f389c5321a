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
