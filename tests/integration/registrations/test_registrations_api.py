"""The device registration API (setAPNS, logout, kick, badge) through its Lambda handler, on moto."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import jwt
import pytest

from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import DeviceRegistration
from tests.integration.registrations.conftest import NOW, Stack
from tests.support.user_tokens import (
    SAMPLE_SDK_APP_ID,
    SAMPLE_USER_ID,
    ec_key,
    hmac_key,
    rsa_key,
    user_token,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

APNS = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/apns"
BADGE = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/badge"
TOKEN_A = "a1" * 32
TOKEN_B = "b2" * 32
TOKEN_C = "c3" * 32
REGISTERED_AT = "2026-11-25T12:00:00.000Z"


def bearer(user_id: str = SAMPLE_USER_ID, **claims: Any) -> str:
    return user_token(hmac_key(), sub=user_id, **claims)


def register(stack: Stack, token: str, *, user_id: str = SAMPLE_USER_ID, business_id: int = 1) -> Any:
    answer = stack.app_call(
        "PUT",
        f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{user_id}/apns",
        bearer=bearer(user_id),
        json_body={"businessId": business_id, "token": token},
    )
    assert answer.status == HTTPStatus.OK, answer.body
    return answer.body


def device(
    token: str, business_id: int = 1, environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION
) -> Any:
    return DeviceRegistration(
        token=token, business_id=business_id, environment=environment, registered_at=NOW
    )


# --- setAPNS ------------------------------------------------------------------------------------------------


def test_register_stores_the_device_with_its_certificate_environment(stack: Stack) -> None:
    # Given app 1400000001 with certificate 2, a development certificate
    # When vinson's app reports its token with businessId 2
    answer = stack.app_call("PUT", APNS, bearer=bearer(), json_body={"businessId": 2, "token": TOKEN_A})

    # Then the device is registered for the sandbox, as of now
    assert answer.status == HTTPStatus.OK
    assert answer.body == {
        "sdkAppId": SAMPLE_SDK_APP_ID,
        "userId": SAMPLE_USER_ID,
        "token": TOKEN_A,
        "businessId": 2,
        "environment": "development",
        "pushKind": "alert",
        "registeredAt": REGISTERED_AT,
        "replacedDevices": 0,
    }
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_A, 2, ApnsEnvironment.DEVELOPMENT),)


def test_registering_the_same_device_again_changes_nothing(stack: Stack) -> None:
    # Given a registered device
    first = register(stack, TOKEN_A)

    # When the app reports the same token again (it does at every login)
    second = register(stack, TOKEN_A)

    # Then the answer and the stored registration are the same: one device, nobody kicked
    assert second == first
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_A),)


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(TOKEN_A.upper(), id="upper case"),
        pytest.param(
            "<" + " ".join(TOKEN_A[i : i + 8] for i in range(0, 64, 8)) + ">", id="NSData <...> form"
        ),
        pytest.param("  " + TOKEN_A + "\n", id="surrounding whitespace"),
    ],
)
def test_tokens_are_stored_as_lower_case_hex(stack: Stack, sent: str) -> None:
    # When the app sends its token in one of the forms iOS apps commonly produce
    answer = stack.app_call("PUT", APNS, bearer=bearer(), json_body={"businessId": 1, "token": sent})

    # Then it is stored (and answered) as lower-case hex
    assert answer.status == HTTPStatus.OK
    assert answer.body["token"] == TOKEN_A
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_A),)


@pytest.mark.parametrize("size", [16, 32, 48, 100])
def test_tokens_of_any_length_apple_may_issue_are_accepted(stack: Stack, size: int) -> None:
    token = "5e" * size

    assert register(stack, token)["token"] == token
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(token),)


def test_with_the_single_policy_a_new_device_kicks_the_others(stack: Stack) -> None:
    # Given the default kick policy (single) and vinson logged in on a phone
    register(stack, TOKEN_A)

    # When vinson logs in on a tablet
    answer = register(stack, TOKEN_B)

    # Then only the tablet is registered: the phone was kicked and receives nothing
    assert answer["replacedDevices"] == 1
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_B),)
    assert stack.store().get_many(SAMPLE_SDK_APP_ID, [SAMPLE_USER_ID])[SAMPLE_USER_ID].devices == (
        device(TOKEN_B),
    )


def test_with_the_multi_policy_devices_add_up(stack: Stack) -> None:
    # Given an app whose users may be logged in on several devices
    stack.configure_app(kickPolicy="multi")

    # When vinson logs in on three devices, one with the development certificate
    register(stack, TOKEN_A)
    register(stack, TOKEN_B, business_id=2)
    answer = register(stack, TOKEN_C)

    # Then all three are registered and nobody was kicked
    assert answer["replacedDevices"] == 0
    assert sorted(stack.registrations(SAMPLE_USER_ID).devices, key=lambda d: d.token) == [
        device(TOKEN_A),
        device(TOKEN_B, 2, ApnsEnvironment.DEVELOPMENT),
        device(TOKEN_C),
    ]


def test_a_device_registered_by_another_user_stops_receiving_the_first_users_pushes(stack: Stack) -> None:
    # Given denny registered on a phone, and never logged out
    register(stack, TOKEN_A, user_id="denny")

    # When vinson logs in on that same phone (same token)
    register(stack, TOKEN_A, user_id="vinson")

    # Then the phone is vinson's only: denny's messages no longer go to it
    assert stack.registrations("denny").devices == ()
    assert stack.registrations("vinson").devices == (device(TOKEN_A),)


def test_re_registering_the_same_token_with_another_certificate_updates_it(stack: Stack) -> None:
    # Given a device registered with the production certificate
    register(stack, TOKEN_A, business_id=1)

    # When the app (a development build now) reports the same token with the development certificate
    register(stack, TOKEN_A, business_id=2)

    # Then the device is registered once, with the development certificate
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_A, 2, ApnsEnvironment.DEVELOPMENT),)


# --- logout -------------------------------------------------------------------------------------------------


def test_logout_of_one_device_removes_only_that_device(stack: Stack) -> None:
    # Given vinson on two devices (multi policy)
    stack.configure_app(kickPolicy="multi")
    register(stack, TOKEN_A)
    register(stack, TOKEN_B)

    # When the app logs out on the first one, sending the token in upper case
    answer = stack.app_call("DELETE", APNS, bearer=bearer(), query={"token": TOKEN_A.upper()})

    # Then that device is gone and the other remains
    assert answer.status == HTTPStatus.OK
    assert answer.body == {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "removedDevices": 1}
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_B),)


def test_logout_of_all_devices_removes_every_device_and_the_badge(stack: Stack) -> None:
    # Given vinson on two devices with an unread count
    stack.configure_app(kickPolicy="multi")
    register(stack, TOKEN_A)
    register(stack, TOKEN_B)
    stack.app_call("PUT", BADGE, bearer=bearer(), json_body={"unread": 4})

    # When the app logs out everywhere
    answer = stack.app_call("DELETE", APNS, bearer=bearer())

    # Then vinson has no registration left: the dispatcher finds nobody to push to
    assert answer.status == HTTPStatus.OK
    assert answer.body == {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "removedDevices": 2}
    assert stack.registrations(SAMPLE_USER_ID).devices == ()
    assert stack.registrations(SAMPLE_USER_ID).badge == 0
    assert stack.store().get_many(SAMPLE_SDK_APP_ID, [SAMPLE_USER_ID]) == {}


def test_logout_is_idempotent(stack: Stack) -> None:
    # Given a user with no registration
    # When the app logs out of one device and of all of them
    one = stack.app_call("DELETE", APNS, bearer=bearer(), query={"token": TOKEN_A})
    every = stack.app_call("DELETE", APNS, bearer=bearer())

    # Then both succeed, having removed nothing
    assert (one.status, one.body) == (
        HTTPStatus.OK,
        {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "removedDevices": 0},
    )
    assert (every.status, every.body) == (
        HTTPStatus.OK,
        {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "removedDevices": 0},
    )


def test_a_device_logged_out_and_registered_by_someone_else_is_theirs_alone(stack: Stack) -> None:
    # Given denny logged out of a phone, and vinson logged in on it
    register(stack, TOKEN_A, user_id="denny")
    stack.app_call("DELETE", f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/denny/apns", bearer=bearer("denny"))
    register(stack, TOKEN_A, user_id="vinson")

    # When denny logs in again elsewhere and logs out of everything
    register(stack, TOKEN_B, user_id="denny")
    stack.app_call("DELETE", f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/denny/apns", bearer=bearer("denny"))

    # Then vinson's registration of the phone is untouched
    assert stack.registrations("vinson").devices == (device(TOKEN_A),)
    assert stack.registrations("denny").devices == ()


# --- badge --------------------------------------------------------------------------------------------------


def test_badge_stores_the_unread_count_the_dispatcher_increments(stack: Stack) -> None:
    # Given a registered device
    register(stack, TOKEN_A)

    # When the app goes to the background with 7 unread messages
    answer = stack.app_call("PUT", BADGE, bearer=bearer(), json_body={"unread": 7})

    # Then the count is stored, and the next pushed message shows 8
    assert answer.status == HTTPStatus.OK
    assert answer.body == {"sdkAppId": SAMPLE_SDK_APP_ID, "userId": SAMPLE_USER_ID, "unread": 7}
    assert stack.registrations(SAMPLE_USER_ID).badge == 7
    assert stack.store().increment_badge(SAMPLE_SDK_APP_ID, SAMPLE_USER_ID) == 8


def test_badge_survives_a_new_registration(stack: Stack) -> None:
    # Given an unread count
    register(stack, TOKEN_A)
    stack.app_call("PUT", BADGE, bearer=bearer(), json_body={"unread": 3})

    # When the user logs in on another device (kicking the first)
    register(stack, TOKEN_B)

    # Then the count is the user's, not the device's: it stays
    assert stack.registrations(SAMPLE_USER_ID).badge == 3


# --- authentication -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [rsa_key(), ec_key()], ids=["RS256", "ES256"])
def test_apps_with_a_public_key_authenticate_users_with_signed_tokens(stack: Stack, key: Any) -> None:
    # Given an app whose server signs user tokens with its private key (we hold the public key)
    stack.configure_app(key=key)

    # When vinson's app registers with such a token
    answer = stack.app_call(
        "PUT", APNS, bearer=user_token(key), json_body={"businessId": 1, "token": TOKEN_A}
    )

    # Then it is accepted
    assert answer.status == HTTPStatus.OK
    assert stack.registrations(SAMPLE_USER_ID).devices == (device(TOKEN_A),)


def _unsigned_token() -> str:
    claims = {"sub": SAMPLE_USER_ID, "aud": str(SAMPLE_SDK_APP_ID), "exp": 4102444800}
    return jwt.encode(claims, "", algorithm="none")


UNAUTHENTICATED = [
    pytest.param(
        None,
        {"code": "MissingToken", "message": "this route needs an Authorization: Bearer <token> header"},
        'Bearer realm="offline-push"',
        id="missing",
    ),
    pytest.param(
        {"Authorization": "Basic dmluc29uOnB3"},
        {"code": "MissingToken", "message": "the Authorization header must be Bearer <token>"},
        'Bearer realm="offline-push"',
        id="not bearer",
    ),
    pytest.param(
        {"Authorization": "Bearer not-a-jwt"},
        {"code": "InvalidToken", "message": "the bearer token is not a well-formed JWT"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="malformed",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(expires_in=-3600)},
        {"code": "TokenExpired", "message": "the token has expired: get a new one from the app's server"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="expired",
    ),
    pytest.param(
        {"Authorization": "Bearer " + user_token(hmac_key("another-secret-that-is-long-enough-0123456789"))},
        {"code": "InvalidToken", "message": "the token's signature does not verify with the app's key"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="wrong signature",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(aud="1400000002")},
        {"code": "InvalidToken", "message": "the token's audience is not an app with a user-auth key"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="wrong audience: an app that does not exist",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(aud="chat-backend")},
        {"code": "InvalidToken", "message": "the token's aud claim must be the sdkAppId, as a string"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="wrong audience: not an sdkAppId",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(aud=None)},
        {"code": "InvalidToken", "message": "the token's aud claim must be the sdkAppId, as a string"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="no audience",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(expires_in=None)},
        {"code": "InvalidToken", "message": "the token has no exp claim"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="no expiry",
    ),
    pytest.param(
        {"Authorization": "Bearer " + user_token(hmac_key(), sub=None)},
        {"code": "InvalidToken", "message": "the token has no sub claim"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="no subject",
    ),
    pytest.param(
        {"Authorization": "Bearer " + _unsigned_token()},
        {"code": "InvalidToken", "message": "the token must be signed with HS256, the app's algorithm"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="alg none",
    ),
    pytest.param(
        {"Authorization": "Bearer " + user_token(rsa_key())},
        {"code": "InvalidToken", "message": "the token must be signed with HS256, the app's algorithm"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="another algorithm than the app's",
    ),
    pytest.param(
        {"Authorization": "Bearer " + bearer(nbf=4102444800)},
        {"code": "InvalidToken", "message": "the token is not valid yet (nbf / iat in the future)"},
        'Bearer realm="offline-push", error="invalid_token"',
        id="not yet valid",
    ),
]


@pytest.mark.parametrize(("headers", "error", "challenge"), UNAUTHENTICATED)
def test_registrations_without_a_valid_user_token_are_refused_and_store_nothing(
    stack: Stack, headers: dict[str, str] | None, error: dict[str, str], challenge: str
) -> None:
    # Given vinson registered on a device
    register(stack, TOKEN_A)
    before = stack.stored_state()

    # When a registration comes without a token vinson's app could have got from its server
    answer = stack.app_call("PUT", APNS, headers=headers, json_body={"businessId": 1, "token": TOKEN_B})

    # Then it is refused with 401 saying why (RFC 6750 challenge), and nothing changed
    assert answer.status == HTTPStatus.UNAUTHORIZED
    assert answer.body == error
    assert answer.headers["www-authenticate"] == challenge
    assert stack.stored_state() == before


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        pytest.param(None, "MissingToken", id="missing"),
        pytest.param({"Authorization": "Bearer " + bearer(expires_in=-60)}, "TokenExpired", id="expired"),
        pytest.param(
            {"Authorization": "Bearer " + user_token(hmac_key("a-forged-secret-long-enough-0123456789abcd"))},
            "InvalidToken",
            id="wrong signature",
        ),
    ],
)
@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"method": "DELETE", "path": APNS, "query": {"token": TOKEN_A}}, id="logout one"),
        pytest.param({"method": "DELETE", "path": APNS}, id="logout all"),
        pytest.param({"method": "PUT", "path": BADGE, "json_body": {"unread": 1}}, id="badge"),
    ],
)
def test_logout_and_badge_need_a_valid_user_token_too(
    stack: Stack, headers: dict[str, str] | None, code: str, request_: dict[str, Any]
) -> None:
    # Given vinson registered on a device
    register(stack, TOKEN_A)
    before = stack.stored_state()

    # When someone without vinson's valid token tries to log him out or set his badge
    answer = stack.app_call(headers=headers, **request_)

    # Then it is refused and nothing changed
    assert (answer.status, answer.body["code"]) == (HTTPStatus.UNAUTHORIZED, code)
    assert stack.stored_state() == before


def test_an_app_without_a_user_auth_key_authenticates_nobody(stack: Stack) -> None:
    # Given an app whose settings exist but set no user-auth key
    stack.configure_app(sdk_app_id=1400000009, kickPolicy="multi")

    # When a token for it arrives (signed with any secret)
    answer = stack.app_call(
        "PUT",
        f"/v1/apps/1400000009/users/{SAMPLE_USER_ID}/apns",
        bearer=bearer(aud="1400000009"),
        json_body={"businessId": 1, "token": TOKEN_A},
    )

    # Then it is refused
    assert answer.status == HTTPStatus.UNAUTHORIZED
    assert answer.body == {
        "code": "InvalidToken",
        "message": "the token's audience is not an app with a user-auth key",
    }


def test_a_user_cannot_touch_another_users_registrations(stack: Stack) -> None:
    # Given denny registered on a device
    register(stack, TOKEN_A, user_id="denny")
    before = stack.stored_state()

    # When vinson, with a valid token of his own, calls every route on denny's path
    denny = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/denny"
    answers = [
        stack.app_call(
            "PUT", f"{denny}/apns", bearer=bearer(), json_body={"businessId": 1, "token": TOKEN_B}
        ),
        stack.app_call("DELETE", f"{denny}/apns", bearer=bearer(), query={"token": TOKEN_A}),
        stack.app_call("DELETE", f"{denny}/apns", bearer=bearer()),
        stack.app_call("PUT", f"{denny}/badge", bearer=bearer(), json_body={"unread": 0}),
    ]

    # Then every call is forbidden and denny's registration is untouched
    forbidden = {
        "code": "Forbidden",
        "message": "the token is for another user: a user can only change their own registrations",
    }
    assert [(answer.status, answer.body) for answer in answers] == [(HTTPStatus.FORBIDDEN, forbidden)] * 4
    assert stack.stored_state() == before


def test_a_user_of_one_app_cannot_touch_another_apps_registrations(stack: Stack) -> None:
    # Given a second app, with its own key and vinson registered in it
    other_key = hmac_key("the-other-apps-secret-is-also-long-enough-0123")
    stack.configure_app(sdk_app_id=1400000002, key=other_key)
    stack.certificate(1, sdk_app_id=1400000002)
    registered = stack.app_call(
        "PUT",
        f"/v1/apps/1400000002/users/{SAMPLE_USER_ID}/apns",
        bearer=user_token(other_key, aud="1400000002"),
        json_body={"businessId": 1, "token": TOKEN_A},
    )
    assert registered.status == HTTPStatus.OK
    before = stack.stored_state()

    # When vinson of app 1400000001, with a valid token of that app, calls app 1400000002's routes
    other = f"/v1/apps/1400000002/users/{SAMPLE_USER_ID}"
    answers = [
        stack.app_call(
            "PUT", f"{other}/apns", bearer=bearer(), json_body={"businessId": 1, "token": TOKEN_B}
        ),
        stack.app_call("DELETE", f"{other}/apns", bearer=bearer()),
        stack.app_call("PUT", f"{other}/badge", bearer=bearer(), json_body={"unread": 0}),
    ]

    # Then every call is forbidden, and nothing changed in either app
    forbidden = {
        "code": "Forbidden",
        "message": "the token is for app 1400000001: it cannot act in another app",
    }
    assert [(answer.status, answer.body) for answer in answers] == [(HTTPStatus.FORBIDDEN, forbidden)] * 3
    assert stack.stored_state() == before


def test_user_ids_in_the_path_are_percent_decoded_before_comparison(stack: Stack) -> None:
    # Given a user id with a character a URL must encode
    user_id = "li lei@example"

    # When the app calls its own path, percent-encoded
    answer = stack.app_call(
        "PUT",
        f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/li%20lei@example/apns",
        bearer=bearer(user_id),
        json_body={"businessId": 1, "token": TOKEN_A},
    )

    # Then the token's subject matches and the registration is the user's
    assert answer.status == HTTPStatus.OK
    assert stack.registrations(user_id).devices == (device(TOKEN_A),)


# --- bad input ----------------------------------------------------------------------------------------------

BAD_REGISTRATIONS = [
    pytest.param(
        {"businessId": 1, "token": "zz" * 32},
        "InvalidDeviceToken",
        "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
        id="non-hex token",
    ),
    pytest.param(
        {"businessId": 1, "token": "ab" * 8},
        "InvalidDeviceToken",
        "token is 8 bytes; APNs device tokens are 16 to 100 bytes (32 to 200 hex digits)",
        id="absurdly short token",
    ),
    pytest.param(
        {"businessId": 1, "token": "ab" * 101},
        "InvalidDeviceToken",
        "token is 101 bytes; APNs device tokens are 16 to 100 bytes (32 to 200 hex digits)",
        id="absurdly long token",
    ),
    pytest.param(
        {"businessId": 1, "token": "ab" * 400},
        "InvalidRequest",
        "token: String should have at most 512 characters",
        id="huge token",
    ),
    pytest.param(
        {"businessId": 1, "token": TOKEN_A + "a"},
        "InvalidDeviceToken",
        "token has an odd number of hex digits: a device token is whole bytes",
        id="odd number of digits",
    ),
    pytest.param(
        {"businessId": 1, "token": "{length = 32, bytes = 0xa1a1a1a1 a1a1a1a1 ... a1a1a1a1 a1a1a1a1 }"},
        "InvalidDeviceToken",
        "token is NSData's description ({length = ..., bytes = ...}), which iOS 13 and later truncate: "
        "send the hex of the token's bytes",
        id="iOS 13 NSData description",
    ),
    pytest.param(
        {"businessId": 9, "token": TOKEN_A},
        "UnknownBusinessId",
        "businessId 9 is not a certificate of app 1400000001: use the id the certificate upload returned",
        id="unknown businessId",
    ),
    pytest.param(
        {"businessId": 0, "token": TOKEN_A},
        "InvalidRequest",
        "businessId: Input should be greater than 0",
        id="businessId zero",
    ),
    pytest.param(
        {"businessId": "1", "token": TOKEN_A},
        "InvalidRequest",
        "businessId: Input should be a valid integer",
        id="businessId as a string",
    ),
    pytest.param(
        {"businessID": 1, "token": TOKEN_A},
        "InvalidRequest",
        "businessId: Field required; businessID: Extra inputs are not permitted",
        id="the SDK's spelling businessID",
    ),
    pytest.param(
        {"businessId": 1},
        "InvalidRequest",
        "token: Field required",
        id="no token",
    ),
    pytest.param(
        [{"businessId": 1, "token": TOKEN_A}],
        "InvalidRequest",
        "the request body must be a JSON object",
        id="array body",
    ),
]


@pytest.mark.parametrize(("body", "code", "message"), BAD_REGISTRATIONS)
def test_bad_registrations_are_refused_with_a_reason_and_store_nothing(
    stack: Stack, body: Any, code: str, message: str
) -> None:
    # Given vinson registered on one device
    register(stack, TOKEN_C)
    before = stack.stored_state()

    # When the app sends a bad registration
    answer = stack.app_call("PUT", APNS, bearer=bearer(), json_body=body)

    # Then it gets 400 naming the problem, and nothing changed (the existing device is not kicked)
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"code": code, "message": message}
    assert stack.stored_state() == before


@pytest.mark.parametrize(
    ("raw_body", "message"),
    [
        pytest.param(None, "the request body must be a JSON object", id="no body"),
        pytest.param("{businessId: 1", "the request body is not valid JSON", id="not JSON"),
    ],
)
def test_unparseable_bodies_are_refused(stack: Stack, raw_body: str | None, message: str) -> None:
    before = stack.stored_state()

    answer = stack.app_call(
        "PUT", APNS, bearer=bearer(), body=raw_body, headers={"content-type": "application/json"}
    )

    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"code": "InvalidRequest", "message": message}
    assert stack.stored_state() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"unread": -1}, "unread: Input should be greater than or equal to 0", id="negative"),
        pytest.param({"unread": "3"}, "unread: Input should be a valid integer", id="string"),
        pytest.param({"unread": 1.5}, "unread: Input should be a valid integer", id="fraction"),
        pytest.param({"unread": True}, "unread: Input should be a valid integer", id="boolean"),
        pytest.param(
            {"unread": 2**31}, "unread: Input should be less than or equal to 2147483647", id="beyond 32 bits"
        ),
        pytest.param({}, "unread: Field required", id="missing"),
    ],
)
def test_bad_unread_counts_are_refused_and_store_nothing(stack: Stack, body: Any, message: str) -> None:
    # Given a registered user with an unread count
    register(stack, TOKEN_A)
    stack.app_call("PUT", BADGE, bearer=bearer(), json_body={"unread": 2})
    before = stack.stored_state()

    # When the app reports a bad count
    answer = stack.app_call("PUT", BADGE, bearer=bearer(), json_body=body)

    # Then it gets 400 and the count is unchanged
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"code": "InvalidRequest", "message": message}
    assert stack.stored_state() == before


def test_logout_with_a_bad_token_is_refused_and_removes_nothing(stack: Stack) -> None:
    register(stack, TOKEN_A)
    before = stack.stored_state()

    answer = stack.app_call("DELETE", APNS, bearer=bearer(), query={"token": "not-a-token"})

    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {
        "code": "InvalidDeviceToken",
        "message": "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
    }
    assert stack.stored_state() == before


def test_unknown_routes_answer_404_in_the_error_shape(stack: Stack) -> None:
    answer = stack.app_call("GET", APNS, bearer=bearer())

    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"code": "RouteNotFound", "message": "no such route"}
