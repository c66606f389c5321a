"""The formatter's limits, pinned at their boundaries: what fits goes out whole, a cut keeps all that fits.

Sizes in the comments are payload bytes. The one-to-one sample job's frame,
``{"aps":{"alert":{"body":""},"sound":"default","thread-id":"denny"}}``, is 67 bytes, and a receiver's badge
reserves 19 more (``,"badge":2147483647``), so its body (``Denny:`` and the text) has 4096 - 67 - 19 = 4010
bytes: when it is cut, ``Denny:``, 4001 bytes of text and the 3-byte ellipsis.
"""

from __future__ import annotations

from typing import Any

import pytest

from offline_push.logic.formatter import (
    MAX_BADGE,
    MIN_BODY_BYTES,
    NoPush,
    NoPushReason,
    format_notification,
    prepare,
)
from offline_push.models.job import PushJob
from offline_push.models.notification import Notification, PushType
from tests.support.jobs import ONE_TO_ONE, push_job, text

COLLAPSE_ID = "a5cd137eed1a410ff107dbbfa323aa0e"
TAIL = '"},"sound":"default","thread-id":"denny"}}'


def c2c(**fields: Any) -> PushJob:
    return push_job(ONE_TO_ONE, **fields)


def sent(payload: str) -> Notification:
    return Notification(payload.encode(), PushType.ALERT, 10, None, COLLAPSE_ID)


def body_payload(body: str) -> Notification:
    return sent('{"aps":{"alert":{"body":"' + body + TAIL)


# --- the codes and limits operators and apps rely on -----------------------------------------------------


def test_no_push_reasons_are_the_codes_operators_search_for() -> None:
    # Then each reason's code is the documented string
    assert {reason.name: str(reason) for reason in NoPushReason} == {
        "PUSH_DISABLED": "PushDisabled",
        "CUSTOM_WITHOUT_DESC": "CustomWithoutDesc",
        "EMPTY_CONTENT": "EmptyContent",
        "EXT_TOO_LARGE": "ExtTooLarge",
        "PAYLOAD_TOO_LARGE": "PayloadTooLarge",
    }


@pytest.mark.parametrize(
    ("badge", "shown"),
    [(2_147_483_646, 2_147_483_646), (2_147_483_647, 2_147_483_647), (2_147_483_648, 2_147_483_647)],
)
def test_the_badge_is_capped_at_int32_max(badge: int, shown: int) -> None:
    # Given a receiver whose unread count reaches iOS's Int32 limit
    # When the sample job is formatted for them
    result = format_notification(c2c(), badge=badge)

    # Then the badge is their count, at most 2,147,483,647
    assert MAX_BADGE == 2_147_483_647
    assert result == sent(
        '{"aps":{"alert":{"body":"Denny:hello"},"badge":'
        + str(shown)
        + ',"sound":"default","thread-id":"denny"}}'
    )


# --- what fits is not cut ----------------------------------------------------------------------------------


def test_a_body_that_fills_4096_bytes_exactly_goes_out_uncut() -> None:
    # Given a job that ignores the badge (no room reserved) and a body that makes the payload 4096 bytes:
    # 4096 - 67 - len("Denny:") = 4023 characters
    job = c2c(MsgBody=[text("x" * 4023)], OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})

    # When it is formatted
    result = format_notification(job)

    # Then it goes out whole, 4096 bytes
    assert result == body_payload("Denny:" + "x" * 4023)
    assert isinstance(result, Notification)
    assert len(result.payload) == 4096


def test_one_byte_more_than_4096_cuts_the_body_to_what_fits() -> None:
    # Given the same job with one character more
    job = c2c(MsgBody=[text("x" * 4024)], OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})

    # When it is formatted
    result = format_notification(job)

    # Then the body is cut to 4026 bytes: "Denny:", 4020 characters and the ellipsis
    assert result == body_payload("Denny:" + "x" * 4020 + "…")
    assert isinstance(result, Notification)
    assert len(result.payload) == 4096


def test_with_a_badge_a_body_of_4010_bytes_is_the_largest_sent_uncut() -> None:
    # Given bodies of 4010 and 4011 bytes for a receiver whose badge counts
    fits = format_notification(c2c(MsgBody=[text("x" * 4004)]), badge=MAX_BADGE)
    over = format_notification(c2c(MsgBody=[text("x" * 4005)]), badge=MAX_BADGE)

    # Then the first goes out whole at exactly 4096 bytes with the largest badge, the second is cut
    assert isinstance(fits, Notification)
    assert fits.payload == (
        b'{"aps":{"alert":{"body":"Denny:' + b"x" * 4004 + b'"},"badge":2147483647,"sound":"default",'
        b'"thread-id":"denny"}}'
    )
    assert len(fits.payload) == 4096
    assert isinstance(over, Notification)
    assert over.payload.startswith(b'{"aps":{"alert":{"body":"Denny:' + b"x" * 4001 + "…".encode() + b'"}')


# --- cuts keep all that fits, between characters -----------------------------------------------------------


def test_the_cut_falls_before_a_skin_toned_thumb_not_between_thumb_and_tone() -> None:
    # Given 👍🏽 (two 4-byte characters) repeated after 3 letters: the 4001 - 3 = 3998 bytes of room take 499
    # whole pairs and 6 bytes, room for a thumb without its tone
    thumb = "\U0001f44d\U0001f3fd"
    job = c2c(MsgBody=[text("abc" + thumb * 600)])

    # When it is formatted
    result = format_notification(job)

    # Then every whole pair is kept and the lone thumb is not
    assert result == body_payload("Denny:abc" + thumb * 499 + "…")


def test_the_cut_does_not_separate_a_devanagari_consonant_from_its_vowel_sign() -> None:
    # Given कि (क and the vowel sign ि, 3 bytes each) repeated after 2 letters: 4001 - 2 = 3999 bytes take
    # 666 syllables and 3 bytes, room for a consonant without its vowel sign
    syllable = "\u0915\u093f"
    job = c2c(MsgBody=[text("ab" + syllable * 700)])

    # When it is formatted
    result = format_notification(job)

    # Then the body ends after the last whole syllable
    assert result == body_payload("Denny:ab" + syllable * 666 + "…")


def test_a_cluster_longer_than_the_room_is_cut_on_a_character() -> None:
    # Given one letter carrying 3000 combining accents (2 bytes each): a cluster far longer than the room
    job = c2c(MsgBody=[text("Z" + "\u0301" * 3000)])

    # When it is formatted
    result = format_notification(job)

    # Then the cut falls inside it, keeping all that fits: 4001 - 1 = 4000 bytes are 2000 accents
    assert result == body_payload("Denny:Z" + "\u0301" * 2000 + "…")


@pytest.mark.parametrize(
    ("letters", "kept"),
    [
        # 4001 - 3868 = 133 bytes: "e" and 66 accents; the cluster starts 67 characters back: cut inside it
        (3868, "a" * 3868 + "e" + "\u0301" * 66),
        # 4001 - 3874 = 127 bytes: "e" and 63 accents, 64 characters: cut inside it
        (3874, "a" * 3874 + "e" + "\u0301" * 63),
        # 4001 - 3876 = 125 bytes: "e" and 62 accents, 63 characters: the cluster is dropped whole
        (3876, "a" * 3876),
    ],
)
def test_a_cut_looks_back_at_most_64_characters_for_the_start_of_a_cluster(letters: int, kept: str) -> None:
    # Given letters, then "e" with 100 combining accents, where the cut falls among the accents
    job = c2c(MsgBody=[text("a" * letters + "e" + "\u0301" * 100)])

    # When it is formatted
    result = format_notification(job)

    # Then a cluster starting within 63 characters of the cut is dropped whole; one starting further back
    # (Zalgo text) is cut on a character
    assert result == body_payload("Denny:" + kept + "…")


def test_a_cut_in_text_with_json_escapes_keeps_the_longest_prefix_that_fits() -> None:
    # Given a text alternating a control character (6 bytes escaped: \u0001) and a letter: 7 bytes a pair;
    # 4001 bytes take 571 pairs and 4 bytes, too few for the next control character
    job = c2c(MsgBody=[text("\x01b" * 1000)])

    # When it is formatted
    result = format_notification(job)

    # Then 571 pairs are kept
    assert result == body_payload("Denny:" + "\\u0001b" * 571 + "…")
    # And with 5 letters in front, 4001 - 5 = 3996 bytes: 570 pairs and 6 bytes, room for one more control
    # character, which is kept
    shifted = format_notification(c2c(MsgBody=[text("bbbbb" + "\x01b" * 1000)]))
    assert shifted == body_payload("Denny:bbbbb" + "\\u0001b" * 570 + "\\u0001…")


# --- what gives way, in order ------------------------------------------------------------------------------


def long_job(ext_bytes: int) -> PushJob:
    return c2c(
        MsgBody=[text("y" * 1000)],
        OfflinePushInfo={"Ext": "e" * ext_bytes, "Title": "T" * 20, "ApnsInfo": {"SubTitle": "S" * 20}},
    )


def with_ext(alert: str, ext_bytes: int) -> Notification:
    return sent(
        '{"aps":{"alert":{'
        + alert
        + '"},"sound":"default","thread-id":"denny"},"ext":"'
        + "e" * ext_bytes
        + '"}'
    )


def test_a_long_body_is_cut_while_the_title_and_subtitle_stay() -> None:
    # Given a short title and subtitle and a 5000-character body
    job = c2c(MsgBody=[text("y" * 5000)], OfflinePushInfo={"Title": "T", "ApnsInfo": {"SubTitle": "S"}})

    # When it is formatted
    result = format_notification(job)

    # Then both stay and the body takes the rest: 4010 - 12 ("title":"T",) - 15 ("subtitle":"S",) = 3983 bytes
    assert result == sent(
        '{"aps":{"alert":{"title":"T","subtitle":"S","body":"Denny:' + "y" * 3974 + "…" + TAIL
    )


@pytest.mark.parametrize(
    ("ext_bytes", "alert"),
    [
        # the body keeps its 32-byte minimum ("Denny:" and 26 letters) beside the title and the subtitle
        (3901, '"title":"' + "T" * 20 + '","subtitle":"' + "S" * 20 + '","body":"Denny:' + "y" * 26 + "…"),
        # one byte less for it, and the subtitle gives way: the body gains its 34 bytes
        (3902, '"title":"' + "T" * 20 + '","body":"Denny:' + "y" * 59 + "…"),
        # the body keeps its minimum beside the title
        (3935, '"title":"' + "T" * 20 + '","body":"Denny:' + "y" * 26 + "…"),
        # one byte less, and the title gives way too
        (3936, '"body":"Denny:' + "y" * 56 + "…"),
        # the body alone keeps what is left, down to one character
        (3997, '"body":"D' + "…"),
    ],
)
def test_the_subtitle_then_the_title_give_way_when_the_body_would_get_less_than_32_bytes(
    ext_bytes: int, alert: str
) -> None:
    # Given a 20-byte title and subtitle, a long body, and an ext taking all but a little of the payload
    # When it is formatted
    result = format_notification(long_job(ext_bytes))

    # Then the body keeps at least 32 bytes, as long as dropping the subtitle, then the title, gives them
    assert MIN_BODY_BYTES == 32
    assert result == with_ext(alert, ext_bytes)


def test_an_ext_leaving_no_room_for_one_character_of_body_is_ext_too_large() -> None:
    # When the ext leaves the body less than one character and the ellipsis
    result = format_notification(long_job(3998))

    # Then there is no push, for the ext
    assert result == NoPush(
        NoPushReason.EXT_TOO_LARGE,
        "Ext is 3998 bytes: with the rest of the notification it cannot fit APNs's 4096-byte payload limit, "
        "and it is never cut",
    )


@pytest.mark.parametrize("ext", ["", "e" * 100])
def test_fixed_fields_too_large_for_any_body_are_payload_too_large_not_ext_too_large(ext: str) -> None:
    # Given an image URL of 700 control characters (4200 bytes once escaped), with or without an ext
    job = c2c(OfflinePushInfo={"Ext": ext, "ApnsInfo": {"Image": "\x01" * 700}})

    # When it is formatted
    result = format_notification(job)

    # Then there is no push, and the reason blames the fixed fields, not the ext
    assert result == NoPush(
        NoPushReason.PAYLOAD_TOO_LARGE,
        f"the notification's fixed fields (Ext {len(ext)} bytes, Image, Sound, GroupId) cannot fit APNs's "
        "4096-byte payload limit",
    )


def test_a_background_push_too_large_without_its_ext_is_payload_too_large() -> None:
    # Given a background push (only content-available and ext): with an ext it can be too large only for it
    job = c2c(OfflinePushInfo={"Ext": "e" * 4057, "ApnsInfo": {"BackgroundNotification": 1}})

    # When it is formatted
    result = format_notification(job)

    # Then the ext is named
    assert isinstance(result, NoPush)
    assert result.reason is NoPushReason.EXT_TOO_LARGE


# --- a prepared job ----------------------------------------------------------------------------------------


def test_a_prepared_job_gives_back_the_job_it_was_prepared_from() -> None:
    # Given a job prepared once for its receivers
    job = c2c()

    # Then the dispatcher reads the job (its receivers, its key) back from the prepared push
    assert prepare(job).job is job


@pytest.mark.parametrize(
    ("letters", "reason"),
    [
        # with the ext, 356 letters leave room for "D" and the ellipsis, 357 do not: the ext is to blame
        (357, NoPushReason.EXT_TOO_LARGE),
        # without the ext's 19 bytes (,"ext":"eeeeeeeeee") 375 letters would still leave that room
        (375, NoPushReason.EXT_TOO_LARGE),
        # 376 would not: the fixed fields alone are too large
        (376, NoPushReason.PAYLOAD_TOO_LARGE),
    ],
)
def test_the_ext_is_blamed_only_when_the_notification_would_fit_without_it(
    letters: int, reason: NoPushReason
) -> None:
    # Given a 10-byte ext and an image URL of 600 control characters (3600 bytes escaped) and some letters
    job = c2c(OfflinePushInfo={"Ext": "e" * 10, "ApnsInfo": {"Image": "\x01" * 600 + "a" * letters}})

    # When it is formatted
    result = format_notification(job)

    # Then there is no push, and the reason is the ext only if removing it would make room for the body
    assert isinstance(result, NoPush)
    assert result.reason is reason


def test_a_job_without_sound_or_thread_sends_only_the_alert_and_badge() -> None:
    # Given a silent one-to-one message whose sender has no account (so no thread id)
    job = c2c(From_Account=None, OfflinePushInfo={"ApnsInfo": {"Sound": "kIOSOfflinePushNoSound"}})

    # When it is formatted without and with a badge
    without = format_notification(job)
    with_badge = format_notification(job, badge=3)

    # Then aps holds nothing else
    assert without == sent('{"aps":{"alert":{"body":"Denny:hello"}}}')
    assert with_badge == sent('{"aps":{"alert":{"body":"Denny:hello"},"badge":3}}')


def test_a_cut_after_a_space_leaves_no_space_before_the_ellipsis() -> None:
    # Given words after one letter: the 4001 bytes of room end exactly after a space
    job = c2c(MsgBody=[text("x" + "abcd " * 1000)])

    # When it is formatted
    result = format_notification(job)

    # Then the trailing space is dropped before the ellipsis
    assert result == body_payload("Denny:x" + "abcd " * 799 + "abcd…")


@pytest.mark.parametrize(
    ("ext_bytes", "expected"),
    [
        # 6 bytes of room: one escaped control character (\u0001) and the ellipsis
        (3992, '"body":"\\u0001…'),
        # 5 bytes: not even one character fits
        (3993, None),
    ],
)
def test_a_body_whose_first_character_does_not_fit_is_not_sent_over_the_limit(
    ext_bytes: int, expected: str | None
) -> None:
    # Given a body of control characters (6 bytes each once escaped) and an ext leaving little room
    job = c2c(SenderNickname=None, MsgBody=[text("\x01" * 1000)], OfflinePushInfo={"Ext": "e" * ext_bytes})

    # When it is formatted
    result = format_notification(job)

    # Then the body keeps what fits, or there is no push for the ext: never a payload over 4096 bytes
    if expected is None:
        assert isinstance(result, NoPush)
        assert result.reason is NoPushReason.EXT_TOO_LARGE
    else:
        assert result == with_ext(expected, ext_bytes)
        assert isinstance(result, Notification)
        assert len(result.payload) == 4077  # 4096 less the badge's 19 bytes


@pytest.mark.parametrize(
    ("after_cut", "joins"),
    [
        ("\ufe0f", True),  # variation selector-16 (emoji presentation)
        ("\ufe10", False),  # the next character, a vertical comma
        ("\U0001f3fa", False),  # an amphora, just before the skin tones
        ("\U0001f3fb", True),  # skin tone 1-2
        ("\U0001f3ff", True),  # skin tone 6
        ("\U0001f400", False),  # a rat, just after them
        ("\U000e001f", False),  # just before the tag characters
        ("\U000e0020", True),  # tag space
        ("\U000e007f", True),  # cancel tag
        ("\U000e0080", False),  # just after them
        ("\U000e00ff", False),  # just before the variation selectors supplement
        ("\U000e0100", True),  # variation selector-17
        ("\U000e01ef", True),  # variation selector-256
        ("\U000e01f0", False),  # just after them
        ("\u20e3", True),  # combining enclosing keycap (an enclosing mark)
    ],
)
def test_a_cut_stays_with_the_character_that_a_modifier_or_selector_extends(
    after_cut: str, joins: bool
) -> None:
    # Given 4001 letters (all the room there is) followed by one more character, then more letters
    job = c2c(MsgBody=[text("a" * 4001 + after_cut + "z" * 10)])

    # When it is formatted
    result = format_notification(job)

    # Then a character that extends the letter before it takes that letter with it past the cut
    kept = 4000 if joins else 4001
    assert result == body_payload("Denny:" + "a" * kept + "…")


CHINA = "\U0001f1e8\U0001f1f3"
AZERBAIJAN = "\U0001f1e6\U0001f1ff"  # the first and the last regional indicator letters, A and Z


@pytest.mark.parametrize(
    ("before", "flag", "kept"),
    [
        # no sender name: 4007 bytes take 1001 indicators (4 bytes each) and 3 bytes; the count from the
        # start of the text is odd, so the last indicator is half a flag and is dropped
        ("", CHINA, CHINA * 500),
        # one letter: 4006 bytes, 1001 indicators again: dropped
        ("a", CHINA, "a" + CHINA * 500),
        # four letters: 4003 bytes, 1000 indicators: the cut falls between two flags and stays
        ("aaaa", CHINA, "aaaa" + CHINA * 500),
        ("aaaa", AZERBAIJAN, "aaaa" + AZERBAIJAN * 500),
        # three letters: 4004 bytes, 1001 indicators: the lone A is dropped
        ("aaa", AZERBAIJAN, "aaa" + AZERBAIJAN * 500),
    ],
)
def test_flags_are_counted_in_pairs_from_the_start_of_the_run(before: str, flag: str, kept: str) -> None:
    # Given a message without a sender name, of flags after some letters
    job = c2c(SenderNickname=None, MsgBody=[text(before + flag * 600)])

    # When it is formatted
    result = format_notification(job)

    # Then the body ends after a whole flag
    assert result == body_payload(kept + "…")


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        # accents and no letter: one cluster from the start of the text, longer than the room: cut inside
        ("\u0301" * 40, "\u0301" * 9),
        # the same, with a letter at the end of the text: the search does not wrap around to it
        ("\u0301" * 40 + "z", "\u0301" * 9),
        # a letter and its accents: the whole cluster does not fit, it is cut on a character
        ("e" + "\u0301" * 40, "e" + "\u0301" * 8),
    ],
)
def test_a_cluster_at_the_start_of_a_small_room_is_cut_on_a_character(content: str, kept: str) -> None:
    # Given an ext leaving the body 18 bytes before the ellipsis, and a body of combining accents (2 bytes)
    job = c2c(SenderNickname=None, MsgBody=[text(content)], OfflinePushInfo={"Ext": "e" * 3980})

    # When it is formatted
    result = format_notification(job)

    # Then it keeps all that fits
    assert result == with_ext('"body":"' + kept + "…", 3980)
