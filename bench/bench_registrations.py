"""Registration costs: ``python -m bench.bench_registrations`` from the repository root (``--quick`` for a
smoke run).

- user-token verification (``authenticate``) per algorithm, with the app's key cached as in a warm container:
  the CPU every registration call pays;
- the dispatcher's reads: ``get_many`` for 100 and 1,000 receivers (DynamoDB requests, time);
- badge increments for 100 receivers: one by one, and ``increment_badges`` (parallel requests);
- a warm ``PUT .../apns`` through the handler (JWT, validation, certificate and settings look-ups, writes);
- cold import of the registrations function (what a cold start pays before the first request).

AWS is moto's server on 127.0.0.1 (a separate process, over HTTP): times are this code plus a local round trip
and moto, not DynamoDB's own latency (a few ms a request in a region); request counts are what DynamoDB would
see. Medians of repeated samples.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from local.provision import provision
from offline_push.api.user_auth import authenticate
from offline_push.dal.registration_store import RegistrationStore, registrations_from_item, user_key
from offline_push.logic.apps import verification_key
from offline_push.models.app import UserAuthAlgorithm, UserAuthKey
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import DeviceRegistration
from tests.support.certificate_records import store_certificate_metadata
from tests.support.events import LambdaContext, http_event
from tests.support.user_tokens import ec_key, hmac_key, rsa_key, user_token

APP = 1400000001
ROOT = Path(__file__).resolve().parent.parent


def median_seconds(action: Callable[[], Any], samples: int) -> float:
    timings = []
    for _ in range(samples):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bench_tokens(samples: int) -> list[tuple[str, str]]:
    rows = []
    for key in (hmac_key(), rsa_key(), ec_key()):
        material = key.user_auth.get("secret") or key.user_auth["publicKey"]
        verifying = verification_key(APP, UserAuthKey(UserAuthAlgorithm(key.algorithm), material))
        token = user_token(key, expires_in=3600)
        seconds = median_seconds(lambda: authenticate(token, lambda _: verifying), samples)  # noqa: B023
        rows.append((f"verify a user token ({key.algorithm})", f"{seconds * 1e6:8.1f} µs"))
    return rows


def counted_client(calls: Counter[str]) -> Any:
    client = boto3.client("dynamodb")

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    return client


def bench_store(samples: int) -> list[tuple[str, str]]:
    rows = []
    table = os.environ["REGISTRATIONS_TABLE"]
    calls: Counter[str] = Counter()
    store = RegistrationStore(table, client=counted_client(calls))
    now = dt.datetime.now(dt.UTC)
    for number in range(1000):
        device = DeviceRegistration(
            token=f"{number:064x}",
            business_id=1,
            environment=ApnsEnvironment.PRODUCTION,
            registered_at=now,
        )
        store.save_devices(APP, f"user-{number}", [device], expected_version=0)
    for receivers in (100, 1000):
        users = [f"user-{number}" for number in range(receivers)]
        calls.clear()
        store.get_many(APP, users)
        requests = calls["BatchGetItem"]
        seconds = median_seconds(lambda: store.get_many(APP, users), samples)  # noqa: B023
        rows.append((f"get_many, {receivers} receivers", f"{seconds * 1e3:8.1f} ms, {requests} BatchGetItem"))
    item = store.client.get_item(TableName=table, Key=user_key(APP, "user-1"))["Item"]
    parse = median_seconds(
        lambda: [registrations_from_item(APP, "user-1", item) for _ in range(100)], samples
    )
    rows.append(("parse 100 user items read (our code, no I/O)", f"{parse * 1e3:8.1f} ms"))
    users = [f"user-{number}" for number in range(100)]
    one_by_one = median_seconds(
        lambda: [store.increment_badge(APP, user) for user in users], max(1, samples // 4)
    )
    parallel = median_seconds(lambda: store.increment_badges(APP, users), max(1, samples // 4))
    rows.append(("badge +1, 100 receivers, one by one", f"{one_by_one * 1e3:8.1f} ms, 100 UpdateItem"))
    rows.append(("badge +1, 100 receivers, increment_badges", f"{parallel * 1e3:8.1f} ms, 100 UpdateItem"))
    return rows


def bench_handler(samples: int) -> list[tuple[str, str]]:
    # Imported here, after the environment is set: the functions read it at import (cold start) as in Lambda.
    from functions.apps import app as apps_function  # noqa: PLC0415
    from functions.registrations import app as registrations_function  # noqa: PLC0415

    store_certificate_metadata(os.environ["CERTIFICATES_TABLE"], APP, 1)
    apps_function.lambda_handler(
        http_event(
            "PUT", f"/v1/apps/{APP}/settings", admin=True, json_body={"userAuth": hmac_key().user_auth}
        ),
        LambdaContext(),
    )
    token = user_token(hmac_key(), expires_in=3600)
    event = http_event(
        "PUT",
        f"/v1/apps/{APP}/users/vinson/apns",
        headers={"Authorization": f"Bearer {token}"},
        json_body={"businessId": 1, "token": "ab" * 32},
    )
    registrations_function.lambda_handler(event, LambdaContext())  # warm: clients, settings, key
    seconds = median_seconds(lambda: registrations_function.lambda_handler(event, LambdaContext()), samples)
    return [("PUT .../apns through the handler, warm", f"{seconds * 1e3:8.1f} ms")]


def bench_cold_import(samples: int) -> list[tuple[str, str]]:
    code = (
        "import time; t = time.perf_counter(); import functions.registrations.app; "
        "print(time.perf_counter() - t)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'offline_push'}:{ROOT}"}
    timings = [
        float(
            subprocess.run(  # noqa: S603 - this interpreter, fixed code
                [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(max(1, samples // 10))
    ]
    return [("cold import of functions.registrations.app", f"{statistics.median(timings) * 1e3:8.1f} ms")]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in its own process on a free local port; stopped (by its pid) on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - moto's server from this venv
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()  # noqa: S310 - local URL
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    arguments = parser.parse_args()
    samples = 5 if arguments.quick else 50
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "offline-push",
            "POWERTOOLS_METRICS_NAMESPACE": "OfflinePushBench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    warnings.simplefilter("ignore")
    rows = bench_tokens(samples * 20)
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ.update(
            provision(boto3.Session(region_name="us-east-1"), endpoint_url=endpoint).environment
        )
        rows += bench_store(samples)
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics go to stdout
            rows += bench_handler(samples)
    rows += bench_cold_import(samples)
    width = max(len(name) for name, _ in rows)
    print(f"{'what':<{width}}  median ({samples} samples; AWS is moto's server on 127.0.0.1)")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
