"""The local stack as a whole: what it does to this process, and what it keeps out of logs."""

from __future__ import annotations

import json
import logging
import os
import sys
from http import HTTPStatus
from pathlib import Path

import pytest

from local.aws import LocalAws
from local.sam_transform import TemplateRejected
from local.stack import LocalStack
from local.template import load_template
from tests.support.deploy import TODAYS_TRANSFORM_ERROR, with_todays_auth_blocks, write_template
from tests.support.local_stack.client import send
from tests.support.local_stack.store import app as store_module

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "template.yaml"


def test_handlers_reach_the_stack_whatever_the_users_aws_settings_and_they_come_back_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a shell set up for a real account: a profile, a DynamoDB endpoint elsewhere, endpoints ignored
    user_settings = {
        "AWS_PROFILE": "production-admin",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://192.0.2.1:9",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    }
    for name, value in user_settings.items():
        monkeypatch.setenv(name, value)

    # When a stack runs a handler that stores an item, with an extra variable for the functions
    with LocalStack(TEMPLATE, poll_queues=False, extra_environment={"LOCAL_EXTRA": "sandbox"}) as stack:
        stored = send(
            stack.api_url, "PUT", "/items/7", headers=[("Content-Type", "application/json")], body=b"{}"
        )
        echoed = send(stack.api_url, "GET", "/pets/dog/1").json()
        items = stack.client("dynamodb").scan(TableName="ItemsTable")["Items"]

    # Then the handler reached the emulated DynamoDB, saw the extra variable, and the shell is as it was
    assert (stored.status, items) == (HTTPStatus.NO_CONTENT, [{"id": {"S": "7"}, "data": {"S": "{}"}}])
    assert echoed["environment"]["LOCAL_EXTRA"] == "sandbox"
    assert {name: os.environ.get(name) for name in (*user_settings, "AWS_ENDPOINT_URL", "LOCAL_EXTRA")} == {
        **user_settings,
        "AWS_ENDPOINT_URL": None,
        "LOCAL_EXTRA": None,
    }


def test_each_stack_gets_cold_handlers_and_the_process_gets_its_modules_back() -> None:
    # Given two stacks, one after the other, in one process (each with its own moto endpoint)
    answers = []
    for item_id in ("first", "second"):
        with LocalStack(TEMPLATE, poll_queues=False) as stack:
            # When the store handler, which caches its boto3 client, runs in each
            send(
                stack.api_url,
                "PUT",
                f"/items/{item_id}",
                headers=[("Content-Type", "application/json")],
                body=b"1",
            )
            answers.append(send(stack.api_url, "GET", f"/items/{item_id}").status)
            handler_module = stack.function("store")._handler.__module__
            ran_a_fresh_copy = sys.modules[handler_module] is not store_module

    # Then the second did not reuse a client bound to the first's endpoint, and the module imported here
    # is the one in sys.modules again
    assert (answers, ran_a_fresh_copy) == ([HTTPStatus.OK, HTTPStatus.OK], True)
    assert sys.modules["tests.support.local_stack.store.app"] is store_module


def test_the_admin_key_stays_out_of_logs_and_out_of_the_summary_unless_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a running stack and its logs
    caplog.set_level(logging.DEBUG)
    with LocalStack(TEMPLATE, admin_key="admin-key-for-this-test-3c1e", poll_queues=False) as stack:
        # When admin requests come in, accepted and refused
        accepted = send(
            stack.api_url, "POST", "/admin/things", headers=[("X-Admin-Key", stack.admin_key)], body=b"{}"
        )
        refused = send(stack.api_url, "POST", "/admin/things", headers=[("X-Admin-Key", "guess")], body=b"{}")
        hidden, shown = stack.summary(show_admin_key=False), stack.summary()

    # Then no log line carries the key, and the summary shows it only when asked
    assert (accepted.status, refused.status) == (HTTPStatus.OK, HTTPStatus.FORBIDDEN)
    assert "admin-key-for-this-test-3c1e" not in json.dumps(
        [record.getMessage() for record in caplog.records]
    )
    assert [line for line in hidden if "x-admin-key" in line] == [
        "admin routes (AWS_IAM): send header x-admin-key: (hidden)"
    ]
    assert "admin routes (AWS_IAM): send header x-admin-key: admin-key-for-this-test-3c1e" in shown


def test_one_process_runs_one_emulated_aws_at_a_time() -> None:
    with (
        LocalAws(TEMPLATE) as running,
        pytest.raises(RuntimeError, match=f"already runs at {running.endpoint_url}"),
    ):
        LocalAws(TEMPLATE).start()


def test_the_stack_refuses_a_template_the_sam_transform_refuses_with_the_translators_message(
    tmp_path: Path,
) -> None:
    # Given template.yaml with the three `Auth: Authorizer: NONE` blocks AWS refused (the emulator alone
    # would have served them)
    broken = write_template(with_todays_auth_blocks(load_template()), tmp_path / "template.yaml")

    # When a local stack is made of it, Then it refuses before starting anything, with the translator's words
    with pytest.raises(TemplateRejected) as refused:
        LocalStack(broken, poll_queues=False)
    assert str(refused.value) == TODAYS_TRANSFORM_ERROR
    assert LocalAws._running is None  # no moto server was started
