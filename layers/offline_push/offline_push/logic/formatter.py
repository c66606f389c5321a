"""Push job + receiver -> the APNs notification (payload and headers), or a reasoned "no push".

Pure: no I/O, no clock, no randomness; the same job and receiver always give the same bytes. The rules,
in order of precedence (README.md "Push job format" has them with examples):

1. ``OfflinePushInfo.PushFlag: 1`` (the SDK's ``disablePush``): no push (``PushDisabled``).
2. ``ApnsInfo.BackgroundNotification: 1``: a background push (``content-available``, priority 5) that
   carries ``ext`` and shows nothing.
3. The alert body: ``OfflinePushInfo.Desc`` when set. Otherwise every ``MsgBody`` element in order, joined
   without separators (as Tencent does): text as is, a custom element its ``Desc``, other elements their
   placeholder (:mod:`offline_push.logic.placeholders`). A message whose elements show nothing is not
   pushed: ``CustomWithoutDesc`` when it has a custom element, else ``EmptyContent``. One-to-one bodies
   read ``nickname:content`` (``content`` without a nickname); group bodies ``name(groupName):content``,
   the name being the sender's group name card, else their nickname, else absent.
4. Title ``ApnsInfo.Title``, else ``OfflinePushInfo.Title``; subtitle ``ApnsInfo.SubTitle``. Sound
   ``ApnsInfo.Sound``, ``default`` when unset, none for ``kIOSOfflinePushNoSound``. Badge from the
   receiver unless ``BadgeMode: 1`` / ``IgnoreBadge: 1``. ``ext`` at the top level exactly as given.
5. The payload fits APNs's 4096 bytes: when it does not, titles and subtitles longer than a line's worth
   are shortened first, then the body, between characters (never inside an emoji sequence) with an
   ellipsis (:mod:`offline_push.logic.text_fit`); then the subtitle and the title give way to the body.
   ``ext`` is never touched: when it leaves no room, ``ExtTooLarge``.

Hot path: a group message is formatted once per offline receiver, and receivers differ only by badge
(and perhaps placeholder language). :class:`PreparedPush` does all the work once per job and language and
keeps the payload split around the badge digits, so a receiver costs a dictionary lookup or one bytes
concatenation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from offline_push.logic.placeholders import CALL_INVITATIONS, PLACEHOLDERS
from offline_push.logic.text_fit import clean, compact_json, fits, shorten
from offline_push.models.job import (
    SOUND_DEFAULT,
    SOUND_NONE,
    ApnsInfo,
    CustomElem,
    Language,
    PushJob,
    TextElem,
)
from offline_push.models.notification import MAX_PAYLOAD_BYTES, Notification, PushType

# A title or subtitle is one line on the lock screen: past this many bytes it is cut before the body is.
TITLE_CAP_BYTES: Final = 256
# The body keeps at least this much before the subtitle, then the title, give way to it.
MIN_BODY_BYTES: Final = 32
# Badges are clamped to what iOS stores; the payload always leaves room for the longest one.
MAX_BADGE: Final = 2**31 - 1
PRIORITY_IMMEDIATE: Final = 10
PRIORITY_CONSERVE_POWER: Final = 5

_ALERT_HEAD = b'{"aps":{"alert":'
_BADGE_KEY = b',"badge":'
_BADGE_RESERVE = len(_BADGE_KEY) + len(str(MAX_BADGE))
_BADGE_CACHE_SIZE = 1024


class NoPushReason(StrEnum):
    """Why a job gives no notification: stable codes an operator can search for."""

    PUSH_DISABLED = "PushDisabled"
    CUSTOM_WITHOUT_DESC = "CustomWithoutDesc"
    EMPTY_CONTENT = "EmptyContent"
    EXT_TOO_LARGE = "ExtTooLarge"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"


@dataclass(frozen=True, slots=True)
class NoPush:
    reason: NoPushReason
    message: str


def format_notification(
    job: PushJob, *, badge: int | None = None, language: Language = Language.ZH
) -> Notification | NoPush:
    """One job for one receiver. For many receivers of one job, :func:`prepare` it once instead."""
    return PreparedPush(job, language=language).notification(badge)


def prepare(job: PushJob, *, language: Language = Language.ZH) -> PreparedPush:
    """Everything that does not depend on the receiver, done once: see :class:`PreparedPush`."""
    return PreparedPush(job, language=language)


class PreparedPush:
    """A job ready to be formatted for each of its receivers.

    ``language`` is the deployment's (or app's) placeholder language; a receiver's ``language`` overrides it,
    and the job's own ``OfflinePushInfo.Language`` overrides both (the sender chose it for this message).
    ``counts_toward_badge`` tells the caller whether this message should raise the receiver's unread count:
    it does not when it is not pushed, is a background push, or asks to ignore the badge.
    """

    __slots__ = (
        "_default_language",
        "_disabled",
        "_job",
        "_job_language",
        "_variants",
        "counts_toward_badge",
    )

    def __init__(self, job: PushJob, *, language: Language = Language.ZH) -> None:
        opi = job.offline_push_info
        apns = job.apns_info
        self._job = job
        self._default_language = language
        self._job_language = Language(opi.language) if opi is not None and opi.language else None
        self._disabled = (
            NoPush(NoPushReason.PUSH_DISABLED, "the message disables offline push (PushFlag 1)")
            if opi is not None and opi.push_flag == 1
            else None
        )
        background = apns is not None and apns.background_notification == 1
        ignores_badge = apns is not None and apns.ignores_badge
        # A call invitation is not an unread message: its alert (a fallback) leaves the badge alone.
        self.counts_toward_badge = (
            self._disabled is None and not background and not ignores_badge and job.call is None
        )
        self._variants: dict[Language, _Variant | NoPush] = {}

    @property
    def job(self) -> PushJob:
        return self._job

    def notification(
        self, badge: int | None = None, language: Language | None = None
    ) -> Notification | NoPush:
        """The notification for one receiver: ``badge`` is their unread count (None leaves it as is)."""
        if self._disabled is not None:
            return self._disabled
        chosen = self._job_language or language or self._default_language
        variant = self._variants.get(chosen)
        if variant is None:
            variant = self._variants[chosen] = _build(self._job, chosen, with_badge=self.counts_toward_badge)
        if isinstance(variant, NoPush):
            return variant
        return variant.render(badge)


def default_collapse_id(job: PushJob) -> str:
    """``apns-collapse-id`` when the job gives none: derived from the message, so a redelivered job replaces
    its own notification on the device instead of showing twice (SQS delivers at least once)."""
    key = f"{job.sdk_app_id}\x00{job.msg_key}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()[:32]


# --- one job in one language --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Variant:
    """The payload of one job in one language, split around the badge digits, with the headers."""

    plain: Notification  # without a badge
    head: bytes | None  # payload up to the badge value, or None when the badge is never shown
    tail: bytes
    by_badge: dict[int, Notification]

    def render(self, badge: int | None) -> Notification:
        if badge is None or self.head is None:
            return self.plain
        cached = self.by_badge.get(badge)
        if cached is not None:
            return cached
        digits = str(min(max(badge, 0), MAX_BADGE)).encode()
        plain = self.plain
        payload = self.head + digits + self.tail
        notification = Notification(
            payload, plain.push_type, plain.priority, plain.expiration, plain.collapse_id
        )
        if len(self.by_badge) < _BADGE_CACHE_SIZE:
            self.by_badge[badge] = notification
        return notification


def ext_of(job: PushJob) -> str:
    """The ``ext`` a notification of ``job`` carries at its top level ("" for none)."""
    opi = job.offline_push_info
    custom = _custom_element(job)
    # Tencent: once OfflinePushInfo is given, the custom element's push settings (Ext, Sound) are ignored.
    return opi.ext if opi is not None else (custom.content.ext if custom is not None else "")


def shown_text(text: str, room: int) -> str:
    """``text`` as a payload shows it: lone surrogates replaced, shortened with an ellipsis to ``room``
    bytes of JSON string when longer."""
    return shorten(clean(text), room) or ""


def payload_json(document: dict[str, Any]) -> bytes:
    """The compact UTF-8 JSON every payload is written in."""
    return compact_json(document).encode()


def _build(job: PushJob, language: Language, *, with_badge: bool) -> _Variant | NoPush:
    opi = job.offline_push_info
    apns = job.apns_info
    custom = _custom_element(job)
    ext = ext_of(job)
    collapse_id = apns.collapse_id if apns is not None and apns.collapse_id else default_collapse_id(job)
    expiration = apns.expiration if apns is not None else None
    top: dict[str, Any] = {"ext": ext} if ext else {}

    if apns is not None and apns.background_notification == 1:
        payload = compact_json({"aps": {"content-available": 1}, **top}).encode()
        if len(payload) > MAX_PAYLOAD_BYTES:
            return _too_large(ext, fits_without_ext=True)
        notification = Notification(
            payload, PushType.BACKGROUND, PRIORITY_CONSERVE_POWER, expiration, collapse_id
        )
        return _Variant(notification, None, b"", {})

    body = _body(job, language)
    if isinstance(body, NoPush):
        return body
    title = clean((apns.title if apns is not None else "") or (opi.title if opi is not None else ""))
    subtitle = clean(apns.subtitle) if apns is not None else ""
    aps_rest = _aps_options(job, apns, custom)
    if apns is not None and apns.image:
        top["image"] = clean(apns.image)

    limit = MAX_PAYLOAD_BYTES - (_BADGE_RESERVE if with_badge else 0)
    rest = _rest(aps_rest, top)
    fitted = _fit(title, subtitle, body, limit - len(_ALERT_HEAD) - len(rest))
    if fitted is None:
        without_ext = _rest(aps_rest, {key: value for key, value in top.items() if key != "ext"})
        room = limit - len(_ALERT_HEAD) - len(without_ext)
        return _too_large(ext, fits_without_ext=_fit(title, subtitle, body, room) is not None)
    alert = _alert(*fitted)
    priority = (
        PRIORITY_CONSERVE_POWER
        if apns is not None and apns.interruption_level == "passive"
        else PRIORITY_IMMEDIATE
    )
    head = _ALERT_HEAD + alert
    plain = Notification(head + rest, PushType.ALERT, priority, expiration, collapse_id)
    return _Variant(plain, head + _BADGE_KEY if with_badge else None, rest, {})


def _body(job: PushJob, language: Language) -> str | NoPush:
    opi = job.offline_push_info
    if opi is not None and opi.desc:
        return clean(opi.desc)
    if job.call is not None:  # the alert of a call invitation (a fallback): who calls, audio or video
        caller = clean(job.sender_nickname or job.caller)
        return CALL_INVITATIONS[language][job.call.media_type].format(caller=caller)
    placeholders = PLACEHOLDERS[language]
    parts: list[str] = []
    length = 0
    for element in job.msg_body:
        if isinstance(element, TextElem):
            piece = element.content.text
        elif isinstance(element, CustomElem):
            piece = element.content.desc
        else:
            piece = placeholders[element.msg_type]
        parts.append(piece)
        length += len(piece)
        if length > MAX_PAYLOAD_BYTES:  # every character costs a byte at least: the rest could never show
            break
    content = clean("".join(parts))
    if not content:
        if _custom_element(job) is not None:
            return NoPush(
                NoPushReason.CUSTOM_WITHOUT_DESC,
                "a custom message is pushed only with a description: set TIMCustomElem.Desc or "
                "OfflinePushInfo.Desc",
            )
        return NoPush(NoPushReason.EMPTY_CONTENT, "the message has no text to show")
    if job.is_group:
        name = clean(job.sender_name_card or job.sender_nickname)
        group = clean(job.group_name)
        label = f"{name}({group})" if group else name
    else:
        label = clean(job.sender_nickname)
    return f"{label}:{content}" if label else content


def _aps_options(job: PushJob, apns: ApnsInfo | None, custom: CustomElem | None) -> dict[str, Any]:
    """The ``aps`` keys after the badge, in the order they are written."""
    options: dict[str, Any] = {}
    if job.offline_push_info is not None:
        requested = apns.sound if apns is not None else ""
    else:
        requested = custom.content.sound if custom is not None else ""
    if requested != SOUND_NONE:
        sound = "default" if requested in ("", SOUND_DEFAULT) else clean(requested)
        if apns is not None and apns.interruption_level == "critical":
            options["sound"] = {"critical": 1, "name": sound, "volume": 1.0}
        else:
            options["sound"] = sound
    # Notification Center groups a conversation's notifications together.
    thread = job.group_id if job.is_group else job.from_account
    if thread:
        options["thread-id"] = clean(thread)
    if apns is not None and (apns.mutable_content == 1 or apns.image):
        # The image is downloaded by the app's notification service extension, which runs only with this.
        options["mutable-content"] = 1
    if apns is not None and apns.interruption_level is not None:
        options["interruption-level"] = apns.interruption_level
    return options


def _custom_element(job: PushJob) -> CustomElem | None:
    for element in job.msg_body:
        if isinstance(element, CustomElem):
            return element
    return None


def _too_large(ext: str, *, fits_without_ext: bool) -> NoPush:
    size = len(ext.encode())
    if ext and fits_without_ext:
        return NoPush(
            NoPushReason.EXT_TOO_LARGE,
            f"Ext is {size} bytes: with the rest of the notification it cannot fit APNs's "
            f"{MAX_PAYLOAD_BYTES}-byte payload limit, and it is never cut",
        )
    return NoPush(
        NoPushReason.PAYLOAD_TOO_LARGE,
        f"the notification's fixed fields (Ext {size} bytes, Image, Sound, GroupId) cannot fit APNs's "
        f"{MAX_PAYLOAD_BYTES}-byte payload limit",
    )


# --- payload bytes ------------------------------------------------------------------------------------------


def _alert(title: str, subtitle: str, body: str) -> bytes:
    alert: dict[str, str] = {}
    if title:
        alert["title"] = title
    if subtitle:
        alert["subtitle"] = subtitle
    alert["body"] = body
    return compact_json(alert).encode()


def _rest(aps_rest: dict[str, Any], top: dict[str, Any]) -> bytes:
    """Everything after the alert (and badge): the rest of ``aps``, then the top-level keys."""
    rest = b"," + compact_json(aps_rest).encode()[1:-1] if aps_rest else b""
    tail = b"," + compact_json(top).encode()[1:-1] if top else b""
    return rest + b"}" + tail + b"}"


def _fit(title: str, subtitle: str, body: str, room: int) -> tuple[str, str, str] | None:
    """Title, subtitle and body whose alert dictionary takes at most ``room`` bytes, or None."""

    def body_room(t: str, s: str) -> int:
        return room - len(_alert(t, s, ""))

    if fits(body, body_room(title, subtitle)):
        return title, subtitle, body
    # Long titles first: the lock screen shows one line of each, so the cut costs the reader nothing.
    title = shorten(title, TITLE_CAP_BYTES) or ""
    subtitle = shorten(subtitle, TITLE_CAP_BYTES) or ""
    shortened = shorten(body, body_room(title, subtitle), min_keep=MIN_BODY_BYTES)
    if shortened is not None:
        return title, subtitle, shortened
    # Then the subtitle, then the title, make room for the message itself.
    for t, s in ((title, ""), ("", "")):
        shortened = shorten(body, body_room(t, s), min_keep=MIN_BODY_BYTES if t else 1)
        if shortened is not None:
            return t, s, shortened
    return None
