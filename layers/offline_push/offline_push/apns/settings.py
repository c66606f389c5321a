"""Configuration of the APNs client, read once at cold start from environment variables."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from offline_push.models.credential import ApnsEnvironment
from offline_push.settings import EnvSettings

PRODUCTION_URL = "https://api.push.apple.com"
DEVELOPMENT_URL = "https://api.sandbox.push.apple.com"


class ApnsSettings(EnvSettings):
    """``APNS_*`` variables; the defaults are Apple's hosts and limits a Lambda invocation can afford.

    The local stack and the tests point the two URLs at the APNs sandbox, whose CA is then named by
    ``APNS_EXTRA_CA_BUNDLE`` (a PEM file trusted in addition to the system's CAs).
    """

    apns_production_url: str = PRODUCTION_URL
    apns_sandbox_url: str = DEVELOPMENT_URL
    apns_extra_ca_bundle: str | None = None
    apns_connect_timeout: float = Field(default=10.0, gt=0)  # TCP + TLS + the server's first SETTINGS
    apns_read_timeout: float = Field(default=10.0, gt=0)  # one response, from the request's last byte
    apns_pool_timeout: float = Field(default=10.0, gt=0)  # waiting for a free stream on the connection
    apns_idle_ping_after: float = Field(default=30.0, gt=0)  # an idle connection is PINGed before reuse
    apns_max_attempts: int = Field(default=3, ge=1)  # per notification, within one call
    apns_backoff_base: float = Field(default=0.2, ge=0)  # seconds; doubles per attempt, full jitter
    apns_backoff_max: float = Field(default=3.0, ge=0)
    apns_max_in_flight: int = Field(default=500, ge=1)  # per batch; the server's stream limit also applies
    # Shared provider tokens (token auth): the DynamoDB table and the KMS key that encrypts them.
    provider_tokens_table: str | None = None
    kms_key_id: str | None = None

    @field_validator("apns_production_url", "apns_sandbox_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL with a host")
        return value.rstrip("/")

    def url_for(self, environment: ApnsEnvironment) -> str:
        return (
            self.apns_production_url if environment is ApnsEnvironment.PRODUCTION else self.apns_sandbox_url
        )
