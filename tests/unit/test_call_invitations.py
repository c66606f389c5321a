"""Call invitations, pure: the ``Call`` field of a job, the VoIP payload (whole bytes, the 5,120-byte limit),
the alert fallback's text, and which registrations a job goes to."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from offline_push.errors import InvalidPushJob
from offline_push.logic.dispatch.stage2_registrations import devices_for
from offline_push.logic.formatter import NoPush, NoPushReason, default_collapse_id, prepare
from offline_push.logic.voip_payload import format_call
from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.job import Language, PushJob, parse_push_job
from offline_push.models.notification import MAX_VOIP_PAYLOAD_BYTES, Notification, PushType
from offline_push.models.registration import DeviceRegistration
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

CALL = {"CallId": "call-1", "MediaType": "audio"}


def call_job(call: dict[str, Any] | None = None, **fields: Any) -> PushJob:
    return parse_push_job(job_dict(ONE_TO_ONE, Call={**CALL, **(call or {})}, **fields))


def device(token: str, kind: PushKind) -> DeviceRegistration:
    return DeviceRegistration(
        token=token * 32,
        business_id=1,
        environment=ApnsEnvironment.PRODUCTION,
        registered_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        push_kind=kind,
    )


# --- the Call field -----------------------------------------------------------------------------------------


def test_a_call_takes_its_defaults() -> None:
    job = parse_push_job(job_dict(ONE_TO_ONE, Call={"CallId": "c"}))

    assert job.call is not None
    assert (job.call.call_id, job.call.media_type, job.call.caller, job.call.alert_fallback, job.caller) == (
        "c",
        "audio",
        "",
        0,
        "denny",
    )


def test_an_ordinary_job_has_no_call_and_no_caller() -> None:
    job = parse_push_job(ONE_TO_ONE)

    assert (job.call, job.caller) == (None, "denny")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"Call": {}}, "Call.CallId: Field required"),
        ({"Call": {"CallId": ""}}, "Call.CallId: String should have at least 1 character"),
        ({"Call": {"CallId": "c" * 129}}, "Call.CallId: String should have at most 128 characters"),
        ({"Call": {"CallId": "a\nb"}}, "Call.CallId: must not contain control characters"),
        ({"Call": {"CallId": "c", "Caller": "x\x7f"}}, "Call.Caller: must not contain control characters"),
        (
            {"Call": {"CallId": "c", "Caller": "c" * 129}},
            "Call.Caller: String should have at most 128 characters",
        ),
        (
            {"Call": {"CallId": "c", "MediaType": "screen"}},
            "Call.MediaType: Input should be 'audio' or 'video'",
        ),
        ({"Call": {"CallId": "c", "AlertFallback": 2}}, "Call.AlertFallback: Input should be 0 or 1"),
        ({"Call": {"CallId": 7}}, "Call.CallId: Input should be a valid string"),
        ({"Call": "c"}, "Call: Input should be a valid dictionary or instance of Call"),
        (
            {"Call": {"CallId": "c"}, "From_Account": ""},
            "Call.Caller: required when From_Account is empty (who is calling?)",
        ),
        (
            {"Call": {"CallId": "c"}, "OfflinePushInfo": {"ApnsInfo": {"BackgroundNotification": 1}}},
            "Call: a call invitation cannot be a background notification (BackgroundNotification 1)",
        ),
        (
            {"Call": {"CallId": "c"}, "OfflinePushInfo": {"ApnsInfo": {"Expiration": 0}}},
            "Call: a call invitation is delivered now or never; ApnsInfo.Expiration does not apply",
        ),
    ],
)
def test_an_invalid_call_is_an_invalid_job_naming_the_field(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidPushJob) as refused:
        parse_push_job(job_dict(ONE_TO_ONE, **fields))

    assert refused.value.message == f"invalid push job: {problem}"


@pytest.mark.parametrize(
    ("call_id", "accepted"),
    [("a b~", True), ("a\x1fb", False), ("a\x7fb", False), ("a\x80b", True), ("通话 1", True)],
    ids=["space and tilde", "unit separator", "delete", "C1 0x80", "Chinese"],
)
def test_a_call_id_may_hold_any_character_but_ascii_controls(call_id: str, accepted: bool) -> None:
    raw = job_dict(ONE_TO_ONE, Call={"CallId": call_id, "Caller": call_id})

    if accepted:
        job = parse_push_job(raw)
        assert job.call is not None
        assert (job.call.call_id, job.caller) == (call_id, call_id)
    else:
        with pytest.raises(InvalidPushJob) as refused:
            parse_push_job(raw)
        assert refused.value.message == (
            "invalid push job: Call.CallId: must not contain control characters; "
            "Call.Caller: must not contain control characters"
        )


def test_a_caller_given_without_a_sender_is_enough() -> None:
    job = parse_push_job(job_dict(ONE_TO_ONE, From_Account="", Call={"CallId": "c", "Caller": "desk"}))

    assert job.caller == "desk"


# --- the VoIP payload ---------------------------------------------------------------------------------------


def test_a_one_to_one_call_gives_the_whole_voip_notification() -> None:
    job = call_job(OfflinePushInfo={"Ext": '{"route":"call"}'})

    assert format_call(job) == Notification(
        b'{"call":{"callId":"call-1","caller":"denny","callerName":"Denny","mediaType":"audio"},'
        b'"ext":"{\\"route\\":\\"call\\"}"}',
        PushType.VOIP,
        10,
        0,
        default_collapse_id(job),
    )


def test_a_group_call_names_the_group_and_an_explicit_caller() -> None:
    job = parse_push_job(
        job_dict(GROUP, SenderNickname="", Call={"CallId": "g-9", "MediaType": "video", "Caller": "dad"})
    )

    assert format_call(job) == Notification(
        b'{"call":{"callId":"g-9","caller":"dad","mediaType":"video","groupId":"@TGS#2J4SZEAEL"}}',
        PushType.VOIP,
        10,
        0,
        default_collapse_id(job),
    )


def test_the_ext_of_a_custom_element_rides_along_without_offline_push_info() -> None:
    element = {"MsgType": "TIMCustomElem", "MsgContent": {"Desc": "call", "Ext": "e1"}}
    job = parse_push_job(job_dict(ONE_TO_ONE, MsgBody=[element], Call=CALL))

    notification = format_call(job)

    assert isinstance(notification, Notification)
    assert json.loads(notification.payload)["ext"] == "e1"


def _ext_filling(total: int) -> str:
    """An ext that makes the VoIP payload of :func:`call_job` exactly ``total`` bytes."""
    empty = format_call(call_job(OfflinePushInfo={"Ext": "x"}))
    assert isinstance(empty, Notification)
    return "x" * (total - len(empty.payload) + 1)


def test_a_payload_of_exactly_5120_bytes_is_sent_whole() -> None:
    ext = _ext_filling(MAX_VOIP_PAYLOAD_BYTES)

    notification = format_call(call_job(OfflinePushInfo={"Ext": ext}))

    assert isinstance(notification, Notification)
    assert len(notification.payload) == 5120
    assert json.loads(notification.payload)["ext"] == ext


def test_a_payload_of_5121_bytes_is_not_pushed_and_ext_is_never_cut() -> None:
    ext = _ext_filling(MAX_VOIP_PAYLOAD_BYTES + 1)

    assert format_call(call_job(OfflinePushInfo={"Ext": ext})) == NoPush(
        NoPushReason.EXT_TOO_LARGE,
        f"Ext is {len(ext)} bytes: with the call it cannot fit APNs's 5120-byte VoIP payload limit, and it "
        "is never cut",
    )


def test_a_long_nickname_is_shortened_to_256_bytes_with_an_ellipsis() -> None:
    job = call_job(SenderNickname="名" * 200)

    notification = format_call(job)

    assert isinstance(notification, Notification)
    name = json.loads(notification.payload)["call"]["callerName"]
    assert (name, len(name.encode())) == ("名" * 84 + "…", 255)


@pytest.mark.parametrize(
    ("nickname", "shown"),
    [("a" * 256, "a" * 256), ("a" * 257, "a" * 253 + "…")],
    ids=["256 bytes: whole", "257 bytes: cut to 256"],
)
def test_the_caller_name_keeps_at_most_256_bytes(nickname: str, shown: str) -> None:
    notification = format_call(call_job(SenderNickname=nickname))

    assert isinstance(notification, Notification)
    assert json.loads(notification.payload)["call"]["callerName"] == shown


def test_only_a_call_is_pushed_through_pushkit() -> None:
    with pytest.raises(
        ValueError, match=r"^only a call invitation \(a job with Call\) is pushed through PushKit$"
    ):
        format_call(parse_push_job(ONE_TO_ONE))


# --- the alert fallback -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "media", "nickname", "body"),
    [
        (Language.EN, "audio", "Denny", "Denny is calling you"),
        (Language.EN, "video", "Denny", "Denny is video calling you"),
        (Language.ZH, "audio", "Denny", "Denny邀请你语音通话"),
        (Language.ZH, "video", "Denny", "Denny邀请你视频通话"),
        (Language.EN, "audio", "", "denny is calling you"),
    ],
)
def test_the_fallback_alert_says_who_calls_in_the_placeholders_language(
    language: Language, media: str, nickname: str, body: str
) -> None:
    job = call_job({"MediaType": media, "AlertFallback": 1}, SenderNickname=nickname)

    notification = prepare(job, language=language).notification(badge=7)

    assert isinstance(notification, Notification)
    assert json.loads(notification.payload) == {
        "aps": {"alert": {"body": body}, "sound": "default", "thread-id": "denny"}
    }
    assert notification.push_type is PushType.ALERT


def test_the_fallback_alert_uses_desc_when_the_job_gives_one_and_never_a_badge() -> None:
    prepared = prepare(call_job(OfflinePushInfo={"Desc": "Incoming call"}))

    notification = prepared.notification(badge=3)

    assert isinstance(notification, Notification)
    assert (prepared.counts_toward_badge, json.loads(notification.payload)["aps"]["alert"]) == (
        False,
        {"body": "Incoming call"},
    )


# --- which registrations ------------------------------------------------------------------------------------

ALERT_A, ALERT_B = device("aa", PushKind.ALERT), device("bb", PushKind.ALERT)
VOIP_C = device("cc", PushKind.VOIP)


@pytest.mark.parametrize(
    ("call", "devices", "expected"),
    [
        (None, [ALERT_A, VOIP_C, ALERT_B], (ALERT_A, ALERT_B)),
        (None, [VOIP_C], ()),
        ({"AlertFallback": 0}, [ALERT_A, VOIP_C], (VOIP_C,)),
        ({"AlertFallback": 1}, [ALERT_A, VOIP_C], (VOIP_C,)),
        ({"AlertFallback": 1}, [ALERT_A, ALERT_B], (ALERT_A, ALERT_B)),
        ({"AlertFallback": 0}, [ALERT_A], None),
        ({"AlertFallback": 1}, [], ()),
    ],
    ids=[
        "message: apns tokens only",
        "message: pushkit token only",
        "call: pushkit token",
        "call with fallback: pushkit token first",
        "call with fallback: apns tokens",
        "call without fallback: nobody (NoVoipRegistration)",
        "call with fallback, no device",
    ],
)
def test_a_job_goes_to_the_registrations_of_its_kind(
    call: dict[str, Any] | None,
    devices: list[DeviceRegistration],
    expected: tuple[DeviceRegistration, ...] | None,
) -> None:
    job = call_job(call) if call is not None else parse_push_job(ONE_TO_ONE)

    assert devices_for(job, devices) == expected


def test_the_readme_call_example_is_what_is_sent_to_the_pushkit_token() -> None:
    # Given the call job and VoIP payload of README.md's "Call invitations"
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    job_block, payload_block = re.findall(r"```json call\n(.*?)```", readme, flags=re.DOTALL)

    # When the job is formatted for a PushKit token
    notification = format_call(parse_push_job(job_block))

    # Then the payload is the documented one, byte for byte
    assert isinstance(notification, Notification)
    assert notification.payload.decode() == payload_block.strip()
