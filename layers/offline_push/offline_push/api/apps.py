"""Request bodies of the app settings (admin) API."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from offline_push.errors import InvalidRequest
from offline_push.models.app import KickPolicy, PlaceholderLanguage, UserAuthAlgorithm, UserAuthKey


class UserAuthRequest(BaseModel):
    """``{"algorithm": "HS256", "secret": ...}`` or ``{"algorithm": "RS256"|"ES256", "publicKey": PEM}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: UserAuthAlgorithm
    secret: SecretStr | None = None
    public_key: Annotated[SecretStr | None, Field(alias="publicKey")] = None

    @model_validator(mode="after")
    def _material_matches_algorithm(self) -> Self:
        if self.algorithm is UserAuthAlgorithm.HS256:
            if self.secret is None or self.public_key is not None:
                raise ValueError("HS256 takes a secret (and no publicKey)")
        elif self.public_key is None or self.secret is not None:
            raise ValueError(f"{self.algorithm.value} takes a publicKey in PEM (and no secret)")
        return self

    def key(self) -> UserAuthKey:
        material = self.secret if self.algorithm is UserAuthAlgorithm.HS256 else self.public_key
        if material is None:  # the validator makes this unreachable
            raise InvalidRequest(f"userAuth: {self.algorithm.value} key material is missing")
        return UserAuthKey(algorithm=self.algorithm, material=material.get_secret_value())


class AppSettingsRequest(BaseModel):
    """The whole settings of an app. ``userAuth`` is write-only: omitted, the key already set is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kick_policy: Annotated[KickPolicy, Field(alias="kickPolicy")] = KickPolicy.SINGLE
    placeholder_language: Annotated[PlaceholderLanguage, Field(alias="placeholderLanguage")] = (
        PlaceholderLanguage.ZH
    )
    user_auth: Annotated[UserAuthRequest | None, Field(alias="userAuth")] = None
