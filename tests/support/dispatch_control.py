"""What a dispatch test controls around a dispatcher it builds: the wall clock it reads, a crash mid-run, and
an AWS call answering with an error (or preceded by another run's write) just before the dispatcher makes it.
Failures go through botocore's event hooks on the real clients, against moto: nothing of ours is replaced."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from offline_push.logic.dispatch import QueueRecord

NOW = 1_795_000_000.0

type Params = dict[str, Any]


class Clock:
    """Wall-clock seconds that the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Crash(Exception):
    """The function dying mid-run (a timeout, out of memory): nothing after it happens."""


def always(params: Params) -> bool:
    return True


def before(
    client: Any, operation: str, action: Callable[[Params], None], when: Callable[[Params], bool] = always
) -> None:
    """Run ``action`` (which may raise) once, before ``client``'s next ``operation`` whose parameters
    match."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"provide-client-params.{service}.{operation}"
    unique_id = f"before-{operation}"

    def hook(params: Params, **_: Any) -> None:
        if when(params):
            client.meta.events.unregister(event, unique_id=unique_id)
            action(params)

    client.meta.events.register(event, hook, unique_id=unique_id)


def raise_(error: Exception) -> Callable[[Params], None]:
    def action(params: Params) -> None:
        raise error

    return action


def down(operation: str) -> ClientError:
    """What an AWS service answers when it is unavailable."""
    return ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, operation)


def reads_run_markers(params: Params) -> bool:
    [request] = params["RequestItems"].values()
    return all(str(key["pk"]["S"]).startswith("run#") for key in request["Keys"])


def record(message_id: str, job: dict[str, Any]) -> QueueRecord:
    """The queue record of ``job`` as the dispatcher is given it."""
    return QueueRecord(message_id, json.dumps(job))


def iso(seconds: float) -> str:
    """An epoch time as the deliveries API writes it (UTC, milliseconds, ``Z``)."""
    return (
        dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
