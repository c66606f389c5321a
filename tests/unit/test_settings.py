from __future__ import annotations

import pytest

from offline_push.errors import ConfigurationError
from offline_push.settings import EnvSettings


class StoreSettings(EnvSettings):
    certificates_table: str
    max_upload_bytes: int = 65536


def test_settings_read_upper_case_environment_variables() -> None:
    settings = StoreSettings.from_environ({"CERTIFICATES_TABLE": "Certificates", "MAX_UPLOAD_BYTES": "1024"})

    assert settings == StoreSettings(certificates_table="Certificates", max_upload_bytes=1024)


def test_missing_setting_fails_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"CERTIFICATES_TABLE is not set"):
        StoreSettings.from_environ({})


def test_malformed_setting_fails_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"MAX_UPLOAD_BYTES"):
        StoreSettings.from_environ({"CERTIFICATES_TABLE": "t", "MAX_UPLOAD_BYTES": "lots"})
