"""Enough privilege, and no more: every AWS operation the functions perform in the tests, judged by
their roles.

moto enforces no IAM, so a permission missing from a role would show only on AWS. The operations each
function performed in this session's integration and e2e tests (recorded by tests.support.aws_operations)
are evaluated against that function's role as the SAM transform expands it, for every resource switch, with
the conditions (``kms:ViaService``, the encryption context) and the bucket's and key's policies (their
denies). Any operation the role would not allow fails the test; granted actions no test used are listed in
a warning, so a grant that is never used is seen.

Runs after every other test of the session (``after_every_other_test``); without the integration and e2e
tests in the session there is nothing to judge, and it says so.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path

import pytest

from local.sam_transform import TemplateRejected, parameter_combinations, transform
from local.template import load_template
from tests.support.aws_operations import (
    StackNames,
    iam_requests,
    recorded_operations,
    runtime_requests,
)
from tests.support.deploy import ROOT, with_todays_auth_blocks
from tests.support.iam_policy import Request, action_matches, decide
from tests.support.stack_roles import MANAGED_PREFIX, StackPolicies, stack_policies

NAMES = StackNames()
# Suites whose tests exercise every function; without them in the session, the record is incomplete.
EXERCISING_SUITES = (
    ("integration", "certificates"),
    ("integration", "registrations"),
    ("integration", "dispatch"),
    ("e2e",),
)


class UnusedGrants(UserWarning):
    """Actions a role grants that no test used: candidates for removal."""


def _suites_in_session(items: list[pytest.Item]) -> set[tuple[str, ...]]:
    suites = set()
    for item in items:
        parts = Path(str(item.path)).relative_to(ROOT / "tests").parts
        suites.update({parts[:1], parts[:2]})
    return suites


def _judge(policies: StackPolicies, function: str, request: Request) -> str | None:
    role = policies.roles[function]
    decision = decide(
        request,
        role.statements,
        policies.resource_policies(request),
        key_policy=policies.key_policy(request),
    )
    return None if decision.allowed else f"{function}: {request.describe()}: {decision.reason}"


@pytest.mark.after_every_other_test
def test_every_operation_each_function_performed_in_the_tests_is_allowed_by_its_role(
    request: pytest.FixtureRequest,
) -> None:
    # Given the operations every function performed in this session's integration and e2e tests
    missing = [suite for suite in EXERCISING_SUITES if suite not in _suites_in_session(request.session.items)]
    if missing:
        pytest.skip(f"needs the integration and e2e tests in the session (missing: {missing})")
    template = load_template()
    functions = [
        name for name, body in template["Resources"].items() if body["Type"] == "AWS::Serverless::Function"
    ]
    performed: dict[str, set[Request]] = defaultdict(set)
    for operation in recorded_operations():
        performed[operation.function].update(iam_requests(operation, template, NAMES))
    for function in functions:
        performed[function].update(runtime_requests(template, function, NAMES))
    assert [function for function in functions if not performed[function]] == []

    # When each is judged by the function's role, for every combination of the resource switches
    refused: set[str] = set()
    granted: set[tuple[str, str, str]] = set()  # (function, statement, action pattern)
    used: set[tuple[str, str, str]] = set()
    for parameters in parameter_combinations():
        policies = stack_policies(transform(template, parameters), parameters, NAMES)
        for function, role in policies.roles.items():
            allows = [statement for statement in role.statements if statement.effect == "Allow"]
            granted.update(
                (function, statement.label(), action) for statement in allows for action in statement.actions
            )
            for aws_request in performed[function]:
                verdict = _judge(policies, function, aws_request)
                if verdict is not None:
                    refused.add(verdict)
                used.update(
                    (function, statement.label(), action)
                    for statement in allows
                    if statement.applies_to(aws_request)
                    for action in statement.actions
                    if action_matches(action, aws_request.action)
                )

    # Then nothing is refused
    assert sorted(refused) == []
    # And what is granted but used by no test is listed
    unused = sorted(grant for grant in granted - used if not grant[1].startswith(MANAGED_PREFIX))
    if unused:
        lines = [f"{function}: {action} ({statement})" for function, statement, action in unused]
        warnings.warn(UnusedGrants("granted, used by no test:\n" + "\n".join(lines)), stacklevel=1)


def test_the_privilege_test_cannot_judge_the_template_with_todays_auth_blocks() -> None:
    # Given template.yaml with the three `Auth: Authorizer: NONE` blocks that once made it undeployable
    broken = with_todays_auth_blocks(load_template())

    # When the privilege test expands the roles, Then the SAM transform refuses, as CloudFormation would
    with pytest.raises(TemplateRejected, match=r"Event with id \[RegisterDevice\] is invalid"):
        stack_policies(transform(broken, parameter_combinations()[0]), parameter_combinations()[0], NAMES)
