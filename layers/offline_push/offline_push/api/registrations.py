"""Request bodies of the registration API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# APNs shows the badge as an integer; anything beyond a 32-bit counter is a client bug, not an unread count.
MAX_UNREAD = 2**31 - 1
# Generous bound for the raw token before normalisation (the <...> form adds brackets and spaces).
MAX_RAW_TOKEN_CHARS = 512


class RegisterDeviceRequest(BaseModel):
    """``setAPNS``: the certificate id the app ships with and the device token Apple gave it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_id: Annotated[int, Field(alias="businessId", strict=True, gt=0)]
    token: Annotated[str, Field(min_length=1, max_length=MAX_RAW_TOKEN_CHARS)]


class BadgeRequest(BaseModel):
    """The app's unread count when it goes to the background."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unread: Annotated[int, Field(strict=True, ge=0, le=MAX_UNREAD)]
