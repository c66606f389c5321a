"""Provider token refresh by Apple's rules, for one instance (no shared store)."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from offline_push.apns import ProviderTokenSource
from offline_push.apns.tokens import MIN_REFRESH_INTERVAL, REUSE_FOR


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _source(clock: Clock) -> ProviderTokenSource:
    key = ec.generate_private_key(ec.SECP256R1())
    return ProviderTokenSource(team_id="ABCDE12345", key_id="KEY1234567", signing_key=key, clock=clock)


def _iat(header: bytes) -> int:
    claims = jwt.decode(header.removeprefix(b"bearer "), options={"verify_signature": False})
    return int(claims["iat"])


async def test_a_token_is_reused_until_fifty_minutes_then_replaced() -> None:
    # Given a token just minted
    clock = Clock()
    source = _source(clock)
    first = await source.refresh()

    # When 49 minutes pass, then 50
    clock.now += REUSE_FOR - 60
    still = source.header()
    clock.now += 60
    stale = source.header()
    second = await source.refresh()

    # Then the same token serves for 49 minutes and a new one (with the new iat) after 50
    assert still == first
    assert stale is None
    assert second != first
    assert _iat(second) - _iat(first) == REUSE_FOR
    assert source.minted == 2


async def test_a_token_rejected_as_expired_is_replaced_once_it_is_twenty_minutes_old() -> None:
    # Given a 25-minute-old token that APNs rejected as expired
    clock = Clock()
    source = _source(clock)
    first = await source.refresh()
    clock.now += MIN_REFRESH_INTERVAL + 5 * 60

    # When the rejected token is reported, twice (two requests saw the rejection)
    second = await source.refresh(rejected=first)
    third = await source.refresh(rejected=first)

    # Then one new token replaces it; the second report finds it already replaced
    assert second != first
    assert third == second
    assert source.minted == 2


async def test_a_token_rejected_as_expired_within_twenty_minutes_is_kept() -> None:
    # Given a 5-minute-old token that APNs rejected as expired (the clocks disagree)
    clock = Clock()
    source = _source(clock)
    first = await source.refresh()
    clock.now += 5 * 60

    # When the rejection is reported
    kept = await source.refresh(rejected=first)

    # Then no new token is minted: it would be as "expired", and Apple limits token updates
    assert kept == first
    assert source.minted == 1


async def test_concurrent_refreshes_mint_one_token() -> None:
    import asyncio  # noqa: PLC0415

    source = _source(Clock())
    headers = await asyncio.gather(*(source.refresh() for _ in range(20)))
    assert len(set(headers)) == 1
    assert source.minted == 1


def test_the_source_repr_names_the_key_not_the_token() -> None:
    assert repr(_source(Clock())) == "ProviderTokenSource(team_id='ABCDE12345', key_id='KEY1234567')"
