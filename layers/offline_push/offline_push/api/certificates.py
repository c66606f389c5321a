"""Requests of the certificate API: path ids and uploads, as multipart/form-data or JSON.

An upload has the fields ``type`` (``p12`` | ``p8``; optional, see
:func:`offline_push.logic.certificates.credential_type_of`), ``name``, ``environment``, ``file``, and
``password`` (p12) or ``keyId`` / ``teamId`` / ``bundleId`` (p8). In multipart/form-data ``file`` is a file
part (``curl -F file=@cert.p12``); in JSON it is the file's content in base64. Unknown fields are refused,
so a misspelt ``pasword`` is an error rather than a missing password. No message ever repeats a field's value.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from offline_push.api.multipart import parse_form_data
from offline_push.errors import (
    InvalidBusinessId,
    InvalidRequest,
    InvalidSdkAppId,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from offline_push.logic.certificates import MAX_CREDENTIAL_BYTES, CertificateUpload
from offline_push.untrusted import UnreadableInput, has_lone_surrogate, load_json

# An upload is one flat object.
MAX_JSON_DEPTH = 8

# The file (base64 in JSON grows it by a third) plus a few short fields.
MAX_REQUEST_BYTES = 2 * MAX_CREDENTIAL_BYTES

_SDK_APP_ID = re.compile(r"[1-9][0-9]{0,17}")
_BUSINESS_ID = re.compile(r"[1-9][0-9]{0,9}")

_FIELDS = {
    "type": "type",
    "name": "name",
    "environment": "environment",
    "file": "content",
    "password": "password",
    "keyId": "key_id",
    "teamId": "team_id",
    "bundleId": "bundle_id",
}


def parse_sdk_app_id(value: str) -> int:
    if not _SDK_APP_ID.fullmatch(value):
        raise InvalidSdkAppId("sdkAppId must be a positive decimal number, such as 1400000001")
    return int(value)


def parse_business_id(value: str) -> int:
    if not _BUSINESS_ID.fullmatch(value):
        raise InvalidBusinessId("businessId must be a positive decimal number, as returned by the upload")
    return int(value)


def _unknown_fields(names: set[str]) -> InvalidRequest:
    shown = ", ".join(repr(name[:40]) for name in sorted(names)[:5])
    return InvalidRequest(f"unknown field(s) {shown}; the fields are: {', '.join(_FIELDS)}")


def request_body(event: APIGatewayProxyEventV2) -> bytes:
    """The raw body bytes, refusing oversized requests before decoding them."""
    raw = event.body or ""
    limit = MAX_REQUEST_BYTES * 4 // 3 + 4 if event.is_base64_encoded else MAX_REQUEST_BYTES * 4
    too_large = PayloadTooLarge(f"request body is larger than {MAX_REQUEST_BYTES} bytes")
    if len(raw) > limit:
        raise too_large
    if not event.is_base64_encoded:
        try:
            body = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("request body is not valid UTF-8") from None
    else:
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("request body is not valid base64 although marked so") from None
    if len(body) > MAX_REQUEST_BYTES:
        raise too_large
    return body


def _upload_from_json(body: bytes) -> CertificateUpload:
    try:
        document = load_json(body, max_depth=MAX_JSON_DEPTH)
    except UnreadableInput as exc:
        message = (
            "request body is not valid JSON" if str(exc) == "not valid JSON" else f"request body is {exc}"
        )
        raise InvalidRequest(message) from None
    if not isinstance(document, dict):
        raise InvalidRequest("request body must be a JSON object")
    if has_lone_surrogate(document):
        raise InvalidRequest("request body has a string with a lone surrogate (not Unicode text)")
    unknown = set(document) - set(_FIELDS)
    if unknown:
        raise _unknown_fields(unknown)
    values: dict[str, Any] = {}
    for field_name, attribute in _FIELDS.items():
        value = document.get(field_name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"{field_name} must be a string")
        if field_name == "file":
            try:
                values[attribute] = base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest("file must be the file's content in base64") from None
        else:
            values[attribute] = value
    return CertificateUpload(**values)


def _upload_from_form(body: bytes, content_type: str) -> CertificateUpload:
    parts = parse_form_data(body, content_type)
    unknown = set(parts) - set(_FIELDS)
    if unknown:
        raise _unknown_fields(unknown)
    values: dict[str, Any] = {}
    for field_name, attribute in _FIELDS.items():
        part = parts.get(field_name)
        if part is None:
            continue
        values[attribute] = part.content if field_name == "file" else part.text()
    return CertificateUpload(**values)


def parse_upload(event: APIGatewayProxyEventV2) -> CertificateUpload:
    """The upload of a POST or PUT, from a JSON or a multipart/form-data body."""
    content_type = event.headers.get("content-type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    body = request_body(event)
    if media_type in ("", "application/json"):
        if not body.strip():
            raise InvalidRequest("request body is empty: send the certificate as JSON or multipart/form-data")
        return _upload_from_json(body)
    if media_type == "multipart/form-data":
        return _upload_from_form(body, content_type)
    raise UnsupportedMediaType(
        "send the certificate as multipart/form-data (curl -F) or application/json (file in base64)"
    )
