"""What ``!Ref``, ``!GetAtt`` and ``!Sub`` resolve to for a local stack, as CloudFormation resolves them."""

from __future__ import annotations

from typing import Any

import pytest

from local.provision import Provisioned, pseudo_parameters

PROVISIONED = Provisioned(
    refs={"JobsQueue": "http://127.0.0.1:5000/123456789012/offline-push-JobsQueue"},
    attributes={("DataKey", "Arn"): "arn:aws:kms:eu-west-1:123456789012:key/k-1"},
    parameters={**pseudo_parameters("eu-west-1", "offline-push"), "LogLevel": "INFO"},
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
    ],
)
def test_template_values_resolve_like_cloudformation(value: Any, resolved: str) -> None:
    assert PROVISIONED.resolve(value) == resolved


def test_an_intrinsic_the_local_stack_cannot_resolve_is_named() -> None:
    with pytest.raises(ValueError, match=r"cannot resolve .*Fn::ImportValue"):
        PROVISIONED.resolve({"Fn::ImportValue": "shared-vpc"})
