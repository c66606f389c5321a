"""APNs client configuration from environment variables."""

from __future__ import annotations

import pytest

from offline_push.apns import ApnsSettings
from offline_push.errors import ConfigurationError
from offline_push.models.credential import ApnsEnvironment


def test_defaults_are_apples_hosts() -> None:
    settings = ApnsSettings.from_environ({})

    assert settings.url_for(ApnsEnvironment.PRODUCTION) == "https://api.push.apple.com"
    assert settings.url_for(ApnsEnvironment.DEVELOPMENT) == "https://api.sandbox.push.apple.com"
    assert (settings.apns_max_attempts, settings.provider_tokens_table) == (3, None)


def test_the_local_stack_points_both_environments_at_the_sandbox() -> None:
    settings = ApnsSettings.from_environ(
        {
            "APNS_PRODUCTION_URL": "https://127.0.0.1:8443/",
            "APNS_SANDBOX_URL": "https://127.0.0.1:8444",
            "APNS_EXTRA_CA_BUNDLE": "/tmp/ca.pem",
            "APNS_READ_TIMEOUT": "2.5",
            "PROVIDER_TOKENS_TABLE": "ProviderTokensTable",
        }
    )

    assert settings.url_for(ApnsEnvironment.PRODUCTION) == "https://127.0.0.1:8443"
    assert settings.url_for(ApnsEnvironment.DEVELOPMENT) == "https://127.0.0.1:8444"
    assert (settings.apns_extra_ca_bundle, settings.apns_read_timeout) == ("/tmp/ca.pem", 2.5)
    assert settings.provider_tokens_table == "ProviderTokensTable"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("APNS_SANDBOX_URL", "http://127.0.0.1:8444"),
        ("APNS_PRODUCTION_URL", "api.push.apple.com"),
        ("APNS_MAX_ATTEMPTS", "0"),
    ],
)
def test_a_malformed_setting_fails_at_cold_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        ApnsSettings.from_environ({variable: value})
