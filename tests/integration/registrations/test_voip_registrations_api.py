"""setVOIP: PushKit tokens registered through the registration API's handler, on moto."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.registration import DeviceRegistration
from tests.integration.registrations.conftest import NOW, Stack
from tests.integration.registrations.test_registrations_api import REGISTERED_AT, bearer
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_USER_ID

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

USER = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}"
APNS_TOKEN = "a1" * 32
PUSHKIT_TOKEN = "d4" * 32
OTHER_PUSHKIT_TOKEN = "e5" * 32
VOIP_ONLY = 3  # a VoIP Services certificate
BOTH = 4  # a universal certificate listing <bundle>.voip


@pytest.fixture
def calls(stack: Stack) -> Stack:
    """The registration stack, plus certificate 3 (VoIP only) and 4 (alerts and VoIP), both production."""
    stack.certificate(VOIP_ONLY, push_kinds=("voip",))
    stack.certificate(BOTH, push_kinds=("alert", "voip"))
    return stack


def _put(stack: Stack, route: str, business_id: int, token: str, user_id: str = SAMPLE_USER_ID) -> Any:
    return stack.app_call(
        "PUT",
        f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{user_id}/{route}",
        bearer=bearer(user_id),
        json_body={"businessId": business_id, "token": token},
    )


def _device(token: str, business_id: int, kind: PushKind) -> DeviceRegistration:
    return DeviceRegistration(
        token=token,
        business_id=business_id,
        environment=ApnsEnvironment.PRODUCTION,
        registered_at=NOW,
        push_kind=kind,
    )


def test_set_voip_stores_the_pushkit_token_as_a_voip_registration(calls: Stack) -> None:
    # When vinson's app reports its PushKit token, in the <...> form, with the VoIP certificate
    sent = "<" + " ".join(PUSHKIT_TOKEN[i : i + 8] for i in range(0, 64, 8)).upper() + ">"
    answer = _put(calls, "voip", VOIP_ONLY, sent)

    # Then it is registered, normalised, as a voip registration
    assert (answer.status, answer.body) == (
        HTTPStatus.OK,
        {
            "sdkAppId": SAMPLE_SDK_APP_ID,
            "userId": SAMPLE_USER_ID,
            "token": PUSHKIT_TOKEN,
            "businessId": VOIP_ONLY,
            "environment": "production",
            "pushKind": "voip",
            "registeredAt": REGISTERED_AT,
            "replacedDevices": 0,
        },
    )
    assert calls.registrations(SAMPLE_USER_ID).devices == (_device(PUSHKIT_TOKEN, VOIP_ONLY, PushKind.VOIP),)


def test_a_pushkit_token_and_an_apns_token_are_two_registrations_neither_kicking_the_other(
    calls: Stack,
) -> None:
    # Given the single-device kick policy and vinson's phone registered for alerts
    assert _put(calls, "apns", BOTH, APNS_TOKEN).status == HTTPStatus.OK

    # When the same phone reports its PushKit token
    answer = _put(calls, "voip", BOTH, PUSHKIT_TOKEN)

    # Then both are registered: the kick policy applies among tokens of one kind
    assert answer.body["replacedDevices"] == 0
    assert set(calls.registrations(SAMPLE_USER_ID).devices) == {
        _device(APNS_TOKEN, BOTH, PushKind.ALERT),
        _device(PUSHKIT_TOKEN, BOTH, PushKind.VOIP),
    }


def test_with_the_single_policy_a_new_pushkit_token_replaces_the_old_one_only(calls: Stack) -> None:
    # Given vinson's phone registered with both tokens
    _put(calls, "apns", BOTH, APNS_TOKEN)
    _put(calls, "voip", BOTH, PUSHKIT_TOKEN)

    # When a new PushKit token is reported (another phone, or PushKit renewed it)
    answer = _put(calls, "voip", VOIP_ONLY, OTHER_PUSHKIT_TOKEN)

    # Then the old PushKit token is replaced; the APNs token stays
    assert answer.body["replacedDevices"] == 1
    assert set(calls.registrations(SAMPLE_USER_ID).devices) == {
        _device(APNS_TOKEN, BOTH, PushKind.ALERT),
        _device(OTHER_PUSHKIT_TOKEN, VOIP_ONLY, PushKind.VOIP),
    }


@pytest.mark.parametrize(
    ("route", "business_id", "code", "message"),
    [
        (
            "apns",
            VOIP_ONLY,
            "CertificateNotForAlerts",
            "certificate 3 serves voip pushes only: setAPNS needs a certificate for alerts (an APNs push "
            "certificate or a .p8 key); use this one with setVOIP",
        ),
        (
            "voip",
            1,
            "CertificateNotForVoip",
            "certificate 1 serves alert pushes, not VoIP: setVOIP needs a VoIP Services certificate, a "
            "universal certificate with the <bundle>.voip topic, or a .p8 key",
        ),
        (
            "voip",
            9,
            "UnknownBusinessId",
            "businessId 9 is not a certificate of app 1400000001: use the id the certificate upload returned",
        ),
    ],
    ids=["voip certificate for alerts", "alert certificate for voip", "unknown certificate"],
)
def test_a_certificate_that_cannot_push_the_kind_is_refused_and_nothing_is_stored(
    calls: Stack, route: str, business_id: int, code: str, message: str
) -> None:
    # Given vinson registered with both kinds
    _put(calls, "apns", BOTH, APNS_TOKEN)
    _put(calls, "voip", BOTH, PUSHKIT_TOKEN)
    before = calls.stored_state()

    # When a registration names a certificate that cannot serve its kind
    answer = _put(calls, route, business_id, OTHER_PUSHKIT_TOKEN)

    # Then it is a 400 naming why, and nothing changed
    assert (answer.status, answer.body) == (HTTPStatus.BAD_REQUEST, {"code": code, "message": message})
    assert calls.stored_state() == before


def test_logging_out_removes_the_apns_and_the_pushkit_tokens(calls: Stack) -> None:
    # Given vinson's phone registered with both tokens
    _put(calls, "apns", BOTH, APNS_TOKEN)
    _put(calls, "voip", BOTH, PUSHKIT_TOKEN)

    # When the app logs out
    answer = calls.app_call("DELETE", f"{USER}/apns", bearer=bearer())

    # Then both registrations are gone
    assert (answer.status, answer.body) == (
        HTTPStatus.OK,
        {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "removedDevices": 2},
    )
    assert calls.registrations(SAMPLE_USER_ID).devices == ()


def test_logging_out_of_one_pushkit_token_keeps_the_apns_token(calls: Stack) -> None:
    _put(calls, "apns", BOTH, APNS_TOKEN)
    _put(calls, "voip", BOTH, PUSHKIT_TOKEN)

    answer = calls.app_call("DELETE", f"{USER}/apns", bearer=bearer(), query={"token": PUSHKIT_TOKEN})

    assert answer.body["removedDevices"] == 1
    assert calls.registrations(SAMPLE_USER_ID).devices == (_device(APNS_TOKEN, BOTH, PushKind.ALERT),)


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, HTTPStatus.UNAUTHORIZED, "MissingToken"),
        ("denny", HTTPStatus.FORBIDDEN, "Forbidden"),
    ],
    ids=["no token", "another user's token"],
)
def test_set_voip_needs_the_users_own_token(
    calls: Stack, authorization: str | None, status: HTTPStatus, code: str
) -> None:
    # When setVOIP comes without a bearer token, or with another user's
    answer = calls.app_call(
        "PUT",
        f"{USER}/voip",
        bearer=bearer(authorization) if authorization else None,
        json_body={"businessId": VOIP_ONLY, "token": PUSHKIT_TOKEN},
    )

    # Then it is refused and nothing is registered
    assert (answer.status, answer.body["code"]) == (status, code)
    assert calls.registrations(SAMPLE_USER_ID).devices == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"businessId": VOIP_ONLY, "token": "zz" * 32},
            "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
        ),
        ({"businessId": "3", "token": PUSHKIT_TOKEN}, "businessId: Input should be a valid integer"),
        ({"token": PUSHKIT_TOKEN}, "businessId: Field required"),
    ],
    ids=["not hex", "id as a string", "no id"],
)
def test_bad_voip_registrations_are_refused_like_set_apns(calls: Stack, body: Any, message: str) -> None:
    answer = calls.app_call("PUT", f"{USER}/voip", bearer=bearer(), json_body=body)

    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body["message"] == message
    assert calls.registrations(SAMPLE_USER_ID).devices == ()
