"""What the push queue carries: the IM backend's jobs, and the dispatcher's own tasks.

The IM backend puts push jobs in Tencent's format on the queue (:mod:`offline_push.models.job`). The
dispatcher puts two kinds of task of its own on the same queue, so that any instance can take them:

- a **chunk** of a large group job (the job with ``To_Account`` cut to a slice of its receivers);
- a **retry** of the deliveries that APNs answered with something worth retrying (429, 5xx, a lost
  connection): the job, the generating run, and just those deliveries, each with the badge already computed.

A task is a JSON object with an ``OfflinePushTask`` header, which no Tencent job has, and a ``version``, so a
task written by a newer release is recognised (and dead-lettered with its reason) by an older one instead of
being misread::

    {"OfflinePushTask": {"version": 1, "kind": "retry", "run": "3f2a..."},
     "Job": {...the job, To_Account = the receivers concerned...},
     "Deliveries": [{"userId": "vinson", "token": "740f...", "businessId": 1, "badge": 4, "attempts": 1,
                     "reason": "ServiceUnavailable"}]}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offline_push.errors import InvalidPushJob
from offline_push.models.job import PushJob, describe_job_errors, parse_push_job
from offline_push.untrusted import UnreadableInput, has_lone_surrogate, is_panic, load_json

TASK_FIELD: Final = "OfflinePushTask"
TASK_VERSION: Final = 1
# SQS takes 256 KiB per message (body and attributes) and per SendMessageBatch call; tasks stay under this.
MAX_TASK_BYTES: Final = 240_000
# What a queue message can be at most (SQS's largest message; the body alone is smaller still).
MAX_MESSAGE_CHARS: Final = 1_048_576
# A job nests 6 levels (task, Job, MsgBody, element, MsgContent, ImageInfoArray item); unknown fields may add
# some. Deeper is garbage, refused before a recursive parser sees it.
MAX_JOB_DEPTH: Final = 64
MAX_MSG_KEY_CHARS: Final = 256

# ASCII-only JSON: a job may carry lone surrogates, which UTF-8 (and so SQS) cannot carry, escaped.
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class WorkKind(StrEnum):
    JOB = "job"  # the IM backend's job, as it sent it
    CHUNK = "chunk"
    RETRY = "retry"


class RetryItem(BaseModel):
    """One delivery to try again."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1)
    token: str = Field(min_length=1)
    business_id: int = Field(alias="businessId", gt=0)
    badge: int | None = Field(default=None, ge=0)
    attempts: int = Field(ge=1)  # task-level attempts made so far
    reason: str = ""
    unit: str | None = None  # the unit of work that claimed it (only failures recorded)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude={"unit"} if self.unit is None else None)


class _TaskHeader(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    version: int
    kind: str
    run: str | None = None
    job: str | None = None  # chunk: the digest of the job it was cut from, when that job claimed per unit


class _RetryTask(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    deliveries: list[RetryItem] = Field(alias="Deliveries", min_length=1)


@dataclass(frozen=True)
class QueuedWork:
    """One queue message, parsed: a job (``kind`` job or chunk: deliver to ``job.to_account``) or a retry."""

    kind: WorkKind
    job: PushJob
    raw_job: dict[str, Any]  # the job as decoded JSON, to cut chunks and retries from
    run: str | None = None  # retry: the run that scheduled it
    retries: tuple[RetryItem, ...] = field(default=())
    job_digest: str | None = None  # chunk: its job's digest when the job claimed per unit (see dispatch)


def load_job_json(body: str) -> Any:
    """A queue message's JSON, read with the guards of untrusted input (nesting at most
    :data:`MAX_JOB_DEPTH`); :class:`~offline_push.untrusted.UnreadableInput` (a ``ValueError``) otherwise."""
    return load_json(body, max_depth=MAX_JOB_DEPTH)


def invalid_job_identity(body: str) -> tuple[int, str] | None:
    """The ``(SdkAppId, MsgKey)`` a message that is not a valid job still names, when both are usable as
    keys (a positive integer; 1 to 256 characters of Unicode text); None otherwise. Never raises."""
    try:
        document = load_job_json(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    app, msg_key = document.get("SdkAppId"), document.get("MsgKey")
    if not isinstance(app, int) or isinstance(app, bool) or app <= 0:
        return None
    if (
        not isinstance(msg_key, str)
        or not 0 < len(msg_key) <= MAX_MSG_KEY_CHARS
        or has_lone_surrogate(msg_key)
    ):
        return None
    return app, msg_key


def parse_queue_message(body: str) -> QueuedWork:
    """A queue message's body -> :class:`QueuedWork`; :class:`InvalidPushJob` naming what is wrong.

    Whatever the body holds (any size, nesting, number or character), nothing but :class:`InvalidPushJob`
    leaves this function, so one message's garbage never fails its batch-mates: a failure this parser did not
    foresee is reported as such, with the exception's type and never its text.
    """
    try:
        return _parse_queue_message(body)
    except InvalidPushJob:
        raise
    except Exception as exc:
        raise InvalidPushJob(f"invalid push job: could not be read ({type(exc).__name__})") from None
    except BaseException as exc:
        if is_panic(exc):
            raise InvalidPushJob("invalid push job: could not be read (a parser panicked)") from None
        raise


def _document(body: str) -> Any:
    if len(body) > MAX_MESSAGE_CHARS:
        raise InvalidPushJob(f"invalid push job: larger than SQS's {MAX_MESSAGE_CHARS} bytes")
    try:
        return load_job_json(body)
    except UnreadableInput as exc:
        if str(exc) != "not valid JSON":
            raise InvalidPushJob(f"invalid push job: {exc}") from None
        parse_push_job(body)  # raises InvalidPushJob with the job parser's own description
        # The job parser read it, Python's JSON parser did not: a number of more than 4,300 digits.
        raise InvalidPushJob("invalid push job: not valid JSON (or a number too long to read)") from None


def _parse_queue_message(body: str) -> QueuedWork:
    document = _document(body)
    if not isinstance(document, dict):
        raise InvalidPushJob("invalid push job: Input should be an object")
    if TASK_FIELD not in document:
        return QueuedWork(WorkKind.JOB, parse_push_job(document), document)
    if not isinstance(document[TASK_FIELD], dict):
        raise InvalidPushJob(f"invalid task header: {TASK_FIELD} must be an object with version and kind")
    try:
        header = _TaskHeader.model_validate(document[TASK_FIELD])
    except ValidationError as exc:
        raise InvalidPushJob(f"invalid task header: {_problems(exc)}") from None
    if header.version != TASK_VERSION:
        raise InvalidPushJob(
            f"task version {header.version} is not supported by this release (it reads version "
            f"{TASK_VERSION}): redrive it once the release that wrote it is deployed"
        )
    raw_job = document.get("Job")
    if not isinstance(raw_job, dict):
        raise InvalidPushJob("invalid task: Job must be an object")
    job = parse_push_job(raw_job)
    if header.kind == WorkKind.CHUNK:
        return QueuedWork(WorkKind.CHUNK, job, raw_job, job_digest=header.job)
    if header.kind == WorkKind.RETRY:
        if not header.run:
            raise InvalidPushJob("invalid retry task: the header names no run")
        try:
            retry = _RetryTask.model_validate(document)
        except ValidationError as exc:
            raise InvalidPushJob(f"invalid retry task: {_problems(exc)}") from None
        return QueuedWork(WorkKind.RETRY, job, raw_job, header.run, tuple(retry.deliveries))
    raise InvalidPushJob(f"invalid task: unknown kind {header.kind!r} (chunk or retry)")


def _problems(exc: ValidationError) -> str:
    return describe_job_errors(exc).removeprefix("invalid push job: ")


def _job_for(raw_job: Mapping[str, Any], receivers: Sequence[str]) -> dict[str, Any]:
    job = dict(raw_job)
    job["To_Account"] = list(receivers)
    badges = job.get("Badges")
    if isinstance(badges, dict):
        kept = {user: badges[user] for user in receivers if user in badges}
        if kept:
            job["Badges"] = kept
        else:
            job.pop("Badges")
    return job


def job_digest(raw_job: Mapping[str, Any], chunk_size: int) -> str:
    """What identifies a job and the way it is cut into chunks: the same body (an SQS duplicate, or the IM
    backend resending it as it was) gives the same digest, and so the same units of work."""
    canonical = json.dumps(raw_job, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{chunk_size}\x00{canonical}".encode()).hexdigest()[:32]


def chunk_task(raw_job: Mapping[str, Any], receivers: Sequence[str], *, job: str | None = None) -> str:
    """A chunk task: the job for ``receivers`` only; ``job``: the digest of the job claimed per unit."""
    header: dict[str, Any] = {"version": TASK_VERSION, "kind": WorkKind.CHUNK.value}
    if job is not None:
        header["job"] = job
    return str(_dumps({TASK_FIELD: header, "Job": _job_for(raw_job, receivers)}))


def retry_task(raw_job: Mapping[str, Any], run: str, items: Sequence[RetryItem]) -> str:
    """A retry task for ``items`` (each carrying its badge: the job's ``Badges`` is left out)."""
    receivers = list(dict.fromkeys(item.user_id for item in items))
    job = _job_for(raw_job, receivers)
    job.pop("Badges", None)
    header = {"version": TASK_VERSION, "kind": WorkKind.RETRY.value, "run": run}
    return str(_dumps({TASK_FIELD: header, "Job": job, "Deliveries": [item.to_json() for item in items]}))


def encoded_size(body: str) -> int:
    return len(body.encode())
