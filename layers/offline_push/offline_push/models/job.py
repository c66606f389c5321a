"""The push job: one chat message to push to its offline receivers, in Tencent IM's REST format.

An IM backend forwards what it already has (``MsgBody`` elements, ``OfflinePushInfo``), adds who sent it
and who is offline, and puts the job on the queue. Field names are Tencent's, unchanged, so a job is the
body of a Tencent ``sendmsg`` / ``send_group_msg`` call plus ``SdkAppId``, ``MsgKey`` and the sender's
display names.

Parsing is strict about what the formatter relies on (types, known ``MsgType`` values, required fields)
and lenient about the rest: unknown fields anywhere are ignored, so a backend can forward Tencent's full
request (``MsgRandom``, ``AndroidInfo``, ``CloudCustomData``...) unchanged. A job that breaks the schema
raises :class:`~offline_push.errors.InvalidPushJob` naming every bad field; bad input never crashes it.

Beyond Tencent's REST fields, ``OfflinePushInfo.ApnsInfo`` accepts the iOS options of the SDK's
``V2TIMOfflinePushInfo`` under REST-style names (``InterruptionLevel``, ``BackgroundNotification``,
``IgnoreBadge``, the ``kIOSOfflinePushNoSound`` / ``kIOSOfflinePushDefaultSound`` sound constants),
plus ``CollapseId`` and ``Expiration`` for the APNs headers of those names; ``OfflinePushInfo.Language``
picks the placeholder language of the job. README.md "Push job format" documents each one.

``Call`` (ours, beside Tencent's fields) makes the job a call invitation, Tencent's setVOIP use: receivers
with a PushKit (VoIP) registration get a VoIP push carrying the call; the others an alert ("Denny is calling
you") when ``Call.AlertFallback`` is 1. A job without ``Call`` never produces a VoIP push.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from offline_push.errors import InvalidPushJob
from offline_push.models.call import Call
from offline_push.models.strict import Strict as _Strict
from offline_push.models.strict import check_unicode as _check_unicode

# The SDK's sound constants (V2TIMOfflinePushInfo.iOSSound), accepted as ApnsInfo.Sound.
SOUND_NONE = "kIOSOfflinePushNoSound"
SOUND_DEFAULT = "kIOSOfflinePushDefaultSound"

# Apple's limit for apns-collapse-id.
MAX_COLLAPSE_ID_BYTES = 64

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# How many problems one InvalidPushJob message lists before summarising the rest.
_MAX_REPORTED_ERRORS = 10


class Language(StrEnum):
    """Language of the element placeholders (``[图片]`` / ``[Image]``)."""

    ZH = "zh"
    EN = "en"


# --- message elements (Tencent "message formats": MsgType + MsgContent) -------------------------------------


class TextContent(_Strict):
    text: str = Field(alias="Text")


class LocationContent(_Strict):
    desc: str = Field(default="", alias="Desc")
    latitude: float = Field(alias="Latitude")
    longitude: float = Field(alias="Longitude")


class FaceContent(_Strict):
    index: int = Field(alias="Index")
    data: str = Field(default="", alias="Data")


class CustomContent(_Strict):
    data: str = Field(default="", alias="Data")
    desc: str = Field(default="", alias="Desc")
    ext: str = Field(default="", alias="Ext")
    sound: str = Field(default="", alias="Sound")

    @field_validator("ext")
    @classmethod
    def _ext_is_unicode(cls, value: str) -> str:
        return _check_unicode(value, "Ext")


class SoundContent(_Strict):
    url: str = Field(default="", alias="Url")
    uuid: str = Field(default="", alias="UUID")
    size: int = Field(default=0, alias="Size")
    second: int = Field(default=0, alias="Second")
    download_flag: int = Field(default=0, alias="Download_Flag")


class ImageInfo(_Strict):
    type: int = Field(default=0, alias="Type")
    size: int = Field(default=0, alias="Size")
    width: int = Field(default=0, alias="Width")
    height: int = Field(default=0, alias="Height")
    url: str = Field(default="", alias="URL")


class ImageContent(_Strict):
    uuid: str = Field(default="", alias="UUID")
    image_format: int = Field(default=0, alias="ImageFormat")
    image_info_array: list[ImageInfo] = Field(default_factory=list, alias="ImageInfoArray")


class FileContent(_Strict):
    url: str = Field(default="", alias="Url")
    uuid: str = Field(default="", alias="UUID")
    file_size: int = Field(default=0, alias="FileSize")
    file_name: str = Field(default="", alias="FileName")
    download_flag: int = Field(default=0, alias="Download_Flag")


class VideoContent(_Strict):
    video_url: str = Field(default="", alias="VideoUrl")
    video_uuid: str = Field(default="", alias="VideoUUID")
    video_size: int = Field(default=0, alias="VideoSize")
    video_second: int = Field(default=0, alias="VideoSecond")
    video_format: str = Field(default="", alias="VideoFormat")
    video_download_flag: int = Field(default=0, alias="VideoDownloadFlag")
    thumb_url: str = Field(default="", alias="ThumbUrl")
    thumb_uuid: str = Field(default="", alias="ThumbUUID")
    thumb_size: int = Field(default=0, alias="ThumbSize")
    thumb_width: int = Field(default=0, alias="ThumbWidth")
    thumb_height: int = Field(default=0, alias="ThumbHeight")
    thumb_format: str = Field(default="", alias="ThumbFormat")
    thumb_download_flag: int = Field(default=0, alias="ThumbDownloadFlag")


class RelayContent(_Strict):
    """A merged-forward message (chat history). The forwarded messages are carried, not validated."""

    title: str = Field(default="", alias="Title")
    msg_num: int = Field(default=0, alias="MsgNum")
    compatible_text: str = Field(default="", alias="CompatibleText")
    abstract_list: list[str] = Field(default_factory=list, alias="AbstractList")
    msg_list: list[dict[str, Any]] = Field(default_factory=list, alias="MsgList")
    json_msg_key: str = Field(default="", alias="JsonMsgKey")


class TextElem(_Strict):
    msg_type: Literal["TIMTextElem"] = Field(alias="MsgType")
    content: TextContent = Field(alias="MsgContent")


class LocationElem(_Strict):
    msg_type: Literal["TIMLocationElem"] = Field(alias="MsgType")
    content: LocationContent = Field(alias="MsgContent")


class FaceElem(_Strict):
    msg_type: Literal["TIMFaceElem"] = Field(alias="MsgType")
    content: FaceContent = Field(alias="MsgContent")


class CustomElem(_Strict):
    msg_type: Literal["TIMCustomElem"] = Field(alias="MsgType")
    content: CustomContent = Field(alias="MsgContent")


class SoundElem(_Strict):
    msg_type: Literal["TIMSoundElem"] = Field(alias="MsgType")
    content: SoundContent = Field(alias="MsgContent")


class ImageElem(_Strict):
    msg_type: Literal["TIMImageElem"] = Field(alias="MsgType")
    content: ImageContent = Field(alias="MsgContent")


class FileElem(_Strict):
    msg_type: Literal["TIMFileElem"] = Field(alias="MsgType")
    content: FileContent = Field(alias="MsgContent")


class VideoFileElem(_Strict):
    msg_type: Literal["TIMVideoFileElem"] = Field(alias="MsgType")
    content: VideoContent = Field(alias="MsgContent")


class RelayElem(_Strict):
    msg_type: Literal["TIMRelayElem"] = Field(alias="MsgType")
    content: RelayContent = Field(alias="MsgContent")


MsgElement = Annotated[
    TextElem
    | LocationElem
    | FaceElem
    | CustomElem
    | SoundElem
    | ImageElem
    | FileElem
    | VideoFileElem
    | RelayElem,
    Field(discriminator="msg_type"),
]

MSG_TYPES: tuple[str, ...] = (
    "TIMTextElem",
    "TIMLocationElem",
    "TIMFaceElem",
    "TIMCustomElem",
    "TIMSoundElem",
    "TIMImageElem",
    "TIMFileElem",
    "TIMVideoFileElem",
    "TIMRelayElem",
)


# --- push options -------------------------------------------------------------------------------------------

InterruptionLevel = Literal["passive", "active", "time-sensitive", "critical"]


class ApnsInfo(_Strict):
    """iOS options: Tencent's REST ``ApnsInfo`` plus the iOS options of the SDK's ``V2TIMOfflinePushInfo``."""

    sound: str = Field(default="", alias="Sound", max_length=256)
    badge_mode: Literal[0, 1] = Field(default=0, alias="BadgeMode")
    title: str = Field(default="", alias="Title")
    subtitle: str = Field(default="", alias="SubTitle")
    image: str = Field(default="", alias="Image", max_length=1024)
    mutable_content: Literal[0, 1] = Field(default=0, alias="MutableContent")
    # V2TIMOfflinePushInfo.iOSInterruptionLevel, ignoreIOSBadge, enableIOSBackgroundNotification.
    interruption_level: InterruptionLevel | None = Field(default=None, alias="InterruptionLevel")
    ignore_badge: Literal[0, 1] = Field(default=0, alias="IgnoreBadge")
    background_notification: Literal[0, 1] = Field(default=0, alias="BackgroundNotification")
    # The apns-collapse-id and apns-expiration headers (expiration: epoch seconds, 0 = try once, never store).
    collapse_id: str | None = Field(default=None, alias="CollapseId", pattern=r"^[\x20-\x7e]{1,64}$")
    expiration: int | None = Field(default=None, alias="Expiration", ge=0)

    @field_validator("sound")
    @classmethod
    def _sound_is_a_file_name(cls, value: str) -> str:
        if value in ("", "default", SOUND_NONE, SOUND_DEFAULT):
            return value
        name, dot, extension = value.rpartition(".")
        if not dot or not name or not extension or "/" in value or "\\" in value:
            raise ValueError(
                f"Sound must be a sound file name with its extension (e.g. ring.caf), 'default', "
                f"{SOUND_NONE} or {SOUND_DEFAULT}"
            )
        return value

    @property
    def ignores_badge(self) -> bool:
        return self.badge_mode == 1 or self.ignore_badge == 1


class OfflinePushInfo(_Strict):
    push_flag: Literal[0, 1] = Field(default=0, alias="PushFlag")
    title: str = Field(default="", alias="Title")
    desc: str = Field(default="", alias="Desc")
    ext: str = Field(default="", alias="Ext")
    language: Literal["zh", "en"] | None = Field(default=None, alias="Language")
    apns_info: ApnsInfo | None = Field(default=None, alias="ApnsInfo")

    @field_validator("ext")
    @classmethod
    def _ext_is_unicode(cls, value: str) -> str:
        return _check_unicode(value, "Ext")


class PushJob(_Strict):
    """One message to push: who sent it, to whom, what it says, and how to push it."""

    sdk_app_id: int = Field(alias="SdkAppId", gt=0)
    msg_key: str = Field(alias="MsgKey", min_length=1, max_length=256)
    from_account: str = Field(default="", alias="From_Account", max_length=128)
    sender_nickname: str = Field(default="", alias="SenderNickname")
    to_account: list[Annotated[str, Field(min_length=1)]] = Field(alias="To_Account", min_length=1)
    group_id: str = Field(default="", alias="GroupId", max_length=128)
    group_name: str = Field(default="", alias="GroupName")
    sender_name_card: str = Field(default="", alias="SenderNameCard")
    msg_body: list[MsgElement] = Field(alias="MsgBody", min_length=1)
    offline_push_info: OfflinePushInfo | None = Field(default=None, alias="OfflinePushInfo")
    # Ours: receivers' badges (their unread count with this message) as the IM backend knows them; the
    # dispatcher sends these instead of counting, and writes no counter for those receivers.
    badges: dict[str, Annotated[int, Field(ge=0)]] | None = Field(default=None, alias="Badges")
    # Ours: a call invitation (VoIP push), see Call.
    call: Call | None = Field(default=None, alias="Call")

    @model_validator(mode="after")
    def _identities_are_unicode(self) -> PushJob:
        # These name messages, users and conversations in storage keys and APNs headers: a lone surrogate
        # there could never be stored or sent (text fields are shown with U+FFFD instead, see the formatter).
        named = {"MsgKey": [self.msg_key], "From_Account": [self.from_account], "GroupId": [self.group_id]}
        named["To_Account"] = self.to_account
        named["Badges"] = list(self.badges or ())
        for field, values in named.items():
            for value in values:
                _check_unicode(value, field)
        return self

    @model_validator(mode="after")
    def _one_custom_element_at_most(self) -> PushJob:
        # Tencent: "a combined message can contain only one TIMCustomElem".
        if sum(1 for element in self.msg_body if element.msg_type == "TIMCustomElem") > 1:
            raise ValueError("MsgBody: a message can contain only one TIMCustomElem")
        return self

    @model_validator(mode="after")
    def _a_call_is_a_call(self) -> PushJob:
        if self.call is None:
            return self
        if not (self.call.caller or self.from_account):
            raise ValueError("Call.Caller: required when From_Account is empty (who is calling?)")
        apns = self.apns_info
        if apns is not None and apns.background_notification == 1:
            raise ValueError(
                "Call: a call invitation cannot be a background notification (BackgroundNotification 1)"
            )
        if apns is not None and apns.expiration is not None:
            raise ValueError(
                "Call: a call invitation is delivered now or never; ApnsInfo.Expiration does not apply"
            )
        return self

    @property
    def caller(self) -> str:
        """Who calls: ``Call.Caller``, else the sender (only meaningful for a call invitation)."""
        return (self.call.caller if self.call is not None else "") or self.from_account

    @property
    def is_group(self) -> bool:
        return self.group_id != ""

    @property
    def apns_info(self) -> ApnsInfo | None:
        return self.offline_push_info.apns_info if self.offline_push_info is not None else None


# --- parsing ------------------------------------------------------------------------------------------------


def parse_push_job(raw: str | bytes | Mapping[str, Any]) -> PushJob:
    """Validate one job (the SQS message body, or an already decoded object).

    Raises :class:`InvalidPushJob` with every problem named by its field path (``MsgBody[0].MsgContent.Text:
    Input should be a valid string``); the submitted values are never echoed.
    """
    try:
        if isinstance(raw, str | bytes):
            return PushJob.model_validate_json(raw)
        return PushJob.model_validate(raw)
    except ValidationError as exc:
        raise InvalidPushJob(describe_job_errors(exc)) from None


def describe_job_errors(exc: ValidationError) -> str:
    problems = [_describe(error) for error in exc.errors(include_input=False, include_url=False)]
    shown = problems[:_MAX_REPORTED_ERRORS]
    if len(problems) > len(shown):
        shown.append(f"and {len(problems) - len(shown)} more")
    # Paths name the job's own keys (a receiver in Badges), which may hold lone surrogates: the reason is
    # stored and logged, so it is kept to text any encoder takes.
    return _LONE_SURROGATE.sub("\ufffd", "invalid push job: " + "; ".join(shown))


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    path = _path(error["loc"])
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "syntax error")
        return f"not valid JSON ({detail})"
    if kind == "union_tag_invalid":
        tag = error["ctx"]["tag"]
        return f"{path}.MsgType: unknown message element type {tag!r} (one of {', '.join(MSG_TYPES)})"
    if kind == "union_tag_not_found":
        return f"{path}.MsgType: Field required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and path.endswith("CollapseId"):
        message = f"must be 1 to {MAX_COLLAPSE_ID_BYTES} printable ASCII characters"
    return f"{path}: {message}" if path else message


def _path(loc: tuple[int | str, ...]) -> str:
    """``("MsgBody", 0, "TIMTextElem", "MsgContent", "Text")`` -> ``MsgBody[0].MsgContent.Text``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in MSG_TYPES:
            continue  # the union member pydantic tried: the index already names the element
        else:
            text += f".{part}" if text else str(part)
    return text
