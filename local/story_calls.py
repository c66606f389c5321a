"""The story's call scenes (Tencent's setVOIP), told after the messages of :mod:`local.story`:

5. vinson's iPhone also reports its PushKit token (``PUT .../voip``, setVOIP); denny calls him: the IM
   backend queues a job with ``Call``, and the phone gets a VoIP push, which the app turns into CallKit's
   incoming-call screen.
6. denny calls mum, whose phone has reported only its APNs token (an app without PushKit): the job asks for
   the alert fallback, and mum's lock screen shows "Denny邀请你视频通话".

Through the product's real interfaces, as the rest of the story.
"""

from __future__ import annotations

import json
import secrets
import textwrap
from dataclasses import dataclass

from local.story import BUNDLE_ID, SDK_APP_ID, Shown, Story, StoryError, StoryMessage, phone_view, user_token


def call_job(msg_key: str, receiver: str) -> StoryMessage:
    """denny's video call invitation to ``receiver``, with the alert fallback asked for."""
    call_id = f"call-denny-{receiver}"
    job = {
        "SdkAppId": SDK_APP_ID,
        "MsgKey": msg_key,
        "From_Account": "denny",
        "SenderNickname": "Denny",
        "To_Account": [receiver],
        "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": '{"call":"invite"}'}}],
        "OfflinePushInfo": {"Ext": f"call:{call_id}"},
        "Call": {"CallId": call_id, "MediaType": "video", "AlertFallback": 1},
    }
    return StoryMessage(f"denny calls {receiver} (video)", job)


@dataclass
class CallScenes:
    story: Story

    def run(self, business_id: int) -> list[Shown]:
        say = self.story.say
        say("== 5. vinson's iPhone reports its PushKit token (setVOIP); denny calls him")
        self.register("vinson", "voip", business_id)
        ringing = self.send(call_job("story-6-call", "vinson"))
        if ringing.headers["apns-push-type"] != "voip":
            raise StoryError(f"the call reached vinson as {ringing.headers['apns-push-type']}, not voip")
        say(textwrap.indent(call_view(ringing), "   "))
        say("== 6. denny calls mum, whose phone has no PushKit token: the alert fallback")
        self.register("mum", "apns", business_id)
        fallback = self.send(call_job("story-7-call-fallback", "mum"))
        say(textwrap.indent(phone_view(fallback), "   "))
        return [ringing, fallback]

    def register(self, user: str, route: str, business_id: int) -> str:
        """``user``'s phone reports a new token: PushKit's (route ``voip``) or APNs' (``apns``)."""
        token = secrets.token_hex(32)
        topic = f"{BUNDLE_ID}.voip" if route == "voip" else BUNDLE_ID
        self.story.sandbox.register_devices([{"token": token, "topic": topic, "environment": "development"}])
        answer = self.story.api.expect(
            200,
            "PUT",
            f"/v1/apps/{SDK_APP_ID}/users/{user}/{route}",
            body=json.dumps({"businessId": business_id, "token": token}).encode(),
            admin=False,
            bearer=user_token(user),
        )
        self.story.say(
            f"   {user}: {answer['pushKind']} token {token[:8]}… registered, {answer['environment']} "
            f"(businessId {business_id})"
        )
        return token

    def send(self, message: StoryMessage) -> Shown:
        self.story.say(f"-- {message.title}")
        self.story.send_job(message.job)
        shown = self.story.wait_for_outcome(message)
        if shown is None:
            raise StoryError(f"{message.msg_key}: not pushed: {self.story.no_push_reason(message.msg_key)}")
        return shown


def call_view(shown: Shown) -> str:
    """A VoIP push as the phone shows it: the app reports the call to CallKit, which rings."""
    call = shown.payload["call"]
    kind = "video call" if call["mediaType"] == "video" else "call"
    lines = [
        f"┌─ incoming {kind} (CallKit), woken by a VoIP push on {shown.headers['apns-topic']}",
        f"│ {call.get('callerName') or call['caller']}",
        f"└─ call id: {call['callId']} · ext: {json.dumps(shown.payload.get('ext', ''), ensure_ascii=False)}",
    ]
    return "\n".join(lines)
