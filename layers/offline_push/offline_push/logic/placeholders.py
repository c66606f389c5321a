"""What a non-text message element shows in a push, in Chinese and English.

Sources: Tencent IM's "message formats" page documents ``[位置]`` / ``[Location]`` and
``[表情]`` / ``[Face]``; the offline-push product page (the seed) documents ``[语音]``, ``[文件]``,
``[图片]`` (its English edition writes them in lower case; they are capitalised here like Tencent's
own ``[Location]`` and ``[Face]``). Video and merged (relay) messages are listed on neither page:
``[视频]`` / ``[Video]`` and ``[聊天记录]`` / ``[Chat History]`` are what Tencent's own TUIKit shows
for those element types.

Text elements show their text, custom elements their ``Desc``: neither has a placeholder.

A call invitation's alert (the fallback for receivers without a PushKit token) reads like TUICallKit's
offline push: "Denny is calling you" / "Denny邀请你语音通话", "视频通话" for a video call.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from offline_push.models.job import Language

PLACEHOLDERS: Mapping[Language, Mapping[str, str]] = MappingProxyType(
    {
        Language.ZH: MappingProxyType(
            {
                "TIMLocationElem": "[位置]",
                "TIMFaceElem": "[表情]",
                "TIMSoundElem": "[语音]",
                "TIMImageElem": "[图片]",
                "TIMFileElem": "[文件]",
                "TIMVideoFileElem": "[视频]",
                "TIMRelayElem": "[聊天记录]",
            }
        ),
        Language.EN: MappingProxyType(
            {
                "TIMLocationElem": "[Location]",
                "TIMFaceElem": "[Face]",
                "TIMSoundElem": "[Voice]",
                "TIMImageElem": "[Image]",
                "TIMFileElem": "[File]",
                "TIMVideoFileElem": "[Video]",
                "TIMRelayElem": "[Chat History]",
            }
        ),
    }
)

# {caller}: the caller's nickname, else their account.
CALL_INVITATIONS: Mapping[Language, Mapping[str, str]] = MappingProxyType(
    {
        Language.ZH: MappingProxyType({"audio": "{caller}邀请你语音通话", "video": "{caller}邀请你视频通话"}),
        Language.EN: MappingProxyType(
            {"audio": "{caller} is calling you", "video": "{caller} is video calling you"}
        ),
    }
)
