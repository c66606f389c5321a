"""A deploy, rehearsed offline: what `sam deploy` does, up to the point where only AWS can answer.

For every combination of the stack parameters that change resources (``RESOURCE_SWITCHES``): `sam build`'s
template is packaged the way `sam package` does it (each function and the layer zipped into a bucket, moto's
here), transformed by the pinned aws-sam-translator (what CloudFormation runs for the change set), linted
with cfn-lint, and created as a stack in moto's CloudFormation, which must reach ``CREATE_COMPLETE`` with
every output the README names.

moto's CloudFormation creates nothing for a few resource types and still reports success: those are named in
``MOTO_SKIPS``, and their properties are checked against the transformed template instead.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.sam_transform import RESOURCE_SWITCHES, TemplateRejected, parameter_combinations, transform
from local.template import load_template
from tests.support.deploy import (
    CFN_LINT,
    ROOT,
    TODAYS_TRANSFORM_ERROR,
    built_template,
    with_todays_auth_blocks,
    zip_folder,
)

REGION = "us-east-1"
ARTIFACT_BUCKET = "offline-push-artifacts"

# moto warns once per skipped resource type: expected for MOTO_SKIPS, which the tests below check.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

# Resource types moto's CloudFormation skips (it reports them created, creates nothing): checked below.
MOTO_SKIPS = frozenset(
    {"AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::S3::BucketPolicy", "AWS::CloudWatch::Alarm"}
)
# ... and the console's sign-in (Console=true), checked below too. With ConsoleAdminEmail also the admin user
# and its group membership (AWS::Cognito::UserPoolUser, ::UserPoolUserToGroupAttachment), not rehearsed.
CONSOLE_MOTO_SKIPS = frozenset(
    {
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolGroup",
        "AWS::Cognito::IdentityPool",
        "AWS::Cognito::IdentityPoolRoleAttachment",
    }
)

ADMIN_ROUTES = {
    "GET /v1/apps",
    "POST /v1/apps/{sdkAppId}/certificates",
    "GET /v1/apps/{sdkAppId}/certificates",
    "GET /v1/apps/{sdkAppId}/certificates/{businessId}",
    "PUT /v1/apps/{sdkAppId}/certificates/{businessId}",
    "DELETE /v1/apps/{sdkAppId}/certificates/{businessId}",
    "PUT /v1/apps/{sdkAppId}/settings",
    "GET /v1/apps/{sdkAppId}/settings",
    "GET /v1/apps/{sdkAppId}/users/{userId}/deliveries",
    "GET /v1/apps/{sdkAppId}/messages/{msgKey}",
}
USER_ROUTES = {
    "PUT /v1/apps/{sdkAppId}/users/{userId}/apns",
    "DELETE /v1/apps/{sdkAppId}/users/{userId}/apns",
    "PUT /v1/apps/{sdkAppId}/users/{userId}/voip",
    "PUT /v1/apps/{sdkAppId}/users/{userId}/badge",
}
# The console's page (Console=true only): static files, no authorizer; the page holds no authority itself.
CONSOLE_ROUTES = {"GET /console", "GET /console/{asset}"}


def _combination_id(parameters: dict[str, str]) -> str:
    return ",".join(f"{name}={value}" for name, value in parameters.items())


def readme_outputs() -> set[str]:
    """The stack outputs the README's deploy section names (its "Stack outputs" table)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Stack outputs", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))


@cache
def _packages() -> tuple[dict[str, Any], dict[str, bytes]]:
    """`sam build`'s template, and a zip of each function's and the layer's built folder by logical id."""
    template_path = built_template()
    template = load_template(template_path)
    packages = {}
    for logical_id, body in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            body["Type"]
        )
        if key is not None:
            packages[logical_id] = zip_folder(template_path.parent / body["Properties"][key])
    return template, packages


@pytest.fixture
def packaged() -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """moto, with the built artifacts in a bucket; the built template and each artifact's S3 URI."""
    template, packages = _packages()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        uris = {}
        for logical_id, package in packages.items():
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{logical_id}.zip", Body=package)
            uris[logical_id] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip"
        yield template, uris


def _create_stack(name: str, transformed: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(transformed),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    stack["Resources"] = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return dict(stack)


def _cfn_lint(transformed: dict[str, Any], path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(json.dumps(transformed, indent=1), encoding="utf-8")
    if not CFN_LINT.is_file():
        pytest.fail(f"{CFN_LINT} is missing: run `make venv`")
    return subprocess.run(  # noqa: S603
        # W1028 (an Fn::If branch never reached) is left out: for the routes of a conditional function
        # (the console's), the translator itself nests Fn::If on the same condition inside the API's body.
        [
            str(CFN_LINT),
            "--format",
            "parseable",
            "--regions",
            REGION,
            "--ignore-checks",
            "W1028",
            "--",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_every_resource_switch_is_a_parameter_of_the_template_with_exactly_those_values() -> None:
    # Given the switches the rehearsal combines, and the template's parameters
    declared = load_template()["Parameters"]

    # Then each switch is a parameter, its values are all the values the parameter allows
    for name, values in RESOURCE_SWITCHES.items():
        assert sorted(declared[name]["AllowedValues"]) == sorted(values), name
    combinations = parameter_combinations()
    assert len(combinations) == math.prod(len(values) for values in RESOURCE_SWITCHES.values())
    assert len({json.dumps(combination, sort_keys=True) for combination in combinations}) == len(combinations)


@pytest.mark.parametrize("parameters", parameter_combinations(), ids=_combination_id)
def test_the_built_stack_transforms_lints_and_creates_with_every_output_the_readme_names(
    packaged: tuple[dict[str, Any], dict[str, str]], parameters: dict[str, str], tmp_path: Path
) -> None:
    # Given `sam build`'s template and its artifacts in a bucket
    template, code_uris = packaged

    # When it is transformed as CloudFormation would, linted, and created as a stack
    transformed = transform(template, parameters, region=REGION, code_uris=code_uris)
    lint = _cfn_lint(transformed, tmp_path / "transformed.json")
    stack = _create_stack("offline-push", transformed, parameters)

    # Then cfn-lint finds nothing, the stack is complete, every resource created or named as skipped by moto
    assert (lint.returncode, lint.stdout, lint.stderr) == (0, "", "")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    created = {resource["LogicalResourceId"] for resource in stack["Resources"]}
    conditions = _conditions(transformed, parameters)
    declared_types = {
        name: body["Type"]
        for name, body in transformed["Resources"].items()
        if conditions.get(body.get("Condition", ""), True)
    }
    skipped = {declared_types[name] for name in set(declared_types) - created}
    checked = MOTO_SKIPS | CONSOLE_MOTO_SKIPS
    assert skipped <= checked, f"moto skipped types the rehearsal does not check: {skipped - checked}"
    # And every output the README names exists (those of a switch that is off excepted), and the README
    # names every output
    outputs = {output["OutputKey"]: output.get("OutputValue") for output in stack.get("Outputs", [])}
    switched_off = {
        name
        for name, body in transformed.get("Outputs", {}).items()
        if not conditions.get(body.get("Condition", ""), True)
    }
    # (an output naming a resource moto skips has no value there: its declaration is checked instead)
    unresolved = {"ConsoleUserPoolId"} - switched_off
    assert {name: transformed["Outputs"][name]["Value"] for name in unresolved} == {
        name: {"Ref": "ConsoleUserPool"} for name in unresolved
    }
    assert set(outputs) == readme_outputs() - switched_off - unresolved
    assert all(outputs.values()), outputs


def _conditions(transformed: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions as CloudFormation evaluates them for these parameter values."""
    values = {
        name: parameters.get(name, str(body.get("Default", "")))
        for name, body in transformed.get("Parameters", {}).items()
    }
    definitions = transformed.get("Conditions", {})
    evaluated: dict[str, bool] = {}

    def value(term: Any) -> str:
        return values[term["Ref"]] if isinstance(term, dict) else str(term)

    def evaluate(condition: Any) -> bool:
        [(function, argument)] = condition.items()
        if function == "Fn::Equals":
            return value(argument[0]) == value(argument[1])
        if function == "Fn::Not":
            return not evaluate(argument[0])
        if function == "Fn::And":
            return all(evaluate(inner) for inner in argument)
        if function == "Fn::Or":
            return any(evaluate(inner) for inner in argument)
        if function == "Condition":
            return named(argument)
        raise ValueError(f"condition function {function} is not evaluated here")

    def named(name: str) -> bool:
        if name not in evaluated:
            evaluated[name] = evaluate(definitions[name])
        return evaluated[name]

    return {name: named(name) for name in definitions}


@pytest.mark.parametrize("parameters", parameter_combinations(), ids=_combination_id)
def test_what_moto_skips_is_declared_as_aws_needs_it(parameters: dict[str, str]) -> None:
    # Given the transformed template (local code folders stand in for the artifacts)
    transformed = transform(load_template(), parameters, region=REGION)
    resources = transformed["Resources"]
    by_type: dict[str, dict[str, Any]] = {}
    for name, body in resources.items():
        by_type.setdefault(body["Type"], {})[name] = body
    assert set(by_type) >= MOTO_SKIPS

    # Then the HTTP API routes admin routes through IAM and the user routes through no authorizer
    [api] = by_type["AWS::ApiGatewayV2::Api"].values()
    body = api["Properties"]["Body"]
    routes: dict[str, Any] = {}
    conditional: dict[str, str] = {}
    for path, methods in body["paths"].items():
        if "Fn::If" in methods:  # a conditional function's routes: [condition, methods, AWS::NoValue]
            condition, methods, _ = methods["Fn::If"]  # noqa: PLW2901
            conditional[path] = condition
        for method, operation in methods.items():
            routes[f"{method.upper()} {path}"] = operation
    assert set(routes) == ADMIN_ROUTES | USER_ROUTES | CONSOLE_ROUTES
    assert conditional == {"/console": "ConsoleEnabled", "/console/{asset}": "ConsoleEnabled"}
    for route in CONSOLE_ROUTES:
        assert "security" not in routes[route], route
    for route in ADMIN_ROUTES:
        assert routes[route]["security"] == [{"AWS_IAM": []}], route
    for route in USER_ROUTES:
        assert "security" not in routes[route], route
    assert body["components"]["securitySchemes"]["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"

    # And the stage throttles user and admin routes apart, from the parameters, and writes the access log
    [stage] = by_type["AWS::ApiGatewayV2::Stage"].values()
    properties = stage["Properties"]
    assert properties["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "AdminRouteBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "AdminRouteRateLimit"},
    }
    assert properties["RouteSettings"] == {
        route: {
            "ThrottlingBurstLimit": {"Ref": "UserRouteBurstLimit"},
            "ThrottlingRateLimit": {"Ref": "UserRouteRateLimit"},
        }
        for route in USER_ROUTES
    }
    access_log = properties["AccessLogSettings"]
    assert access_log["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert json.loads(access_log["Format"]) == {
        "requestId": "$context.requestId",
        "time": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "principal": "$context.identity.userArn",
        "caller": "$context.identity.caller",
        "accountId": "$context.identity.accountId",
        "sourceIp": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "latencyMs": "$context.responseLatency",
        "integrationStatus": "$context.integrationStatus",
        "error": "$context.error.message",
    }

    # And the bucket policy denies plain HTTP and uploads not encrypted with KMS
    [bucket_policy] = by_type["AWS::S3::BucketPolicy"].values()
    statements = {
        statement["Sid"]: statement
        for statement in bucket_policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert bucket_policy["Properties"]["Bucket"] == {"Ref": "CertificateBucket"}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyUploadsWithoutKms"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }

    # And the alarm watches the dead-letter queue
    [alarm] = by_type["AWS::CloudWatch::Alarm"].values()
    assert alarm["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["PushDeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["Properties"]["Threshold"], alarm["Properties"]["ComparisonOperator"]) == (
        0,
        "GreaterThanThreshold",
    )


@pytest.mark.parametrize("parameters", parameter_combinations(), ids=_combination_id)
def test_the_console_sign_in_moto_skips_is_declared_as_aws_needs_it(parameters: dict[str, str]) -> None:
    # Given the transformed template
    resources = transform(load_template(), parameters, region=REGION)["Resources"]
    by_type: dict[str, dict[str, Any]] = {}
    for name, body in resources.items():
        by_type.setdefault(body["Type"], {})[name] = body

    # Then the console's sign-in is declared, created only when the console is switched on
    assert set(by_type) >= CONSOLE_MOTO_SKIPS
    for kind in CONSOLE_MOTO_SKIPS:
        assert [body["Condition"] for body in by_type[kind].values()] == ["ConsoleEnabled"], kind
    [pool] = by_type["AWS::Cognito::UserPool"].values()
    [client] = by_type["AWS::Cognito::UserPoolClient"].values()
    [group] = by_type["AWS::Cognito::UserPoolGroup"].values()
    [identities] = by_type["AWS::Cognito::IdentityPool"].values()
    [attachment] = by_type["AWS::Cognito::IdentityPoolRoleAttachment"].values()
    # no self sign-up; no client secret in a browser; the admins group gives the console's role; no guest
    # credentials; a user outside the group gets no role at all
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert client["Properties"]["GenerateSecret"] is False
    assert client["Properties"]["UserPoolId"] == {"Ref": "ConsoleUserPool"}
    assert (group["Properties"]["GroupName"], group["Properties"]["RoleArn"]) == (
        "admins",
        {"Fn::GetAtt": ["ConsoleAdminRole", "Arn"]},
    )
    assert identities["Properties"]["AllowUnauthenticatedIdentities"] is False
    [mapping] = attachment["Properties"]["RoleMappings"].values()
    assert (mapping["Type"], mapping["AmbiguousRoleResolution"]) == ("Token", "Deny")
    assert attachment["Properties"]["IdentityPoolId"] == {"Ref": "ConsoleIdentityPool"}


def test_every_function_has_its_own_log_group_kept_for_the_retention_parameter() -> None:
    # Given the transformed template
    resources = transform(load_template(), region=REGION)["Resources"]
    functions = [name for name, body in resources.items() if body["Type"] == "AWS::Lambda::Function"]
    groups = {
        name: body["Properties"] for name, body in resources.items() if body["Type"] == "AWS::Logs::LogGroup"
    }

    # Then each function's log group is declared, with the retention parameter; so is the API's access log
    for function in functions:
        assert groups[f"{function}LogGroup"] == {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{function}}}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        }
    assert groups["ApiAccessLogGroup"] == {"RetentionInDays": {"Ref": "LogRetentionDays"}}
    assert load_template()["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_rehearsal_refuses_the_template_with_todays_auth_blocks() -> None:
    # Given template.yaml with the three `Auth: Authorizer: NONE` blocks that once made it undeployable
    broken = with_todays_auth_blocks(load_template())

    # When the rehearsal transforms it, for every combination, Then the translator refuses it, naming a route
    for parameters in parameter_combinations():
        with pytest.raises(TemplateRejected) as refused:
            transform(broken, parameters, region=REGION)
        assert str(refused.value) == TODAYS_TRANSFORM_ERROR
