"""The push job's rules at their edges: each length limit, the sound names, identities that UTF-8 cannot
carry, the badge options, and how many problems one error names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from offline_push.errors import InvalidPushJob
from offline_push.models.job import ApnsInfo, parse_push_job
from tests.support.jobs import ONE_TO_ONE, custom, job_dict, text


def refusal(raw: Any) -> str:
    with pytest.raises(InvalidPushJob) as caught:
        parse_push_job(raw)
    return caught.value.message


def with_apns(**options: Any) -> dict[str, Any]:
    return job_dict(ONE_TO_ONE, OfflinePushInfo={"ApnsInfo": options})


def apns_of(raw: dict[str, Any]) -> dict[str, Any]:
    job = parse_push_job(raw)
    assert job.apns_info is not None
    return job.apns_info.model_dump(by_alias=True)


# field, the longest value accepted: one character more is refused.
TOP_LEVEL_LIMITS = [("MsgKey", 256), ("From_Account", 128), ("GroupId", 128)]


@pytest.mark.parametrize(("field", "limit"), TOP_LEVEL_LIMITS, ids=[f for f, _ in TOP_LEVEL_LIMITS])
def test_an_identity_at_its_length_limit_is_accepted_and_one_character_more_is_refused(
    field: str, limit: int
) -> None:
    # Given a job whose field is exactly at its limit, and one whose field is one character longer
    at_limit = job_dict(ONE_TO_ONE, **{field: "a" * limit})
    over = job_dict(ONE_TO_ONE, **{field: "a" * (limit + 1)})

    # When each is parsed
    job = parse_push_job(at_limit)

    # Then the first is read as sent and the second refused, naming the field and its limit
    assert job.model_dump(by_alias=True)[field] == "a" * limit
    assert refusal(over) == f"invalid push job: {field}: String should have at most {limit} characters"


def test_a_one_character_msg_key_and_receiver_are_accepted_and_empty_ones_refused() -> None:
    # Given the shortest identities there are, and empty ones
    shortest = job_dict(ONE_TO_ONE, MsgKey="k", To_Account=["r"])

    # When each is parsed
    job = parse_push_job(shortest)

    # Then one character is enough, and nothing is not
    assert (job.msg_key, job.to_account) == ("k", ["r"])
    assert refusal(job_dict(ONE_TO_ONE, To_Account=["r", ""])) == (
        "invalid push job: To_Account[1]: String should have at least 1 character"
    )


def test_the_smallest_sdk_app_id_is_one() -> None:
    # Given SdkAppId 1, the smallest positive integer
    # When the job is parsed
    job = parse_push_job(job_dict(ONE_TO_ONE, SdkAppId=1))

    # Then it is accepted
    assert job.sdk_app_id == 1


@pytest.mark.parametrize(("field", "limit"), [("Sound", 256), ("Image", 1024)])
def test_an_apns_option_at_its_length_limit_is_accepted_and_one_character_more_is_refused(
    field: str, limit: int
) -> None:
    # Given a sound file name or image URL exactly at its limit, and one a character longer
    def value(length: int) -> str:
        return "s" * (length - 4) + ".caf"

    # When each is parsed
    # Then the first is read as sent and the second refused, naming the option and its limit
    assert apns_of(with_apns(**{field: value(limit)}))[field] == value(limit)
    assert refusal(with_apns(**{field: value(limit + 1)})) == (
        f"invalid push job: OfflinePushInfo.ApnsInfo.{field}: String should have at most {limit} characters"
    )


@pytest.mark.parametrize(
    "sound", ["", "default", "kIOSOfflinePushNoSound", "kIOSOfflinePushDefaultSound", "ring.caf", "a.b.wav"]
)
def test_a_sound_is_a_file_name_with_its_extension_default_or_an_sdk_constant(sound: str) -> None:
    # Given ApnsInfo.Sound naming a file with its extension, "default", or one of the SDK's constants
    # When the job is parsed
    # Then the sound is read as sent
    assert apns_of(with_apns(Sound=sound))["Sound"] == sound


@pytest.mark.parametrize(
    "sound",
    ["ring", ".caf", "ring.", "sounds/ring.caf", "sounds\\ring.caf", "Default", "kIOSOfflinePushNoSoundX"],
)
def test_a_sound_that_is_not_a_bare_file_name_is_refused(sound: str) -> None:
    # Given a sound with no extension, no name, a directory, or a near miss of a constant
    # When the job is parsed
    # Then it is refused with what a sound may be
    assert refusal(with_apns(Sound=sound)) == (
        "invalid push job: OfflinePushInfo.ApnsInfo.Sound: Sound must be a sound file name with its "
        "extension (e.g. ring.caf), 'default', kIOSOfflinePushNoSound or kIOSOfflinePushDefaultSound"
    )


def test_expiration_zero_means_try_once_and_is_accepted() -> None:
    # Given Expiration 0 (APNs: try once, never store) and a 64-character collapse id
    # When the job is parsed
    apns = apns_of(with_apns(Expiration=0, CollapseId="c" * 64))

    # Then both are read as sent
    assert (apns["Expiration"], apns["CollapseId"]) == (0, "c" * 64)


def test_a_collapse_id_of_the_wrong_type_is_named_as_such() -> None:
    # Given a collapse id sent as a number
    # When the job is parsed
    # Then the type is what is wrong, not the characters
    assert refusal(with_apns(CollapseId=7)) == (
        "invalid push job: OfflinePushInfo.ApnsInfo.CollapseId: Input should be a valid string"
    )


@pytest.mark.parametrize(
    ("badge_mode", "ignore_badge", "ignores"), [(0, 0, False), (1, 0, True), (0, 1, True), (1, 1, True)]
)
def test_the_badge_is_left_alone_when_badge_mode_or_ignore_badge_says_so(
    badge_mode: int, ignore_badge: int, ignores: bool
) -> None:
    # Given Tencent's BadgeMode and the SDK's IgnoreBadge in every combination
    # When the options are read
    apns = ApnsInfo.model_validate({"BadgeMode": badge_mode, "IgnoreBadge": ignore_badge})

    # Then either one asks to leave the badge alone
    assert apns.ignores_badge is ignores


LENGTH_BOUND_IDENTITIES = [
    ("MsgKey", job_dict(ONE_TO_ONE, MsgKey="k\ud800")),
    ("From_Account", job_dict(ONE_TO_ONE, From_Account="d\udfff")),
    ("GroupId", job_dict(ONE_TO_ONE, GroupId="@TGS#\ud800")),
    ("To_Account[1]", job_dict(ONE_TO_ONE, To_Account=["vinson", "m\udc00"])),
]


@pytest.mark.parametrize(
    ("field", "raw"), LENGTH_BOUND_IDENTITIES, ids=[f for f, _ in LENGTH_BOUND_IDENTITIES]
)
def test_an_identity_with_a_lone_surrogate_is_refused_naming_the_field(
    field: str, raw: dict[str, Any]
) -> None:
    # Given a job whose message key, sender, group or a receiver has a lone surrogate
    # When it is parsed
    # Then it is refused, naming the field (an identity UTF-8 cannot carry can never be stored or sent)
    assert refusal(raw) == (
        f"invalid push job: {field}: Input should be a valid string, "
        "unable to parse raw data as a unicode string"
    )


def test_a_badges_receiver_with_a_lone_surrogate_is_refused() -> None:
    # Given a job whose Badges name a receiver with a lone surrogate (a key: no string rule reads it)
    raw = job_dict(ONE_TO_ONE, Badges={"vinson": 1, "m\ud800": 2})

    # When it is parsed
    # Then it is refused, naming Badges
    assert refusal(raw) == "invalid push job: Badges is not valid Unicode text (it contains a lone surrogate)"


def test_a_custom_elements_ext_with_a_lone_surrogate_is_refused() -> None:
    # Given a custom element whose Ext has a lone surrogate
    raw = job_dict(ONE_TO_ONE, MsgBody=[custom(desc="card", ext="open\ud800")])

    # When it is parsed
    # Then it is refused, naming the element's Ext
    assert refusal(raw) == (
        "invalid push job: MsgBody[0].MsgContent.Ext: Ext is not valid Unicode text "
        "(it contains a lone surrogate)"
    )


def test_a_lone_surrogate_in_a_badges_receiver_is_not_repeated_in_the_reason() -> None:
    # Given a badge whose receiver has a lone surrogate and whose count is negative
    raw = job_dict(ONE_TO_ONE, Badges={"m\ud800": -1})

    # When it is parsed
    message = refusal(raw)

    # Then the path names the receiver with U+FFFD in place of the surrogate's bytes, text any encoder takes
    assert (
        message == "invalid push job: Badges.m\ufffd\ufffd\ufffd: Input should be greater than or equal to 0"
    )
    message.encode("utf-8")


def test_one_custom_element_among_others_is_accepted() -> None:
    # Given a message of two texts and one custom element
    job = parse_push_job(job_dict(ONE_TO_ONE, MsgBody=[text("a"), custom(desc="card"), text("b")]))

    # Then it is accepted as sent
    assert [element.msg_type for element in job.msg_body] == ["TIMTextElem", "TIMCustomElem", "TIMTextElem"]


def test_exactly_ten_problems_are_all_named_with_no_count_of_the_rest() -> None:
    # Given a job with ten elements whose text is a number
    raw = job_dict(
        ONE_TO_ONE, MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": n}} for n in range(10)]
    )

    # When it is parsed
    # Then all ten are named, and nothing says "more"
    named = "; ".join(f"MsgBody[{n}].MsgContent.Text: Input should be a valid string" for n in range(10))
    assert refusal(raw) == f"invalid push job: {named}"


def test_a_parsed_job_cannot_be_changed() -> None:
    # Given a parsed job (the formatter and the dispatcher share it)
    job = parse_push_job(ONE_TO_ONE)

    # When a field is assigned
    # Then the job refuses, and stays as parsed
    with pytest.raises(ValidationError, match="Instance is frozen"):
        job.msg_key = "other"  # type: ignore[misc]
    assert job.msg_key == ONE_TO_ONE["MsgKey"]
