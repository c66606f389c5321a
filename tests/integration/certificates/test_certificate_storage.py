"""Writes that fail half-way leave nothing half-written, and businessId allocation is atomic.

Faults are injected on the real boto3 clients at the AWS boundary (see tests.support.certificates.failing):
each test makes one step of a create, rotate or delete fail and checks what is left in S3 and DynamoDB.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

import pytest

from local.apple_pki import PushCertificateKind, new_rsa_key
from offline_push.dal.certificate_store import CertificateStore
from offline_push.errors import ConcurrentModification
from offline_push.logic.certificates import CertificateService, CertificateUpload, verify_upload
from tests.support.certificates import (
    BUNDLE_ID,
    PASSWORD,
    SDK_APP_ID,
    CertificateApi,
    b64,
    failing,
    one_request_at_a_time,
    p12_upload,
    pki,
    push_certificate,
)

from .conftest import LogLines, Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

UNAVAILABLE = {"code": "StorageUnavailable"}


def _renewed_upload() -> dict[str, str]:
    renewed = pki().issue_push_certificate(
        BUNDLE_ID, PushCertificateKind.DEVELOPMENT, key=new_rsa_key(shared_slot=5)
    )
    return {**p12_upload(), "file": b64(renewed.p12(PASSWORD))}


# --- create -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_name", "operation", "message"),
    [
        ("kms", "Encrypt", "the password could not be encrypted"),
        ("s3", "PutObject", "the credential file could not be stored"),
        ("dynamodb", "GetItem", "certificate metadata could not be read"),
        ("dynamodb", "TransactWriteItems", "certificate metadata could not be written"),
    ],
)
def test_create_failing_at_any_step_leaves_nothing_behind(
    api: CertificateApi, storage: Storage, client_name: str, operation: str, message: str
) -> None:
    # Given an app with one certificate, and the next upload's step `operation` failing
    api.create(p12_upload())
    before = storage.state()

    with failing(getattr(storage, client_name), operation) as failed:
        # When a certificate is uploaded
        answer = api.create(p12_upload())

    # Then the caller gets a retryable error, and S3 and DynamoDB are exactly as before: no file without
    # metadata, no metadata without its file, no id taken
    assert failed == [1]
    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert answer.body == {**UNAVAILABLE, "message": message}
    assert storage.state() == before
    # and the next upload gets the next id
    assert api.create(p12_upload()).body["businessId"] == 2


def test_create_whose_metadata_and_cleanup_both_fail_names_the_left_over_file(
    api: CertificateApi, storage: Storage, log_lines: LogLines
) -> None:
    # Given the metadata write and then the clean-up of the new file both failing (DynamoDB and S3 down)
    with failing(storage.dynamodb, "TransactWriteItems"), failing(storage.s3, "DeleteObject"):
        answer = api.create(p12_upload())

    # Then the caller gets a retryable error, no metadata exists, and the one file left is logged by key
    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    (left_over,) = storage.state().objects
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert [(error["message"], error.get("objectKey")) for error in errors] == [
        ("credential file left behind: delete it by hand", left_over),
        ("request failed", None),
    ]
    assert [item["businessId"]["N"] for item in storage.state().items] == []


def test_an_unexpected_failure_is_a_500_json_error_without_details(
    api: CertificateApi, storage: Storage, log_lines: LogLines
) -> None:
    # Given a failure that is not an AWS error (a bug, say)
    def explode(**_: Any) -> None:
        raise RuntimeError("unexpected")

    storage.dynamodb.meta.events.register("before-call.dynamodb.Query", explode, unique_id="explode")
    try:
        answer = api.list()
    finally:
        storage.dynamodb.meta.events.unregister("before-call.dynamodb.Query", unique_id="explode")

    # Then the caller gets the JSON error shape without internals, and the log has the traceback
    assert answer.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert answer.body == {"code": "InternalError", "message": "internal error; see the logs"}
    (error,) = [line for line in log_lines() if line["level"] == "ERROR"]
    assert error["message"] == "unexpected error"
    assert "RuntimeError: unexpected" in error["exception"]


# --- rotate -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_name", "operation"),
    [("kms", "Encrypt"), ("s3", "PutObject"), ("dynamodb", "UpdateItem")],
)
def test_rotation_failing_before_the_switch_keeps_the_old_credential_whole(
    api: CertificateApi, storage: Storage, client_name: str, operation: str
) -> None:
    # Given a certificate, and a rotation whose step `operation` fails
    business_id = api.create(p12_upload()).body["businessId"]
    before = storage.state()

    with failing(getattr(storage, client_name), operation):
        answer = api.rotate(business_id, _renewed_upload())

    # Then the old certificate is untouched and no new file is left behind
    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert storage.state() == before


def test_rotation_whose_old_file_cannot_be_deleted_succeeds_and_the_next_rotation_cleans_up(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a certificate
    business_id = api.create(p12_upload()).body["businessId"]
    (first_file,) = storage.state().objects

    # When it is rotated while S3 refuses to delete the replaced file
    with failing(storage.s3, "DeleteObject"):
        answer = api.rotate(business_id, _renewed_upload())

    # Then the rotation stands, and the replaced file is remembered as stale (not lost track of)
    assert answer.status == HTTPStatus.OK
    (item,) = [item for item in storage.state().items if item["businessId"]["N"] == str(business_id)]
    assert item["staleObjectKeys"]["SS"] == [first_file]
    assert first_file in storage.state().objects

    # When it is rotated again with S3 healthy
    assert api.rotate(business_id, p12_upload()).status == HTTPStatus.OK

    # Then only the current file is left, and nothing is remembered as stale
    state = storage.state()
    (item,) = [item for item in state.items if item["businessId"]["N"] == str(business_id)]
    assert list(state.objects) == [item["objectKey"]["S"]]
    assert "staleObjectKeys" not in item


def test_two_rotations_from_the_same_read_cannot_both_win(
    service: CertificateService, storage: Storage
) -> None:
    # Given a certificate read by two rotations at the same time
    upload = CertificateUpload(
        type="p12",
        name="Chat",
        environment="development",
        password=PASSWORD,
        content=push_certificate(PushCertificateKind.DEVELOPMENT).p12(PASSWORD),
    )
    created = service.create(SDK_APP_ID, upload)
    repository = service.repository
    credential = verify_upload(upload, now=created.created_at)

    # When both replace it
    first = repository.rotate(created, credential, now=created.created_at)
    before = storage.state()
    with pytest.raises(ConcurrentModification) as second:
        repository.rotate(created, credential, now=created.created_at)

    # Then the second is refused as a concurrent change, and its file is not left behind
    assert second.value.message == "certificate 1 was changed by another request meanwhile: retry"
    assert first.version == 2
    assert storage.state() == before


# --- delete -------------------------------------------------------------------------------------------------


def test_delete_whose_file_cannot_be_deleted_hides_the_certificate_and_a_retry_finishes(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a certificate
    business_id = api.create(p12_upload()).body["businessId"]

    # When it is deleted while S3 refuses to delete its file
    with failing(storage.s3, "DeleteObject"):
        answer = api.delete(business_id)

    # Then the caller is told to retry, and the certificate no longer exists for anyone
    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert api.get(business_id).status == HTTPStatus.NOT_FOUND
    assert api.list().body == {"certificates": []}
    assert api.rotate(business_id, p12_upload()).status == HTTPStatus.NOT_FOUND

    # When the delete is retried
    retried = api.delete(business_id)

    # Then it finishes: no file, no item, only the id counter
    assert retried.status == HTTPStatus.NO_CONTENT
    state = storage.state()
    assert state.objects == {}
    assert [item["businessId"]["N"] for item in state.items] == ["0"]


def test_delete_whose_item_cannot_be_removed_is_finished_by_a_retry(
    api: CertificateApi, storage: Storage
) -> None:
    business_id = api.create(p12_upload()).body["businessId"]

    with failing(storage.dynamodb, "DeleteItem"):
        answer = api.delete(business_id)

    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert api.get(business_id).status == HTTPStatus.NOT_FOUND
    assert api.delete(business_id).status == HTTPStatus.NO_CONTENT
    assert [item["businessId"]["N"] for item in storage.state().items] == ["0"]


# --- allocation ---------------------------------------------------------------------------------------------


def test_concurrent_uploads_to_one_app_get_distinct_consecutive_ids(
    service: CertificateService, storage: Storage
) -> None:
    # Given many uploads to one app at the same time (AWS requests atomic, as DynamoDB's are)
    upload = CertificateUpload(
        type="p12",
        name="Chat",
        environment="development",
        password=PASSWORD,
        content=push_certificate(PushCertificateKind.DEVELOPMENT).p12(PASSWORD),
    )
    uploads = 12
    start = threading.Barrier(6)

    def create(_: int) -> int:
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=5)
        return service.create(SDK_APP_ID, upload).business_id

    # When they run on six threads
    with one_request_at_a_time(storage.dynamodb, storage.s3, storage.kms), ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(create, range(uploads)))

    # Then each got its own id, the ids are 1..12 with no gap, and every id has its file
    assert sorted(ids) == list(range(1, uploads + 1))
    state = storage.state()
    assert len(state.objects) == uploads
    assert {item["objectKey"]["S"] for item in state.items if item["businessId"]["N"] != "0"} == set(
        state.objects
    )


def test_an_upload_that_loses_the_race_for_an_id_takes_the_next_one(
    service: CertificateService, storage: Storage
) -> None:
    # Given an upload that read the counter, and another upload that commits before it does
    upload = CertificateUpload(
        type="p12",
        name="Chat",
        environment="development",
        password=PASSWORD,
        content=push_certificate(PushCertificateKind.DEVELOPMENT).p12(PASSWORD),
    )
    rival_ids: list[int] = []
    other_store = CertificateStore(storage.table)
    other_service = CertificateService(type(service.repository)(other_store, service.repository.files))

    def rival_commits_first(**_: Any) -> None:
        if not rival_ids:
            rival_ids.append(other_service.create(SDK_APP_ID, upload).business_id)

    storage.dynamodb.meta.events.register(
        "before-call.dynamodb.TransactWriteItems", rival_commits_first, unique_id="rival"
    )
    try:
        # When the first upload commits
        record = service.create(SDK_APP_ID, upload)
    finally:
        storage.dynamodb.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="rival")

    # Then the rival kept id 1 and the late one retried and took id 2
    assert (rival_ids, record.business_id) == ([1], 2)
    assert sorted(item["businessId"]["N"] for item in storage.state().items) == ["0", "1", "2"]
