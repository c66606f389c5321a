"""The seed's story, walked on the local stack: what an app operator, an iOS app and an IM backend do.

1. The operator gets an APNs certificate for the app (here: an Apple-like development certificate from the
   sandbox's CA) and uploads it with its password: the answer is the certificate ID, ``businessId``.
2. The operator sets the app up: the secret its server signs user tokens with.
3. vinson's iPhone gets a device token from APNs and, after IM login, reports it with ``businessId``
   (``setAPNS``).
4. denny writes to vinson: a text with ``ext = "jump to denny"``, a group message in "Family" with his name
   card, a voice message with a custom sound, a custom message with a desc, and one without. For each, the IM
   backend puts one push job on the queue; the dispatcher formats and sends it through the APNs sandbox.
5. What vinson's phone shows for each, from what the sandbox received, and why the others were not pushed,
   from the deliveries API.

Everything goes through the product's real interfaces: the HTTP API (over HTTP), the SQS queue, APNs over
HTTP/2 + TLS. Nothing is written to a table directly.
"""

from __future__ import annotations

import json
import secrets
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from local.apns_sandbox.control import SandboxControl
from local.apple_pki import ApplePki, PushCertificateKind

SDK_APP_ID = 1400000001
BUNDLE_ID = "com.example.chat"
APP_NAME = "Chat"
STORY_USER_SECRET = "offline-push-local-story-secret-0123456789abcdef"  # noqa: S105 - the demo app's, local only


class StoryError(RuntimeError):
    """A step of the story did not go as the product promises."""


@dataclass(frozen=True)
class StoryMessage:
    """One chat message of the story and the push job the IM backend sends for it."""

    title: str
    job: dict[str, Any]

    @property
    def msg_key(self) -> str:
        return str(self.job["MsgKey"])


def story_messages() -> list[StoryMessage]:
    """denny's messages to vinson, in Tencent IM's REST message format (design.md "Push job")."""
    base = {
        "SdkAppId": SDK_APP_ID,
        "From_Account": "denny",
        "SenderNickname": "Denny",
        "To_Account": ["vinson"],
    }
    family = {"GroupId": "@TGS#2J4SZEAEL", "GroupName": "Family", "SenderNameCard": "Dad"}

    def text(value: str) -> dict[str, Any]:
        return {"MsgType": "TIMTextElem", "MsgContent": {"Text": value}}

    return [
        StoryMessage(
            "denny sends vinson a text, with ext for click-through",
            {
                **base,
                "MsgKey": "story-1-text",
                "MsgBody": [text("晚上一起吃饭吗？")],  # noqa: RUF001 - Chinese punctuation
                "OfflinePushInfo": {"Ext": "jump to denny"},
            },
        ),
        StoryMessage(
            "denny writes in the group Family, where his name card is Dad",
            {**base, **family, "MsgKey": "story-2-group", "MsgBody": [text("周末回家吃饭")]},
        ),
        StoryMessage(
            "denny sends a voice message, with a custom sound",
            {
                **base,
                "MsgKey": "story-3-voice",
                "MsgBody": [
                    {
                        "MsgType": "TIMSoundElem",
                        "MsgContent": {"Url": "https://example.com/voice.m4a", "Size": 8192, "Second": 4},
                    }
                ],
                "OfflinePushInfo": {"ApnsInfo": {"Sound": "ding.caf"}},
            },
        ),
        StoryMessage(
            "denny sends a custom message (a red packet) with a title and a desc",
            {
                **base,
                "MsgKey": "story-4-custom-desc",
                "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": '{"type":"red-packet"}'}}],
                "OfflinePushInfo": {"Title": "Red packet", "Desc": "Denny sent you a red packet"},
            },
        ),
        StoryMessage(
            "denny sends a custom message without a desc (a typing signal)",
            {
                **base,
                "MsgKey": "story-5-custom-no-desc",
                "MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": '{"type":"typing"}'}}],
            },
        ),
    ]


@dataclass
class Api:
    """A small HTTP client for the product's API: JSON in, JSON out, errors as StoryError."""

    base_url: str
    admin_key: str
    timeout: float = 30.0

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        admin: bool = True,
        bearer: str | None = None,
    ) -> tuple[int, Any]:
        headers = {"content-type": content_type} if body is not None else {}
        if admin:
            headers["x-admin-key"] = self.admin_key
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        request = urllib.request.Request(  # noqa: S310 - our own local API
            self.base_url + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        got, answer = self.call(method, path, **kwargs)
        if got != status:
            raise StoryError(f"{method} {path}: expected {status}, got {got} {answer}")
        return answer


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body, as ``curl -F`` sends it."""
    boundary = f"offline-push-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/x-pkcs12\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class Shown:
    """A notification as vinson's phone shows it."""

    msg_key: str
    payload: dict[str, Any]
    headers: dict[str, str]
    raw_payload: bytes


@dataclass
class StoryReport:
    business_id: int = 0
    device_token: str = ""
    shown: list[Shown] = field(default_factory=list)
    not_pushed: dict[str, str] = field(default_factory=dict)


@dataclass
class Story:
    api: Api
    send_job: Callable[[dict[str, Any]], None]
    sandbox: SandboxControl
    pki: ApplePki
    say: Callable[[str], None] = print
    timeout: float = 60.0

    def run(self) -> StoryReport:
        report = StoryReport()
        self.say("== 1. The operator uploads the app's APNs certificate")
        report.business_id = self.upload_certificate()
        self.say("== 2. The operator sets the app up (kick policy, language, the user-token secret)")
        self.api.expect(
            200,
            "PUT",
            f"/v1/apps/{SDK_APP_ID}/settings",
            body=json.dumps(
                {
                    "kickPolicy": "single",
                    "placeholderLanguage": "zh",
                    "userAuth": {"algorithm": "HS256", "secret": STORY_USER_SECRET},
                }
            ).encode(),
        )
        self.say(f"   app {SDK_APP_ID}: kickPolicy single, placeholders zh, HS256 user tokens")
        self.say("== 3. vinson logs in on his iPhone and reports its device token (setAPNS)")
        report.device_token = self.register_vinson(report.business_id)
        self.say("== 4. denny writes to vinson; the IM backend puts one push job per message on the queue")
        for message in story_messages():
            self.say(f"-- {message.title}")
            self.send_job(message.job)
            shown = self.wait_for_outcome(message)
            if shown is not None:
                report.shown.append(shown)
                self.say(textwrap.indent(phone_view(shown), "   "))
            else:
                report.not_pushed[message.msg_key] = reason = self.no_push_reason(message.msg_key)
                self.say(f"   not pushed: {reason}")
        return report

    def upload_certificate(self) -> int:
        password = secrets.token_urlsafe(12)
        # "Apple Push Services" (universal): its topics include <bundle>.voip, so it also serves VoIP calls.
        issued = self.pki.issue_push_certificate(BUNDLE_ID, PushCertificateKind.UNIVERSAL)
        body, content_type = multipart(
            {"name": "Chat dev", "environment": "development", "password": password},
            {"file": ("chat-dev.p12", issued.p12(password))},
        )
        answer = self.api.expect(
            201, "POST", f"/v1/apps/{SDK_APP_ID}/certificates", body=body, content_type=content_type
        )
        self.say(
            f"   certificate ID (businessId) {answer['businessId']}: {answer['bundleId']}, "
            f"{answer['environment']}, {' + '.join(answer['pushKinds'])}, expires {answer['expiresAt']}"
        )
        return int(answer["businessId"])

    def register_vinson(self, business_id: int) -> str:
        token = secrets.token_hex(32)
        # The phone registers with APNs (development: the app is a debug build signed for the sandbox).
        self.sandbox.register_devices([{"token": token, "topic": BUNDLE_ID, "environment": "development"}])
        answer = self.api.expect(
            200,
            "PUT",
            f"/v1/apps/{SDK_APP_ID}/users/vinson/apns",
            body=json.dumps({"businessId": business_id, "token": token}).encode(),
            admin=False,
            bearer=user_token("vinson"),
        )
        self.say(
            f"   vinson: device {token[:8]}… registered, {answer['environment']} (businessId {business_id})"
        )
        return token

    def wait_for_outcome(self, message: StoryMessage) -> Shown | None:
        """The notification the sandbox accepted for this message, or None once the dispatcher recorded that
        the message was not pushed."""
        collapse_id = _collapse(message)  # the dispatcher's default apns-collapse-id for the message
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for record in self.sandbox.notifications():
                if record.get("collapseId") == collapse_id:
                    return _shown(message.msg_key, record)
            summary = self.message_summary(message.msg_key)
            if summary is not None and summary.get("noPush"):
                return None
            time.sleep(0.1)
        raise StoryError(f"{message.msg_key}: neither pushed nor recorded within {self.timeout:.0f} s")

    def message_summary(self, msg_key: str) -> dict[str, Any] | None:
        status, answer = self.api.call("GET", f"/v1/apps/{SDK_APP_ID}/messages/{msg_key}")
        return answer if status == 200 else None

    def no_push_reason(self, msg_key: str) -> str:
        summary = self.message_summary(msg_key) or {}
        no_push = summary.get("noPush") or {}
        return f"{no_push.get('reason', '?')}: {no_push.get('message', '')}".rstrip(": ")


def user_token(user: str) -> str:
    """The bearer token the demo app's server issues to ``user`` after IM login."""
    claims = {"sub": user, "aud": str(SDK_APP_ID), "exp": int(time.time()) + 3600}
    return jwt.encode(claims, STORY_USER_SECRET, algorithm="HS256")


def _collapse(message: StoryMessage) -> str:
    from offline_push.logic.formatter import default_collapse_id  # noqa: PLC0415 - the layer's own rule
    from offline_push.models.job import parse_push_job  # noqa: PLC0415

    return default_collapse_id(parse_push_job(message.job))


def _shown(msg_key: str, record: dict[str, Any]) -> Shown:
    raw = str(record["rawPayload"]).encode()
    headers = {
        "apns-topic": record["topic"],
        "apns-push-type": record["pushType"],
        "apns-priority": str(record["priority"]),
        "apns-collapse-id": record["collapseId"],
        "apns-id": record["apnsId"],
    }
    return Shown(msg_key, json.loads(raw), headers, raw)


def phone_view(shown: Shown) -> str:
    """The notification as the lock screen shows it: app, title, subtitle, body; then sound, badge, ext."""
    aps = shown.payload.get("aps", {})
    alert = aps.get("alert", {})
    if isinstance(alert, str):
        alert = {"body": alert}
    lines = [f"┌─ {APP_NAME}"]
    for key in ("title", "subtitle", "body"):
        if alert.get(key):
            lines.append(f"│ {alert[key]}")
    details = [f"sound: {_sound(aps.get('sound'))}"]
    if "badge" in aps:
        details.append(f"badge: {aps['badge']}")
    if "ext" in shown.payload:
        details.append(f"ext: {json.dumps(shown.payload['ext'], ensure_ascii=False)}")
    lines.append("└─ " + " · ".join(details))
    return "\n".join(lines)


def _sound(sound: Any) -> str:
    if sound is None:
        return "none"
    if isinstance(sound, dict):
        return str(sound.get("name"))
    return str(sound)
