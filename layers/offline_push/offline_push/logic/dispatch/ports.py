"""What the dispatcher works with: the stores, the queue and the credentials, as the stages call them.

The implementations are in :mod:`offline_push.dal` (DynamoDB, S3, SQS); the dispatch function wires them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from offline_push.dal.delivery_store import ClaimResult, UnitClaimResult
from offline_push.dal.push_queue import OutgoingTask
from offline_push.models.app import PlaceholderLanguage, UserAuthKey
from offline_push.models.credential import ApnsCredential
from offline_push.models.delivery import (
    Claim,
    DeliveryKey,
    MessageInfo,
    OutcomeUpdate,
    StoredDelivery,
    TakeOver,
    UnitClaim,
    UnitTakeOver,
)
from offline_push.models.registration import UserRegistrations


class RegistrationSource(Protocol):
    def get_many(
        self, sdk_app_id: int, user_ids: Iterable[str], *, consistent: bool = False
    ) -> dict[str, UserRegistrations]: ...

    def add_to_badges(self, sdk_app_id: int, increments: Mapping[str, int]) -> dict[str, int]: ...

    def remove_device(
        self, sdk_app_id: int, user_id: str, token: str, *, unless_registered_after: dt.datetime | None = None
    ) -> bool: ...


class CredentialSource(Protocol):
    def load(self, sdk_app_id: int, business_id: int) -> ApnsCredential: ...

    def invalidate(self, sdk_app_id: int, business_id: int) -> None: ...


class LanguageSource(Protocol):
    def placeholder_language(self, sdk_app_id: int) -> PlaceholderLanguage: ...


class DeliveryLedger(Protocol):
    def claim(self, claims: Sequence[Claim]) -> list[ClaimResult]: ...

    def take_over(self, takeovers: Sequence[TakeOver]) -> list[ClaimResult]: ...

    def record(self, updates: Sequence[OutcomeUpdate]) -> list[bool]: ...

    def put_message_infos(self, infos: Sequence[MessageInfo]) -> None: ...

    def complete_run(self, run: str, now_ms: int) -> None: ...

    def completed_runs(self, runs: Iterable[str]) -> set[str]: ...

    def claim_units(self, claims: Sequence[UnitClaim]) -> list[UnitClaimResult]: ...

    def take_over_units(self, takeovers: Sequence[UnitTakeOver]) -> list[UnitClaimResult]: ...

    def mark_orphans(self, sdk_app_id: int, msg_key: str, unit: str, run: str) -> None: ...

    def deliveries_of(self, keys: Sequence[DeliveryKey]) -> dict[DeliveryKey, StoredDelivery]: ...

    def put_unit_outcomes(self, updates: Sequence[OutcomeUpdate]) -> None: ...

    def put_unit_retries(self, updates: Sequence[OutcomeUpdate]) -> list[bool]: ...


class TaskQueue(Protocol):
    def send(self, tasks: Sequence[OutgoingTask]) -> list[bool]: ...

    def dead_letter(self, body: str, *, code: str, reason: str, message_id: str) -> None: ...


class NoUserAuthKeys:
    """The dispatcher reads app settings (the placeholder language) and never the app's user-auth keys:
    it has no access to them (least privilege)."""

    def put(self, sdk_app_id: int, key: UserAuthKey) -> None:
        raise PermissionError("the dispatcher does not write user-auth keys")

    def get(self, sdk_app_id: int) -> UserAuthKey | None:
        return None
