"""How the local runtime reads functions from a template, and resolves their environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import (
    EnvironmentConflict,
    TemplateFunctionError,
    find_function,
    function_definitions,
    shared_environment,
)
from local.provision import Provisioned, pseudo_parameters
from local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "tests" / "support" / "local_stack"


def test_functions_take_globals_and_their_own_settings_as_sam_merges_them() -> None:
    # Given the test template (Globals: Timeout 5, MemorySize 256, three variables)
    template = load_template(SUPPORT / "template.yaml")

    # When its functions are read
    definitions = function_definitions(template, template_path=SUPPORT / "template.yaml")

    # Then each is importable as a package of the repository, with the settings it has on Lambda
    echo, responder = definitions["EchoFunction"], definitions["ResponderFunction"]
    assert sorted(definitions) == ["EchoFunction", "JobsFunction", "ResponderFunction", "StoreFunction"]
    assert (echo.module_name, echo.handler_name) == ("tests.support.local_stack.echo.app", "lambda_handler")
    assert (echo.function_name, echo.folder, echo.timeout_seconds, echo.memory_mb) == (
        "offline-push-EchoFunction",
        "echo",
        5,
        128,
    )
    assert (responder.timeout_seconds, responder.memory_mb) == (1, 256)
    assert echo.environment == {
        "ITEMS_TABLE": {"Ref": "ItemsTable"},
        "JOBS_QUEUE_URL": {"Ref": "JobsQueue"},
        "DEPLOYMENT_NAME": {"Fn::Sub": "${AWS::StackName}-${AWS::Region}"},
    }
    assert echo.arn("eu-west-1") == "arn:aws:lambda:eu-west-1:123456789012:function:offline-push-EchoFunction"


def test_layers_of_the_template_are_mounted_from_their_content_uri() -> None:
    # Given a layer of the template in Globals and a published one (an ARN) on the function
    template: dict[str, Any] = {
        "Globals": {"Function": {"Layers": [{"Ref": "SharedLayer"}]}},
        "Resources": {
            "SharedLayer": {
                "Type": "AWS::Serverless::LayerVersion",
                "Properties": {"ContentUri": "../../../layers/offline_push"},
            },
            "Echo": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "echo/",
                    "Handler": "app.lambda_handler",
                    "Layers": ["arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3:1"],
                },
            },
        },
    }

    # When the function is read
    echo = function_definitions(template, template_path=SUPPORT / "template.yaml")["Echo"]

    # Then the template's layer folder is on its import path, as Lambda mounts it in /opt/python
    assert echo.layer_dirs == (ROOT / "layers" / "offline_push",)


@pytest.mark.parametrize("name", ["EchoFunction", "offline-push-EchoFunction", "echo"])
def test_a_function_is_found_by_logical_id_name_or_folder(name: str) -> None:
    definitions = function_definitions(
        load_template(SUPPORT / "template.yaml"), template_path=SUPPORT / "template.yaml"
    )

    assert find_function(definitions, name).logical_id == "EchoFunction"


def test_an_unknown_function_is_reported_with_the_known_ones() -> None:
    definitions = function_definitions(
        load_template(SUPPORT / "template.yaml"), template_path=SUPPORT / "template.yaml"
    )

    with pytest.raises(KeyError, match=r"no function 'mailer'.*EchoFunction \(echo\)"):
        find_function(definitions, "mailer")


def _function(code_uri: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"CodeUri": code_uri, "Handler": "app.lambda_handler"}
    if variables is not None:
        properties["Environment"] = {"Variables": variables}
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def test_a_code_uri_outside_the_repository_is_refused() -> None:
    template = {"Resources": {"Elsewhere": _function("../../../../outside")}}

    with pytest.raises(TemplateFunctionError, match=r"Elsewhere: CodeUri .* is outside"):
        function_definitions(template, template_path=SUPPORT / "template.yaml")


def test_variables_resolve_like_cloudformation_and_two_functions_may_not_disagree() -> None:
    # Given two functions that set one variable differently
    provisioned = Provisioned(
        refs={"Jobs": "http://queue"}, parameters=pseudo_parameters("eu-west-1", "push")
    )
    agreeing = {
        "Resources": {
            "A": _function("echo/", {"QUEUE": {"Ref": "Jobs"}, "NAME": {"Fn::Sub": "${AWS::StackName}-a"}}),
            "B": _function("echo/", {"QUEUE": {"Ref": "Jobs"}, "REGION": {"Ref": "AWS::Region"}}),
        }
    }
    disagreeing = {"Resources": {**agreeing["Resources"], "C": _function("echo/", {"QUEUE": "other"})}}

    # When the process environment is built
    merged = shared_environment(
        function_definitions(agreeing, template_path=SUPPORT / "template.yaml"), provisioned
    )

    # Then agreeing variables are resolved and merged, and a disagreement is refused by name
    assert merged == {"QUEUE": "http://queue", "NAME": "push-a", "REGION": "eu-west-1"}
    with pytest.raises(EnvironmentConflict, match="QUEUE is 'http://queue' for A but 'other' for C"):
        shared_environment(
            function_definitions(disagreeing, template_path=SUPPORT / "template.yaml"), provisioned
        )
