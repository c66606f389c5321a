"""What ``!Ref``, ``!GetAtt`` and ``!Sub`` resolve to for a local stack, as CloudFormation resolves them."""

from __future__ import annotations

from typing import Any

import pytest

from local.provision import Provisioned, pseudo_parameters

PROVISIONED = Provisioned(
    refs={"JobsQueue": "http://127.0.0.1:5000/123456789012/offline-push-JobsQueue"},
    attributes={("DataKey", "Arn"): "arn:aws:kms:eu-west-1:123456789012:key/k-1"},
    parameters={**pseudo_parameters("eu-west-1", "offline-push"), "LogLevel": "INFO"},
    conditions={"Verbose": False, "Traced": True},
)


@pytest.mark.parametrize(
    ("value", "resolved"),
    [
        ("plain", "plain"),
        (30, "30"),
        (True, "true"),
        ({"Ref": "JobsQueue"}, "http://127.0.0.1:5000/123456789012/offline-push-JobsQueue"),
        ({"Ref": "LogLevel"}, "INFO"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Fn::GetAtt": ["DataKey", "Arn"]}, "arn:aws:kms:eu-west-1:123456789012:key/k-1"),
        ({"Fn::Sub": "${AWS::StackName}-data"}, "offline-push-data"),
        (
            {"Fn::Sub": "key ${DataKey.Arn} in ${AWS::AccountId}"},
            "key arn:aws:kms:eu-west-1:123456789012:key/k-1 in 123456789012",
        ),
        ({"Fn::Sub": "${!Literal} and ${LogLevel}"}, "${Literal} and INFO"),
        ({"Fn::Sub": ["${Name}/${AWS::Partition}", {"Name": {"Ref": "LogLevel"}}]}, "INFO/aws"),
        ({"Fn::If": ["Traced", "false", "true"]}, "false"),
        ({"Fn::If": ["Verbose", "DEBUG", {"Ref": "LogLevel"}]}, "INFO"),
    ],
)
def test_template_values_resolve_like_cloudformation(value: Any, resolved: str) -> None:
    assert PROVISIONED.resolve(value) == resolved


def test_an_intrinsic_the_local_stack_cannot_resolve_is_named() -> None:
    with pytest.raises(ValueError, match=r"cannot resolve .*Fn::ImportValue"):
        PROVISIONED.resolve({"Fn::ImportValue": "shared-vpc"})


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"Fn::Equals": [{"Ref": "LogLevel"}, "INFO"]}, True),
        ({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}, False),
        ({"Fn::Not": [{"Fn::Equals": [{"Ref": "LogLevel"}, "INFO"]}]}, False),
        ({"Fn::And": [{"Condition": "Traced"}, {"Fn::Equals": ["a", "a"]}]}, True),
        ({"Fn::Or": [{"Condition": "Verbose"}, {"Fn::Equals": ["a", "b"]}]}, False),
    ],
)
def test_template_conditions_evaluate_like_cloudformation(condition: Any, holds: bool) -> None:
    assert PROVISIONED.evaluate(condition) is holds


def test_a_condition_the_local_stack_cannot_evaluate_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="cannot evaluate condition"):
        PROVISIONED.evaluate({"Fn::Contains": [["a"], "a"]})
