"""TLS contexts for APNs: HTTP/2 by ALPN, and the client certificate loaded without touching a filesystem.

``ssl.SSLContext.load_cert_chain`` only reads files. The private key is therefore serialised as an encrypted
PEM (a random one-time password that lives only in this process) into an anonymous memory file
(``memfd_create``), read through ``/proc/self/fd/N`` and closed at once: the key never reaches a disk, a
tmpfs, or anything another process could list, and the bytes in that memory are ciphertext anyway.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives import serialization

from offline_push.models.credential import CertificateCredential


def client_context(extra_ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context that verifies APNs' certificate (system CAs + ``extra_ca_bundle``) and offers h2."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if extra_ca_bundle:
        context.load_verify_locations(cafile=extra_ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    return context


def certificate_context(
    credential: CertificateCredential, extra_ca_bundle: str | None = None
) -> ssl.SSLContext:
    """:func:`client_context` presenting the credential's certificate and key."""
    context = client_context(extra_ca_bundle)
    password = secrets.token_bytes(32)
    key_pem = credential.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    certificate_pem = credential.certificate.public_bytes(serialization.Encoding.PEM)
    with _memory_file(certificate_pem) as certificate_path, _memory_file(key_pem) as key_path:
        context.load_cert_chain(certificate_path, key_path, password=password)
    return context


@contextmanager
def _memory_file(content: bytes) -> Iterator[str]:
    """A path to ``content`` that exists only in this process's memory (Linux: memfd)."""
    descriptor = None
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):  # a sandbox that forbids memfd_create: fall back below
            descriptor = os.memfd_create("apns-credential", os.MFD_CLOEXEC)
    if descriptor is not None:
        try:
            os.write(descriptor, content)
            yield f"/proc/self/fd/{descriptor}"
        finally:
            os.close(descriptor)
        return
    # Other systems (a developer's Mac): a private temporary file, removed at once; the key in it is
    # encrypted with a password that never leaves this process.
    with tempfile.NamedTemporaryFile(prefix="apns-", delete=True) as handle:  # pragma: no cover - not Linux
        handle.write(content)
        handle.flush()
        yield handle.name
