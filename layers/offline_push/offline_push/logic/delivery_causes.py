"""Why a notification was not delivered, in words an operator can act on (the seed's FAQ "why no push?").

Apple's reason is recorded as it came (``BadDeviceToken``...); the cause beside it says what usually leads
to it in an IM app and what to do. The most common one is the seed's first answer: the app's environment
(a development build from Xcode, or a TestFlight / App Store build) does not match the certificate's.
"""

from __future__ import annotations

import datetime as dt

from offline_push.apns import ApnsReason

_APP_ENVIRONMENTS = {
    "development": "a development build (run from Xcode)",
    "production": "a TestFlight or App Store build",
}


def _other(environment: str) -> str:
    return "production" if environment == "development" else "development"


def prune_cause(
    reason: str,
    *,
    business_id: int,
    topic: str,
    environment: str,
    removed: bool,
    unregistered_at: dt.datetime | None = None,
) -> str:
    """The cause of a token APNs will never accept again, and what became of its registration."""
    if reason == ApnsReason.BAD_DEVICE_TOKEN:
        cause = (
            f"APNs refused the token for the {environment} environment of certificate {business_id} "
            f"({topic}): it comes from {_APP_ENVIRONMENTS[_other(environment)]}, "
            f"whose tokens need a {_other(environment)} certificate (the app's environment and the "
            "certificate's must match), or it is not a device token at all"
        )
    elif reason == ApnsReason.DEVICE_TOKEN_NOT_FOR_TOPIC:
        cause = (
            f"the token belongs to another app than certificate {business_id}'s bundle id {topic}: the app "
            "called setAPNS with another app's businessId (apps sharing an SdkAppId each need their own "
            "certificate and businessId)"
        )
    else:
        since = ""
        if unregistered_at is not None:
            since = " since " + unregistered_at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            )
        cause = (
            f"APNs says the token is no longer valid for {topic}{since} (the app was uninstalled, or "
            "notifications were reset on the device)"
        )
    if removed:
        return cause + "; the registration was removed (the app registers again at its next login)"
    return cause + "; the registration was kept: the app registered the token again after that"


_FINAL_CAUSES: dict[str, str] = {
    ApnsReason.BAD_CERTIFICATE: "APNs refused certificate {business_id}: revoked, expired or not an APNs "
    "certificate; upload a valid one under the same id (PUT)",
    ApnsReason.BAD_CERTIFICATE_ENVIRONMENT: "certificate {business_id} cannot push to the {environment} "
    "environment: upload a certificate of that environment",
    ApnsReason.TOPIC_DISALLOWED: "certificate {business_id} may not push to {topic}",
    ApnsReason.BAD_TOPIC: "APNs does not accept the topic {topic} of certificate {business_id}",
    ApnsReason.INVALID_PROVIDER_TOKEN: "APNs refused the token key of certificate {business_id}: wrong key "
    "id or team id, or the key was revoked",
    ApnsReason.BAD_ENVIRONMENT_KEY_IN_TOKEN: "the token key of certificate {business_id} is restricted to "
    "the other environment",
    ApnsReason.SERVER_CERTIFICATE_UNTRUSTED: "APNs' server certificate did not verify: check "
    "APNS_EXTRA_CA_BUNDLE and the APNs URLs of the deployment",
    ApnsReason.PAYLOAD_TOO_LARGE: "the notification exceeded APNs's payload limit",
}


def final_cause(reason: str, status: int | None, *, business_id: int, topic: str, environment: str) -> str:
    """The cause of another final failure (not retried, registration kept)."""
    template = _FINAL_CAUSES.get(reason)
    if template is not None:
        return template.format(business_id=business_id, topic=topic, environment=environment)
    answer = f"{status} {reason}" if status is not None else reason
    return f"APNs answered {answer} for certificate {business_id} ({topic}, {environment})"


def retries_exhausted_cause(reason: str, status: int | None, attempts: int) -> str:
    answer = f"{status} {reason}" if status is not None else reason
    return f"APNs answered {answer} on the last of {attempts} attempts; no more retries"
