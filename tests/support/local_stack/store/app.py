"""TEST ONLY: PUT /items/{id} stores the JSON body in the ITEMS_TABLE table; GET /items/{id} reads it back.

It reaches DynamoDB the way the product's handlers do: boto3, configured by the environment alone."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3


@cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    item_id = event["pathParameters"]["id"]
    table = os.environ["ITEMS_TABLE"]
    if event["requestContext"]["http"]["method"] == "PUT":
        _dynamodb().put_item(TableName=table, Item={"id": {"S": item_id}, "data": {"S": event["body"]}})
        return {"statusCode": 204}
    found = _dynamodb().get_item(TableName=table, Key={"id": {"S": item_id}}).get("Item")
    if found is None:
        return {"statusCode": 404, "body": json.dumps({"code": "NotFound", "message": item_id})}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": found["data"]["S"]}
