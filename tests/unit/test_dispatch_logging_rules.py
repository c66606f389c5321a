"""The dispatch stages log through children of the function's service logger, so that the function's log
level, its JSON format and the Lambda context it injects apply to their lines too."""

from __future__ import annotations

from types import ModuleType

import pytest

from offline_push.logic.dispatch import dispatcher, stage1_intake, stage2_registrations, stage6_outcomes


@pytest.mark.parametrize("module", [dispatcher, stage1_intake, stage2_registrations, stage6_outcomes])
def test_each_stage_logs_as_a_child_of_the_service_logger(module: ModuleType) -> None:
    assert module.logger.name == f"offline-push.{module.__name__}"
