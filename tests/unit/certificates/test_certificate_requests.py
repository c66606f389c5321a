"""Reading certificate API requests: path ids, JSON and multipart/form-data uploads."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.api.certificates import (
    MAX_REQUEST_BYTES,
    parse_business_id,
    parse_sdk_app_id,
    parse_upload,
)
from offline_push.api.multipart import FormPart, parse_form_data
from offline_push.errors import (
    InvalidBusinessId,
    InvalidRequest,
    InvalidSdkAppId,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from offline_push.logic.certificates import CertificateUpload
from tests.support.events import http_event, multipart_body

PATH = "/v1/apps/1400000001/certificates"


def _event(**kwargs: object) -> APIGatewayProxyEventV2:
    return APIGatewayProxyEventV2(http_event("POST", PATH, admin=True, **kwargs))  # type: ignore[arg-type]


# --- ids ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "number"), [("1", 1), ("1400000001", 1400000001), ("9" * 18, int("9" * 18))]
)
def test_sdk_app_id_is_a_positive_decimal(value: str, number: int) -> None:
    assert parse_sdk_app_id(value) == number


@pytest.mark.parametrize("value", ["", "0", "01", "-1", "+1", "1e9", "abc", "1 ", "١٢٣", "9" * 19])
def test_anything_else_is_not_an_sdk_app_id(value: str) -> None:
    with pytest.raises(InvalidSdkAppId):
        parse_sdk_app_id(value)


@pytest.mark.parametrize("value", ["0", "007", "1.0", "x", "12345678901"])
def test_business_id_is_a_small_positive_decimal(value: str) -> None:
    assert parse_business_id("42") == 42
    with pytest.raises(InvalidBusinessId):
        parse_business_id(value)


# --- JSON ---------------------------------------------------------------------------------------------------


def test_json_upload_maps_every_field_and_decodes_the_file() -> None:
    body = {
        "type": "p8",
        "name": "Token",
        "environment": "production",
        "file": base64.b64encode(b"key bytes").decode(),
        "keyId": "ABC123DEFG",
        "teamId": "DEF123GHIJ",
        "bundleId": "com.example.chat",
    }

    assert parse_upload(_event(json_body=body)) == CertificateUpload(
        type="p8",
        name="Token",
        environment="production",
        content=b"key bytes",
        key_id="ABC123DEFG",
        team_id="DEF123GHIJ",
        bundle_id="com.example.chat",
    )


def test_json_nulls_are_absent_fields() -> None:
    assert parse_upload(_event(json_body={"name": None, "password": "x"})) == CertificateUpload(password="x")


def test_json_without_content_type_is_read_as_json() -> None:
    event = _event(body=json.dumps({"name": "Chat"}))

    assert parse_upload(event) == CertificateUpload(name="Chat")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "request body is not valid JSON"),
        ("[1]", "request body must be a JSON object"),
        ('{"name": 3}', "name must be a string"),
        ('{"file": "***"}', "file must be the file's content in base64"),
        ('{"nmae": "x", "pasword": "y"}', None),
    ],
)
def test_malformed_json_is_refused_naming_the_problem(body: str, message: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_upload(_event(body=body, headers={"content-type": "application/json; charset=utf-8"}))

    if message is not None:
        assert refused.value.message == message
    else:
        assert refused.value.message.startswith("unknown field(s) 'nmae', 'pasword';")
        assert '"y"' not in refused.value.message


def test_content_types_other_than_json_and_forms_are_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_upload(_event(body=b"\x30\x82", headers={"content-type": "application/x-pkcs12"}))


@pytest.mark.parametrize("encoded", [True, False])
def test_bodies_over_the_limit_are_refused_before_they_are_read(encoded: bool) -> None:
    oversized = b"{" + b" " * MAX_REQUEST_BYTES + b"}"
    event = _event(
        body=oversized if encoded else oversized.decode(), headers={"content-type": "application/json"}
    )

    with pytest.raises(PayloadTooLarge):
        parse_upload(event)


# --- multipart ----------------------------------------------------------------------------------------------


def test_multipart_upload_maps_fields_and_the_file_part() -> None:
    body, content_type = multipart_body(
        {"name": "Chat", "environment": "development", "password": "pässword"},
        {"file": ("push.p12", b"\x00\r\n\xff")},
    )

    upload = parse_upload(_event(body=body, headers={"content-type": content_type}))

    assert upload == CertificateUpload(
        name="Chat", environment="development", password="pässword", content=b"\x00\r\n\xff"
    )


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
        max_size=4,
    ),
    content=st.binary(max_size=4096),
)
def test_multipart_round_trips_any_fields_and_any_file_bytes(fields: dict[str, str], content: bytes) -> None:
    fields.pop("file", None)
    body, content_type = multipart_body(fields, {"file": ("push.p12", content)})

    parts = parse_form_data(body, content_type)

    assert parts == {
        **{name: FormPart(name=name, content=value.encode()) for name, value in fields.items()},
        "file": FormPart(name="file", content=content, filename="push.p12"),
    }


def test_multipart_with_quoted_boundary_and_preamble_is_read() -> None:
    body = (
        b"preamble to ignore\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="name"\r\n\r\n'
        b"Chat\r\n"
        b"--b0undary--\r\n"
    )

    parts = parse_form_data(body, 'multipart/form-data; boundary="b0undary"')

    assert parts == {"name": FormPart(name="name", content=b"Chat")}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n',
            "multipart/form-data; boundary=b",
            "multipart/form-data body ends without its closing boundary",
        ),
        (
            b"no boundary here",
            "multipart/form-data; boundary=b",
            "multipart/form-data body does not contain its boundary",
        ),
        (
            b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
            "multipart/form-data part has no Content-Disposition header",
        ),
        (
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
            "multipart/form-data; boundary=b",
            "multipart/form-data part has no field name",
        ),
        (
            b'--b\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--b--',
            "multipart/form-data; boundary=b",
            "multipart/form-data part is not 'form-data'",
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="a"\r\nx\r\n--b--',
            "multipart/form-data; boundary=b",
            "multipart/form-data part has no blank line after its headers",
        ),
        (
            b"--bXX\r\n",
            "multipart/form-data; boundary=b",
            "multipart/form-data delimiter is not followed by a line break",
        ),
        (
            b"--b--",
            "multipart/form-data; boundary=" + "b" * 71,
            "multipart/form-data needs a boundary parameter (1 to 70 characters)",
        ),
    ],
)
def test_malformed_multipart_is_refused_naming_the_problem(
    body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_form_data(body, content_type)

    assert refused.value.message == message


def test_unknown_form_fields_are_refused() -> None:
    body, content_type = multipart_body({"pasword": "secret"}, {})

    with pytest.raises(InvalidRequest, match="unknown field") as refused:
        parse_upload(_event(body=body, headers={"content-type": content_type}))

    assert "secret" not in refused.value.message


def test_a_text_field_that_is_not_utf8_is_refused() -> None:
    body, content_type = multipart_body({}, {"name": ("name.txt", b"\xff\xfe")})

    with pytest.raises(InvalidRequest, match="form field 'name' is not UTF-8 text"):
        parse_upload(_event(body=body, headers={"content-type": content_type}))
