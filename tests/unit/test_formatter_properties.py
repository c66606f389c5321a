"""Rules that must hold for every schema-valid job: any Unicode, emoji, huge texts, many elements.

The payload is valid UTF-8 JSON of at most 4096 bytes, ext arrives byte for byte, the body is the rules'
body or a prefix of it ending in an ellipsis, and formatting never raises.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline_push.logic.formatter import MAX_BADGE, NoPush, NoPushReason, prepare
from offline_push.logic.placeholders import PLACEHOLDERS
from offline_push.logic.text_fit import ELLIPSIS
from offline_push.models.job import Language, parse_push_job
from offline_push.models.notification import MAX_PAYLOAD_BYTES, Notification
from tests.support.jobs import FACE, FILE, IMAGE, LOCATION, RELAY, SOUND, VIDEO

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Grapheme clusters that a naive cut would break: ZWJ families, skin tones, flags, keycaps, combining marks.
CLUSTERS = [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f44d\U0001f3fd",
    "\U0001f1e8\U0001f1f3",
    "\U0001f1fa\U0001f1f8",
    "1\ufe0f\u20e3",
    "e\u0301",
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "好",
    "a",
]

short_text = st.text(max_size=40)
# Up to about 40,000 characters: repeated, so hypothesis need not generate them one by one.
huge_text = st.builds(
    lambda unit, times: unit * times, st.text(min_size=1, max_size=12), st.integers(1, 3500)
)
# Cluster lists long enough to need shortening more often than not.
cluster_lists = st.builds(
    lambda unit, times: unit * times,
    st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=30),
    st.integers(1, 600),
)
cluster_text = cluster_lists.map("".join)
any_text = st.one_of(short_text, short_text, huge_text, cluster_text)

placeholder_element = st.sampled_from([LOCATION, FACE, SOUND, IMAGE, FILE, VIDEO, RELAY])
text_element = any_text.map(lambda value: {"MsgType": "TIMTextElem", "MsgContent": {"Text": value}})
custom_element = st.fixed_dictionaries(
    {"Data": short_text},
    optional={
        "Desc": any_text,
        "Ext": any_text,
        "Sound": st.sampled_from(["ding.caf", "kIOSOfflinePushNoSound"]),
    },
).map(lambda content: {"MsgType": "TIMCustomElem", "MsgContent": content})


@st.composite
def message_bodies(draw: st.DrawFn) -> list[dict[str, Any]]:
    elements = draw(st.lists(st.one_of(text_element, placeholder_element), max_size=40))
    if draw(st.booleans()):  # Tencent allows one custom element per message
        elements.insert(draw(st.integers(0, len(elements))), draw(custom_element))
    return elements or [draw(text_element)]


apns_infos = st.fixed_dictionaries(
    {},
    optional={
        "Sound": st.sampled_from(
            ["", "a.caf", "default", "kIOSOfflinePushNoSound", "kIOSOfflinePushDefaultSound"]
        ),
        "BadgeMode": st.sampled_from([0, 1]),
        "Title": any_text,
        "SubTitle": any_text,
        "Image": st.sampled_from(["", "https://cdn.example/p/1.png"]),
        "MutableContent": st.sampled_from([0, 1]),
        "InterruptionLevel": st.sampled_from(["passive", "active", "time-sensitive", "critical"]),
        "IgnoreBadge": st.sampled_from([0, 1]),
        "BackgroundNotification": st.sampled_from([0, 0, 0, 1]),
        "CollapseId": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64),
        "Expiration": st.integers(0, 2**40),
    },
)
offline_push_infos = st.fixed_dictionaries(
    {},
    optional={
        "PushFlag": st.sampled_from([0, 0, 0, 1]),
        "Title": any_text,
        "Desc": st.one_of(st.just(""), any_text),
        "Ext": any_text,
        "Language": st.sampled_from(["zh", "en"]),
        "ApnsInfo": apns_infos,
    },
)


@st.composite
def jobs(draw: st.DrawFn) -> dict[str, Any]:
    job: dict[str, Any] = {
        "SdkAppId": draw(st.integers(1, 2**40)),
        "MsgKey": draw(st.text(min_size=1, max_size=64)),
        "From_Account": draw(st.text(max_size=32)),
        "To_Account": ["receiver"],
        "MsgBody": draw(message_bodies()),
    }
    for name in ("SenderNickname",):
        if draw(st.booleans()):
            job[name] = draw(any_text)
    if draw(st.booleans()):
        job["GroupId"] = draw(st.text(min_size=1, max_size=48))
        for name in ("GroupName", "SenderNameCard"):
            if draw(st.booleans()):
                job[name] = draw(any_text)
    if draw(st.booleans()):
        job["OfflinePushInfo"] = draw(offline_push_infos)
    return job


badges = st.one_of(st.none(), st.integers(min_value=-10, max_value=2**40))
languages = st.sampled_from([Language.ZH, Language.EN])


def rules_body(job: dict[str, Any], language: Language) -> str:
    """The body before any shortening, straight from the rules: the oracle the formatter is held to."""
    push_info = job.get("OfflinePushInfo", {})
    if push_info.get("Desc"):
        return str(push_info["Desc"])
    placeholders = PLACEHOLDERS[Language(push_info.get("Language") or language)]
    pieces = []
    for element in job["MsgBody"]:
        content = element["MsgContent"]
        if element["MsgType"] == "TIMTextElem":
            pieces.append(content["Text"])
        elif element["MsgType"] == "TIMCustomElem":
            pieces.append(content.get("Desc", ""))
        else:
            pieces.append(placeholders[element["MsgType"]])
    body = "".join(pieces)
    if not body:
        return ""
    if job.get("GroupId"):
        name = job.get("SenderNameCard") or job.get("SenderNickname") or ""
        label = f"{name}({job['GroupName']})" if job.get("GroupName") else name
    else:
        label = job.get("SenderNickname", "")
    return f"{label}:{body}" if label else body


def expected_ext(job: dict[str, Any]) -> str:
    if "OfflinePushInfo" in job:
        return str(job["OfflinePushInfo"].get("Ext", ""))
    customs = [e["MsgContent"] for e in job["MsgBody"] if e["MsgType"] == "TIMCustomElem"]
    return str(customs[0].get("Ext", "")) if customs else ""


@PROPERTY_SETTINGS
@given(raw=jobs(), receivers=st.lists(st.tuples(badges, languages), min_size=1, max_size=4))
def test_any_valid_job_gives_a_valid_payload_or_a_reason(
    raw: dict[str, Any], receivers: list[tuple[int | None, Language]]
) -> None:
    # Given any schema-valid job, prepared once for its receivers
    prepared = prepare(parse_push_job(raw))
    push_info = raw.get("OfflinePushInfo", {})
    apns_info = push_info.get("ApnsInfo", {})
    ext = expected_ext(raw)

    for badge, language in receivers:
        # When it is formatted for a receiver (it never raises)
        result = prepared.notification(badge, language)

        # Then it is a reasoned "no push" that the job explains ...
        if isinstance(result, NoPush):
            if push_info.get("PushFlag") == 1:
                assert result.reason is NoPushReason.PUSH_DISABLED
            elif result.reason in (NoPushReason.CUSTOM_WITHOUT_DESC, NoPushReason.EMPTY_CONTENT):
                assert rules_body(raw, language) == ""
            else:
                assert result.reason is NoPushReason.EXT_TOO_LARGE
                # Measured as it is written in the payload: control characters take 6 bytes escaped.
                assert len(json.dumps(ext, ensure_ascii=False).encode()) > MAX_PAYLOAD_BYTES - 600
            continue

        # ... or a payload of at most 4096 bytes of valid UTF-8 JSON (no character split) ...
        assert isinstance(result, Notification)
        assert len(result.payload) <= MAX_PAYLOAD_BYTES
        payload = json.loads(result.payload.decode("utf-8", errors="strict"))

        # ... carrying ext exactly as given, byte for byte ...
        if ext:
            assert payload["ext"] == ext
            assert json.dumps(ext, ensure_ascii=False).encode() in result.payload
        else:
            assert "ext" not in payload

        aps = payload["aps"]
        if apns_info.get("BackgroundNotification") == 1:
            assert aps == {"content-available": 1}
            continue

        # ... whose body is the rules' body, or a prefix of it with an ellipsis ...
        body = aps["alert"]["body"]
        full = rules_body(raw, language)
        assert body == full or (body.endswith(ELLIPSIS) and full.startswith(body[: -len(ELLIPSIS)]))

        # ... and whose badge is the receiver's, unless the job ignores it
        if prepared.counts_toward_badge and badge is not None:
            assert aps["badge"] == min(max(badge, 0), MAX_BADGE)
        else:
            assert "badge" not in aps


@PROPERTY_SETTINGS
@given(clusters=cluster_lists)
def test_a_shortened_body_ends_between_grapheme_clusters(clusters: list[str]) -> None:
    # Given a text made of emoji sequences, flags and marked letters
    job = parse_push_job(
        {
            "SdkAppId": 1,
            "MsgKey": "k",
            "To_Account": ["r"],
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "".join(clusters)}}],
        }
    )

    # When it is formatted
    result = prepare(job).notification(3)

    # Then the body is the text, or its first whole clusters followed by an ellipsis
    assert isinstance(result, Notification)
    body = json.loads(result.payload)["aps"]["alert"]["body"]
    if body.endswith(ELLIPSIS) and body != "".join(clusters):
        kept = body[: -len(ELLIPSIS)]
        boundaries = {"".join(clusters[:count]) for count in range(len(clusters) + 1)}
        assert kept in boundaries
    else:
        assert body == "".join(clusters)
