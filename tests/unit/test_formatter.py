"""The formatting rules, one row each, with the whole notification each gives (payload bytes and headers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offline_push.logic.formatter import (
    MAX_BADGE,
    NoPush,
    NoPushReason,
    default_collapse_id,
    format_notification,
    prepare,
)
from offline_push.models.job import Language, PushJob
from offline_push.models.notification import MAX_PAYLOAD_BYTES, Notification, PushType
from tests.support.jobs import (
    FACE,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    ONE_TO_ONE,
    RELAY,
    SOUND,
    VIDEO,
    custom,
    job_dict,
    push_job,
    text,
)

# default_collapse_id of the sample jobs (SdkAppId 1400000001, MsgKey 144115198244471703-1).
COLLAPSE_ID = "a5cd137eed1a410ff107dbbfa323aa0e"

CUSTOM_WITHOUT_DESC = NoPush(
    NoPushReason.CUSTOM_WITHOUT_DESC,
    "a custom message is pushed only with a description: set TIMCustomElem.Desc or OfflinePushInfo.Desc",
)


def alert(
    payload: str, *, priority: int = 10, expiration: int | None = None, collapse_id: str = COLLAPSE_ID
) -> Notification:
    return Notification(payload.encode(), PushType.ALERT, priority, expiration, collapse_id)


def c2c(**fields: Any) -> PushJob:
    return push_job(ONE_TO_ONE, **fields)


def group(**fields: Any) -> PushJob:
    return push_job(GROUP, **fields)


def push_info(**apns: Any) -> dict[str, Any]:
    return {"ApnsInfo": apns}


@dataclass(frozen=True)
class Rule:
    name: str
    job: PushJob
    expected: Notification | NoPush
    badge: int | None = None
    language: Language = Language.ZH


RULES = [
    # --- who said it --------------------------------------------------------------------------------------
    Rule(
        "one-to-one: nickname:content",
        c2c(),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"}}'),
    ),
    Rule(
        "one-to-one without a nickname: the content alone",
        c2c(SenderNickname=None),
        alert('{"aps":{"alert":{"body":"hello"},"sound":"default","thread-id":"denny"}}'),
    ),
    Rule(
        "group: name card(group name):content, threaded by group",
        group(),
        alert(
            '{"aps":{"alert":{"body":"Dad(Family):hello"},"sound":"default","thread-id":"@TGS#2J4SZEAEL"}}'
        ),
    ),
    Rule(
        "group: the nickname when there is no name card",
        group(SenderNameCard=None),
        alert(
            '{"aps":{"alert":{"body":"Denny(Family):hello"},"sound":"default","thread-id":"@TGS#2J4SZEAEL"}}'
        ),
    ),
    Rule(
        "group: no name card and no nickname, the name is not shown",
        group(SenderNameCard=None, SenderNickname=None),
        alert('{"aps":{"alert":{"body":"(Family):hello"},"sound":"default","thread-id":"@TGS#2J4SZEAEL"}}'),
    ),
    Rule(
        "group without a group name: name:content",
        group(GroupName=None),
        alert('{"aps":{"alert":{"body":"Dad:hello"},"sound":"default","thread-id":"@TGS#2J4SZEAEL"}}'),
    ),
    # --- what it says -------------------------------------------------------------------------------------
    Rule(
        "every element in order, placeholders in Chinese by default",
        c2c(MsgBody=[text("a"), LOCATION, FACE, SOUND, IMAGE, FILE, VIDEO, RELAY, text("b")]),
        alert(
            '{"aps":{"alert":{"body":"Denny:a[位置][表情][语音][图片][文件][视频][聊天记录]b"},'
            '"sound":"default","thread-id":"denny"}}'
        ),
    ),
    Rule(
        "placeholders in English by the receiver's language",
        c2c(MsgBody=[text("a"), LOCATION, FACE, SOUND, IMAGE, FILE, VIDEO, RELAY, text("b")]),
        alert(
            '{"aps":{"alert":{"body":"Denny:a[Location][Face][Voice][Image][File][Video][Chat History]b"},'
            '"sound":"default","thread-id":"denny"}}'
        ),
        language=Language.EN,
    ),
    Rule(
        "the job's own Language overrides the receiver's",
        c2c(MsgBody=[IMAGE], OfflinePushInfo={"Language": "en"}),
        alert('{"aps":{"alert":{"body":"Denny:[Image]"},"sound":"default","thread-id":"denny"}}'),
        language=Language.ZH,
    ),
    Rule(
        "a custom element shows its Desc, in place",
        c2c(MsgBody=[text("look "), custom(desc="[card] Mum")]),
        alert('{"aps":{"alert":{"body":"Denny:look [card] Mum"},"sound":"default","thread-id":"denny"}}'),
    ),
    Rule(
        "OfflinePushInfo.Desc replaces the whole body",
        group(OfflinePushInfo={"Desc": "You have a new message"}),
        alert(
            '{"aps":{"alert":{"body":"You have a new message"},"sound":"default",'
            '"thread-id":"@TGS#2J4SZEAEL"}}'
        ),
    ),
    Rule(
        "a custom message without a Desc is not pushed",
        c2c(MsgBody=[custom(data='{"type":"typing"}')]),
        CUSTOM_WITHOUT_DESC,
    ),
    Rule(
        "a custom message without a Desc is pushed with OfflinePushInfo.Desc",
        c2c(MsgBody=[custom()], OfflinePushInfo={"Desc": "sent you a card"}),
        alert('{"aps":{"alert":{"body":"sent you a card"},"sound":"default","thread-id":"denny"}}'),
    ),
    Rule(
        "a message with nothing to show is not pushed",
        c2c(MsgBody=[text("")]),
        NoPush(NoPushReason.EMPTY_CONTENT, "the message has no text to show"),
    ),
    Rule(
        "PushFlag 1 (disablePush): no push, whatever else the job says",
        c2c(OfflinePushInfo={"PushFlag": 1, "Desc": "hi", "ApnsInfo": {"BackgroundNotification": 1}}),
        NoPush(NoPushReason.PUSH_DISABLED, "the message disables offline push (PushFlag 1)"),
        badge=3,
    ),
    # --- how it is shown ----------------------------------------------------------------------------------
    Rule(
        "Title adds an alert title",
        c2c(OfflinePushInfo={"Title": "New message"}),
        alert(
            '{"aps":{"alert":{"title":"New message","body":"Denny:hello"},'
            '"sound":"default","thread-id":"denny"}}'
        ),
    ),
    Rule(
        "ApnsInfo.Title replaces Title; SubTitle adds a subtitle",
        c2c(
            OfflinePushInfo={"Title": "generic", "ApnsInfo": {"Title": "Denny", "SubTitle": "1 new message"}}
        ),
        alert(
            '{"aps":{"alert":{"title":"Denny","subtitle":"1 new message","body":"Denny:hello"},'
            '"sound":"default","thread-id":"denny"}}'
        ),
    ),
    Rule(
        "a custom sound file",
        c2c(OfflinePushInfo=push_info(Sound="ring.caf")),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"sound":"ring.caf","thread-id":"denny"}}'),
    ),
    Rule(
        "kIOSOfflinePushNoSound: silent",
        c2c(OfflinePushInfo=push_info(Sound="kIOSOfflinePushNoSound")),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"thread-id":"denny"}}'),
    ),
    Rule(
        "kIOSOfflinePushDefaultSound: the system sound",
        c2c(OfflinePushInfo=push_info(Sound="kIOSOfflinePushDefaultSound")),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"}}'),
    ),
    Rule(
        "the receiver's badge",
        c2c(),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"badge":7,"sound":"default","thread-id":"denny"}}'),
        badge=7,
    ),
    Rule(
        "BadgeMode 1: the badge is left alone",
        c2c(OfflinePushInfo=push_info(BadgeMode=1)),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"}}'),
        badge=7,
    ),
    Rule(
        "IgnoreBadge 1 (ignoreIOSBadge): the badge is left alone",
        c2c(OfflinePushInfo=push_info(IgnoreBadge=1)),
        alert('{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"}}'),
        badge=7,
    ),
    Rule(
        "Ext at the top level, exactly as given",
        c2c(OfflinePushInfo={"Ext": '{"jump":"chat","id":"denny"}'}),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"},'
            r'"ext":"{\"jump\":\"chat\",\"id\":\"denny\"}"}'
        ),
    ),
    Rule(
        "without OfflinePushInfo, the custom element's Ext and Sound are used",
        c2c(MsgBody=[custom(desc="hi", ext="jump to denny", sound="dingdong.aiff")]),
        alert(
            '{"aps":{"alert":{"body":"Denny:hi"},"sound":"dingdong.aiff","thread-id":"denny"},'
            '"ext":"jump to denny"}'
        ),
    ),
    Rule(
        "with OfflinePushInfo, the custom element's Ext and Sound are ignored",
        c2c(MsgBody=[custom(desc="hi", ext="old", sound="dingdong.aiff")], OfflinePushInfo={"Ext": "new"}),
        alert('{"aps":{"alert":{"body":"Denny:hi"},"sound":"default","thread-id":"denny"},"ext":"new"}'),
    ),
    Rule(
        "MutableContent 1: the app's notification service extension runs",
        c2c(OfflinePushInfo=push_info(MutableContent=1)),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny","mutable-content":1}}'
        ),
    ),
    Rule(
        "Image travels beside ext, with mutable-content so the extension can fetch it",
        c2c(OfflinePushInfo={"Ext": "e", "ApnsInfo": {"Image": "https://x/a.png"}}),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny","mutable-content":1},'
            '"ext":"e","image":"https://x/a.png"}'
        ),
    ),
    Rule(
        "InterruptionLevel time-sensitive",
        c2c(OfflinePushInfo=push_info(InterruptionLevel="time-sensitive")),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny",'
            '"interruption-level":"time-sensitive"}}'
        ),
    ),
    Rule(
        "InterruptionLevel passive is sent at power-saving priority 5",
        c2c(OfflinePushInfo=push_info(InterruptionLevel="passive")),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny",'
            '"interruption-level":"passive"}}',
            priority=5,
        ),
    ),
    Rule(
        "InterruptionLevel critical plays a critical-alert sound",
        c2c(OfflinePushInfo=push_info(InterruptionLevel="critical", Sound="alarm.caf")),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":{"critical":1,"name":"alarm.caf","volume":1.0},'
            '"thread-id":"denny","interruption-level":"critical"}}'
        ),
    ),
    Rule(
        "BackgroundNotification 1: a silent background push carrying ext, no badge",
        c2c(OfflinePushInfo={"Ext": "sync", "ApnsInfo": {"BackgroundNotification": 1}}),
        Notification(
            b'{"aps":{"content-available":1},"ext":"sync"}', PushType.BACKGROUND, 5, None, COLLAPSE_ID
        ),
        badge=7,
    ),
    Rule(
        "CollapseId and Expiration become the apns-collapse-id and apns-expiration headers",
        c2c(OfflinePushInfo=push_info(CollapseId="chat-denny", Expiration=1767225600)),
        alert(
            '{"aps":{"alert":{"body":"Denny:hello"},"sound":"default","thread-id":"denny"}}',
            expiration=1767225600,
            collapse_id="chat-denny",
        ),
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_formatting_rule(rule: Rule) -> None:
    # Given a job and a receiver's badge and language
    # When it is formatted
    result = format_notification(rule.job, badge=rule.badge, language=rule.language)

    # Then the notification (payload bytes and headers), or the reason for no push, is exactly as expected
    assert result == rule.expected


# --- the 4096-byte limit ------------------------------------------------------------------------------------

# '{"aps":{"alert":{"body":"' + body + '"},"sound":"default","thread-id":"denny"}}': 67 bytes around the body.
C2C_FRAME = 67
# A badge can add ',"badge":2147483647' (19 bytes): every payload leaves room for it.
BADGE_ROOM = 19


def c2c_payload(body: str, **headers: Any) -> Notification:
    return alert('{"aps":{"alert":{"body":"' + body + '"},"sound":"default","thread-id":"denny"}}', **headers)


def test_long_body_is_cut_on_a_character_with_an_ellipsis() -> None:
    # Given a 6000-byte Chinese text (3 bytes a character)
    job = c2c(MsgBody=[text("好" * 2000)])

    # When it is formatted
    result = format_notification(job)

    # Then the body keeps as many whole characters as fit beside the frame, the badge room and the ellipsis:
    # (4096 - 67 - 19 - len("Denny:") - 3) // 3 = 1333 characters
    assert result == c2c_payload("Denny:" + "好" * 1333 + "…")
    assert isinstance(result, Notification)
    assert len(result.payload) == 4075


def test_every_badge_fits_beside_the_longest_body_and_all_receivers_read_the_same_text() -> None:
    # Given a job whose body fills the payload
    prepared = prepare(c2c(MsgBody=[text("x" * 5000)]))

    # When it is formatted for a receiver without a badge and one with the largest badge
    without = prepared.notification(None)
    largest = prepared.notification(MAX_BADGE)

    # Then both fit, the largest exactly, and both show the same body
    assert isinstance(without, Notification)
    assert isinstance(largest, Notification)
    assert len(largest.payload) == MAX_PAYLOAD_BYTES
    assert json.loads(without.payload)["aps"]["alert"] == json.loads(largest.payload)["aps"]["alert"]


def test_json_escapes_count_toward_the_limit() -> None:
    # Given a body of quotes (each is 2 bytes once escaped)
    job = c2c(MsgBody=[text('"' * 3000)])

    # When it is formatted
    result = format_notification(job)

    # Then as many escaped quotes as fit are kept: (4096 - 67 - 19 - 6 - 3) // 2 = 2000
    assert result == c2c_payload("Denny:" + '\\"' * 2000 + "…")


def test_the_body_is_not_cut_inside_an_emoji_sequence() -> None:
    # Given a body of family emoji (man ZWJ woman ZWJ girl: 18 bytes each) after a 12-byte text
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    job = c2c(MsgBody=[text("abcdefghijkl" + family * 300)])

    # When it is formatted
    result = format_notification(job)

    # Then only whole families are kept: the room after the text (4001 - 12 = 3989 bytes) is 221 families and
    # 11 bytes, and those (a man, a joiner, a woman) are dropped rather than shown as a broken family
    assert result == c2c_payload("Denny:abcdefghijkl" + family * 221 + "…")


def test_flags_are_not_split_into_regional_indicators() -> None:
    # Given a body of flags (two 4-byte regional indicators each) offset so the cut falls inside a flag
    flag = "\U0001f1e8\U0001f1f3"
    job = c2c(MsgBody=[text("abcd" + flag * 600)])

    # When it is formatted
    result = format_notification(job)

    # Then the room after the text (4001 - 4 = 3997 bytes) takes 499 flags and one indicator, which is dropped
    assert result == c2c_payload("Denny:abcd" + flag * 499 + "…")


def test_an_overlong_title_is_cut_before_the_body() -> None:
    # Given a 1000-byte title and a body that alone would fit
    job = c2c(MsgBody=[text("x" * 3500)], OfflinePushInfo={"Title": "T" * 1000})

    # When it is formatted
    result = format_notification(job)

    # Then the title is cut to 256 bytes (253 + ellipsis) and the body is kept whole
    assert result == alert(
        '{"aps":{"alert":{"title":"' + "T" * 253 + '…","body":"Denny:' + "x" * 3500 + '"},'
        '"sound":"default","thread-id":"denny"}}'
    )


def test_a_large_ext_makes_the_subtitle_then_the_title_give_way_to_the_body() -> None:
    # Given an ext that leaves about 130 bytes, a title, a subtitle and a long body
    ext = "e" * 3870
    job = c2c(
        MsgBody=[text("y" * 1000)],
        OfflinePushInfo={"Ext": ext, "Title": "T" * 60, "ApnsInfo": {"SubTitle": "S" * 60}},
    )

    # When it is formatted
    result = format_notification(job)

    # Then ext is whole, the subtitle is gone, the title kept, and the body takes what is left (with the
    # frame, the ext key and the title key that is 4096 - 19 - 67 - 3879 - 71 - 3 = 57 bytes)
    assert result == alert(
        '{"aps":{"alert":{"title":"' + "T" * 60 + '","body":"Denny:' + "y" * 51 + '…"},'
        '"sound":"default","thread-id":"denny"},"ext":"' + ext + '"}'
    )


def test_an_ext_that_cannot_fit_is_a_job_error_not_a_cut() -> None:
    # Given an ext of 4080 bytes
    job = c2c(OfflinePushInfo={"Ext": "e" * 4080})

    # When it is formatted
    result = format_notification(job)

    # Then there is no push, and the reason says why
    assert result == NoPush(
        NoPushReason.EXT_TOO_LARGE,
        "Ext is 4080 bytes: with the rest of the notification it cannot fit APNs's 4096-byte payload limit, "
        "and it is never cut",
    )


@pytest.mark.parametrize(("ext_bytes", "sent"), [(4056, True), (4057, False)])
def test_a_background_push_is_sent_only_if_its_ext_fits(ext_bytes: int, sent: bool) -> None:
    # Given a background push whose ext makes the payload 4096 or 4097 bytes ('{"aps":...,"ext":""}' is 40)
    job = c2c(OfflinePushInfo={"Ext": "e" * ext_bytes, "ApnsInfo": {"BackgroundNotification": 1}})

    # When it is formatted
    result = format_notification(job)

    # Then it is sent whole when it fits, and refused for its ext otherwise
    if sent:
        assert result == Notification(
            b'{"aps":{"content-available":1},"ext":"' + b"e" * ext_bytes + b'"}',
            PushType.BACKGROUND,
            5,
            None,
            COLLAPSE_ID,
        )
    else:
        assert result == NoPush(
            NoPushReason.EXT_TOO_LARGE,
            "Ext is 4057 bytes: with the rest of the notification it cannot fit APNs's 4096-byte payload "
            "limit, and it is never cut",
        )


# --- many receivers of one job --------------------------------------------------------------------------


def test_a_prepared_job_formats_each_receiver_like_a_single_format() -> None:
    # Given a group job prepared once
    job = group(MsgBody=[text("dinner?"), IMAGE], OfflinePushInfo={"Ext": "grp"})
    prepared = prepare(job)

    # When it is formatted for receivers with different badges and languages (twice, to use its caches)
    receivers = [(None, Language.ZH), (0, Language.ZH), (1, Language.EN), (42, Language.ZH), (1, Language.EN)]
    results = [prepared.notification(badge, language) for badge, language in receivers * 2]

    # Then each result equals formatting the job for that receiver alone
    assert results == [format_notification(job, badge=b, language=lang) for b, lang in receivers * 2]


@pytest.mark.parametrize(
    ("badge", "shown"),
    [(0, 0), (-5, 0), (MAX_BADGE, MAX_BADGE), (MAX_BADGE + 1, MAX_BADGE), (10**30, MAX_BADGE)],
)
def test_badges_are_clamped_to_what_ios_accepts(badge: int, shown: int) -> None:
    result = format_notification(c2c(), badge=badge)

    assert isinstance(result, Notification)
    assert json.loads(result.payload)["aps"]["badge"] == shown


@pytest.mark.parametrize(
    ("offline_push_info", "counts"),
    [
        (None, True),
        ({"PushFlag": 1}, False),
        ({"ApnsInfo": {"BadgeMode": 1}}, False),
        ({"ApnsInfo": {"IgnoreBadge": 1}}, False),
        ({"ApnsInfo": {"BackgroundNotification": 1}}, False),
        ({"ApnsInfo": {"InterruptionLevel": "passive"}}, True),
    ],
)
def test_the_caller_is_told_whether_the_message_raises_the_unread_count(
    offline_push_info: dict[str, Any] | None, counts: bool
) -> None:
    assert prepare(c2c(OfflinePushInfo=offline_push_info)).counts_toward_badge is counts


def test_the_default_collapse_id_is_a_stable_digest_of_the_message() -> None:
    # Given the same message twice, and messages that differ by key or by app
    same = default_collapse_id(c2c()), default_collapse_id(group())
    other_key = default_collapse_id(c2c(MsgKey="144115198244471703-2"))
    other_app = default_collapse_id(c2c(SdkAppId=1400000002))

    # Then the same message always gets the same id (a redelivery replaces it), within Apple's 64 bytes
    assert same == (COLLAPSE_ID, COLLAPSE_ID)
    assert len({COLLAPSE_ID, other_key, other_app}) == 3
    assert all(len(value.encode()) <= 64 for value in (COLLAPSE_ID, other_key, other_app))


def test_lone_surrogates_in_shown_text_become_replacement_characters() -> None:
    # Given a text with a broken surrogate pair (as some JavaScript backends produce)
    job = push_job(job_dict(ONE_TO_ONE, MsgBody=[text("ok \ud83d!")]))

    # When it is formatted
    result = format_notification(job)

    # Then the payload is valid UTF-8 and shows U+FFFD in its place
    assert result == c2c_payload("Denny:ok \ufffd!")


def test_the_readme_examples_are_what_the_formatter_sends() -> None:
    # Given the job / payload pairs of README.md's "Push job format", for receivers with these badges
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Push job format")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    blocks = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)
    badges = [3, 1, 4, None]
    assert len(blocks) == 2 * len(badges)

    # When each job is formatted
    results = [
        format_notification(push_job(json.loads(raw)), badge=b)
        for raw, b in zip(blocks[::2], badges, strict=True)
    ]

    # Then each payload is exactly the one documented
    assert [r.payload.decode() if isinstance(r, Notification) else r for r in results] == [
        block.strip() for block in blocks[1::2]
    ]
