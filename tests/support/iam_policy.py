"""IAM policy evaluation for one account, enough to judge a Lambda role against what its code does.

moto enforces no IAM, so a missing permission would show only on AWS. This evaluates a request (action,
resource ARN, condition keys) the way AWS does within one account: an explicit ``Deny`` in any policy (the
role's, the bucket's, the key's) wins; else an ``Allow`` in the role's policies allows, provided a KMS key's
policy delegates to the account's IAM; else it is denied by default. Conditions: the ``String*``, ``Bool``,
``Null`` and ``Arn*`` operators, ``...IfExists``, keys absent from the request as AWS treats them (a negated
operator matches, the others do not), several values of one key matching any. An operator outside those
raises: a policy we cannot read is never passed.
(AWS IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements: Condition operators".)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str  # "dynamodb:GetItem"
    resource: str  # an ARN
    context: tuple[tuple[str, str], ...] = ()  # condition keys and their values in the request

    def value(self, key: str) -> str | None:
        lowered = key.lower()
        return next((value for name, value in self.context if name.lower() == lowered), None)

    def describe(self) -> str:
        keys = ", ".join(f"{name}={value}" for name, value in self.context)
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    where: str = ""  # which policy it is from, for messages

    @classmethod
    def from_json(cls, statement: Mapping[str, Any], where: str) -> Statement:
        conditions = {
            operator: {key: _strings(values) for key, values in keys.items()}
            for operator, keys in (statement.get("Condition") or {}).items()
        }
        return cls(
            sid=str(statement.get("Sid", "")),
            effect=str(statement["Effect"]),
            actions=_strings(statement.get("Action")),
            not_actions=_strings(statement.get("NotAction")),
            resources=_strings(statement.get("Resource")),
            not_resources=_strings(statement.get("NotResource")),
            conditions=conditions,
            where=where,
        )

    def covers_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(_matches(pattern, action, ignore_case=True) for pattern in self.not_actions)
        return any(_matches(pattern, action, ignore_case=True) for pattern in self.actions)

    def covers_resource(self, resource: str) -> bool:
        if self.not_resources:
            return not any(_matches(pattern, resource) for pattern in self.not_resources)
        return any(_matches(pattern, resource) for pattern in self.resources)

    def conditions_hold(self, request: Request) -> bool:
        return all(
            _condition_holds(operator, key, values, request)
            for operator, keys in self.conditions.items()
            for key, values in keys.items()
        )

    def applies_to(self, request: Request) -> bool:
        return (
            self.covers_action(request.action)
            and self.covers_resource(request.resource)
            and self.conditions_hold(request)
        )

    def label(self) -> str:
        return f"{self.where}:{self.sid or '(no Sid)'}"


def statements_of(document: Mapping[str, Any], where: str) -> list[Statement]:
    raw = document.get("Statement", [])
    return [Statement.from_json(statement, where) for statement in ([raw] if isinstance(raw, dict) else raw)]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(
    request: Request,
    identity: Sequence[Statement],
    resource_policies: Sequence[Statement] = (),
    *,
    key_policy: Sequence[Statement] | None = None,
    account_root: str = "",
) -> Decision:
    """AWS's decision for a same-account request. ``key_policy``: the KMS key's policy, when the resource is a
    key (its statements must allow the account root, delegating to IAM, or nothing IAM grants counts)."""
    for statement in [*identity, *resource_policies, *(key_policy or ())]:
        if statement.effect == "Deny" and statement.applies_to(request):
            return Decision(False, f"explicitly denied by {statement.label()}")
    if key_policy is not None and not any(
        statement.effect == "Allow"
        and statement.covers_action(request.action)
        and statement.covers_resource("*")
        for statement in key_policy
    ):
        return Decision(False, "the key policy does not delegate this action to the account's IAM policies")
    for statement in identity:
        if statement.effect == "Allow" and statement.applies_to(request):
            return Decision(True, f"allowed by {statement.label()}")
    return Decision(False, "no statement of the role allows it (implicit deny)")


def granted_actions(statements: Iterable[Statement]) -> set[tuple[str, str]]:
    """(action pattern, resource pattern) pairs the role's Allow statements grant."""
    return {
        (action, resource)
        for statement in statements
        if statement.effect == "Allow"
        for action in statement.actions
        for resource in statement.resources
    }


# --- matching ---------------------------------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return (str(value),)


@cache
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action pattern ("dynamodb:*", "s3:GetObject") names the action (case-insensitive)."""
    return _matches(pattern, action, ignore_case=True)


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _condition_holds(  # noqa: PLR0911 - one answer per operator family
    operator: str, key: str, expected: tuple[str, ...], request: Request
) -> bool:
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise NotImplementedError(f"condition operator {operator} (multivalued keys) is not evaluated")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = request.value(key)
    if base == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        return if_exists or base in _NEGATED
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in {value.lower() for value in expected}
    if base == "StringNotEqualsIgnoreCase":
        return actual.lower() not in {value.lower() for value in expected}
    if base in ("StringLike", "ArnLike"):
        return any(_matches(value, actual) for value in expected)
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(_matches(value, actual) for value in expected)
    if base == "Bool":
        return actual.lower() in {value.lower() for value in expected}
    raise NotImplementedError(f"condition operator {operator} is not evaluated")
