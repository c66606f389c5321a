"""Each function's role, the bucket policies and the key policies of the transformed template, resolved.

The SAM transform expands ``Policies`` (SAM policy templates with the translator's own definitions, inline
statements, the managed policies it adds); here every ``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` and ``Fn::If`` is
resolved to the names the tests give the resources (local.provision), so recorded operations can be judged
against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.provision import Provisioned, pseudo_parameters
from tests.support.aws_operations import StackNames
from tests.support.iam_policy import Request, Statement, statements_of


@dataclass
class FunctionRole:
    function: str
    role: str
    statements: list[Statement]
    managed_policy_arns: list[str]


@dataclass
class StackPolicies:
    roles: dict[str, FunctionRole]  # by function logical id
    bucket_policies: dict[str, list[Statement]] = field(default_factory=dict)  # by bucket name
    key_policies: dict[str, list[Statement]] = field(default_factory=dict)  # by key ARN

    def resource_policies(self, request: Request) -> list[Statement]:
        return [
            statement
            for bucket, statements in self.bucket_policies.items()
            if request.resource == f"arn:aws:s3:::{bucket}"
            or request.resource.startswith(f"arn:aws:s3:::{bucket}/")
            for statement in statements
        ]

    def key_policy(self, request: Request) -> list[Statement] | None:
        return self.key_policies.get(request.resource) if request.action.startswith("kms:") else None


def _resolver(template: Mapping[str, Any], parameters: Mapping[str, str], names: StackNames) -> Provisioned:
    done = Provisioned()
    done.parameters = pseudo_parameters(names.region, names.stack_name)
    done.parameters["AWS::AccountId"] = names.account
    for name, parameter in template.get("Parameters", {}).items():
        if "Default" in parameter:
            done.parameters[name] = str(parameter["Default"])
    done.parameters.update(parameters)
    for logical_id, body in template["Resources"].items():
        kind = body["Type"]
        if kind == "AWS::DynamoDB::Table":
            done.refs[logical_id] = logical_id
            done.attributes[(logical_id, "Arn")] = names.table_arn(logical_id)
        elif kind == "AWS::S3::Bucket":
            bucket = f"{names.stack_name}-{logical_id}".lower()
            done.refs[logical_id] = bucket
            done.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{bucket}"
        elif kind == "AWS::SQS::Queue":
            queue = f"{names.stack_name}-{logical_id}"
            url = f"https://sqs.{names.region}.amazonaws.com/{names.account}/{queue}"
            done.refs[logical_id] = url
            done.attributes[(logical_id, "Arn")] = names.queue_arn(url)
            done.attributes[(logical_id, "QueueName")] = queue
        elif kind == "AWS::KMS::Key":
            done.refs[logical_id] = logical_id
            done.attributes[(logical_id, "Arn")] = names.key_arn(logical_id)
        else:
            done.refs[logical_id] = logical_id
            done.attributes[(logical_id, "Arn")] = f"arn:aws:unresolved:::{logical_id}"
    # A condition may name another (Condition: X), in any order: evaluate each once the ones it names are.
    pending = dict(template.get("Conditions", {}))
    while pending:
        for name, condition in list(pending.items()):
            try:
                done.conditions[name] = done.evaluate(condition)
            except KeyError:
                continue
            del pending[name]
            break
        else:
            raise AssertionError(f"conditions that cannot be evaluated: {sorted(pending)}")
    return done


# The AWS managed policies the SAM transform attaches, as AWS publishes them (AWS Managed Policy Reference
# Guide). Any other managed policy stops the test: it cannot be judged without its statements.
AWS_MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
}
MANAGED_PREFIX = "managed:"


def managed_statements(arn: str) -> list[Statement]:
    if arn not in AWS_MANAGED_POLICIES:
        raise AssertionError(f"{arn}: a managed policy the privilege test does not know; add its statements")
    name = arn.rsplit("/", 1)[-1]
    return statements_of({"Statement": AWS_MANAGED_POLICIES[arn]}, f"{MANAGED_PREFIX}{name}")


_NO_VALUE = object()


def _deep_resolve(value: Any, resolver: Provisioned) -> Any:
    if isinstance(value, dict):
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if "Fn::If" in value and len(value) == 1:
            condition, when_true, when_false = value["Fn::If"]
            return _deep_resolve(when_true if resolver.conditions[condition] else when_false, resolver)
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
            return resolver.resolve(value)
        resolved = {key: _deep_resolve(item, resolver) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
    if isinstance(value, list):
        items = [_deep_resolve(item, resolver) for item in value]
        return [item for item in items if item is not _NO_VALUE]
    return value


def stack_policies(
    transformed: Mapping[str, Any], parameters: Mapping[str, str], names: StackNames
) -> StackPolicies:
    """Every function's role (its inline policies resolved), and the bucket and key policies."""
    resolver = _resolver(transformed, parameters, names)
    resources = transformed["Resources"]
    policies = StackPolicies(roles={})
    for logical_id, body in resources.items():
        kind = body["Type"]
        properties = body.get("Properties", {})
        if kind == "AWS::Lambda::Function":
            role_id = properties["Role"]["Fn::GetAtt"][0]
            role = _deep_resolve(resources[role_id]["Properties"], resolver)
            statements = [
                statement
                for policy in role.get("Policies", [])
                for statement in statements_of(policy["PolicyDocument"], f"{role_id}/{policy['PolicyName']}")
            ]
            managed = list(role.get("ManagedPolicyArns", []))
            for arn in managed:
                statements.extend(managed_statements(arn))
            policies.roles[logical_id] = FunctionRole(logical_id, role_id, statements, managed)
        elif kind == "AWS::S3::BucketPolicy":
            resolved = _deep_resolve(properties, resolver)
            policies.bucket_policies[resolved["Bucket"]] = statements_of(
                resolved["PolicyDocument"], logical_id
            )
        elif kind == "AWS::KMS::Key":
            resolved = _deep_resolve(properties, resolver)
            policies.key_policies[names.key_arn(logical_id)] = statements_of(
                resolved["KeyPolicy"], logical_id
            )
    return policies
