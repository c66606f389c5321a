"""Push jobs as an IM backend queues them (Tencent REST message format), for tests and benchmarks."""

from __future__ import annotations

import copy
from typing import Any

from offline_push.models.job import PushJob, parse_push_job

SDK_APP_ID = 1400000001
MSG_KEY = "144115198244471703-1"

# The seed's example: denny sends vinson "hello", with a click-through ext.
ONE_TO_ONE: dict[str, Any] = {
    "SdkAppId": SDK_APP_ID,
    "MsgKey": MSG_KEY,
    "From_Account": "denny",
    "SenderNickname": "Denny",
    "To_Account": ["vinson"],
    "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}],
}

GROUP: dict[str, Any] = {
    **ONE_TO_ONE,
    "To_Account": ["vinson", "mum"],
    "GroupId": "@TGS#2J4SZEAEL",
    "GroupName": "Family",
    "SenderNameCard": "Dad",
}


def text(value: str) -> dict[str, Any]:
    return {"MsgType": "TIMTextElem", "MsgContent": {"Text": value}}


def custom(desc: str = "", ext: str = "", sound: str = "", data: str = "{}") -> dict[str, Any]:
    content = {"Data": data, "Desc": desc, "Ext": ext, "Sound": sound}
    return {"MsgType": "TIMCustomElem", "MsgContent": {k: v for k, v in content.items() if v}}


# One element of every other type, with the contents Tencent's "message formats" page shows.
LOCATION = {
    "MsgType": "TIMLocationElem",
    "MsgContent": {"Desc": "someinfo", "Latitude": 29.34, "Longitude": 116.77},
}
FACE = {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}}
SOUND = {
    "MsgType": "TIMSoundElem",
    "MsgContent": {"Url": "https://x/v", "UUID": "1053D4B3", "Size": 62351, "Second": 1, "Download_Flag": 2},
}
IMAGE = {
    "MsgType": "TIMImageElem",
    "MsgContent": {
        "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
        "ImageFormat": 1,
        "ImageInfoArray": [{"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264, "URL": "http://x/0"}],
    },
}
FILE = {
    "MsgType": "TIMFileElem",
    "MsgContent": {
        "Url": "https://x/f",
        "UUID": "1053D4B3",
        "FileSize": 1773552,
        "FileName": "a.mov",
        "Download_Flag": 2,
    },
}
VIDEO = {
    "MsgType": "TIMVideoFileElem",
    "MsgContent": {
        "VideoUrl": "https://x/v.mp4",
        "VideoUUID": "5da38ba8",
        "VideoSize": 1194603,
        "VideoSecond": 5,
        "VideoFormat": "mp4",
        "VideoDownloadFlag": 2,
        "ThumbUrl": "https://x/t.jpg",
        "ThumbUUID": "6edaffed",
        "ThumbSize": 13907,
        "ThumbWidth": 720,
        "ThumbHeight": 1280,
        "ThumbFormat": "JPG",
        "ThumbDownloadFlag": 2,
    },
}
RELAY = {
    "MsgType": "TIMRelayElem",
    "MsgContent": {
        "Title": "Group chat history",
        "MsgNum": 1,
        "CompatibleText": "Please upgrade",
        "AbstractList": ["A: hi"],
        "MsgList": [
            {"From_Account": "A", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]}
        ],
    },
}


def job_dict(base: dict[str, Any] = ONE_TO_ONE, **fields: Any) -> dict[str, Any]:
    """``base`` with top-level ``fields`` replaced (``None`` removes a field)."""
    result = copy.deepcopy(base)
    for name, value in fields.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def push_job(base: dict[str, Any] = ONE_TO_ONE, **fields: Any) -> PushJob:
    return parse_push_job(job_dict(base, **fields))
