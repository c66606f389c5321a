"""A call invitation: the ``Call`` field of a push job (ours, beside Tencent's fields; README "Call
invitations"). A job with it is pushed to the receivers' PushKit tokens as a VoIP push; nothing else ever is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from offline_push.models.strict import Strict

MAX_CALL_FIELD_CHARS = 128


class Call(Strict):
    """A call invitation: who calls (``Caller``, default ``From_Account``), the call's id, audio or video,
    and whether receivers without a PushKit registration get an alert instead."""

    call_id: str = Field(alias="CallId", min_length=1, max_length=MAX_CALL_FIELD_CHARS)
    media_type: Literal["audio", "video"] = Field(default="audio", alias="MediaType")
    caller: str = Field(default="", alias="Caller", max_length=MAX_CALL_FIELD_CHARS)
    alert_fallback: Literal[0, 1] = Field(default=0, alias="AlertFallback")

    @field_validator("call_id", "caller")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(character) < 0x20 or ord(character) == 0x7F for character in value):
            raise ValueError("must not contain control characters")
        return value  # lone surrogates never get here: strict str parsing refuses them
