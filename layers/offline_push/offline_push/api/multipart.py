"""multipart/form-data (RFC 7578) as browsers and ``curl -F`` send it: fields and files, byte-exact.

Part bodies are taken verbatim between delimiters (binary-safe: a .p12 is DER); headers are parsed with the
standard library's MIME header parser, so quoting and parameters follow the RFC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from offline_push.errors import InvalidRequest

MAX_PARTS = 16


@dataclass(frozen=True)
class FormPart:
    name: str
    content: bytes = field(repr=False)
    filename: str | None = None

    def text(self) -> str:
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"form field {self.name!r} is not UTF-8 text") from None


def _header_params(header: str, value: str) -> Message:
    message = Message()
    message[header] = value
    return message


def boundary_of(content_type: str) -> str:
    boundary = _header_params("content-type", content_type).get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise InvalidRequest("multipart/form-data needs a boundary parameter (1 to 70 characters)")
    return boundary


def _parse_part(chunk: bytes) -> FormPart:
    header_block, separator, content = chunk.partition(b"\r\n\r\n")
    if not separator:
        raise InvalidRequest("multipart/form-data part has no blank line after its headers")
    try:
        header_lines = header_block.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        raise InvalidRequest("multipart/form-data part headers are not UTF-8") from None
    disposition = None
    for line in header_lines:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "content-disposition":
            disposition = value.strip()
    if disposition is None:
        raise InvalidRequest("multipart/form-data part has no Content-Disposition header")
    params = _header_params("content-disposition", disposition)
    if params.get_content_disposition() != "form-data":
        raise InvalidRequest("multipart/form-data part is not 'form-data'")
    field_name = params.get_param("name", header="content-disposition")
    if not isinstance(field_name, str) or not field_name:
        raise InvalidRequest("multipart/form-data part has no field name")
    filename = params.get_filename()
    return FormPart(name=field_name, content=content, filename=filename)


def parse_form_data(body: bytes, content_type: str) -> dict[str, FormPart]:
    """Fields by name. A field sent twice is an error: which one was meant is not ours to guess."""
    delimiter = b"--" + boundary_of(content_type).encode("ascii", "replace")
    if body.startswith(delimiter):
        start = len(delimiter)
    else:
        position = body.find(b"\r\n" + delimiter)  # after a preamble
        if position < 0:
            raise InvalidRequest("multipart/form-data body does not contain its boundary")
        start = position + 2 + len(delimiter)
    chunks = body[start:].split(b"\r\n" + delimiter)
    parts: dict[str, FormPart] = {}
    closed = False
    for chunk in chunks:
        if chunk.startswith(b"--"):
            closed = True
            break
        # After a delimiter: optional transport padding (spaces, tabs), then CRLF, then the part.
        padding, newline, part = chunk.partition(b"\r\n")
        if not newline or padding.strip(b" \t"):
            raise InvalidRequest("multipart/form-data delimiter is not followed by a line break")
        parsed = _parse_part(part)
        if parsed.name in parts:
            raise InvalidRequest(f"form field {parsed.name!r} is sent more than once")
        parts[parsed.name] = parsed
        if len(parts) > MAX_PARTS:
            raise InvalidRequest(f"multipart/form-data has more than {MAX_PARTS} parts")
    if not closed:
        raise InvalidRequest("multipart/form-data body ends without its closing boundary")
    return parts
