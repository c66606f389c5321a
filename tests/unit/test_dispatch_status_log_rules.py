"""Delivery-status log lines (README "Delivery-status logs"): which pushes get a line, each line's exact
fields, the success sample's boundaries, and the log level that turns the lines off."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from offline_push.apns import Delivered, Failed
from offline_push.logic.dispatch.delivery_status import DeliveryStatusLog, sampled
from offline_push.logic.dispatch.work import Item, QueueRecord, Work
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import Delivery, DeliveryKey, DeliveryState, OutcomeUpdate
from offline_push.models.task import parse_queue_message
from tests.support.jobs import ONE_TO_ONE

TOKEN = "7a295fa6" + "0" * 56
OTHER_TOKEN = "3fe4a626" + "1" * 56
REGISTERED = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _work() -> Work:
    body = json.dumps(ONE_TO_ONE)
    return Work(QueueRecord("message-1", body), parse_queue_message(body))


def _delivery(user: str, token: str, *, badge: int | None, attempt: int = 1) -> Delivery:
    return Delivery(
        key=DeliveryKey(1400000001, "m-1", user, token),
        business_id=2,
        environment=ApnsEnvironment.DEVELOPMENT,
        registered_at=REGISTERED,
        badge=badge,
        attempt=attempt,
    )


def _written(rate: float, owned: list[Item], updates: list[OutcomeUpdate]) -> tuple[int, str]:
    chunks: list[str] = []
    count = DeliveryStatusLog(rate, write=chunks.append).write("run-1", owned, updates)
    assert len(chunks) <= 1  # one write per run
    return count, "".join(chunks)


def _lines(text: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert TIMESTAMP.fullmatch(str(line.pop("timestamp")))
    return lines


def test_each_push_not_delivered_and_each_sampled_delivery_gets_one_exact_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a run that delivered one push, decided one without APNs, got one failure, and two updates
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "chat-push")
    work = _work()
    delivered = _delivery("张三", TOKEN, badge=3)
    apns_id = delivered.key.apns_id
    failed_delivery = _delivery("mum", OTHER_TOKEN, badge=None, attempt=2)
    owned = [
        Item(work, delivered, outcome=Delivered(apns_id, TOKEN)),
        # Delivered but also given a final record (it is reported by its update, not as a success)
        Item(
            work,
            _delivery("dad", TOKEN, badge=1),
            outcome=Delivered("00000000-0000-5000-8000-000000000000", TOKEN),
            final=OutcomeUpdate(failed_delivery, "run-1", DeliveryState.FAILED, "CertificateNotFound", 0),
        ),
        Item(work, _delivery("kid", TOKEN, badge=1), outcome=Failed("x", TOKEN, 400, "BadDeviceToken")),
    ]
    updates = [
        OutcomeUpdate(failed_delivery, "run-1", DeliveryState.RETRYING, "ServiceUnavailable", 0, status=503),
        OutcomeUpdate(failed_delivery, "run-1", DeliveryState.FAILED, "CertificateNotFound", 0),
    ]

    # When the run writes its lines
    count, text = _written(100.0, owned, updates)

    # Then three compact JSON lines (non-ASCII kept as it is), in one write ending with a newline
    assert count == 3
    assert text.endswith("}\n")
    assert text.count("\n") == 3
    assert '"userId":"张三"' in text
    head = {"level": "INFO", "message": "delivery status", "service": "chat-push"}
    failed_fields = {
        "sdkAppId": 1400000001,
        "msgKey": "m-1",
        "userId": "mum",
        "device": "3fe4a626…(32B)",
        "businessId": 2,
        "environment": "development",
        "apnsId": failed_delivery.key.apns_id,
        "attempt": 2,
        "run": "run-1",
    }
    assert _lines(text) == [
        {
            **head,
            "status": "SUCCESS",
            "sdkAppId": 1400000001,
            "msgKey": "m-1",
            "userId": "张三",
            "device": "7a295fa6…(32B)",
            "businessId": 2,
            "environment": "development",
            "apnsId": apns_id,
            "attempt": 1,
            "run": "run-1",
            "badge": 3,
            "statusCode": 200,
        },
        {**head, "status": "RETRYING", **failed_fields, "statusCode": 503, "reason": "ServiceUnavailable"},
        {**head, "status": "FAILURE", **failed_fields, "reason": "CertificateNotFound"},
    ]


def test_the_service_name_defaults_to_offline_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    update = OutcomeUpdate(
        _delivery("mum", TOKEN, badge=None), "run-1", DeliveryState.FAILED, "", 0, status=410
    )

    count, text = _written(100.0, [], [update])

    # And an empty reason is left out, a status kept
    assert count == 1
    [line] = _lines(text)
    assert (line["service"], line["statusCode"], "reason" in line) == ("offline-push", 410, False)


def test_without_a_writer_the_lines_go_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    update = OutcomeUpdate(_delivery("mum", TOKEN, badge=None), "run-1", DeliveryState.FAILED, "Gone", 0)

    assert DeliveryStatusLog(100.0).write("run-1", [], [update]) == 1

    [line] = _lines(capsys.readouterr().out)
    assert (line["status"], line["reason"]) == ("FAILURE", "Gone")


def test_a_run_with_nothing_to_report_writes_nothing() -> None:
    unsampled = _delivery("mum", TOKEN, badge=None)
    owned = [Item(_work(), unsampled, outcome=Delivered(unsampled.key.apns_id, TOKEN))]

    assert _written(0.0, owned, []) == (0, "")


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({"LOG_LEVEL": "WARNING"}, False),
        ({"LOG_LEVEL": "info"}, True),  # INFO itself logs
        ({"POWERTOOLS_LOG_LEVEL": "DEBUG", "LOG_LEVEL": "ERROR"}, True),  # Powertools' variable first
        ({"POWERTOOLS_LOG_LEVEL": "ERROR", "LOG_LEVEL": "DEBUG"}, False),
        ({"LOG_LEVEL": "CHATTY"}, True),  # a level Python does not know: logged, as Powertools does
        ({}, True),
    ],
)
def test_the_lines_follow_the_functions_log_level(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], enabled: bool
) -> None:
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    update = OutcomeUpdate(_delivery("mum", TOKEN, badge=None), "run-1", DeliveryState.FAILED, "Gone", 0)

    count, text = _written(100.0, [], [update])

    assert (count, bool(text)) == ((1, True) if enabled else (0, False))


@pytest.mark.parametrize(
    ("apns_id", "rate", "logged"),
    [
        ("00001f3f-0000-5000-8000-000000000000", 80.0, True),  # 7999 < 80% of 10,000
        ("00001f40-0000-5000-8000-000000000000", 80.0, False),  # 8000: the first one out
        ("ffffffff-0000-5000-8000-000000000000", 80.0, True),  # 4294967295 % 10,000 = 7295
        ("000003e7-0000-5000-8000-000000000000", 10.0, True),  # 999
        ("000003e8-0000-5000-8000-000000000000", 10.0, False),  # 1000
        ("00000031-0000-5000-8000-000000000000", 0.5, True),  # 49: a rate under 1% still samples
        ("00000032-0000-5000-8000-000000000000", 0.5, False),  # 50
        ("00000000-0000-5000-8000-000000000000", 0.0, False),  # 0%: none, not even the lowest id
        ("ffffffff-0000-5000-8000-000000000000", 100.0, True),
        ("00001f40-0000-5000-8000-000000000000", 100.0, True),
    ],
)
def test_the_sample_is_the_first_8_hex_digits_in_hundredths_of_a_percent(
    apns_id: str, rate: float, logged: bool
) -> None:
    assert sampled(apns_id, rate) is logged
