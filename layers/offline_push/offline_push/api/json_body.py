"""Parse a JSON request body into a pydantic model, with the product's error shape.

Used where a route must check something (the caller) before it looks at the body, so Powertools' own
validation, which runs first, is off. Errors name the field and what is wrong, never the submitted value:
bodies carry secrets (app keys), and a ``ValidationError``'s text would repeat them, so it is not chained.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, ValidationError

from offline_push.api.http import describe_validation_errors
from offline_push.errors import InvalidRequest


def parse_json_body[M: BaseModel](model: type[M], event: BaseProxyEvent) -> M:
    raw = event.decoded_body
    if raw is None or not raw.strip():
        raise InvalidRequest("the request body must be a JSON object")
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise InvalidRequest(describe_validation_errors(list(errors))) from None
