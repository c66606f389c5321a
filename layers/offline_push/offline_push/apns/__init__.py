"""The APNs provider-API client: HTTP/2 over TLS, certificate or token auth, typed per-notification outcomes.

What the dispatcher uses::

    pool = ApnsClientPool(ApnsSettings.from_environ(), token_store=ProviderTokenStore(...))  # cold start
    client = pool.client_for(credential)            # per (credential.cache_key, environment), kept warm
    outcomes = await client.send(requests)          # Delivered | Failed | Retryable, one per request
"""

from offline_push.apns.client import ApnsClient, ClientStats, backoff_delay
from offline_push.apns.outcome import (
    PRUNE_REASONS,
    ApnsReason,
    Delivered,
    DeliveryOutcome,
    Failed,
    Retryable,
    is_retryable,
)
from offline_push.apns.pool import ApnsClientPool, run_in_warm_loop
from offline_push.apns.settings import ApnsSettings
from offline_push.apns.tokens import ProviderTokenSource, SharedTokenStore, StoredProviderToken

__all__ = [
    "PRUNE_REASONS",
    "ApnsClient",
    "ApnsClientPool",
    "ApnsReason",
    "ApnsSettings",
    "ClientStats",
    "Delivered",
    "DeliveryOutcome",
    "Failed",
    "ProviderTokenSource",
    "Retryable",
    "SharedTokenStore",
    "StoredProviderToken",
    "backoff_delay",
    "is_retryable",
    "run_in_warm_loop",
]
