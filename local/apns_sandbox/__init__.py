"""A local APNs: HTTP/2 over TLS, Apple's rules and answers, a record of what it accepted, and faults.

Three ways to use it:

- in-process (tests): ``async with ApnsSandbox(pki) as sandbox`` on 127.0.0.1, free ports; configure
  and read it through ``sandbox.state``;
- as its own process: ``python -m local.apns_sandbox --state-dir DIR`` (or :func:`start_sandbox_process`),
  which prints one JSON line with its URLs and serves until SIGTERM/SIGINT;
- from another process: the JSON control endpoint, through :class:`SandboxControl`.
"""

from local.apns_sandbox.control import ControlError, SandboxControl
from local.apns_sandbox.process import SandboxProcess, start_sandbox_process
from local.apns_sandbox.server import ApnsSandbox
from local.apns_sandbox.state import (
    AcceptedNotification,
    Answer,
    CertificateIdentity,
    Device,
    Fault,
    FaultKind,
    PushRequest,
    SandboxState,
    SigningKey,
)

__all__ = [
    "AcceptedNotification",
    "Answer",
    "ApnsSandbox",
    "CertificateIdentity",
    "ControlError",
    "Device",
    "Fault",
    "FaultKind",
    "PushRequest",
    "SandboxControl",
    "SandboxProcess",
    "SandboxState",
    "SigningKey",
    "start_sandbox_process",
]
