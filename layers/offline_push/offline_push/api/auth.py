"""Caller checks that do not depend on a product rule.

Admin routes are protected by API Gateway's IAM authorization (``Authorizer: AWS_IAM`` in template.yaml);
by the time the function runs, API Gateway has verified the SigV4 signature and put the caller in
``requestContext.authorizer.iam``. The handler still refuses an event without it, so a route accidentally
deployed without the authorizer fails closed. The local stack checks its admin key and fills in the same
context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline_push.errors import Forbidden


def require_iam_caller(event: Mapping[str, Any]) -> str:
    """Return the caller's ARN of an IAM-authorized request; raise :class:`Forbidden` otherwise."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    caller = iam.get("userArn") or iam.get("callerId")
    if not caller:
        raise Forbidden("this route needs an IAM-authorized (admin) caller")
    return str(caller)
