"""Certificate costs: checking an upload, and loading a credential for dispatch (cold, cached, revalidated).

Run from the repository root: .venv/bin/python -m bench.bench_certificates (or make bench)

AWS is moto in-process, so the storage rows measure our code plus moto, not AWS latency; what they show is
how much work each path does (the cached path does none).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from moto import mock_aws

from local.apple_pki import ApplePki, PushCertificateKind, new_p8_key
from local.provision import provision
from offline_push.apple_ca import TEST_CA_ENVIRONMENT_VARIABLE
from offline_push.dal.certificate_repository import CertificateRepository, CertificateStorageSettings
from offline_push.dal.credentials import CredentialLoader
from offline_push.logic.certificates import CertificateService, CertificateUpload, verify_upload

PASSWORD = "bench-password"  # noqa: S105 - a throwaway certificate's
SDK_APP_ID = 1400000001


def _time(action: Callable[[], object], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    # moto only: no request leaves the process
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106
        AWS_DEFAULT_REGION="us-east-1",
    )
    pki = ApplePki()
    # The bench's certificates come from its own CA, trusted through the test-only setting.
    os.environ[TEST_CA_ENVIRONMENT_VARIABLE] = str(pki.write_ca(Path(tempfile.mkdtemp()) / "ca.pem"))
    issued = pki.issue_push_certificate("com.example.bench", PushCertificateKind.UNIVERSAL)
    p12 = CertificateUpload(
        name="Bench", environment="production", password=PASSWORD, content=issued.p12(PASSWORD)
    )
    p8 = CertificateUpload(
        type="p8",
        name="Bench",
        environment="production",
        content=new_p8_key(),
        key_id="ABC123DEFG",
        team_id="DEF123GHIJ",
        bundle_id="com.example.bench",
    )
    now = dt.datetime.now(dt.UTC)
    rows = [
        (
            "verify .p12 upload (open, key match, Apple markers)",
            *_time(lambda: verify_upload(p12, now=now), 50),
        ),
        ("verify .p8 upload", *_time(lambda: verify_upload(p8, now=now), 50)),
    ]

    with mock_aws():
        environment = provision(boto3.Session(region_name="us-east-1")).environment
        os.environ.update(environment)
        service = CertificateService(
            CertificateRepository.from_settings(CertificateStorageSettings.from_environ())
        )
        rows.append(
            (
                "create .p12 certificate (KMS + S3 + DynamoDB, moto)",
                *_time(lambda: service.create(SDK_APP_ID, p12), 20),
            )
        )
        loader = CredentialLoader(service.repository, revalidate_after=60)

        def cold() -> None:
            loader.clear()
            loader.load(SDK_APP_ID, 1)

        rows.append(("load credential, cold (GetItem + S3 + KMS + parse)", *_time(cold, 20)))
        rows.append(("load credential, cached", *_time(lambda: loader.load(SDK_APP_ID, 1), 2000)))

        def revalidate() -> None:
            loader.invalidate(SDK_APP_ID, 1)
            loader.load(SDK_APP_ID, 1)

        rows.append(("load credential, revalidated unchanged (GetItem)", *_time(revalidate, 50)))

    width = max(len(name) for name, _, _ in rows)
    print(f"{'operation':<{width}}  {'median ms':>10}  {'max ms':>8}")
    for name, median, worst in rows:
        print(f"{name:<{width}}  {median:>10.3f}  {worst:>8.3f}")


if __name__ == "__main__":
    main()
