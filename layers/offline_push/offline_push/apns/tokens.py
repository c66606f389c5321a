"""Provider authentication tokens (ES256 JWTs) for token-based APNs connections.

Apple's rules: a token carries ``alg``/``kid`` in its header and ``iss`` (team id) / ``iat`` in its claims;
APNs rejects one older than an hour (``ExpiredProviderToken``) and answers ``TooManyProviderTokenUpdates``
when the tokens of one key change more often than every 20 minutes. A fleet of Lambda instances that each
minted their own token would hit that limit, so tokens are shared: one per (team, key), kept in a
:class:`SharedTokenStore` (DynamoDB in production), replaced by a single writer through a conditional write
once it is 50 minutes old, and adopted by everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from offline_push.errors import StorageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

logger = logging.getLogger(__name__)

APPLE_MAX_AGE = 60 * 60  # APNs rejects older tokens
REUSE_FOR = 50 * 60  # replaced this long after it was issued: ten minutes before Apple would reject it
MIN_REFRESH_INTERVAL = 20 * 60  # never replaced sooner: Apple's limit on token updates


@dataclass(frozen=True, slots=True)
class StoredProviderToken:
    """A signed token and its ``iat`` (epoch seconds)."""

    token: str = field(repr=False)
    issued_at: int


class SharedTokenStore(Protocol):
    """Where the fleet keeps the current token of each signing key (see ``dal.provider_token_store``)."""

    def get(self, team_id: str, key_id: str) -> StoredProviderToken | None: ...

    def put_if_unchanged(
        self, team_id: str, key_id: str, token: StoredProviderToken, *, expected_issued_at: int | None
    ) -> bool:
        """Store ``token`` only if the stored one still has ``expected_issued_at`` (``None``: no token)."""
        ...


def sign_provider_token(team_id: str, key_id: str, signing_key: ec.EllipticCurvePrivateKey, iat: int) -> str:
    # PyJWT only where a token is signed: a dispatcher whose apps all use .p12 certificates never loads it.
    import jwt  # noqa: PLC0415

    return jwt.encode({"iss": team_id, "iat": iat}, signing_key, algorithm="ES256", headers={"kid": key_id})


class ProviderTokenSource:
    """The current ``authorization`` header value of one signing key, refreshed by Apple's rules.

    :meth:`header` is the hot path (no I/O); when it returns ``None`` the caller awaits :meth:`refresh`,
    which runs at most once at a time per source however many requests wait for it.
    """

    def __init__(
        self,
        *,
        team_id: str,
        key_id: str,
        signing_key: ec.EllipticCurvePrivateKey,
        store: SharedTokenStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.key_id = key_id
        self._signing_key = signing_key
        self._store = store
        self._clock = clock
        self._current: StoredProviderToken | None = None
        self._header: bytes | None = None
        self._refreshing: asyncio.Future[bytes] | None = None
        self.minted = 0  # tokens this source signed and put into use
        self.adopted = 0  # tokens this source took from the shared store

    def __repr__(self) -> str:
        return f"ProviderTokenSource(team_id={self.team_id!r}, key_id={self.key_id!r})"

    @property
    def issued_at(self) -> int | None:
        return self._current.issued_at if self._current else None

    def header(self) -> bytes | None:
        """``bearer <jwt>`` while the current token is young enough to use, else ``None``."""
        current = self._current
        if current is None or self._clock() - current.issued_at >= REUSE_FOR:
            return None
        return self._header

    async def refresh(self, *, rejected: bytes | None = None) -> bytes:
        """A usable header: the shared token, or a new one if it is stale (or is ``rejected`` as expired)."""
        loop = asyncio.get_running_loop()
        pending = self._refreshing
        if pending is None or pending.done() or pending.get_loop() is not loop:
            pending = loop.create_task(self._refresh(rejected))
            self._refreshing = pending
        return await asyncio.shield(pending)

    async def _refresh(self, rejected: bytes | None) -> bytes:
        if rejected is not None and self._header is not None and rejected != self._header:
            fresh = self.header()
            if fresh is not None:  # someone already replaced the rejected token
                return fresh
        rejected_token = rejected.removeprefix(b"bearer ").decode() if rejected else None
        stored = await self._read_shared()
        now = self._clock()
        if stored is not None:
            age = now - stored.issued_at
            if stored.token != rejected_token and age < REUSE_FOR:
                return self._adopt(stored, minted=False)
            if age < MIN_REFRESH_INTERVAL:
                # Apple calls a token expired that is minutes old by our clock: the clocks disagree, and a
                # new token would be just as expired. Keep it (the notification stays retryable) rather
                # than trip TooManyProviderTokenUpdates.
                logger.warning(
                    "APNs rejected a %d-second-old provider token of key %s as expired: check the clock",
                    int(age),
                    self.key_id,
                )
                return self._adopt(stored, minted=False)
        fresh_token = StoredProviderToken(
            sign_provider_token(self.team_id, self.key_id, self._signing_key, int(now)), int(now)
        )
        if self._store is not None:
            expected = stored.issued_at if stored else None
            try:
                won = await asyncio.to_thread(
                    self._store.put_if_unchanged,
                    self.team_id,
                    self.key_id,
                    fresh_token,
                    expected_issued_at=expected,
                )
                if not won:  # another instance replaced it first: use theirs
                    winner = await asyncio.to_thread(self._store.get, self.team_id, self.key_id)
                    if winner is not None:
                        return self._adopt(winner, minted=False)
            except StorageError:
                logger.warning("provider token store unwritable for key %s; using a local token", self.key_id)
        logger.info("new APNs provider token for key %s (iat %d)", self.key_id, fresh_token.issued_at)
        return self._adopt(fresh_token, minted=True)

    async def _read_shared(self) -> StoredProviderToken | None:
        if self._store is None:
            return self._current
        try:
            return await asyncio.to_thread(self._store.get, self.team_id, self.key_id)
        except StorageError:
            # The store is down: keep sending with what this instance has (or mints) rather than not at all.
            logger.warning("provider token store unreadable for key %s; using a local token", self.key_id)
            return self._current

    def _adopt(self, token: StoredProviderToken, *, minted: bool) -> bytes:
        if self._current is None or token.token != self._current.token:
            if minted:
                self.minted += 1
            else:
                self.adopted += 1
        self._current = token
        self._header = b"bearer " + token.token.encode()
        return self._header
