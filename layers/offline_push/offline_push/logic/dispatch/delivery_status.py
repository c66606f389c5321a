"""Delivery-status log lines: what became of each push, as SNS's delivery status logging reports it.

Nothing is written to DynamoDB for a delivered push. Instead each gets one JSON line in the function's log
(CloudWatch Logs), ``message: "delivery status"``: delivered ones sampled at ``success_sample_rate`` percent
(the ``DeliverySuccessSampleRate`` stack parameter), the others (failed, retrying) always. The sample is
decided by the notification's ``apns-id``, so a notification retried across runs is sampled the same way
each time. The README has the CloudWatch Logs Insights query for one user's recent pushes.

Lines are built with ``json`` and written in one call per run: a Powertools log call costs about ten
times as much, which at thousands of pushes per run would be a large share of the run's CPU.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from offline_push.apns import Delivered
from offline_push.logic.dispatch.work import Item
from offline_push.models.delivery import Delivery, DeliveryState, OutcomeUpdate

_dumps: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
SAMPLE_SCALE: Final = 10_000  # the rate's resolution: hundredths of a percent


def _logging_info() -> bool:
    """Whether the function logs at INFO (the ``LogLevel`` parameter, as Powertools reads it)."""
    level = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    number = logging.getLevelName(level.upper())
    return not isinstance(number, int) or number <= logging.INFO


def sampled(apns_id: str, rate: float) -> bool:
    """Whether a delivered notification gets its line: ``rate`` percent of apns-ids, always the same ones."""
    if rate >= 100:
        return True
    if rate <= 0:
        return False
    return int(apns_id[:8], 16) % SAMPLE_SCALE < rate * (SAMPLE_SCALE / 100)


class DeliveryStatusLog:
    def __init__(self, success_sample_rate: float, write: Callable[[str], object] | None = None) -> None:
        self.success_sample_rate = success_sample_rate
        self._write = write
        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME", "offline-push")
        self.enabled = _logging_info()

    def write(self, run: str, owned: Iterable[Item], updates: Iterable[OutcomeUpdate]) -> int:
        """One line per delivered notification sampled and per update (not delivered); the number written."""
        if not self.enabled:
            return 0
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        head = {"level": "INFO", "message": "delivery status", "timestamp": now, "service": self.service}
        lines = []
        rate = self.success_sample_rate
        for item in owned:
            outcome = item.outcome
            if isinstance(outcome, Delivered) and item.final is None and sampled(outcome.apns_id, rate):
                line = self._line(head, run, item.delivery, "SUCCESS", code=200, apns_id=outcome.apns_id)
                lines.append(_dumps(line))
        for update in updates:
            status = "RETRYING" if update.state is DeliveryState.RETRYING else "FAILURE"
            line = self._line(head, run, update.delivery, status, code=update.status, reason=update.reason)
            lines.append(_dumps(line))
        if lines:
            (self._write or sys.stdout.write)("\n".join(lines) + "\n")
        return len(lines)

    @staticmethod
    def _line(
        head: Mapping[str, object],
        run: str,
        delivery: Delivery,
        status: str,
        *,
        code: int | None,
        reason: str | None = None,
        apns_id: str | None = None,
    ) -> dict[str, object]:
        key = delivery.key
        line: dict[str, object] = {
            **head,
            "status": status,
            "sdkAppId": key.sdk_app_id,
            "msgKey": key.msg_key,
            "userId": key.user_id,
            "device": key.device,
            "businessId": delivery.business_id,
            "environment": delivery.environment.value,
            "apnsId": apns_id or key.apns_id,  # a delivered one's outcome has it: uuid5 is not free
            "attempt": delivery.attempt,
            "run": run,
        }
        if delivery.badge is not None:
            line["badge"] = delivery.badge
        if code is not None:
            line["statusCode"] = code
        if reason:
            line["reason"] = reason
        return line
