"""The console's block of template.yaml: off by default; on, a sign-in whose role may call exactly the admin
routes (IAM) and nothing else; no user without an explicit email; the page on routes of its own."""

from __future__ import annotations

import re
from typing import Any

from local.provision import deployed_template
from local.template import load_template, resources_of_type

CONSOLE_RESOURCES = {
    "ConsoleUserPool",
    "ConsoleUserPoolClient",
    "ConsoleAdminGroup",
    "ConsoleIdentityPool",
    "ConsoleIdentityPoolRoles",
    "ConsoleAdminRole",
    "ConsoleAdminUser",
    "ConsoleAdminMembership",
    "ConsoleFunction",
    "ConsoleFunctionLogGroup",
}


def admin_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every route whose authorizer is IAM."""
    routes = set()
    for function in resources_of_type("AWS::Serverless::Function", template).values():
        for event in function["Properties"].get("Events", {}).values():
            properties = event["Properties"]
            if event["Type"] == "HttpApi" and properties.get("Auth", {}).get("Authorizer") == "AWS_IAM":
                routes.add((properties["Method"], properties["Path"]))
    return routes


def test_the_console_is_off_by_default_and_its_resources_are_all_conditional() -> None:
    # Given the template and its console block
    template = load_template()
    conditional = {
        name
        for name, body in template["Resources"].items()
        if body.get("Condition", "").startswith("Console")
    }

    # Then the parameter is off by default, every console resource hangs on it, and a default deployment
    # creates none of them
    assert template["Parameters"]["Console"]["Default"] == "false"
    assert conditional == CONSOLE_RESOURCES
    assert CONSOLE_RESOURCES.isdisjoint(deployed_template(template)["Resources"])
    assert {"ConsoleUrl", "ConsoleUserPoolId"}.isdisjoint(deployed_template(template)["Outputs"])


def test_an_admin_user_is_created_only_for_an_explicit_email() -> None:
    template = load_template()

    assert template["Parameters"]["ConsoleAdminEmail"]["Default"] == ""
    assert template["Conditions"]["ConsoleAdminGiven"] == {
        "Fn::And": [
            {"Fn::Condition": "ConsoleEnabled"},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleAdminEmail"}, ""]}]},
        ]
    }
    for name in ("ConsoleAdminUser", "ConsoleAdminMembership"):
        assert template["Resources"][name]["Condition"] == "ConsoleAdminGiven"
    pattern = re.compile(template["Parameters"]["ConsoleAdminEmail"]["AllowedPattern"])
    assert [bool(pattern.fullmatch(value)) for value in ("", "ops@example.com", "not an email", "a@b")] == [
        True,
        True,
        False,
        False,
    ]


def test_the_admin_role_may_invoke_exactly_the_admin_routes() -> None:
    # Given the routes with IAM authorization, and the console role's execute-api resources
    template = load_template()
    role = template["Resources"]["ConsoleAdminRole"]["Properties"]
    [policy] = role["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${OfflinePushApi}/*/"
    allowed = set()
    for resource in statement["Resource"]:
        arn = resource["Fn::Sub"]
        assert arn.startswith(prefix)
        method, _, path = arn.removeprefix(prefix).partition("/")
        allowed.add((method, "/" + path))

    # Then each admin route is allowed (path variables as *), and nothing else: no user route, no wildcard
    expected = {(method, re.sub(r"\{[^}]+\}", "*", path)) for method, path in admin_routes(template)}
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert allowed == expected


def test_only_signed_in_identities_of_the_pool_assume_the_role_and_only_through_the_admins_group() -> None:
    template = load_template()
    resources = template["Resources"]
    [trust] = resources["ConsoleAdminRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust == {
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
        "Condition": {
            "StringEquals": {"cognito-identity.amazonaws.com:aud": {"Ref": "ConsoleIdentityPool"}},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        },
    }
    assert resources["ConsoleIdentityPool"]["Properties"]["AllowUnauthenticatedIdentities"] is False
    mapping = resources["ConsoleIdentityPoolRoles"]["Properties"]
    assert "Roles" not in mapping  # no default role: a user outside the group gets no credentials
    assert mapping["RoleMappings"]["console"]["Type"] == "Token"
    assert mapping["RoleMappings"]["console"]["AmbiguousRoleResolution"] == "Deny"
    assert resources["ConsoleAdminGroup"]["Properties"]["RoleArn"] == {
        "Fn::GetAtt": ["ConsoleAdminRole", "Arn"]
    }
    pool = resources["ConsoleUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert resources["ConsoleUserPoolClient"]["Properties"]["GenerateSecret"] is False


def test_the_page_function_holds_no_permission_and_serves_only_the_console_paths() -> None:
    function = load_template()["Resources"]["ConsoleFunction"]["Properties"]

    assert "Policies" not in function
    assert {
        (event["Properties"]["Method"], event["Properties"]["Path"]) for event in function["Events"].values()
    } == {
        ("GET", "/console"),
        ("GET", "/console/{asset}"),
    }
    assert all("Auth" not in event["Properties"] for event in function["Events"].values())
