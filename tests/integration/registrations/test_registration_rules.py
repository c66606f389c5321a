"""Registration rules pinned at their values: the save attempts before a 409, the 10-device cap, and the log
field that tells an operator a token changed hands."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from functions.registrations import app as registrations_function
from offline_push.dal.registration_store import RegistrationStore
from offline_push.logic.registrations import MAX_DEVICES_PER_USER, SAVE_ATTEMPTS
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import DeviceRegistration, UserRegistrations
from tests.integration.registrations.conftest import NOW, Stack
from tests.support.logs import captured_logs
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_USER_ID, hmac_key, user_token

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

TOKEN_A = "a1" * 32


def put_apns(stack: Stack, token: str, user_id: str = SAMPLE_USER_ID, business_id: int = 1) -> Any:
    return stack.app_call(
        "PUT",
        f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{user_id}/apns",
        bearer=user_token(hmac_key(), sub=user_id),
        json_body={"businessId": business_id, "token": token},
    )


class _AlwaysOvertaken(RegistrationStore):
    """The real store, where another device of the user is registered (for real) right after every read: a
    registration that can never save on the version it read."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self.reads = 0

    def get(self, sdk_app_id: int, user_id: str, *, consistent: bool = True) -> UserRegistrations:
        current = super().get(sdk_app_id, user_id, consistent=consistent)
        self.reads += 1
        rival = DeviceRegistration(
            token=f"{self.reads:02x}" * 32,
            business_id=1,
            environment=ApnsEnvironment.PRODUCTION,
            registered_at=NOW,
        )
        self.save_devices(sdk_app_id, user_id, (*current.devices, rival), expected_version=current.version)
        return current


def test_a_registration_overtaken_on_every_attempt_answers_409_after_5_attempts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a user whose devices change under every attempt to save a new one
    store = _AlwaysOvertaken(stack.registrations_table)
    monkeypatch.setattr(registrations_function.components().registrations, "store", store)

    # When the device registers
    answer = put_apns(stack, TOKEN_A)

    # Then, after 5 attempts, the caller is told to retry (409), not a server error, and nothing is stored
    assert SAVE_ATTEMPTS == 5
    assert store.reads == 5
    assert answer.status == HTTPStatus.CONFLICT
    assert answer.body == {
        "code": "RegistrationConflict",
        "message": "the user's registrations kept changing during the update; retry",
    }
    assert TOKEN_A not in [device.token for device in stack.registrations(SAMPLE_USER_ID).devices]


def registered_logs(buffer: str) -> list[dict[str, Any]]:
    fields = ("message", "sdkAppId", "businessId", "device", "kickPolicy", "kicked", "tokenChangedHands")
    records = [json.loads(line) for line in buffer.splitlines() if line.strip()]
    return [{key: r.get(key) for key in fields} for r in records if r.get("message") == "device registered"]


def test_the_registration_log_says_when_a_token_changed_hands(stack: Stack) -> None:
    # Given denny registered on a phone
    with captured_logs(registrations_function.logger.name) as logs:
        assert put_apns(stack, TOKEN_A, user_id="denny").status == HTTPStatus.OK

        # When vinson registers that phone's token, and then registers it again
        assert put_apns(stack, TOKEN_A, user_id="vinson").status == HTTPStatus.OK
        assert put_apns(stack, TOKEN_A, user_id="vinson").status == HTTPStatus.OK

    # Then only the registration that took the token from denny says it changed hands
    common = {
        "message": "device registered",
        "sdkAppId": SAMPLE_SDK_APP_ID,
        "businessId": 1,
        "device": "a1a1a1a1…(32B)",
        "kickPolicy": "single",
        "kicked": 0,
    }
    assert registered_logs(logs.getvalue()) == [
        {**common, "tokenChangedHands": False},
        {**common, "tokenChangedHands": True},
        {**common, "tokenChangedHands": False},
    ]
    assert stack.registrations("denny").devices == ()


def test_a_user_keeps_at_most_10_devices_the_oldest_going_first(stack: Stack) -> None:
    # Given an app whose users may be logged in on several devices, and a user on 10 of them
    stack.configure_app(kickPolicy="multi")
    tokens = [f"{n:02x}" * 32 for n in range(1, 12)]
    answers = [put_apns(stack, token) for token in tokens[:10]]

    # When an 11th device registers
    eleventh = put_apns(stack, tokens[10])

    # Then the first ten registered without replacing any, the 11th replaced one: the oldest
    assert MAX_DEVICES_PER_USER == 10
    assert [answer.body["replacedDevices"] for answer in answers] == [0] * 10
    assert eleventh.body["replacedDevices"] == 1
    assert sorted(device.token for device in stack.registrations(SAMPLE_USER_ID).devices) == sorted(
        tokens[1:]
    )


def test_logouts_are_logged_with_what_they_removed(stack: Stack) -> None:
    # Given vinson on two devices (multi policy)
    stack.configure_app(kickPolicy="multi")
    token_b = "b2" * 32
    assert put_apns(stack, TOKEN_A).status == HTTPStatus.OK
    assert put_apns(stack, token_b).status == HTTPStatus.OK
    path = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/apns"
    bearer = user_token(hmac_key(), sub=SAMPLE_USER_ID)

    # When he logs out of one device, of the same one again, and then of all
    with captured_logs(registrations_function.logger.name) as logs:
        stack.app_call("DELETE", path, bearer=bearer, query={"token": TOKEN_A})
        stack.app_call("DELETE", path, bearer=bearer, query={"token": TOKEN_A})
        stack.app_call("DELETE", path, bearer=bearer)

    # Then each logout is logged with the device (a hint of its token) and what was removed
    fields = ("message", "sdkAppId", "device", "removed")
    records = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    assert [
        {key: r[key] for key in fields if key in r} for r in records if "unregistered" in r["message"]
    ] == [
        {
            "message": "device unregistered",
            "sdkAppId": SAMPLE_SDK_APP_ID,
            "device": "a1a1a1a1…(32B)",
            "removed": True,
        },
        {
            "message": "device unregistered",
            "sdkAppId": SAMPLE_SDK_APP_ID,
            "device": "a1a1a1a1…(32B)",
            "removed": False,
        },
        {"message": "all devices unregistered", "sdkAppId": SAMPLE_SDK_APP_ID, "removed": 1},
    ]
