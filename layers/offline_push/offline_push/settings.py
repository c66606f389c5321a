"""Typed configuration read from environment variables (set in template.yaml with ``!Ref``).

Each component declares what it needs as a subclass of :class:`EnvSettings`; a field ``certificates_table``
is read from ``CERTIFICATES_TABLE``. ``from_environ()`` is called once, at cold start, and fails with a
message naming every missing or malformed variable, so a misconfigured deployment fails loudly on its first
invocation instead of half-way through a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError

from offline_push.errors import ConfigurationError


class EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        values = {
            name: source[name.upper()]
            for name in cls.model_fields
            if name.upper() in source and source[name.upper()] != ""
        }
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                variable = str(error["loc"][0]).upper() if error["loc"] else cls.__name__
                reason = "is not set" if error["type"] == "missing" else error["msg"]
                problems.append(f"{variable} {reason}")
            raise ConfigurationError(
                f"{cls.__name__}: " + "; ".join(problems) + " (set it in template.yaml or the environment)"
            ) from None
