"""Every field of a push job is read under its Tencent name, and every field left out takes its default."""

from __future__ import annotations

import json
from typing import Any

from offline_push.models.job import parse_push_job
from tests.support.jobs import FACE, FILE, GROUP, IMAGE, LOCATION, SOUND, VIDEO, job_dict, text

RELAY_WITH_EVERY_FIELD = {
    "MsgType": "TIMRelayElem",
    "MsgContent": {
        "Title": "Group chat history",
        "MsgNum": 1,
        "CompatibleText": "Please upgrade",
        "AbstractList": ["A: hi"],
        "MsgList": [{"From_Account": "A"}],
        "JsonMsgKey": "relay-1",
    },
}
CUSTOM_WITH_EVERY_FIELD = {
    "MsgType": "TIMCustomElem",
    "MsgContent": {"Data": '{"k":1}', "Desc": "card", "Ext": "open:card", "Sound": "c.caf"},
}
EVERY_FIELD: dict[str, Any] = job_dict(
    GROUP,
    From_Account="dad",
    SenderNickname="Dad",
    MsgBody=[
        text("hi"),
        LOCATION,
        FACE,
        CUSTOM_WITH_EVERY_FIELD,
        SOUND,
        IMAGE,
        FILE,
        VIDEO,
        RELAY_WITH_EVERY_FIELD,
    ],
    OfflinePushInfo={
        "PushFlag": 1,
        "Title": "Family",
        "Desc": "dinner?",
        "Ext": '{"to":"chat"}',
        "Language": "en",
        "ApnsInfo": {
            "Sound": "a.caf",
            "BadgeMode": 1,
            "Title": "T",
            "SubTitle": "S",
            "Image": "https://x/i.png",
            "MutableContent": 1,
            "InterruptionLevel": "critical",
            "IgnoreBadge": 1,
            "BackgroundNotification": 1,
            "CollapseId": "family-chat",
            "Expiration": 1767225600,
        },
    },
    Badges={"vinson": 3, "mum": 0},
)


def test_every_field_of_a_job_is_read_under_its_tencent_name() -> None:
    # Given a job that sets every field the service reads, each to a value other than its default
    # When it is parsed from its JSON wire form
    job = parse_push_job(json.dumps(EVERY_FIELD))

    # Then writing it back under the same names gives the job as sent (a call cannot be a background push
    # with an expiration: its fields are pinned with a job of its own, below)
    assert job.model_dump(by_alias=True) == {**EVERY_FIELD, "Call": None}


def test_every_field_of_a_call_is_read_under_its_name() -> None:
    # Given a call invitation setting every field of Call to a value other than its default
    call = {"CallId": "c-1", "MediaType": "video", "Caller": "desk", "AlertFallback": 1}
    ring = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "ring"}}
    raw = {"SdkAppId": 1, "MsgKey": "k", "To_Account": ["r"], "MsgBody": [ring], "Call": call}

    # When it is parsed from its JSON wire form
    job = parse_push_job(json.dumps(raw))

    # Then Call is read back under the same names
    assert job.model_dump(by_alias=True)["Call"] == call


def test_every_field_a_job_leaves_out_takes_its_default() -> None:
    # Given a job with only the required fields, and elements and options with nothing in them
    raw = {
        "SdkAppId": 1,
        "MsgKey": "k",
        "To_Account": ["r"],
        "MsgBody": [
            {"MsgType": "TIMLocationElem", "MsgContent": {"Latitude": 1.5, "Longitude": 2.5}},
            {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 0}},
            {"MsgType": "TIMCustomElem", "MsgContent": {}},
            {"MsgType": "TIMSoundElem", "MsgContent": {}},
            {"MsgType": "TIMImageElem", "MsgContent": {"ImageInfoArray": [{}]}},
            {"MsgType": "TIMFileElem", "MsgContent": {}},
            {"MsgType": "TIMVideoFileElem", "MsgContent": {}},
            {"MsgType": "TIMRelayElem", "MsgContent": {}},
        ],
        "OfflinePushInfo": {"ApnsInfo": {}},
    }

    # When it is parsed
    job = parse_push_job(raw)

    # Then every absent field has its default: empty text, zero, no list entries, no option
    assert job.model_dump(by_alias=True) == {
        "SdkAppId": 1,
        "MsgKey": "k",
        "From_Account": "",
        "SenderNickname": "",
        "To_Account": ["r"],
        "GroupId": "",
        "GroupName": "",
        "SenderNameCard": "",
        "MsgBody": [
            {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "", "Latitude": 1.5, "Longitude": 2.5}},
            {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 0, "Data": ""}},
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "", "Desc": "", "Ext": "", "Sound": ""}},
            {
                "MsgType": "TIMSoundElem",
                "MsgContent": {"Url": "", "UUID": "", "Size": 0, "Second": 0, "Download_Flag": 0},
            },
            {
                "MsgType": "TIMImageElem",
                "MsgContent": {
                    "UUID": "",
                    "ImageFormat": 0,
                    "ImageInfoArray": [{"Type": 0, "Size": 0, "Width": 0, "Height": 0, "URL": ""}],
                },
            },
            {
                "MsgType": "TIMFileElem",
                "MsgContent": {"Url": "", "UUID": "", "FileSize": 0, "FileName": "", "Download_Flag": 0},
            },
            {
                "MsgType": "TIMVideoFileElem",
                "MsgContent": {
                    "VideoUrl": "",
                    "VideoUUID": "",
                    "VideoSize": 0,
                    "VideoSecond": 0,
                    "VideoFormat": "",
                    "VideoDownloadFlag": 0,
                    "ThumbUrl": "",
                    "ThumbUUID": "",
                    "ThumbSize": 0,
                    "ThumbWidth": 0,
                    "ThumbHeight": 0,
                    "ThumbFormat": "",
                    "ThumbDownloadFlag": 0,
                },
            },
            {
                "MsgType": "TIMRelayElem",
                "MsgContent": {
                    "Title": "",
                    "MsgNum": 0,
                    "CompatibleText": "",
                    "AbstractList": [],
                    "MsgList": [],
                    "JsonMsgKey": "",
                },
            },
        ],
        "OfflinePushInfo": {
            "PushFlag": 0,
            "Title": "",
            "Desc": "",
            "Ext": "",
            "Language": None,
            "ApnsInfo": {
                "Sound": "",
                "BadgeMode": 0,
                "Title": "",
                "SubTitle": "",
                "Image": "",
                "MutableContent": 0,
                "InterruptionLevel": None,
                "IgnoreBadge": 0,
                "BackgroundNotification": 0,
                "CollapseId": None,
                "Expiration": None,
            },
        },
        "Badges": None,
        "Call": None,
    }
