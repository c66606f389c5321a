"""VoIP certificates through the certificate API on moto: the push kinds each credential serves, stored and
read back, and rotations that would take a push kind away."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest

from local.apple_pki import PushCertificateKind
from offline_push.dal.certificate_store import record_from_item
from offline_push.dal.credentials import CredentialLoader
from offline_push.models.credential import PushKind
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID, CertificateApi, p8_upload, p12_upload


@pytest.mark.parametrize(
    ("kind", "push_kinds"),
    [
        (PushCertificateKind.VOIP, ["voip"]),
        (PushCertificateKind.UNIVERSAL, ["alert", "voip"]),
        (PushCertificateKind.DEVELOPMENT, ["alert"]),
    ],
)
def test_a_p12_answers_and_stores_the_push_kinds_it_serves(
    api: CertificateApi, kind: PushCertificateKind, push_kinds: list[str]
) -> None:
    # When a push certificate is uploaded
    created = api.create(p12_upload(kind, environment="development"))

    # Then the answer and a later read show the app's bundle ID and the push kinds it serves
    assert created.status == HTTPStatus.CREATED
    read = api.get(created.body["businessId"])
    assert (read.body["bundleId"], read.body["pushKinds"]) == (BUNDLE_ID, push_kinds)
    assert read.body == created.body
    # and the dispatcher's credential knows them
    credential = CredentialLoader.from_environ().load(SDK_APP_ID, created.body["businessId"])
    assert (credential.topic, credential.push_kinds) == (
        BUNDLE_ID,
        frozenset(PushKind(k) for k in push_kinds),
    )


def test_a_p8_for_the_voip_topic_serves_voip_only(api: CertificateApi) -> None:
    created = api.create(p8_upload(bundle_id=f"{BUNDLE_ID}.voip"))

    assert (created.status, created.body["bundleId"], created.body["pushKinds"]) == (
        HTTPStatus.CREATED,
        BUNDLE_ID,
        ["voip"],
    )


def test_a_rotation_that_takes_voip_away_is_refused_and_changes_nothing(api: CertificateApi) -> None:
    # Given a universal certificate (alerts and VoIP)
    created = api.create(p12_upload(PushCertificateKind.UNIVERSAL, environment="production")).body

    # When it is rotated to a production-only certificate (alerts only)
    answer = api.rotate(
        created["businessId"], p12_upload(PushCertificateKind.PRODUCTION, environment="production")
    )

    # Then it is a 409 naming the lost kind, and the certificate is as it was
    assert (answer.status, answer.body) == (
        HTTPStatus.CONFLICT,
        {
            "code": "PushKindsNarrowed",
            "message": "certificate 1 serves alert, voip pushes; the new file cannot serve voip, which "
            "devices registered under it rely on: upload it as a new certificate instead",
        },
    )
    assert api.get(created["businessId"]).body == created


def test_a_rotation_may_add_voip(api: CertificateApi) -> None:
    created = api.create(p12_upload(PushCertificateKind.PRODUCTION, environment="production")).body

    answer = api.rotate(
        created["businessId"], p12_upload(PushCertificateKind.UNIVERSAL, environment="production")
    )

    assert (answer.status, answer.body["pushKinds"]) == (HTTPStatus.OK, ["alert", "voip"])


@pytest.mark.parametrize(("credential_type", "kinds"), [("p12", (PushKind.ALERT,)), ("p8", tuple(PushKind))])
def test_an_item_stored_before_voip_serves_what_its_type_always_did(
    credential_type: str, kinds: tuple[PushKind, ...]
) -> None:
    # Given a certificate item written before push kinds were recorded
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).isoformat()
    item = {
        "sdkAppId": {"S": str(SDK_APP_ID)},
        "businessId": {"N": "1"},
        "name": {"S": "Old"},
        "type": {"S": credential_type},
        "bundleId": {"S": BUNDLE_ID},
        "environment": {"S": "production"},
        "createdAt": {"S": now},
        "updatedAt": {"S": now},
        "objectKey": {"S": "k"},
    }

    # Then a p12 serves alerts (VoIP was not offered then) and a p8 both
    assert record_from_item(item).push_kinds == kinds
