"""Parsing push jobs: every valid job is accepted, every invalid one is refused with the fields named."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from offline_push.errors import InvalidPushJob, InvalidRequest
from offline_push.models.job import PushJob, parse_push_job
from tests.support.jobs import (
    FACE,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    ONE_TO_ONE,
    RELAY,
    SOUND,
    VIDEO,
    custom,
    job_dict,
    text,
)

FULL_JOB: dict[str, Any] = job_dict(
    GROUP,
    MsgBody=[text("hi"), LOCATION, FACE, custom(desc="card"), SOUND, IMAGE, FILE, VIDEO, RELAY],
    OfflinePushInfo={
        "PushFlag": 0,
        "Title": "Family",
        "Desc": "",
        "Ext": '{"to":"chat"}',
        "Language": "en",
        "AndroidInfo": {"Sound": "android.mp3", "OPPOChannelID": "c"},
        "ApnsInfo": {
            "Sound": "a.caf",
            "BadgeMode": 0,
            "Title": "",
            "SubTitle": "sub",
            "Image": "https://x/i.png",
            "MutableContent": 1,
            "InterruptionLevel": "time-sensitive",
            "IgnoreBadge": 0,
            "BackgroundNotification": 0,
            "CollapseId": "family-chat",
            "Expiration": 1767225600,
        },
    },
    MsgRandom=1287657,
    CloudCustomData="kept by Tencent, ignored here",
)


def test_a_job_with_every_element_type_and_option_is_accepted() -> None:
    # Given a group job using every element type and push option, plus Tencent fields we do not use
    # When it is parsed from its JSON wire form
    job = parse_push_job(json.dumps(FULL_JOB))

    # Then every field is read, and the unknown ones are ignored
    assert [element.msg_type for element in job.msg_body] == [
        "TIMTextElem",
        "TIMLocationElem",
        "TIMFaceElem",
        "TIMCustomElem",
        "TIMSoundElem",
        "TIMImageElem",
        "TIMFileElem",
        "TIMVideoFileElem",
        "TIMRelayElem",
    ]
    assert job.is_group
    assert job.offline_push_info is not None
    assert job.offline_push_info.language == "en"
    assert job.apns_info is not None
    assert job.apns_info.model_dump(by_alias=True) == FULL_JOB["OfflinePushInfo"]["ApnsInfo"]
    assert "MsgRandom" not in job.model_dump(by_alias=True)


@pytest.mark.parametrize("raw", [json.dumps(ONE_TO_ONE), json.dumps(ONE_TO_ONE).encode(), ONE_TO_ONE])
def test_a_job_is_read_from_text_bytes_or_a_decoded_object(raw: str | bytes | dict[str, Any]) -> None:
    job = parse_push_job(raw)

    assert job == PushJob.model_validate(ONE_TO_ONE)
    assert (job.sdk_app_id, job.msg_key, job.to_account) == (1400000001, "144115198244471703-1", ["vinson"])


def with_element(element: dict[str, Any]) -> dict[str, Any]:
    return job_dict(ONE_TO_ONE, MsgBody=[element])


def with_apns(**options: Any) -> dict[str, Any]:
    return job_dict(ONE_TO_ONE, OfflinePushInfo={"ApnsInfo": options})


INVALID_JOBS: list[tuple[str, Any, str]] = [
    ("not JSON", "{not json", "not valid JSON (key must be a string at line 1 column 2)"),
    ("not an object", "[1, 2]", "Input should be an object"),
    (
        "missing required fields",
        {"SdkAppId": 1},
        "MsgKey: Field required; To_Account: Field required; MsgBody: Field required",
    ),
    ("SdkAppId as a string", job_dict(SdkAppId="1400000001"), "SdkAppId: Input should be a valid integer"),
    ("SdkAppId zero", job_dict(SdkAppId=0), "SdkAppId: Input should be greater than 0"),
    ("empty MsgKey", job_dict(MsgKey=""), "MsgKey: String should have at least 1 character"),
    (
        "no receivers",
        job_dict(To_Account=[]),
        "To_Account: List should have at least 1 item after validation, not 0",
    ),
    (
        "a receiver as a number",
        job_dict(To_Account=["a", 7]),
        "To_Account[1]: Input should be a valid string",
    ),
    ("To_Account as a string", job_dict(To_Account="vinson"), "To_Account: Input should be a valid list"),
    (
        "empty MsgBody",
        job_dict(MsgBody=[]),
        "MsgBody: List should have at least 1 item after validation, not 0",
    ),
    (
        "unknown MsgType",
        with_element({"MsgType": "TIMGroupTipElem", "MsgContent": {}}),
        "MsgBody[0].MsgType: unknown message element type 'TIMGroupTipElem' (one of TIMTextElem, "
        "TIMLocationElem, TIMFaceElem, TIMCustomElem, TIMSoundElem, TIMImageElem, TIMFileElem, "
        "TIMVideoFileElem, TIMRelayElem)",
    ),
    ("missing MsgType", with_element({"MsgContent": {"Text": "hi"}}), "MsgBody[0].MsgType: Field required"),
    ("missing MsgContent", with_element({"MsgType": "TIMTextElem"}), "MsgBody[0].MsgContent: Field required"),
    (
        "text as a number",
        with_element({"MsgType": "TIMTextElem", "MsgContent": {"Text": 42}}),
        "MsgBody[0].MsgContent.Text: Input should be a valid string",
    ),
    (
        "location without coordinates",
        with_element({"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "home"}}),
        "MsgBody[0].MsgContent.Latitude: Field required; MsgBody[0].MsgContent.Longitude: Field required",
    ),
    (
        "face index as a string",
        with_element({"MsgType": "TIMFaceElem", "MsgContent": {"Index": "1"}}),
        "MsgBody[0].MsgContent.Index: Input should be a valid integer",
    ),
    (
        "two custom elements",
        job_dict(MsgBody=[custom(desc="a"), custom(desc="b")]),
        "MsgBody: a message can contain only one TIMCustomElem",
    ),
    (
        "PushFlag 2",
        job_dict(OfflinePushInfo={"PushFlag": 2}),
        "OfflinePushInfo.PushFlag: Input should be 0 or 1",
    ),
    (
        "an unknown Language",
        job_dict(OfflinePushInfo={"Language": "fr"}),
        "OfflinePushInfo.Language: Input should be 'zh' or 'en'",
    ),
    (
        "an ext that UTF-8 cannot carry",
        job_dict(OfflinePushInfo={"Ext": "go \ud800"}),
        "OfflinePushInfo.Ext: Ext is not valid Unicode text (it contains a lone surrogate)",
    ),
    (
        "a sound without its extension",
        with_apns(Sound="ring"),
        "OfflinePushInfo.ApnsInfo.Sound: Sound must be a sound file name with its extension (e.g. ring.caf), "
        "'default', kIOSOfflinePushNoSound or kIOSOfflinePushDefaultSound",
    ),
    (
        "an unknown interruption level",
        with_apns(InterruptionLevel="urgent"),
        "OfflinePushInfo.ApnsInfo.InterruptionLevel: Input should be 'passive', 'active', 'time-sensitive' "
        "or 'critical'",
    ),
    (
        "a collapse id over 64 bytes",
        with_apns(CollapseId="c" * 65),
        "OfflinePushInfo.ApnsInfo.CollapseId: must be 1 to 64 printable ASCII characters",
    ),
    (
        "a collapse id that is not ASCII",
        with_apns(CollapseId="聊天"),
        "OfflinePushInfo.ApnsInfo.CollapseId: must be 1 to 64 printable ASCII characters",
    ),
    (
        "a negative expiration",
        with_apns(Expiration=-1),
        "OfflinePushInfo.ApnsInfo.Expiration: Input should be greater than or equal to 0",
    ),
    (
        "BadgeMode as a string",
        with_apns(BadgeMode="1"),
        "OfflinePushInfo.ApnsInfo.BadgeMode: Input should be 0 or 1",
    ),
]


@pytest.mark.parametrize(
    ("raw", "problems"), [case[1:] for case in INVALID_JOBS], ids=[c[0] for c in INVALID_JOBS]
)
def test_an_invalid_job_is_refused_naming_each_bad_field(raw: Any, problems: str) -> None:
    # Given a job that breaks the schema
    # When it is parsed
    with pytest.raises(InvalidPushJob) as caught:
        parse_push_job(raw)

    # Then the error is a client error naming every problem, without echoing the values
    assert caught.value.message == f"invalid push job: {problems}"
    assert isinstance(caught.value, InvalidRequest)
    assert (caught.value.status, caught.value.code) == (HTTPStatus.BAD_REQUEST, "InvalidPushJob")


def test_a_job_with_many_problems_lists_ten_and_counts_the_rest() -> None:
    # Given a job with twelve elements whose text is a number
    raw = job_dict(MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": n}} for n in range(12)])

    # When it is parsed
    with pytest.raises(InvalidPushJob) as caught:
        parse_push_job(raw)

    # Then the first ten are named and the last two counted
    named = "; ".join(f"MsgBody[{n}].MsgContent.Text: Input should be a valid string" for n in range(10))
    assert caught.value.message == f"invalid push job: {named}; and 2 more"


def test_values_are_never_echoed_in_the_error() -> None:
    # Given a job whose wrongly typed field holds something that must not reach a log
    raw = job_dict(SenderNickname={"token": "s3cr3t-value"})

    # When it is parsed
    with pytest.raises(InvalidPushJob) as caught:
        parse_push_job(raw)

    # Then the field is named and its value is not repeated
    assert caught.value.message == "invalid push job: SenderNickname: Input should be a valid string"
    assert "s3cr3t" not in str(caught.value)
