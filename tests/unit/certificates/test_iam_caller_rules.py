"""Admin routes fail closed (README "Security"): the caller is the IAM principal API Gateway verified, its
user ARN, else its caller id; an event without either (a route deployed without the IAM authorizer) is a
403."""

from __future__ import annotations

from typing import Any

import pytest

from offline_push.api.auth import require_iam_caller
from offline_push.errors import Forbidden

ARN = "arn:aws:iam::123456789012:user/push-admin"
CALLER_ID = "AIDAEXAMPLEADMIN:session"


def event(iam: dict[str, Any] | None) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"iam": iam}}}


@pytest.mark.parametrize(
    ("iam", "caller"),
    [
        ({"userArn": ARN, "callerId": CALLER_ID}, ARN),
        ({"userArn": ARN}, ARN),
        ({"callerId": CALLER_ID}, CALLER_ID),
        ({"userArn": "", "callerId": CALLER_ID}, CALLER_ID),
    ],
)
def test_the_caller_is_the_iam_user_arn_else_the_caller_id(iam: dict[str, Any], caller: str) -> None:
    assert require_iam_caller(event(iam)) == caller


@pytest.mark.parametrize(
    "request_event",
    [
        {},
        {"requestContext": None},
        {"requestContext": {"authorizer": None}},
        event(None),
        event({}),
        event({"userArn": "", "callerId": ""}),
        event({"accountId": "123456789012"}),
    ],
)
def test_a_request_without_an_iam_caller_is_forbidden(request_event: dict[str, Any]) -> None:
    with pytest.raises(Forbidden) as refused:
        require_iam_caller(request_event)
    assert str(refused.value) == "this route needs an IAM-authorized (admin) caller"
