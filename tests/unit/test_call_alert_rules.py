"""Call invitations with ApnsInfo: which iOS push options a call accepts (all but BackgroundNotification 1
and Expiration), and what its fallback alert and its VoIP push make of them."""

from __future__ import annotations

from offline_push.logic.formatter import default_collapse_id, prepare
from offline_push.logic.voip_payload import format_call
from offline_push.models.call import Call
from offline_push.models.job import ApnsInfo, parse_push_job
from offline_push.models.notification import Notification, PushType
from tests.support.jobs import ONE_TO_ONE, job_dict

RING = {"Sound": "ring.caf", "CollapseId": "call-1-ring", "BackgroundNotification": 0}
# A call invitation with a fallback alert; its ApnsInfo sets a sound, a collapse id, BackgroundNotification 0.
RINGING_CALL = job_dict(
    ONE_TO_ONE, Call={"CallId": "call-1", "AlertFallback": 1}, OfflinePushInfo={"ApnsInfo": RING}
)


def test_a_call_accepts_apns_info_without_expiration_or_background() -> None:
    # Given RINGING_CALL: a call whose ApnsInfo sets a sound, a collapse id and BackgroundNotification 0

    # When it is parsed
    job = parse_push_job(RINGING_CALL)

    # Then it is a valid call, its ApnsInfo kept as given
    assert (job.call, job.apns_info) == (
        Call(CallId="call-1", AlertFallback=1),
        ApnsInfo(Sound="ring.caf", CollapseId="call-1-ring", BackgroundNotification=0),
    )


def test_the_fallback_alert_of_a_call_rings_with_the_apns_info_sound_and_collapse_id() -> None:
    # Given RINGING_CALL: a call invitation with a fallback alert, a sound and a collapse id
    job = parse_push_job(RINGING_CALL)

    # When its alert is formatted for an APNs token (the default language, zh)
    notification = prepare(job).notification(badge=4)

    # Then the alert says who calls, with the call's sound and collapse id, no badge, delivered at once
    assert notification == Notification(
        '{"aps":{"alert":{"body":"Denny邀请你语音通话"},"sound":"ring.caf","thread-id":"denny"}}'.encode(),
        PushType.ALERT,
        10,
        None,
        "call-1-ring",
    )


def test_the_voip_push_of_a_call_keeps_the_message_collapse_id_and_expiration_0() -> None:
    # Given a call invitation whose ApnsInfo sets a collapse id
    job = parse_push_job(job_dict(ONE_TO_ONE, Call={"CallId": "call-1"}, OfflinePushInfo={"ApnsInfo": RING}))

    # When it is formatted for a PushKit token
    notification = format_call(job)

    # Then the VoIP push carries only the call, under the message's collapse id, now or never
    assert notification == Notification(
        b'{"call":{"callId":"call-1","caller":"denny","callerName":"Denny","mediaType":"audio"}}',
        PushType.VOIP,
        10,
        0,
        default_collapse_id(job),
    )
