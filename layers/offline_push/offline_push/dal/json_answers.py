"""DynamoDB answers read with the ``json`` module instead of botocore's response parser.

botocore parses a JSON answer by walking its shape model in Python, node by node: for the dispatcher's
largest answer, the registrations of 100 receivers with their device maps, that walk costs more CPU than
sending the receivers' notifications. DynamoDB's wire format for items is already what the low-level client
returns (``{"S": ...}``, ``{"N": "..."}``, ``{"M": {...}}``...) except for binary values, which the JSON
protocol carries in base64: so an answer whose items hold no binary attribute (a projection without them) is
the same document either way, and ``json.loads`` (C) reads it at a fraction of the cost.
"""

from __future__ import annotations

import json
from typing import Any


def read_with_json(client: Any, operation: str) -> None:
    """Parse ``client``'s successful ``operation`` answers with ``json``. Only for answers without binary
    attributes (they would stay base64 text): the caller's projection must exclude them."""
    service = client.meta.service_model.service_id.hyphenize()

    def parse(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict.get("body")
        if response_dict.get("status_code") != 200 or not body:
            return  # errors go through botocore's parser, which maps them to ClientError
        customized_response_dict.update(json.loads(body))
        response_dict["body"] = b"{}"

    client.meta.events.register(f"before-parse.{service}.{operation}", parse)
