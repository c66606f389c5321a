"""template.yaml's dispatch resources agree with the code and with the guarantees the README states."""

from __future__ import annotations

from typing import Any

from functions.dispatch.app import DispatchSettings
from local.template import load_template
from offline_push.dal.delivery_store import BY_USER_INDEX

READ_ONLY = {"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:GetItem"}


def resources() -> dict[str, Any]:
    return dict(load_template()["Resources"])


def statements(function: str) -> list[dict[str, Any]]:
    found = []
    for policy in resources()[function]["Properties"]["Policies"]:
        found.extend(policy["Statement"])
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_queue_outlasts_a_batch_and_a_claims_lease_before_a_message_comes_back() -> None:
    # Given the push queue, its dead-letter queue and the dispatch function
    template = resources()
    queue = template["PushQueue"]["Properties"]
    function = template["DispatchFunction"]["Properties"]
    lease_margin = DispatchSettings.model_fields["dispatch_lease_margin_seconds"].default

    # Then the visibility timeout is six times the function's timeout (Lambda's guidance for SQS), longer than
    # a claim's lease (the invocation's time plus a margin): a message back from a crash takes its claims over
    assert queue["VisibilityTimeout"] == 6 * function["Timeout"]
    assert function["Timeout"] + lease_margin < queue["VisibilityTimeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["PushDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }


def test_records_outlive_every_message_that_could_come_back() -> None:
    # A redriven dead letter must still find its claims: records are kept at least as long as any message
    template = load_template()
    shortest_records = template["Parameters"]["DeliveryRecordDays"]["MinValue"] * 86400
    for queue in ("PushQueue", "PushDeadLetterQueue"):
        assert template["Resources"][queue]["Properties"]["MessageRetentionPeriod"] <= shortest_records


def test_the_sqs_event_reports_item_failures_and_caps_concurrency_without_throttling() -> None:
    [event] = resources()["DispatchFunction"]["Properties"]["Events"].values()

    assert event == {
        "Type": "SQS",
        "Properties": {
            "Queue": {"Fn::GetAtt": ["PushQueue", "Arn"]},
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": {"Ref": "DispatchMaxConcurrency"}},
        },
    }
    assert "ReservedConcurrentExecutions" not in resources()["DispatchFunction"]["Properties"]


def test_the_deliveries_table_expires_records_and_indexes_them_by_user() -> None:
    table = resources()["DeliveriesTable"]["Properties"]

    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": BY_USER_INDEX,
            "KeySchema": [
                {"AttributeName": "user", "KeyType": "HASH"},
                {"AttributeName": "at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]


def test_the_dispatcher_has_named_actions_on_named_resources_only() -> None:
    granted = {
        (action, str(statement["Resource"]))
        for statement in statements("DispatchFunction")
        for action in actions(statement)
    }

    assert all("*" not in action for action, _ in granted)
    assert {action for action, _ in granted} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "s3:GetObject",
        "kms:Decrypt",
        "kms:Encrypt",
        "sqs:SendMessage",
    }
    # It may not scan or query anything, nor delete deliveries or certificates
    deliveries = [action for action, resource in granted if "DeliveriesTable" in resource]
    assert sorted(deliveries) == [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    assert [action for action, resource in granted if "CertificatesTable" in resource] == ["dynamodb:GetItem"]


def test_the_deliveries_api_reads_only_and_only_for_admins() -> None:
    function = resources()["DeliveriesFunction"]["Properties"]

    assert {
        action for statement in statements("DeliveriesFunction") for action in actions(statement)
    } <= READ_ONLY
    assert {
        event["Properties"]["Path"]: event["Properties"]["Auth"] for event in function["Events"].values()
    } == {
        "/v1/apps/{sdkAppId}/users/{userId}/deliveries": {"Authorizer": "AWS_IAM"},
        "/v1/apps/{sdkAppId}/messages/{msgKey}": {"Authorizer": "AWS_IAM"},
    }


def test_the_im_backend_finds_the_queue_in_the_outputs() -> None:
    outputs = load_template()["Outputs"]

    assert outputs["PushQueueUrl"]["Value"] == {"Ref": "PushQueue"}
    assert outputs["PushQueueArn"]["Value"] == {"Fn::GetAtt": ["PushQueue", "Arn"]}
