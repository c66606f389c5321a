"""The sample events in events/ (for `sam local invoke`) are valid requests the functions answer."""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from functions.apps import app as apps_function
from functions.registrations import app as registrations_function
from local.provision import Provisioned
from tests.support.certificate_records import store_certificate_metadata
from tests.support.events import LambdaContext, response_json
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_USER_ID

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENTS = Path(__file__).resolve().parents[3] / "events"
TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
PUSHKIT_TOKEN = "5f1c3a9e0b7d24c8a6e1f3b5d7092c4e8a6b1d3f5e7c9a0b2d4f6e8a1c3b5d7f"


def invoke(name: str) -> tuple[HTTPStatus, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    function = apps_function if name.startswith("apps-") else registrations_function
    response = function.lambda_handler(event, LambdaContext())
    return HTTPStatus(response["statusCode"]), response_json(response)


def test_every_route_has_a_sample_event() -> None:
    routes = {path.stem for path in EVENTS.glob("registrations-*.json")} | {
        path.stem for path in EVENTS.glob("apps-*.json")
    }
    assert routes == {
        "apps-put-settings",
        "apps-get-settings",
        "registrations-put-apns",
        "registrations-put-voip",
        "registrations-put-badge",
        "registrations-delete-apns-token",
        "registrations-delete-apns",
    }


def test_the_sample_events_run_the_whole_registration_flow(aws: Provisioned) -> None:
    # Given the sample app's certificate 1, for alerts and VoIP
    store_certificate_metadata(
        aws.environment["CERTIFICATES_TABLE"], SAMPLE_SDK_APP_ID, 1, push_kinds=("alert", "voip")
    )
    registrations_function.components.cache_clear()
    apps_function.administration.cache_clear()

    # When the sample events are invoked in the order an operator and an app would send them
    answers = {
        name: invoke(name)
        for name in (
            "apps-put-settings",
            "apps-get-settings",
            "registrations-put-apns",
            "registrations-put-voip",
            "registrations-put-badge",
            "registrations-delete-apns-token",
            "registrations-delete-apns",
        )
    }

    # Then each succeeds
    user = {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID}
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(answers, HTTPStatus.OK)
    assert answers["apps-get-settings"][1] == answers["apps-put-settings"][1]
    assert answers["registrations-put-apns"][1]["token"] == TOKEN
    assert (
        answers["registrations-put-voip"][1]["token"],
        answers["registrations-put-voip"][1]["pushKind"],
    ) == (
        PUSHKIT_TOKEN,
        "voip",
    )
    assert answers["registrations-put-badge"][1] == {**user, "unread": 3}
    assert answers["registrations-delete-apns-token"][1] == {**user, "removedDevices": 1}
    # logging out everywhere removes the PushKit token too
    assert answers["registrations-delete-apns"][1] == {**user, "removedDevices": 1}
