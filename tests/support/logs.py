"""Capture what the product logs (a Powertools service logger and its children), to assert what is never
there."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


@contextmanager
def captured_logs(service_logger: str) -> Iterator[io.StringIO]:
    """Every record of ``service_logger`` (a function's Powertools ``logger.name``) and of its children (the
    layer's ``Logger(child=True)``), at DEBUG, formatted as in Lambda."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(LambdaPowertoolsFormatter())
    names = [service_logger] + [
        name for name in list(logging.Logger.manager.loggerDict) if name.startswith(f"{service_logger}.")
    ]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    root = loggers[0]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
