"""Parse a JSON request body into a pydantic model, with the product's error shape.

Used where a route must check something (the caller) before it looks at the body, so Powertools' own
validation, which runs first, is off. Errors name the field and what is wrong, never the submitted value:
bodies carry secrets (app keys), and a ``ValidationError``'s text would repeat them, so it is not chained.

What a JSON route accepts: ``Content-Type: application/json``, optionally with ``charset=utf-8`` (any case);
anything else, or no content type, is 415. The body is UTF-8 JSON text, at most :data:`MAX_JSON_BODY_BYTES`,
nested at most :data:`MAX_JSON_DEPTH` levels, an object, with no lone surrogate (``"\\ud800"``) in any string.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, ValidationError

from offline_push.api.http import describe_validation_errors
from offline_push.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from offline_push.untrusted import UnreadableInput, has_lone_surrogate, load_json

# The largest JSON body (app settings with a 8 KiB public key) is far below this.
MAX_JSON_BODY_BYTES = 64 * 1024
# The deepest JSON body a route takes is 2 levels; the limit leaves room and stops recursion bombs.
MAX_JSON_DEPTH = 32

JSON_MEDIA_TYPE = "application/json"


def require_json_content_type(event: BaseProxyEvent) -> None:
    """415 unless the request says ``application/json`` (with no charset, or ``charset=utf-8``)."""
    header = event.headers.get("content-type") or ""  # Powertools' headers ignore case
    media_type, *parameters = (part.strip() for part in header.split(";"))
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (parameter.partition("=") for parameter in parameters)
        if name.strip().lower() == "charset"
    ]
    if media_type.lower() != JSON_MEDIA_TYPE or any(charset != "utf-8" for charset in charsets):
        raise UnsupportedMediaType(
            "send the body as Content-Type: application/json (optionally; charset=utf-8)"
        )


def raw_body(event: BaseProxyEvent, *, max_bytes: int = MAX_JSON_BODY_BYTES) -> bytes:
    """The body's bytes as sent (API Gateway base64-encodes bodies it does not take for text)."""
    body = event.body or ""
    too_large = PayloadTooLarge(f"request body is larger than {max_bytes} bytes")
    if len(body) > max_bytes * 4 // 3 + 4:
        raise too_large
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("request body is not valid base64 although marked so") from None
    else:
        try:
            data = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("the request body is not valid UTF-8") from None
    if len(data) > max_bytes:
        raise too_large
    return data


def parse_json_body[M: BaseModel](model: type[M], event: BaseProxyEvent) -> M:
    require_json_content_type(event)
    data = raw_body(event)
    if not data.strip():
        raise InvalidRequest("the request body must be a JSON object")
    try:
        document: Any = load_json(data, max_depth=MAX_JSON_DEPTH)
    except UnreadableInput as exc:
        raise InvalidRequest(f"the request body is {exc}") from None
    if not isinstance(document, dict):
        raise InvalidRequest("the request body must be a JSON object")
    if has_lone_surrogate(document):
        raise InvalidRequest("the request body has a string with a lone surrogate (not Unicode text)")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise InvalidRequest(describe_validation_errors(list(errors))) from None
