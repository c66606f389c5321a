"""Passwords and key material never reach a response, a log line or an exception's text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http import HTTPStatus
from types import ModuleType

import pytest

from local.apple_pki import PushCertificateKind
from offline_push.dal.credentials import CredentialLoader
from offline_push.errors import OfflinePushError
from offline_push.logic.certificates import CertificateService, CertificateUpload
from tests.support.certificates import (
    PASSWORD,
    SDK_APP_ID,
    Answer,
    CertificateApi,
    b64,
    failing,
    p8_key,
    p8_upload,
    p12_upload,
    push_certificate,
)

from .conftest import LogLines, Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

WRONG_PASSWORD = "Wrong-Password-Typed-9"
MISSPELT_SECRET = "Secret-In-A-Misspelt-Field"


def _fragments(text: str, size: int = 24) -> Iterator[str]:
    """Every ``size``-character piece of ``text``: a leak of any part of it longer than 2*size is caught."""
    for start in range(0, max(len(text) - size, 0) + 1, size):
        yield text[start : start + size]


def _secrets() -> list[str]:
    issued = push_certificate(PushCertificateKind.UNIVERSAL)
    key_pem = issued.private_key_pem().decode()
    p8_pem = p8_key().decode()
    pem_lines = [line for pem in (key_pem, p8_pem) for line in pem.splitlines() if "-----" not in line]
    return [
        PASSWORD,
        WRONG_PASSWORD,
        MISSPELT_SECRET,
        *pem_lines,
        *_fragments(b64(p8_key())),
        *_fragments(b64(issued.private_key_pem())),
    ]


def _exception_texts(exc: BaseException) -> list[str]:
    texts = []
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


@pytest.fixture
def debug_logging(app: ModuleType) -> Iterator[None]:
    """The function logging at DEBUG (the template's LogLevel parameter allows it): debug lines count too."""
    service_logger = logging.getLogger(app.logger.name)
    level = service_logger.level
    service_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        service_logger.setLevel(level)


@pytest.mark.usefixtures("debug_logging")
def test_no_password_or_key_reaches_a_response_or_a_log_line(
    api: CertificateApi,
    storage: Storage,
    log_lines: LogLines,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    universal = push_certificate(PushCertificateKind.UNIVERSAL)
    p12 = universal.p12(PASSWORD)
    answers: list[Answer] = []

    # Given every kind of request that carries a secret: good uploads, bad ones, rotations, failures
    answers.append(api.create(p12_upload(PushCertificateKind.UNIVERSAL, environment="production")))
    answers.append(
        api.create_multipart({"name": "Form", "environment": "production", "password": PASSWORD}, p12)
    )
    answers.append(api.create(p8_upload()))
    answers.append(api.create({**p12_upload(), "password": WRONG_PASSWORD}))
    answers.append(api.create({**p12_upload(), "file": b64(universal.p12(None)), "password": WRONG_PASSWORD}))
    answers.append(api.create({**p12_upload(), "pasword": MISSPELT_SECRET}))
    answers.append(
        api.call("POST", f"/v1/apps/{SDK_APP_ID}/certificates", body=f'{{"password": "{PASSWORD}", ')
    )
    answers.append(api.create({**p12_upload(), "password": {"value": PASSWORD}}))  # type: ignore[dict-item]
    answers.append(api.rotate(1, p12_upload(PushCertificateKind.UNIVERSAL, environment="production")))
    answers.append(api.rotate(1, p12_upload(bundle_id="com.example.other", environment="production")))
    with failing(storage.kms, "Encrypt"):
        answers.append(api.create(p12_upload()))
    with failing(storage.dynamodb, "TransactWriteItems"), failing(storage.s3, "DeleteObject"):
        answers.append(api.create(p12_upload()))
    answers.append(api.list())
    answers.append(api.get(1))
    CredentialLoader.from_environ().load(SDK_APP_ID, 1)
    CredentialLoader.from_environ().load(SDK_APP_ID, 3)
    answers.append(api.delete(2))

    # When everything the outside world saw is gathered: responses, the JSON log lines, stdout and stderr,
    # and every log record with its extra fields
    assert [answer.status for answer in answers[:3]] == [HTTPStatus.CREATED] * 3
    captured = capsys.readouterr()
    seen = "\n".join(
        [json.dumps(answer.raw) for answer in answers]
        + [json.dumps(line) for line in log_lines()]
        + [captured.out, captured.err]
        + [repr(record.__dict__) for record in caplog.records]
    )

    # Then no password and no piece of a private key is in it
    assert log_lines(), "the scenario logs"
    leaked = [secret for secret in _secrets() if secret in seen]
    assert leaked == []


def test_no_password_reaches_an_exception_text(service: CertificateService) -> None:
    # Given uploads that fail for every password-related reason
    universal = push_certificate(PushCertificateKind.UNIVERSAL)
    uploads = [
        CertificateUpload(
            name="A", environment="production", password=WRONG_PASSWORD, content=universal.p12(PASSWORD)
        ),
        CertificateUpload(
            name="A", environment="production", password=WRONG_PASSWORD, content=universal.p12(None)
        ),
        CertificateUpload(
            name="A", environment="production", password=PASSWORD, content=b"0\x82\x01\x00garbage"
        ),
        CertificateUpload(
            name="A",
            environment="production",
            password=PASSWORD,
            content=universal.p12(PASSWORD, include_key=False),
        ),
    ]
    for upload in uploads:
        # When each is refused
        with pytest.raises(OfflinePushError) as refused:
            service.create(SDK_APP_ID, upload)

        # Then neither password is in the exception, its cause or its context, nor in the upload's repr
        texts = [*_exception_texts(refused.value), repr(upload)]
        assert [text for text in texts if PASSWORD in text or WRONG_PASSWORD in text] == []


def test_loaded_credentials_do_not_show_their_keys(api: CertificateApi) -> None:
    api.create(p12_upload())
    api.create(p8_upload())
    loader = CredentialLoader.from_environ()

    texts = [repr(loader.load(SDK_APP_ID, 1)), repr(loader.load(SDK_APP_ID, 2))]

    assert [text for text in texts for secret in _secrets() if secret in text] == []
    assert all("private_key" not in text and "signing_key" not in text for text in texts)
