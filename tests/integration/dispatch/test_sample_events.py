"""The sample events in events/ (for `sam local invoke` and `make invoke`) are batches and requests the
functions process as documented."""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from offline_push.models.credential import ApnsEnvironment
from tests.support.certificates import BUNDLE_ID
from tests.support.dispatch import DispatchHarness
from tests.support.events import LambdaContext, response_json

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENTS = Path(__file__).resolve().parents[3] / "events"
VINSON = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
MUM = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


def event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / f"{name}.json").read_text()))


def test_every_dispatch_and_deliveries_sample_event_is_exercised() -> None:
    assert {path.stem for path in EVENTS.glob("dispatch-*.json")} | {
        path.stem for path in EVENTS.glob("deliveries-*.json")
    } == {
        "dispatch-one-to-one",
        "dispatch-group",
        "dispatch-malformed",
        "deliveries-user",
        "deliveries-message",
    }


def test_the_sample_events_dispatch_and_explain(harness: DispatchHarness) -> None:
    # Given the sample app's certificate and vinson's and mum's devices
    harness.upload_certificate()
    tokens = {"vinson": [VINSON], "mum": [MUM]}
    harness.store_devices(tokens, business_id=1, environment=ApnsEnvironment.DEVELOPMENT)
    for token in (VINSON, MUM):
        harness.sandbox.state.register_device(token, BUNDLE_ID, ApnsEnvironment.DEVELOPMENT)

    # When the three batches are handled
    answers = {
        name: harness.app.lambda_handler(event(name), LambdaContext())
        for name in ("dispatch-one-to-one", "dispatch-group", "dispatch-malformed")
    }

    # Then no message is left for retry, the devices got the README's notifications, bad jobs are dead letters
    assert answers == {name: {"batchItemFailures": []} for name in answers}
    assert [n["payload"] for n in harness.received(VINSON)] == [
        {
            "aps": {"alert": {"body": "Denny:hello"}, "badge": 1, "sound": "default", "thread-id": "denny"},
            "ext": "jump to denny",
        },
        {
            "aps": {
                "alert": {"title": "Family", "body": "Dad(Family):dinner at 7 [图片]"},
                "badge": 2,
                "sound": "family.caf",
                "thread-id": "@TGS#2J4SZEAEL",
            }
        },
    ]
    assert len(harness.received(MUM)) == 1
    assert [letter["attributes"]["code"] for letter in harness.dead_letters()] == ["InvalidPushJob"] * 2

    # When the operator's sample requests are handled
    user = harness.deliveries_app.lambda_handler(event("deliveries-user"), LambdaContext())
    message = harness.deliveries_app.lambda_handler(event("deliveries-message"), LambdaContext())

    # Then they answer vinson's devices (both pushes delivered: nothing listed, only failures and retries
    # are) and the one-to-one message's summary
    assert (user["statusCode"], message["statusCode"]) == (HTTPStatus.OK, HTTPStatus.OK)
    assert [len(response_json(user)["devices"]), response_json(user)["deliveries"]] == [1, []]
    assert response_json(message)["outcomes"]["delivered"] == 1
