"""Formatting cost per notification: ``python -m bench.bench_formatter`` (from the repository root).

The formatter runs once per offline receiver, so a 10,000-member group formats 10,000 times with different
badges. Reported, as medians over many samples:

- parse: the SQS body (JSON) to a validated :class:`PushJob`, once per job;
- prepare + first: everything that does not depend on the receiver, plus the first receiver;
- per receiver: one more receiver of a prepared job (badges drawn from a realistic range, mostly cached,
  and all-distinct badges, which defeat the cache);
- one-off: ``format_notification`` for a single receiver (prepare included);
- group of 10,000: prepare once and format every receiver, per notification.

Jobs: a typical one-to-one text, a typical group text, and a worst case (group, 40 elements of Chinese,
emoji and placeholders far over the limit, long title and subtitle, a 2 KB ext, image, critical sound),
which exercises every shortening step.

Call invitations (``Call``): the VoIP payload is the same for every receiver's PushKit token, built once per
job (``format_call``); the alert fallback is the alert formatter's, per receiver. Measured for a group video
call with a 4 KB ext (the VoIP payload near its 5,120-byte limit).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offline_push.logic.formatter import format_notification, prepare
from offline_push.logic.voip_payload import format_call
from offline_push.models.job import Language, PushJob, parse_push_job
from offline_push.models.notification import Notification
from tests.support.jobs import FACE, GROUP, IMAGE, LOCATION, ONE_TO_ONE, RELAY, VIDEO, job_dict, text

TYPICAL_ONE_TO_ONE = job_dict(
    ONE_TO_ONE,
    MsgBody=[text("Are we still on for dinner tonight? 🍜")],
    OfflinePushInfo={"Ext": '{"conv":"c2c_denny"}'},
)
TYPICAL_GROUP = job_dict(
    GROUP,
    MsgBody=[text("晚饭七点, 别迟到!"), IMAGE],
    OfflinePushInfo={"Ext": '{"conv":"group_@TGS#2J4SZEAEL"}', "ApnsInfo": {"Sound": "family.caf"}},
)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
WORST_CASE = job_dict(
    GROUP,
    SenderNameCard="爸爸" * 20,
    GroupName="相亲相爱一家人 " * 10,
    MsgBody=[
        *[
            element
            for index in range(8)
            for element in (
                text("今天的照片 " * 40 + FAMILY * 10 + f" #{index} "),
                IMAGE,
                FACE,
                LOCATION,
                VIDEO,
            )
        ][:39],
        RELAY,
    ],
    OfflinePushInfo={
        "Title": "家庭群新消息 " * 60,
        "Ext": json.dumps({"conv": "group", "payload": "x" * 2000}),
        "ApnsInfo": {
            "SubTitle": "来自爸爸 " * 60,
            "Image": "https://cdn.example.com/photos/2026/01/01/family-dinner.jpg",
            "InterruptionLevel": "critical",
            "Sound": "alarm.caf",
            "MutableContent": 1,
        },
    },
)
JOBS = {"one-to-one text": TYPICAL_ONE_TO_ONE, "group text": TYPICAL_GROUP, "worst case": WORST_CASE}
GROUP_CALL = job_dict(
    GROUP,
    Call={"CallId": "call-7f3a9c", "MediaType": "video", "AlertFallback": 1},
    OfflinePushInfo={"Ext": json.dumps({"room": "r-1", "token": "x" * 4000})},
)


@dataclass(frozen=True)
class Row:
    job: str
    measure: str
    median_us: float
    p90_us: float
    note: str = ""


def sample(run: Callable[[], object], *, calls: int, samples: int) -> tuple[float, float]:
    """Median and 90th percentile of µs per call, over ``samples`` batches of ``calls`` calls."""
    per_call = []
    gc.collect()
    for _ in range(samples):
        start = time.perf_counter_ns()
        for _ in range(calls):
            run()
        per_call.append((time.perf_counter_ns() - start) / calls / 1000)
    per_call.sort()
    return statistics.median(per_call), per_call[int(len(per_call) * 0.9) - 1]


def measure(name: str, raw: dict[str, Any], *, scale: int) -> list[Row]:
    body = json.dumps(raw, ensure_ascii=False).encode()
    job = parse_push_job(body)
    rng = random.Random(7)
    realistic = [rng.randint(0, 99) for _ in range(10_000)]
    rows = []

    median, p90 = sample(lambda: parse_push_job(body), calls=20, samples=25 * scale)
    rows.append(Row(name, "parse (per job)", median, p90, f"{len(body)} B of JSON"))

    median, p90 = sample(lambda: prepare(job).notification(5), calls=20, samples=25 * scale)
    first = prepare(job).notification(5)
    size = len(first.payload) if isinstance(first, Notification) else 0
    rows.append(Row(name, "prepare + first (per job)", median, p90, f"payload {size} B"))

    prepared = prepare(job)
    badges = iter(realistic * 1000)
    median, p90 = sample(lambda: prepared.notification(next(badges)), calls=1000, samples=40 * scale)
    rows.append(Row(name, "per receiver, badges 0-99", median, p90, "cached per badge"))

    distinct = iter(range(10**9))
    median, p90 = sample(lambda: prepared.notification(next(distinct)), calls=1000, samples=40 * scale)
    rows.append(Row(name, "per receiver, distinct badges", median, p90, "payload built each time"))

    median, p90 = sample(
        lambda: prepared.notification(next(badges), Language.EN), calls=1000, samples=10 * scale
    )
    rows.append(Row(name, "per receiver, other language", median, p90, "second variant, cached"))

    one_off = iter(realistic * 1000)
    median, p90 = sample(lambda: format_notification(job, badge=next(one_off)), calls=20, samples=25 * scale)
    rows.append(Row(name, "one-off format_notification", median, p90, "prepare each time"))

    rows.append(group_of(name, job, realistic, repeats=5 * scale))
    return rows


def measure_call(name: str, raw: dict[str, Any], *, scale: int) -> list[Row]:
    body = json.dumps(raw, ensure_ascii=False).encode()
    job = parse_push_job(body)
    rows = []
    median, p90 = sample(lambda: parse_push_job(body), calls=20, samples=25 * scale)
    rows.append(Row(name, "parse (per job)", median, p90, f"{len(body)} B of JSON"))
    voip = format_call(job)
    size = len(voip.payload) if isinstance(voip, Notification) else 0
    median, p90 = sample(lambda: format_call(job), calls=20, samples=25 * scale)
    rows.append(Row(name, "VoIP payload (once per job)", median, p90, f"payload {size} B"))
    median, p90 = sample(lambda: prepare(job).notification(None), calls=20, samples=25 * scale)
    rows.append(Row(name, "alert fallback, prepare + first (per job)", median, p90, "Denny邀请你视频通话"))
    return rows


def group_of(name: str, job: PushJob, badges: list[int], *, repeats: int) -> Row:
    per_notification = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        prepared = prepare(job)
        for badge in badges:
            prepared.notification(badge)
        per_notification.append((time.perf_counter_ns() - start) / len(badges) / 1000)
    per_notification.sort()
    total_ms = statistics.median(per_notification) * len(badges) / 1000
    return Row(
        name,
        f"group of {len(badges):,}, per notification",
        statistics.median(per_notification),
        per_notification[-1],
        f"{total_ms:.1f} ms in all",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    arguments = parser.parse_args()
    scale = 1 if arguments.quick else 4

    rows = [row for name, raw in JOBS.items() for row in measure(name, raw, scale=scale)]
    rows += measure_call("group video call", GROUP_CALL, scale=scale)
    counter = iter(range(10**9))
    median, p90 = sample(lambda: next(counter), calls=1000, samples=40 * scale)
    rows.append(Row("-", "the benchmark loop alone (included above)", median, p90, "lambda + next()"))
    print("Formatter cost (µs per call: median and p90 over batches; one process, one core)")
    print()
    print(f"| {'job':<16} | {'measure':<41} | {'median µs':>10} | {'p90 µs':>8} | note")
    print(f"|{'-' * 18}|{'-' * 43}|{'-' * 12}|{'-' * 10}|{'-' * 26}")
    for row in rows:
        timing = f"{row.median_us:>10.2f} | {row.p90_us:>8.2f}"
        print(f"| {row.job:<16} | {row.measure:<41} | {timing} | {row.note}")


if __name__ == "__main__":
    main()
