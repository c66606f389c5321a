"""Create template.yaml's stateful resources on an AWS endpoint (moto, in-process or its server).

Tables (keys, indexes, TTL), buckets (default SSE-KMS), KMS keys and SQS queues (with their redrive policy)
come from their definitions in the template, and each function's environment variables are resolved the way
CloudFormation would resolve ``!Ref`` / ``!GetAtt``: the tests and the local stack configure the handlers
exactly as a deployment does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.template import dynamodb_tables, load_template

ACCOUNT_ID = "123456789012"


@dataclass
class Provisioned:
    """Physical ids (what ``!Ref`` returns) and attributes (what ``!GetAtt`` returns) by logical id."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    # What ``!Ref`` gives for template parameters (their defaults) and pseudo parameters (AWS::Region ...).
    parameters: dict[str, str] = field(default_factory=dict)
    # The template's Conditions, evaluated with those parameters.
    conditions: dict[str, bool] = field(default_factory=dict)

    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, dict) and "Ref" in value:
            name = value["Ref"]
            return self.refs[name] if name in self.refs else self.parameters[name]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attributes[(logical_id, attribute)]
        if isinstance(value, dict) and "Fn::Sub" in value:
            return self._substitute(value["Fn::Sub"])
        if isinstance(value, dict) and "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if self.conditions[condition] else when_false)
        raise ValueError(f"cannot resolve {value!r} locally")

    def resolve_property(self, value: Any) -> str | None:
        """A property's value, or None where it comes to ``AWS::NoValue`` (CloudFormation drops it)."""
        if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
            return None
        if isinstance(value, dict) and "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve_property(when_true if self.conditions[condition] else when_false)
        return self.resolve(value)

    def evaluate(self, condition: Any) -> bool:
        """A condition of the template's ``Conditions`` (``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``,
        ``Condition``), as CloudFormation evaluates it."""
        if isinstance(condition, dict) and "Fn::Equals" in condition:
            left, right = condition["Fn::Equals"]
            return self.resolve(left) == self.resolve(right)
        if isinstance(condition, dict) and "Fn::Not" in condition:
            [inner] = condition["Fn::Not"]
            return not self.evaluate(inner)
        if isinstance(condition, dict) and "Fn::And" in condition:
            return all(self.evaluate(inner) for inner in condition["Fn::And"])
        if isinstance(condition, dict) and "Fn::Or" in condition:
            return any(self.evaluate(inner) for inner in condition["Fn::Or"])
        if isinstance(condition, dict) and "Condition" in condition:
            return self.conditions[condition["Condition"]]
        if isinstance(condition, dict) and "Fn::Condition" in condition:  # the short form, !Condition
            return self.conditions[condition["Fn::Condition"]]
        raise ValueError(f"cannot evaluate condition {condition!r} locally")

    def _substitute(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return self.resolve(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.attributes[(logical_id, attribute)]
            return self.resolve({"Ref": name})

        # ${!Literal} is CloudFormation's escape for a literal ${Literal}.
        resolved = re.sub(r"\$\{(?!!)([^}]+)\}", replace, str(text))
        return resolved.replace("${!", "${")


# Parameters the local stack sets as `sam deploy --parameter-overrides` would: no X-Ray daemon runs here.
LOCAL_PARAMETERS = {"Tracing": "PassThrough"}


def pseudo_parameters(region: str, stack_name: str) -> dict[str, str]:
    """What CloudFormation's pseudo parameters resolve to for a local stack."""
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack_name}/local",
        "AWS::URLSuffix": "amazonaws.com",
    }


def deployed_template(
    document: dict[str, Any], *, region: str = "us-east-1", stack_name: str = "offline-push"
) -> dict[str, Any]:
    """The template as CloudFormation deploys it with the local parameters: a resource or output whose
    ``Condition`` is false is left out (the console's sign-in resources, off by default)."""
    probe = Provisioned(parameters=pseudo_parameters(region, stack_name))
    for name, parameter in document.get("Parameters", {}).items():
        if "Default" in parameter:
            probe.parameters[name] = str(parameter["Default"])
        if name in LOCAL_PARAMETERS:
            probe.parameters[name] = LOCAL_PARAMETERS[name]
    for name, condition in document.get("Conditions", {}).items():
        probe.conditions[name] = probe.evaluate(condition)

    def kept(section: str) -> dict[str, Any]:
        return {
            name: body
            for name, body in document.get(section, {}).items()
            if "Condition" not in body or probe.conditions[body["Condition"]]
        }

    return {**document, "Resources": kept("Resources"), "Outputs": kept("Outputs")}


def _bucket_name(logical_id: str, prefix: str) -> str:
    return f"{prefix}-{logical_id}".lower()


def provision(
    session: boto3.Session | None = None,
    *,
    template: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    name_prefix: str = "offline-push",
) -> Provisioned:
    """Create every resource the functions use and return the functions' resolved environment."""
    session = session or boto3.Session()
    document = deployed_template(
        template or load_template(), region=session.region_name or "us-east-1", stack_name=name_prefix
    )
    resources: dict[str, dict[str, Any]] = document["Resources"]
    done = Provisioned()
    done.parameters = pseudo_parameters(session.region_name or "us-east-1", name_prefix)
    for name, parameter in document.get("Parameters", {}).items():
        if "Default" in parameter:
            done.parameters[name] = str(parameter["Default"])
        if name in LOCAL_PARAMETERS:
            done.parameters[name] = LOCAL_PARAMETERS[name]
    for name, condition in document.get(
        "Conditions", {}
    ).items():  # in order: a condition may name an earlier one
        done.conditions[name] = done.evaluate(condition)
    # Keys first (buckets encrypt with them), dead-letter queues before the queues that name them.
    _create_keys(session.client("kms", endpoint_url=endpoint_url), resources, done)
    _create_tables(session.client("dynamodb", endpoint_url=endpoint_url), document, done)
    _create_buckets(session.client("s3", endpoint_url=endpoint_url), resources, done, name_prefix)
    _create_queues(session.client("sqs", endpoint_url=endpoint_url), resources, done, name_prefix)
    done.environment = function_environment(document, done)
    return done


def _create_keys(kms: Any, resources: dict[str, dict[str, Any]], done: Provisioned) -> None:
    for logical_id, body in resources.items():
        if body["Type"] == "AWS::KMS::Key":
            key = kms.create_key(Description=body["Properties"].get("Description", logical_id))["KeyMetadata"]
            done.refs[logical_id] = key["KeyId"]
            done.attributes[(logical_id, "Arn")] = key["Arn"]


def _create_tables(dynamodb: Any, document: dict[str, Any], done: Provisioned) -> None:
    for table in dynamodb_tables(document):
        description = dynamodb.create_table(**table.create_table_kwargs)["TableDescription"]
        done.refs[table.logical_id] = table.logical_id
        done.attributes[(table.logical_id, "Arn")] = description["TableArn"]
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.logical_id,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )


def _create_buckets(s3: Any, resources: dict[str, dict[str, Any]], done: Provisioned, prefix: str) -> None:
    for logical_id, body in resources.items():
        if body["Type"] != "AWS::S3::Bucket":
            continue
        name = _bucket_name(logical_id, prefix)
        s3.create_bucket(Bucket=name)
        done.refs[logical_id] = name
        done.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        encryption = body.get("Properties", {}).get("BucketEncryption")
        if not encryption:
            continue
        rules = []
        for rule in encryption["ServerSideEncryptionConfiguration"]:
            # CloudFormation says ServerSideEncryptionByDefault where the S3 API says Apply...
            default = dict(rule["ServerSideEncryptionByDefault"])
            if "KMSMasterKeyID" in default:
                default["KMSMasterKeyID"] = done.resolve(default["KMSMasterKeyID"])
            api_rule = {key: value for key, value in rule.items() if key != "ServerSideEncryptionByDefault"}
            rules.append({**api_rule, "ApplyServerSideEncryptionByDefault": default})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
)


def _create_queues(sqs: Any, resources: dict[str, dict[str, Any]], done: Provisioned, prefix: str) -> None:
    queues = {name: body for name, body in resources.items() if body["Type"] == "AWS::SQS::Queue"}
    for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {})):
        properties = queues[logical_id].get("Properties", {})
        attributes = {key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
        if "RedrivePolicy" in properties:
            policy = properties["RedrivePolicy"]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": done.resolve(policy["deadLetterTargetArn"]),
                    "maxReceiveCount": str(policy["maxReceiveCount"]),
                }
            )
        name = f"{prefix}-{logical_id}"
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        done.refs[logical_id] = url
        done.attributes[(logical_id, "Arn")] = arn
        done.attributes[(logical_id, "QueueName")] = name


def function_environment(document: dict[str, Any], provisioned: Provisioned) -> dict[str, str]:
    """The union of Globals' and every function's environment variables, resolved to physical ids."""
    variables: dict[str, Any] = dict(
        document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for body in document["Resources"].values():
        if body["Type"] == "AWS::Serverless::Function":
            variables.update(body["Properties"].get("Environment", {}).get("Variables", {}))
    environment = {}
    for name, value in variables.items():
        resolved = provisioned.resolve_property(value)
        if resolved is not None:
            environment[name] = resolved
    return environment
