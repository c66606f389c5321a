"""``make invoke`` / ``python -m local.invoke``: one handler, one sample event, against the local AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.invoke import main
from tests.support.events import http_event

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "template.yaml"


def test_the_answer_of_the_handler_is_printed_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a sample API event for the echo function
    event = http_event("GET", "/pets/dog/1", route="/pets/dog/1")
    event_file = tmp_path / "echo-get-pet.json"
    event_file.write_text(json.dumps(event))

    # When it is invoked by its CodeUri folder
    status = main(["echo", str(event_file), "--template", str(TEMPLATE)])

    # Then stdout is the handler's answer alone, and the handler ran against the emulated AWS
    answer = json.loads(capsys.readouterr().out)
    echoed = json.loads(answer["body"])
    assert (status, answer["statusCode"], echoed["event"]) == (0, 200, event)
    assert echoed["environment"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert echoed["environment"]["ITEMS_TABLE"] == "ItemsTable"


def test_a_function_error_is_printed_as_lambda_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event_file = tmp_path / "responder-raise.json"
    event_file.write_text(json.dumps({"body": json.dumps({"raise": "refused"}), "isBase64Encoded": False}))

    status = main(["ResponderFunction", str(event_file), "--template", str(TEMPLATE)])

    error = json.loads(capsys.readouterr().out)
    assert (status, error["errorType"], error["errorMessage"]) == (1, "RequestedFailure", "refused")


def test_an_unknown_function_is_a_usage_error_naming_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text("{}")

    status = main(["mailer", str(event_file), "--template", str(TEMPLATE)])

    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    assert "no function 'mailer' in the template; functions: EchoFunction (echo)" in captured.err
