"""A job through the push queue to the devices: one-to-one, group, several apps on one SdkAppId, both APNs
environments, badges, placeholder language, and jobs that give no notification. Moto for AWS, the APNs
sandbox over a real TLS socket."""

from __future__ import annotations

import datetime as dt

import pytest

from offline_push.dal.app_store import AppSettingsStore
from offline_push.models.app import KickPolicy, PlaceholderLanguage
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID
from tests.support.dispatch import OTHER_BUNDLE_ID, DispatchHarness
from tests.support.jobs import GROUP, IMAGE, MSG_KEY, ONE_TO_ONE, custom, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

COLLAPSE_ID = "a5cd137eed1a410ff107dbbfa323aa0e"  # derived from (SdkAppId, MsgKey): the formatter's default


def received_payloads(harness: DispatchHarness, token: str) -> list[dict[str, object]]:
    return [notification["payload"] for notification in harness.received(token)]


def badges_by_message(harness: DispatchHarness, user: str, token: str, msg_keys: list[str]) -> list[object]:
    """The badge each message showed on ``token`` (None: no badge), found by the message's apns-id."""
    shown = {n["apnsId"]: n["payload"]["aps"].get("badge") for n in harness.received(token)}
    return [shown[DeliveryKey(SDK_APP_ID, msg_key, user, token).apns_id] for msg_key in msg_keys]


def test_a_one_to_one_job_reaches_the_receivers_device_with_the_seeds_payload(
    harness: DispatchHarness,
) -> None:
    # Given vinson's device registered with a development certificate, and an unread count of 2
    harness.upload_certificate()
    tokens = harness.register("vinson")
    harness.store_devices(tokens, business_id=1, environment=ApnsEnvironment.DEVELOPMENT, badge=2)
    [token] = tokens["vinson"]

    # When the IM backend queues denny's message and the function takes it
    [message_id] = harness.enqueue(job_dict(ONE_TO_ONE, OfflinePushInfo={"Ext": "jump to denny"}))
    batches = harness.drain()

    # Then the batch succeeded and APNs received the seed's notification, with the badge counted up
    assert [(batch.message_ids, batch.failed) for batch in batches] == [((message_id,), [])]
    [notification] = harness.received(token)
    assert notification == {
        **notification,
        "apnsId": DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", token).apns_id,
        "deviceToken": token,
        "topic": BUNDLE_ID,
        "pushType": "alert",
        "priority": 10,
        "collapseId": COLLAPSE_ID,
        "environment": "development",
        "auth": "certificate",
        "payload": {
            "aps": {"alert": {"body": "Denny:hello"}, "badge": 3, "sound": "default", "thread-id": "denny"},
            "ext": "jump to denny",
        },
    }
    assert harness.badge_of("vinson") == 3


def test_a_group_job_reaches_every_receiver_with_the_group_body(harness: DispatchHarness) -> None:
    # Given two group members with a device each, one with two devices (multi-device login)
    harness.upload_certificate()
    vinson = harness.register("vinson")["vinson"]
    mum = harness.register("mum", devices_per_user=2)["mum"]

    # When a group message with a picture is dispatched
    harness.enqueue(
        job_dict(GROUP, MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "dinner "}}, IMAGE])
    )
    harness.drain()

    # Then each device got it once, threaded by the group; both of mum's devices show the same badge
    expected = {
        "aps": {
            "alert": {"body": "Dad(Family):dinner [图片]"},
            "badge": 1,
            "sound": "default",
            "thread-id": "@TGS#2J4SZEAEL",
        }
    }
    assert [received_payloads(harness, token) for token in [*vinson, *mum]] == [[expected]] * 3
    assert (harness.badge_of("vinson"), harness.badge_of("mum")) == (1, 1)


def test_two_apps_on_one_sdkappid_each_get_their_certificates_topic(harness: DispatchHarness) -> None:
    # Given two apps sharing the SdkAppId (the seed's multi-app), each with its own certificate
    chat = harness.upload_certificate(bundle_id=BUNDLE_ID)
    lite = harness.upload_certificate(bundle_id=OTHER_BUNDLE_ID)
    [on_chat] = harness.register("vinson", business_id=chat)["vinson"]
    [on_lite] = harness.register("mum", business_id=lite)["mum"]

    # When one group message reaches users of both apps
    harness.enqueue(GROUP)
    harness.drain()

    # Then each device got it under its own app's topic (Apple refuses a token of another app's topic)
    assert sorted((n["deviceToken"], n["topic"]) for n in harness.received()) == sorted(
        [(on_chat, BUNDLE_ID), (on_lite, OTHER_BUNDLE_ID)]
    )


def test_development_and_production_certificates_use_their_own_apns_endpoint(
    harness: DispatchHarness,
) -> None:
    # Given a development build registered with a development certificate, and an App Store build with a
    # production one
    development = harness.upload_certificate(environment=ApnsEnvironment.DEVELOPMENT)
    production = harness.upload_certificate(environment=ApnsEnvironment.PRODUCTION)
    [debug_phone] = harness.register("vinson", business_id=development)["vinson"]
    [store_phone] = harness.register("mum", business_id=production, environment=ApnsEnvironment.PRODUCTION)[
        "mum"
    ]

    # When a message reaches both
    harness.enqueue(GROUP)
    harness.drain()

    # Then each went to its certificate's APNs host (the sandbox records which listener took it)
    assert [harness.received(token)[0]["environment"] for token in (debug_phone, store_phone)] == [
        "development",
        "production",
    ]


def test_badges_count_once_per_message_and_follow_badge_mode_and_job_badges(harness: DispatchHarness) -> None:
    # Given vinson with an unread count of 5
    harness.upload_certificate()
    tokens = harness.register("vinson")
    harness.store_devices(tokens, business_id=1, environment=ApnsEnvironment.DEVELOPMENT, badge=5)
    [token] = tokens["vinson"]

    # When three messages come: a counted one, one that leaves the badge alone (BadgeMode 1), and one whose
    # badge the IM backend gives itself
    harness.enqueue(
        job_dict(ONE_TO_ONE, MsgKey="m-1"),
        job_dict(ONE_TO_ONE, MsgKey="m-2", OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}}),
        job_dict(ONE_TO_ONE, MsgKey="m-3", Badges={"vinson": 42}),
    )
    harness.drain()

    # Then the first shows 6 and counted, the second shows no badge, the third 42 without touching the counter
    assert badges_by_message(harness, "vinson", token, ["m-1", "m-2", "m-3"]) == [6, None, 42]
    assert harness.badge_of("vinson") == 6


def test_two_messages_to_one_receiver_in_one_batch_get_consecutive_badges(harness: DispatchHarness) -> None:
    # Given vinson with no unread messages
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]

    # When two messages for him arrive in the same batch
    harness.enqueue(job_dict(ONE_TO_ONE, MsgKey="m-1"), job_dict(ONE_TO_ONE, MsgKey="m-2"))
    harness.drain()

    # Then they show 1 and 2, in order, and the counter says 2
    assert badges_by_message(harness, "vinson", token, ["m-1", "m-2"]) == [1, 2]
    assert harness.badge_of("vinson") == 2


@pytest.mark.parametrize(
    ("app_language", "job_language", "shown"),
    [
        (None, None, "Denny:[图片]"),
        (PlaceholderLanguage.EN, None, "Denny:[Image]"),
        (PlaceholderLanguage.EN, "zh", "Denny:[图片]"),
        (None, "en", "Denny:[Image]"),
    ],
)
def test_placeholder_language_is_the_jobs_else_the_apps_else_chinese(
    harness: DispatchHarness,
    app_language: PlaceholderLanguage | None,
    job_language: str | None,
    shown: str,
) -> None:
    # Given the app's placeholder language setting, if any
    if app_language is not None:
        AppSettingsStore(harness.aws.environment["APPS_TABLE"]).save(
            SDK_APP_ID,
            kick_policy=KickPolicy.SINGLE,
            placeholder_language=app_language,
            user_auth=None,
            now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        )
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]

    # When a picture message comes, with the job's own language if any
    push_info = {"Language": job_language} if job_language else {}
    harness.enqueue(job_dict(ONE_TO_ONE, MsgBody=[IMAGE], OfflinePushInfo=push_info))
    harness.drain()

    # Then the placeholder is in the language that wins
    [payload] = received_payloads(harness, token)
    assert payload["aps"]["alert"] == {"body": shown}  # type: ignore[index]


@pytest.mark.parametrize(
    ("job", "reason"),
    [
        (job_dict(ONE_TO_ONE, OfflinePushInfo={"PushFlag": 1}), "PushDisabled"),
        (job_dict(ONE_TO_ONE, MsgBody=[custom(data="{}")]), "CustomWithoutDesc"),
    ],
)
def test_a_job_that_gives_no_notification_sends_nothing_and_says_why(
    harness: DispatchHarness, job: dict[str, object], reason: str
) -> None:
    # Given vinson's device
    harness.upload_certificate()
    harness.register("vinson")

    # When a message that must not be pushed is dispatched
    harness.enqueue(job)
    [batch] = harness.drain()

    # Then nothing reached APNs, the badge was not counted, and the message's summary says why (one item for
    # the message, none per receiver)
    assert (batch.failed, harness.received(), harness.badge_of("vinson")) == ([], [], 0)
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["noPush"]["reason"], summary["notifications"]) == (200, reason, 0)
    status, view = harness.deliveries(SDK_APP_ID, "vinson")
    assert (status, view["deliveries"]) == (200, [])


def test_receivers_without_a_device_are_counted_and_the_others_served(harness: DispatchHarness) -> None:
    # Given a group where only vinson has registered a device
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]

    # When the group message is dispatched
    harness.enqueue(job_dict(GROUP, To_Account=["vinson", "mum", "dad"]))
    harness.drain()

    # Then vinson got it, and the message says two receivers had no device
    assert len(harness.received(token)) == 1
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["outcomes"]["delivered"], summary["receiversWithoutDevice"]) == (200, 1, 2)
