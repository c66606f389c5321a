"""Read template.yaml, so tests and the local stack build exactly the resources the deployment declares.

Tables get their key schemas, indexes and TTL from here, routes their paths and authorizers: nothing about the
infrastructure is written twice, so the local stack and the tests cannot drift from what ``sam deploy``
creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt ...)."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def resources_of_type(
    resource_type: str, template: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    resources = (template or load_template())["Resources"]
    return {name: body for name, body in resources.items() if body.get("Type") == resource_type}


@dataclass(frozen=True)
class TableDefinition:
    logical_id: str
    create_table_kwargs: dict[str, Any]
    ttl_attribute: str | None


def dynamodb_tables(template: dict[str, Any] | None = None) -> list[TableDefinition]:
    """CreateTable arguments for every AWS::DynamoDB::Table, named after its logical id."""
    tables = []
    for logical_id, body in resources_of_type("AWS::DynamoDB::Table", template).items():
        properties = body["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in properties:
                kwargs[index_kind] = properties[index_kind]
        ttl = properties.get("TimeToLiveSpecification") or {}
        tables.append(
            TableDefinition(logical_id, kwargs, ttl.get("AttributeName") if ttl.get("Enabled") else None)
        )
    return tables


def function_runtime(template: dict[str, Any] | None = None) -> str:
    document = template or load_template()
    return str(document["Globals"]["Function"]["Runtime"])
