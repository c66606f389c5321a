"""Where a cut falls next to regional indicators (flags): only a whole flag's two halves stay together.

With no sender name, the one-to-one sample job leaves its body 4007 bytes of text before the 3-byte ellipsis
(tests/unit/test_formatter_limits.py has the arithmetic); a regional indicator takes 4 bytes.
"""

from __future__ import annotations

import pytest

from offline_push.logic.formatter import format_notification
from offline_push.models.notification import Notification, PushType
from tests.support.jobs import ONE_TO_ONE, push_job, text

COLLAPSE_ID = "a5cd137eed1a410ff107dbbfa323aa0e"
TAIL = '"},"sound":"default","thread-id":"denny"}}'

REGIONAL_C = "\U0001f1e8"
REGIONAL_N = "\U0001f1f3"
ENCLOSED_IDEOGRAPH = "\U0001f200"  # SQUARE HIRAGANA HOKA, the first code point after the regional indicators
MAN = "\U0001f468"
ZWJ = "\u200d"


def cut_body(content: str) -> bytes:
    # Given a message of this text and no sender name
    job = push_job(ONE_TO_ONE, SenderNickname=None, MsgBody=[text(content)])

    # When it is formatted
    result = format_notification(job)

    assert isinstance(result, Notification)
    assert (result.push_type, result.collapse_id) == (PushType.ALERT, COLLAPSE_ID)
    return result.payload


def body_payload(body: str) -> bytes:
    return ('{"aps":{"alert":{"body":"' + body + TAIL).encode()


@pytest.mark.parametrize(
    "after",
    ["z", ENCLOSED_IDEOGRAPH, MAN],
    ids=["a letter", "U+1F200", "an emoji"],
)
def test_a_lone_regional_indicator_before_the_cut_is_kept_when_what_follows_is_no_regional_indicator(
    after: str,
) -> None:
    # Given 4003 letters, one regional indicator (4007 bytes: all the room), then a character that is not one
    content = "a" * 4003 + REGIONAL_C + after + "z" * 10

    # Then the indicator is no half of a flag across the cut: it stays, and the cut falls right after it
    assert cut_body(content) == body_payload("a" * 4003 + REGIONAL_C + "…")


def test_a_flag_split_by_the_cut_after_a_zero_width_joiner_goes_with_the_sequence_before_it() -> None:
    # Given 3996 letters, a man and a zero-width joiner (4003 bytes), then a flag whose first half fills the
    # room: the cut falls between the flag's halves
    content = "a" * 3996 + MAN + ZWJ + REGIONAL_C + REGIONAL_N + "z" * 10

    # Then the flag is dropped whole, and so is what the joiner joins it to: the body ends with the letters
    assert cut_body(content) == body_payload("a" * 3996 + "…")


def test_a_whole_flag_after_a_zero_width_joiner_sequence_stays_when_the_cut_falls_after_it() -> None:
    # Given 3992 letters, a man, a joiner and a man (3992 + 11 bytes), then a flag whose first half fills the
    # room
    content = "a" * 3992 + MAN + ZWJ + MAN + REGIONAL_C + REGIONAL_N + "z" * 10

    # Then only the split flag is dropped: the joined sequence before it is whole and stays
    assert cut_body(content) == body_payload("a" * 3992 + MAN + ZWJ + MAN + "…")


def test_a_run_of_flags_from_the_start_of_the_text_is_counted_from_there_not_from_the_texts_end() -> None:
    # Given a message of 600 flags from its first character, then a letter and a lone indicator at its
    # very end: the cut falls after 1001 indicators, between the halves of a flag
    content = (REGIONAL_C + REGIONAL_N) * 600 + "z" + REGIONAL_C

    # Then the count of the run stops at the start of the text (the indicator at its end is no part of
    # it): the 1001st indicator is half a flag and is dropped
    assert cut_body(content) == body_payload((REGIONAL_C + REGIONAL_N) * 500 + "…")
