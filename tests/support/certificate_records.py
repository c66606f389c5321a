"""Certificate metadata written straight into the certificates table, in the item shape documented at the top
of offline_push.dal.certificate_store: what registration tests need (a businessId that exists, with an
environment) without going through the certificate upload API; and the records a rotation's rules compare."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3

from offline_push.models.certificate import CertificateRecord, CredentialType, NewCredential
from offline_push.models.credential import ApnsEnvironment, PushKind


def store_certificate_metadata(
    table_name: str,
    sdk_app_id: int,
    business_id: int,
    *,
    environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION,
    bundle_id: str = "com.example.chat",
    name: str = "Chat Push",
    push_kinds: tuple[str, ...] | None = None,
) -> None:
    """``push_kinds`` None: an item as written before VoIP (no ``pushKinds``: a p12 serving alerts)."""
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    item: dict[str, Any] = {
        "sdkAppId": {"S": str(sdk_app_id)},
        "businessId": {"N": str(business_id)},
        "name": {"S": name},
        "type": {"S": "p12"},
        "bundleId": {"S": bundle_id},
        "environment": {"S": environment.value},
        "expiresAt": {"S": (now + dt.timedelta(days=365)).isoformat()},
        "createdAt": {"S": now.isoformat()},
        "updatedAt": {"S": now.isoformat()},
        "version": {"N": "1"},
        "objectKey": {"S": f"certificates/{sdk_app_id}/{business_id}/v1.p12"},
    }
    if push_kinds is not None:
        item["pushKinds"] = {"SS": list(push_kinds)}
    boto3.client("dynamodb").put_item(TableName=table_name, Item=item)


def certificate_record(push_kinds: tuple[PushKind, ...]) -> CertificateRecord:
    """A stored production p12 certificate (businessId 3) serving ``push_kinds``: what a rotation replaces."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return CertificateRecord(
        sdk_app_id=1400000001,
        business_id=3,
        name="Calls",
        type=CredentialType.P12,
        bundle_id="com.example.chat",
        environment=ApnsEnvironment.PRODUCTION,
        created_at=now,
        updated_at=now,
        object_key="k",
        push_kinds=push_kinds,
    )


def replacement_credential(push_kinds: tuple[PushKind, ...]) -> NewCredential:
    """A verified p12 for :func:`certificate_record`'s bundle and environment, serving ``push_kinds``."""
    return NewCredential(
        type=CredentialType.P12,
        name="Calls",
        environment=ApnsEnvironment.PRODUCTION,
        bundle_id="com.example.chat",
        content=b"p12",
        push_kinds=push_kinds,
    )
