"""A rotation that would narrow the push kinds a certificate serves: the 409's whole message names every
kind the certificate serves and every kind the new file cannot serve."""

from __future__ import annotations

import pytest

from offline_push.errors import PushKindsNarrowed
from offline_push.logic.certificates import check_rotation
from offline_push.models.credential import PushKind
from tests.support.certificate_records import certificate_record, replacement_credential

ALERT = (PushKind.ALERT,)
VOIP = (PushKind.VOIP,)
BOTH = (PushKind.ALERT, PushKind.VOIP)


@pytest.mark.parametrize(
    ("current", "replacement", "message"),
    [
        (
            BOTH,
            ALERT,
            "certificate 3 serves alert, voip pushes; the new file cannot serve voip, which devices "
            "registered under it rely on: upload it as a new certificate instead",
        ),
        (
            BOTH,
            VOIP,
            "certificate 3 serves alert, voip pushes; the new file cannot serve alert, which devices "
            "registered under it rely on: upload it as a new certificate instead",
        ),
        (
            VOIP,
            ALERT,
            "certificate 3 serves voip pushes; the new file cannot serve voip, which devices "
            "registered under it rely on: upload it as a new certificate instead",
        ),
    ],
    ids=["alert and voip -> alert", "alert and voip -> voip", "voip -> alert"],
)
def test_a_narrowing_rotation_is_refused_naming_the_kinds_served_and_lost(
    current: tuple[PushKind, ...], replacement: tuple[PushKind, ...], message: str
) -> None:
    # Given a certificate serving `current`; When a file serving only `replacement` would replace it
    with pytest.raises(PushKindsNarrowed) as refused:
        check_rotation(certificate_record(current), replacement_credential(replacement))

    # Then the 409 names every kind the certificate serves and each one the new file cannot serve
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        409,
        "PushKindsNarrowed",
        message,
    )
