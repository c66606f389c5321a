"""A call invitation -> the VoIP (PushKit) notification a receiver's PushKit token gets. Pure, like the
formatter.

The payload carries the call and the job's ``ext``, nothing for iOS to show (PushKit hands it to the app,
which reports the call to CallKit)::

    {"call":{"callId":"c-7f3a","caller":"denny","callerName":"Denny","mediaType":"video",
             "groupId":"@TGS#2J4SZEAEL"},"ext":"..."}

``callerName`` (the sender's nickname, at most :data:`CALLER_NAME_CAP_BYTES`, shortened with an ellipsis)
and ``groupId`` appear when known, ``ext`` when set. Headers: push type ``voip``, priority 10, expiration 0
(APNs tries once and keeps nothing: a ring delivered late is worse than none), the message's collapse id.
The payload fits Apple's 5,120 bytes for VoIP pushes or there is no push: ``ext`` is never cut
(``ExtTooLarge``).
"""

from __future__ import annotations

from typing import Any, Final

from offline_push.logic.formatter import (
    PRIORITY_IMMEDIATE,
    NoPush,
    NoPushReason,
    default_collapse_id,
    ext_of,
    payload_json,
    shown_text,
)
from offline_push.models.job import PushJob
from offline_push.models.notification import MAX_VOIP_PAYLOAD_BYTES, Notification, PushType

CALLER_NAME_CAP_BYTES: Final = 256
# apns-expiration 0: deliver now or never.
VOIP_EXPIRATION: Final = 0


def format_call(job: PushJob) -> Notification | NoPush:
    """The VoIP notification of a call invitation (``job.call`` must be set)."""
    call = job.call
    if call is None:
        raise ValueError("only a call invitation (a job with Call) is pushed through PushKit")
    fields: dict[str, Any] = {"callId": call.call_id, "caller": job.caller}
    caller_name = shown_text(job.sender_nickname, CALLER_NAME_CAP_BYTES)
    if caller_name:
        fields["callerName"] = caller_name
    fields["mediaType"] = call.media_type
    if job.is_group:
        fields["groupId"] = job.group_id
    document: dict[str, Any] = {"call": fields}
    ext = ext_of(job)
    if ext:
        document["ext"] = ext
    payload = payload_json(document)
    if len(payload) > MAX_VOIP_PAYLOAD_BYTES:
        # The call's own fields are bounded (a few hundred bytes at most): only ext can overflow.
        return NoPush(
            NoPushReason.EXT_TOO_LARGE,
            f"Ext is {len(ext.encode())} bytes: with the call it cannot fit APNs's "
            f"{MAX_VOIP_PAYLOAD_BYTES}-byte VoIP payload limit, and it is never cut",
        )
    return Notification(payload, PushType.VOIP, PRIORITY_IMMEDIATE, VOIP_EXPIRATION, default_collapse_id(job))
