"""The base of the push job's models (:mod:`offline_push.models.job`, :mod:`offline_push.models.call`): strict
about types, lenient about unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    # strict: "1" is not a number and 1 is not a string; extra="ignore": Tencent's other fields pass through.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def check_unicode(value: str, field: str) -> str:
    """Reject lone surrogates: UTF-8 cannot carry them, so the app could never get the value as given."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not valid Unicode text (it contains a lone surrogate)") from None
    return value
