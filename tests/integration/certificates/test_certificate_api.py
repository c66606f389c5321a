"""The certificate API end to end: handler -> rules -> DynamoDB, S3 and KMS (moto with template.yaml's
resources). Happy paths, rotation, deletion and id allocation."""

from __future__ import annotations

import base64
import datetime as dt
from http import HTTPStatus
from typing import Any

import boto3
import pytest

from local.apple_pki import PushCertificateKind, new_rsa_key
from offline_push.dal.credentials import CredentialLoader
from offline_push.models.credential import CertificateCredential, TokenCredential
from tests.support.certificates import (
    BUNDLE_ID,
    KEY_ID,
    OTHER_SDK_APP_ID,
    PASSWORD,
    SDK_APP_ID,
    TEAM_ID,
    CertificateApi,
    b64,
    p8_key,
    p8_upload,
    p12_upload,
    pki,
    push_certificate,
)

from .conftest import Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _assert_recent(value: str) -> None:
    moment = dt.datetime.fromisoformat(value)
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - moment < dt.timedelta(minutes=1)


def _p12_view(
    body: dict[str, Any],
    *,
    business_id: int,
    name: str,
    environment: str,
    kind: PushCertificateKind,
    sdk_app_id: int = SDK_APP_ID,
) -> dict[str, Any]:
    """The whole payload expected for a p12 certificate; timestamps are the answer's own (checked apart)."""
    return {
        "businessId": business_id,
        "sdkAppId": sdk_app_id,
        "name": name,
        "type": "p12",
        "bundleId": BUNDLE_ID,
        "environment": environment,
        # The local PKI's universal certificates list <bundle>.voip among their topics.
        "pushKinds": ["alert", "voip"] if kind is PushCertificateKind.UNIVERSAL else ["alert"],
        "expiresAt": _iso(push_certificate(kind).certificate.not_valid_after_utc),
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
    }


@pytest.mark.parametrize(
    ("kind", "environment"),
    [
        (PushCertificateKind.DEVELOPMENT, "development"),
        (PushCertificateKind.PRODUCTION, "production"),
        (PushCertificateKind.UNIVERSAL, "production"),
        (PushCertificateKind.UNIVERSAL, "development"),
    ],
)
def test_p12_upload_answers_its_metadata_and_new_business_id(
    api: CertificateApi, kind: PushCertificateKind, environment: str
) -> None:
    # Given a push certificate of each kind, declared for an environment it serves
    upload = p12_upload(kind, environment=environment, name="Chat push 1.0")

    # When it is uploaded
    answer = api.create(upload)

    # Then it gets the app's first businessId and the answer is its metadata, read from the certificate
    assert answer.status == HTTPStatus.CREATED
    assert answer.body == _p12_view(
        answer.body, business_id=1, name="Chat push 1.0", environment=environment, kind=kind
    )
    assert answer.headers["Location"] == f"/v1/apps/{SDK_APP_ID}/certificates/1"
    _assert_recent(answer.body["createdAt"])
    assert answer.body["updatedAt"] == answer.body["createdAt"]


def test_p12_upload_as_multipart_form_data_stores_the_file_byte_for_byte(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a .p12 sent the way `curl -F file=@push.p12` sends it
    p12 = push_certificate(PushCertificateKind.UNIVERSAL).p12(PASSWORD)

    # When it is uploaded
    answer = api.create_multipart({"name": "Chat", "environment": "production", "password": PASSWORD}, p12)

    # Then it is accepted and the stored object is exactly the uploaded file
    assert answer.status == HTTPStatus.CREATED
    assert answer.body == _p12_view(
        answer.body, business_id=1, name="Chat", environment="production", kind=PushCertificateKind.UNIVERSAL
    )
    (object_key,) = storage.state().objects
    assert storage.s3.get_object(Bucket=storage.bucket, Key=object_key)["Body"].read() == p12


def test_p8_upload_answers_its_metadata_with_key_and_team_ids(api: CertificateApi) -> None:
    # Given a token signing key with its key id, team id and the app's bundle id
    upload = p8_upload(environment="production", name="Chat token key")

    # When it is uploaded
    answer = api.create(upload)

    # Then the answer shows them, and no expiry (token keys do not expire)
    assert answer.status == HTTPStatus.CREATED
    assert answer.body == {
        "businessId": 1,
        "sdkAppId": SDK_APP_ID,
        "name": "Chat token key",
        "type": "p8",
        "bundleId": BUNDLE_ID,
        "environment": "production",
        "pushKinds": ["alert", "voip"],
        "expiresAt": None,
        "createdAt": answer.body["createdAt"],
        "updatedAt": answer.body["createdAt"],
        "keyId": KEY_ID,
        "teamId": TEAM_ID,
    }


def test_p8_upload_as_multipart_form_data_is_accepted(api: CertificateApi) -> None:
    # Given a .p8 and its ids as form fields, lower-case ids as typed by hand
    fields = {
        "type": "p8",
        "name": "Token",
        "environment": "development",
        "keyId": KEY_ID.lower(),
        "teamId": TEAM_ID,
        "bundleId": BUNDLE_ID,
    }

    # When it is uploaded
    answer = api.create_multipart(fields, p8_key())

    # Then it is stored with Apple's upper-case ids
    assert answer.status == HTTPStatus.CREATED
    assert (answer.body["type"], answer.body["keyId"], answer.body["teamId"]) == ("p8", KEY_ID, TEAM_ID)


def test_upload_keeps_the_file_under_sse_kms_and_the_password_only_as_kms_ciphertext(
    api: CertificateApi, storage: Storage, aws: Any
) -> None:
    # Given an uploaded p12
    p12 = push_certificate(PushCertificateKind.DEVELOPMENT).p12(PASSWORD)
    api.create({**p12_upload(), "file": b64(p12)})

    # When what was stored is inspected
    state = storage.state()
    (object_key,) = state.objects
    head = storage.s3.head_object(Bucket=storage.bucket, Key=object_key)
    certificate_items = [item for item in state.items if item["businessId"]["N"] != "0"]
    (item,) = certificate_items

    # Then the file is encrypted with the data key, under a per-upload key of the app
    assert head["ServerSideEncryption"] == "aws:kms"
    assert aws.refs["DataKey"] in head["SSEKMSKeyId"]
    assert object_key.startswith(f"credentials/{SDK_APP_ID}/")
    assert object_key.endswith(".p12")
    assert storage.s3.get_object(Bucket=storage.bucket, Key=object_key)["Body"].read() == p12
    # and the password is stored only as KMS ciphertext bound to that file
    assert PASSWORD not in repr(item)
    plaintext = storage.kms.decrypt(
        CiphertextBlob=item["encryptedPassword"]["B"],
        EncryptionContext={"purpose": "p12-password", "sdkAppId": str(SDK_APP_ID), "objectKey": object_key},
    )["Plaintext"]
    assert plaintext.decode() == PASSWORD


def test_list_shows_the_metadata_of_every_certificate_of_that_app_only(api: CertificateApi) -> None:
    # Given two certificates in one app and one in another
    first = api.create(p12_upload(name="Dev")).body
    second = api.create(p8_upload(name="Token")).body
    api.create(p12_upload(name="Other app"), sdk_app_id=OTHER_SDK_APP_ID)

    # When the first app's certificates are listed
    answer = api.list()

    # Then both are shown in businessId order, as metadata
    assert answer.status == HTTPStatus.OK
    assert answer.body == {"certificates": [first, second]}


def test_list_of_an_app_without_certificates_is_empty(api: CertificateApi) -> None:
    assert api.list().body == {"certificates": []}


def test_get_returns_the_certificate_metadata(api: CertificateApi) -> None:
    # Given an uploaded certificate
    created = api.create(p12_upload()).body

    # When it is read by id
    answer = api.get(created["businessId"])

    # Then the answer is the same metadata as the upload's
    assert answer.status == HTTPStatus.OK
    assert answer.body == created


def test_rotation_replaces_the_credential_behind_the_same_business_id(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a certificate in use by devices, and a new certificate for the same app (a new key pair)
    created = api.create(p12_upload(PushCertificateKind.UNIVERSAL, environment="production")).body
    old_objects = set(storage.state().objects)
    renewed = pki().issue_push_certificate(
        BUNDLE_ID,
        PushCertificateKind.UNIVERSAL,
        key=new_rsa_key(shared_slot=7),
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=400),
    )
    upload = {"type": "p12", "password": "new-pass", "file": b64(renewed.p12("new-pass"))}

    # When it is rotated (PUT) without restating name and environment
    answer = api.rotate(created["businessId"], upload)

    # Then the id, name, environment and creation time stay, expiry and update time are the new file's
    assert answer.status == HTTPStatus.OK
    assert answer.body == {
        **created,
        "expiresAt": _iso(renewed.certificate.not_valid_after_utc),
        "updatedAt": answer.body["updatedAt"],
    }
    assert answer.body["updatedAt"] >= created["updatedAt"]
    # and only the new file is kept
    new_objects = set(storage.state().objects)
    assert len(new_objects) == 1
    assert not new_objects & old_objects
    # and the credential loaded for dispatch is the new certificate
    credential = CredentialLoader.from_environ().load(SDK_APP_ID, created["businessId"])
    assert isinstance(credential, CertificateCredential)
    assert credential.certificate == renewed.certificate
    assert credential.cache_key == f"{SDK_APP_ID}/{created['businessId']}/v2"


def test_rotation_can_move_a_p12_to_a_p8_key_for_the_same_app(api: CertificateApi) -> None:
    # Given a p12 certificate for production
    created = api.create(p12_upload(PushCertificateKind.PRODUCTION, environment="production")).body

    # When it is rotated to a token key for the same bundle id
    answer = api.rotate(created["businessId"], p8_upload(environment="production", name="Token now"))

    # Then the same id now holds the token key
    assert answer.status == HTTPStatus.OK
    assert answer.body == {
        **created,
        "name": "Token now",
        "type": "p8",
        "pushKinds": ["alert", "voip"],
        "expiresAt": None,
        "keyId": KEY_ID,
        "teamId": TEAM_ID,
        "updatedAt": answer.body["updatedAt"],
    }
    credential = CredentialLoader.from_environ().load(SDK_APP_ID, created["businessId"])
    assert isinstance(credential, TokenCredential)
    assert (credential.key_id, credential.team_id, credential.topic) == (KEY_ID, TEAM_ID, BUNDLE_ID)


def test_rotation_to_another_bundle_id_is_refused_and_changes_nothing(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a certificate for one app
    created = api.create(p12_upload()).body
    before = storage.state()

    # When a certificate of another app is put in its place
    answer = api.rotate(created["businessId"], p12_upload(bundle_id="com.example.other"))

    # Then it is refused, naming both bundle ids, and nothing changed
    assert answer.status == HTTPStatus.CONFLICT
    assert answer.body == {
        "code": "BundleIdMismatch",
        "message": f"certificate 1 is for bundle ID {BUNDLE_ID}; the new file is for com.example.other: "
        "upload it as a new certificate instead",
    }
    assert storage.state() == before


def test_rotation_to_another_environment_is_refused_and_changes_nothing(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a development certificate
    created = api.create(p12_upload(PushCertificateKind.UNIVERSAL, environment="development")).body
    before = storage.state()

    # When it is rotated declaring production
    answer = api.rotate(
        created["businessId"], p12_upload(PushCertificateKind.UNIVERSAL, environment="production")
    )

    # Then it is refused: devices registered under the id hold sandbox tokens
    assert answer.status == HTTPStatus.CONFLICT
    assert answer.body["code"] == "EnvironmentChange"
    assert storage.state() == before


def test_rotation_of_an_unknown_certificate_is_not_found(api: CertificateApi, storage: Storage) -> None:
    before = storage.state()

    answer = api.rotate(7, p12_upload())

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "CertificateNotFound", "message": f"no certificate 7 in app {SDK_APP_ID}"}
    assert storage.state() == before


def test_delete_removes_the_metadata_and_the_file(api: CertificateApi, storage: Storage) -> None:
    # Given an uploaded certificate
    created = api.create(p12_upload()).body

    # When it is deleted
    answer = api.delete(created["businessId"])

    # Then it is gone everywhere: no answer body, not found, not listed, no file; only the id counter stays
    assert answer.status == HTTPStatus.NO_CONTENT
    assert answer.raw["body"] == ""
    assert api.get(created["businessId"]).status == HTTPStatus.NOT_FOUND
    assert api.list().body == {"certificates": []}
    state = storage.state()
    assert state.objects == {}
    assert state.items == [
        {"sdkAppId": {"S": str(SDK_APP_ID)}, "businessId": {"N": "0"}, "lastBusinessId": {"N": "1"}}
    ]


def test_deleting_an_unknown_certificate_is_not_found(api: CertificateApi) -> None:
    answer = api.delete(3)

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "CertificateNotFound", "message": f"no certificate 3 in app {SDK_APP_ID}"}


def test_business_ids_are_never_reused_after_a_delete(api: CertificateApi) -> None:
    # Given certificates 1 and 2, both deleted
    assert api.create(p12_upload()).body["businessId"] == 1
    assert api.create(p12_upload()).body["businessId"] == 2
    api.delete(2)
    api.delete(1)

    # When another certificate is uploaded
    answer = api.create(p12_upload())

    # Then it gets a new id: an app still shipping with id 1 or 2 can never reach another certificate
    assert answer.body["businessId"] == 3


def test_business_ids_are_allocated_per_app(api: CertificateApi) -> None:
    first = api.create(p12_upload()).body
    other = api.create(p12_upload(), sdk_app_id=OTHER_SDK_APP_ID).body

    assert (first["sdkAppId"], first["businessId"]) == (SDK_APP_ID, 1)
    assert (other["sdkAppId"], other["businessId"]) == (OTHER_SDK_APP_ID, 1)
    assert api.get(1, sdk_app_id=OTHER_SDK_APP_ID).body == other


def test_unknown_business_id_is_not_found(api: CertificateApi) -> None:
    api.create(p12_upload())

    answer = api.get(2)

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "CertificateNotFound", "message": f"no certificate 2 in app {SDK_APP_ID}"}


def test_a_certificate_is_not_reachable_through_another_app(api: CertificateApi) -> None:
    api.create(p12_upload())

    answer = api.get(1, sdk_app_id=OTHER_SDK_APP_ID)

    assert answer.status == HTTPStatus.NOT_FOUND


ROUTES = [
    ("POST", "/v1/apps/{app}/certificates"),
    ("GET", "/v1/apps/{app}/certificates"),
    ("GET", "/v1/apps/{app}/certificates/{id}"),
    ("PUT", "/v1/apps/{app}/certificates/{id}"),
    ("DELETE", "/v1/apps/{app}/certificates/{id}"),
]


def test_sdk_app_id_that_is_not_a_number_is_a_bad_request_on_every_route(
    api: CertificateApi, storage: Storage, subtests: pytest.Subtests
) -> None:
    before = storage.state()
    for method, route in ROUTES:
        for sdk_app_id in ("abc", "0", "14e9"):
            with subtests.test(method=method, route=route, sdk_app_id=sdk_app_id):
                answer = api.call(method, route.format(app=sdk_app_id, id=1), json_body=p12_upload())

                assert answer.status == HTTPStatus.BAD_REQUEST
                assert answer.body == {
                    "code": "InvalidSdkAppId",
                    "message": "sdkAppId must be a positive decimal number, such as 1400000001",
                }
    assert storage.state() == before


def test_business_id_that_is_not_a_number_is_a_bad_request_on_every_route(
    api: CertificateApi, storage: Storage, subtests: pytest.Subtests
) -> None:
    api.create(p12_upload())
    before = storage.state()
    for method, route in ROUTES[2:]:
        for business_id in ("abc", "0", "1.5", "99999999999"):
            with subtests.test(method=method, route=route, business_id=business_id):
                answer = api.call(
                    method, route.format(app=SDK_APP_ID, id=business_id), json_body=p12_upload()
                )

                assert answer.status == HTTPStatus.BAD_REQUEST
                assert answer.body == {
                    "code": "InvalidBusinessId",
                    "message": "businessId must be a positive decimal number, as returned by the upload",
                }
    assert storage.state() == before


def test_every_route_refuses_a_caller_without_iam_authorization(
    api: CertificateApi, storage: Storage, subtests: pytest.Subtests
) -> None:
    # Given a certificate
    api.create(p12_upload())
    before = storage.state()
    for method, route in ROUTES:
        with subtests.test(method=method, route=route):
            # When any route is called by a request that did not go through IAM authorization
            answer = api.call(method, route.format(app=SDK_APP_ID, id=1), json_body=p12_upload(), admin=False)

            # Then it is refused
            assert answer.status == HTTPStatus.FORBIDDEN
            assert answer.body == {
                "code": "Forbidden",
                "message": "this route needs an IAM-authorized (admin) caller",
            }
    # and nothing changed
    assert storage.state() == before


def test_an_unknown_route_is_not_found(api: CertificateApi) -> None:
    answer = api.call("PATCH", f"/v1/apps/{SDK_APP_ID}/certificates/1")

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "RouteNotFound", "message": "no such route"}


def test_uploaded_file_may_be_base64_with_line_breaks(api: CertificateApi) -> None:
    # Given the base64 of `base64 push.p12` (wrapped at 76 characters)
    p12 = push_certificate(PushCertificateKind.DEVELOPMENT).p12(PASSWORD)
    wrapped = base64.encodebytes(p12).decode()
    upload = {**p12_upload(), "file": wrapped}

    answer = api.create(upload)

    assert answer.status == HTTPStatus.CREATED


def test_storage_outage_is_a_503_with_the_json_error_shape(
    api: CertificateApi, aws: Any, storage: Storage
) -> None:
    # Given the certificates table is gone (a broken deployment)
    boto3.client("dynamodb").delete_table(TableName=storage.table)

    # When the list is read
    answer = api.list()

    # Then the caller gets a retryable JSON error, not a crash
    assert answer.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert answer.body == {"code": "StorageUnavailable", "message": "certificate metadata could not be read"}
