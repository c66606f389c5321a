"""The dispatcher reads an app's settings and never its user-auth keys (least privilege): it has none to read
and refuses to write one, saying why."""

from __future__ import annotations

import pytest

from offline_push.logic.dispatch import NoUserAuthKeys
from offline_push.models.app import UserAuthAlgorithm, UserAuthKey


def test_the_dispatcher_has_no_user_auth_keys_and_refuses_to_write_one() -> None:
    keys = NoUserAuthKeys()

    assert keys.get(1400000001) is None
    with pytest.raises(PermissionError) as refused:
        keys.put(1400000001, UserAuthKey(UserAuthAlgorithm.HS256, "secret"))
    assert str(refused.value) == "the dispatcher does not write user-auth keys"
