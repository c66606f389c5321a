"""Clients kept across warm Lambda invocations, one per (credential, environment).

A Lambda instance handles one invocation at a time but lives for many: connections (TCP + TLS + HTTP/2
settings) opened by one invocation serve the next. Two things make that work:

- :class:`ApnsClientPool` keys clients on ``(credential.cache_key, environment)``: a rotated certificate
  has a new cache key and so gets a new connection; at most ``max_clients`` are kept (least recently used
  out). Token credentials of one signing key share one :class:`ProviderTokenSource`, backed by the fleet's
  shared token store.
- :func:`run_in_warm_loop` runs the handler's coroutine on one event loop kept for the life of the
  instance. ``asyncio.run`` would close the loop, and every connection with it, after each invocation.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from offline_push.apns.client import ApnsClient
from offline_push.apns.settings import ApnsSettings
from offline_push.apns.tokens import ProviderTokenSource, SharedTokenStore
from offline_push.models.credential import ApnsCredential, ApnsEnvironment, TokenCredential


class ApnsClientPool:
    def __init__(
        self,
        settings: ApnsSettings,
        *,
        token_store: SharedTokenStore | None = None,
        max_clients: int = 64,
    ) -> None:
        self.settings = settings
        self.token_store = token_store
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, ApnsEnvironment], ApnsClient] = OrderedDict()
        self._token_sources: dict[tuple[str, str], ProviderTokenSource] = {}
        self._retired: list[ApnsClient] = []

    def __len__(self) -> int:
        return len(self._clients)

    @staticmethod
    def key_of(credential: ApnsCredential) -> tuple[str, ApnsEnvironment]:
        if not credential.cache_key:
            raise ValueError("a pooled credential needs a cache_key (sdkAppId, businessId, version)")
        return credential.cache_key, credential.environment

    def client_for(self, credential: ApnsCredential) -> ApnsClient:
        """The client of this credential and its environment, created on first use."""
        key = self.key_of(credential)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        token_source = None
        if isinstance(credential, TokenCredential):
            source_key = (credential.team_id, credential.key_id)
            token_source = self._token_sources.get(source_key)
            if token_source is None:
                token_source = ProviderTokenSource(
                    team_id=credential.team_id,
                    key_id=credential.key_id,
                    signing_key=credential.signing_key,
                    store=self.token_store,
                )
                self._token_sources[source_key] = token_source
        client = ApnsClient(credential, self.settings, token_source=token_source)
        self._clients[key] = client
        while len(self._clients) > self.max_clients:
            _, oldest = self._clients.popitem(last=False)
            self._retired.append(oldest)  # closed at the next close_retired(): it may have a batch running
        return client

    async def close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for client in retired:
            await client.close()

    async def close(self) -> None:
        await self.close_retired()
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.close()


_warm_loop: asyncio.AbstractEventLoop | None = None


def run_in_warm_loop[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on this process's long-lived event loop (see the module doc)."""
    global _warm_loop  # noqa: PLW0603 - one loop per Lambda instance is the point
    if _warm_loop is None or _warm_loop.is_closed():
        _warm_loop = asyncio.new_event_loop()
    return _warm_loop.run_until_complete(coroutine)
