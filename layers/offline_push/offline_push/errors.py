"""The product's exceptions.

Every error a caller can cause is an :class:`OfflinePushError` with a stable ``code`` and an HTTP status; the
API maps them to ``{"code": ..., "message": ...}`` in one place (:mod:`offline_push.api.http`). Messages name
the problem and never carry secrets (passwords, keys, tokens): write them as if they were logged, because
they are.
"""

from __future__ import annotations

from http import HTTPStatus


class OfflinePushError(Exception):
    """Base of the product's errors: a stable machine-readable code, a status and a safe message."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigurationError(OfflinePushError):
    """The deployment is missing a setting: a fault of the operator, never of the caller."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "ConfigurationError"


class InvalidRequest(OfflinePushError):
    status = HTTPStatus.BAD_REQUEST
    code = "InvalidRequest"


class Unauthorized(OfflinePushError):
    status = HTTPStatus.UNAUTHORIZED
    code = "Unauthorized"


class Forbidden(OfflinePushError):
    status = HTTPStatus.FORBIDDEN
    code = "Forbidden"


class NotFound(OfflinePushError):
    status = HTTPStatus.NOT_FOUND
    code = "NotFound"


class Conflict(OfflinePushError):
    status = HTTPStatus.CONFLICT
    code = "Conflict"


class PayloadTooLarge(OfflinePushError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "PayloadTooLarge"


class UnsupportedMediaType(OfflinePushError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "UnsupportedMediaType"


class StorageError(OfflinePushError):
    """An AWS call failed for a reason that is not the caller's: retried by the caller or reported as 503."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "StorageUnavailable"


# --- certificates -------------------------------------------------------------------------------------------


class CertificateNotFound(NotFound):
    code = "CertificateNotFound"


# --- push jobs ----------------------------------------------------------------------------------------------


class InvalidPushJob(InvalidRequest):
    """A push job that does not follow the job schema: it goes to the dead-letter queue with this reason."""

    code = "InvalidPushJob"


class InvalidSdkAppId(InvalidRequest):
    code = "InvalidSdkAppId"


class InvalidBusinessId(InvalidRequest):
    code = "InvalidBusinessId"


class InvalidCertificateName(InvalidRequest):
    code = "InvalidCertificateName"


class InvalidEnvironment(InvalidRequest):
    code = "InvalidEnvironment"


class InvalidCredentialType(InvalidRequest):
    code = "InvalidCredentialType"


class CredentialFileMissing(InvalidRequest):
    code = "CredentialFileMissing"


class CredentialTooLarge(PayloadTooLarge):
    code = "CredentialTooLarge"


class PasswordRequired(InvalidRequest):
    """The seed: a p12 uploaded without a password never gets a push."""

    code = "PasswordRequired"


class P12NotPasswordProtected(InvalidRequest):
    code = "P12NotPasswordProtected"


class InvalidPassword(InvalidRequest):
    """A password no .p12 can have: a NUL character (PKCS#12 passwords are NUL-terminated) or text that is not
    Unicode (a lone surrogate)."""

    code = "InvalidPassword"


class NotIssuedByApple(InvalidRequest):
    """A push certificate whose chain does not end at Apple's WWDR intermediates and root: a look-alike."""

    code = "NotIssuedByApple"


class NotPkcs12(InvalidRequest):
    code = "NotPkcs12"


class WrongPassword(InvalidRequest):
    code = "WrongPassword"


class P12WithoutCertificate(InvalidRequest):
    code = "P12WithoutCertificate"


class P12WithoutPrivateKey(InvalidRequest):
    code = "P12WithoutPrivateKey"


class PrivateKeyMismatch(InvalidRequest):
    code = "PrivateKeyMismatch"


class CertificateExpired(InvalidRequest):
    code = "CertificateExpired"


class CertificateNotYetValid(InvalidRequest):
    code = "CertificateNotYetValid"


class NotApnsCertificate(InvalidRequest):
    code = "NotApnsCertificate"


class EnvironmentNotServable(InvalidRequest):
    """The declared environment is one the certificate cannot push to (e.g. a development certificate
    declared as production: the seed's "App Store builds need a production certificate")."""

    code = "EnvironmentNotServable"


class InvalidP8Key(InvalidRequest):
    code = "InvalidP8Key"


class P8KeyNotP256(InvalidRequest):
    code = "P8KeyNotP256"


class InvalidKeyId(InvalidRequest):
    code = "InvalidKeyId"


class InvalidTeamId(InvalidRequest):
    code = "InvalidTeamId"


class InvalidBundleId(InvalidRequest):
    code = "InvalidBundleId"


class BundleIdMismatch(Conflict):
    """A rotation must keep the app: apps ship with the businessId compiled in."""

    code = "BundleIdMismatch"


class EnvironmentChange(Conflict):
    """A rotation must keep the environment: the devices registered under the id got their tokens from it."""

    code = "EnvironmentChange"


class PushKindsNarrowed(Conflict):
    """A rotation must keep every push kind (alert, voip) the certificate served: devices rely on them."""

    code = "PushKindsNarrowed"


class ConcurrentModification(Conflict):
    code = "ConcurrentModification"


class CredentialUnusable(OfflinePushError):
    """A stored credential can no longer be used (expired, or its file is damaged): a dispatch-time reason."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "CredentialUnusable"


# --- registrations and app settings -------------------------------------------------------------------------


class InvalidDeviceToken(InvalidRequest):
    code = "InvalidDeviceToken"


class UnknownBusinessId(InvalidRequest):
    """setAPNS named a certificate the app does not have: a 400, the request is wrong, not the URL."""

    code = "UnknownBusinessId"


class CertificateNotForAlerts(InvalidRequest):
    """setAPNS named a VoIP-only certificate: it cannot push alerts."""

    code = "CertificateNotForAlerts"


class CertificateNotForVoip(InvalidRequest):
    """setVOIP named a certificate without the ``<bundle>.voip`` topic."""

    code = "CertificateNotForVoip"


class AppNotFound(NotFound):
    code = "AppNotFound"


class RegistrationConflict(Conflict):
    """The user's registrations kept changing under an update: the caller may simply retry."""

    code = "RegistrationConflict"


class MissingUserToken(Unauthorized):
    code = "MissingToken"


class InvalidUserToken(Unauthorized):
    code = "InvalidToken"


class ExpiredUserToken(Unauthorized):
    """Distinct code so an app knows to fetch a fresh token from its server and retry."""

    code = "TokenExpired"


# --- dispatch and deliveries ----------------------------------------------------------------------------


class MessageNotFound(NotFound):
    """No delivery, summary or invalid-job record of a message (never sent, or its records expired)."""

    code = "MessageNotFound"
