"""AWS on this machine: moto's server on 127.0.0.1 with template.yaml's resources, and the environment a
handler needs to use it.

moto's server answers every service on one endpoint, and boto3 sends every client to ``AWS_ENDPOINT_URL``
when it is set, so handlers run unchanged: no endpoint in their code, no mock in their process. The
environment also carries fake credentials and the region, and removes what would send boto3 elsewhere (a
profile, a per-service endpoint, ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``).

While it runs, the process's own environment is cleared of those variables too: moto serves from this
process and uses botocore itself. They are put back on ``stop``.

moto keeps its state in module globals, so one process holds one emulated AWS at a time: starting a second
:class:`LocalAws` while one runs is refused, and each start begins from an empty account. (Do not use
moto's in-process ``mock_aws`` while a server runs in the same process: it intercepts every boto3 call.)
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self

import boto3
import botocore.session
from moto.server import ThreadedMotoServer

from local.provision import Provisioned, deployed_template, provision
from local.template import TEMPLATE_PATH, load_template

logger = logging.getLogger("local.aws")

LOCAL_ACCESS_KEY_ID = "local"
LOCAL_SECRET_ACCESS_KEY = "local"  # noqa: S105 - moto accepts any credentials; these reach nothing real

# Variables that would point boto3 at a real account or another endpoint, or fail session creation.
_CONFLICTING_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


class LocalAws:
    """moto's server on a free port of ``host``, with every table, bucket, key and queue of the template."""

    _running: ClassVar[LocalAws | None] = None
    _running_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        template_path: Path = TEMPLATE_PATH,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        stack_name: str = "offline-push",
    ) -> None:
        self.template_path = template_path
        self.template = deployed_template(load_template(template_path), region=region, stack_name=stack_name)
        self.region = region
        self.stack_name = stack_name
        self._address = (host, port)
        self._server: Any = None
        self._endpoint_url: str | None = None
        self._provisioned: Provisioned | None = None
        self._isolation: ProcessEnvironment | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("local AWS is not started")
        return self._endpoint_url

    @property
    def provisioned(self) -> Provisioned:
        if self._provisioned is None:
            raise RuntimeError("local AWS is not started")
        return self._provisioned

    def start(self) -> Self:
        with LocalAws._running_lock:
            if LocalAws._running is not None:
                raise RuntimeError(
                    f"local AWS already runs at {LocalAws._running.endpoint_url}: moto keeps one state "
                    "per process, so stop it first"
                )
            LocalAws._running = self
        try:
            # moto serves from this process and uses botocore itself: a profile of the user's shell that this
            # machine lacks would fail it, so the conflicting variables go for as long as it runs.
            self._isolation = ProcessEnvironment({}, unset=self.conflicting_variables())
            self._isolation.apply()
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
            self._server = ThreadedMotoServer(
                ip_address=self._address[0], port=self._address[1], verbose=False
            )
            self._server.start()
            host, port = self._server.get_host_and_port()
            self._endpoint_url = f"http://{host}:{port}"
            self._reset()
            self._provisioned = provision(
                self.session(),
                template=self.template,
                endpoint_url=self.endpoint_url,
                name_prefix=self.stack_name,
            )
        except BaseException:
            self.stop()
            raise
        logger.info("AWS (moto) at %s with the resources of %s", self.endpoint_url, self.template_path)
        return self

    def _reset(self) -> None:
        """Empty moto's state: it lives in globals that outlive a previous server in this process."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own 127.0.0.1 server
            answer.read()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            # ThreadedMotoServer stops serving but keeps its listening socket open.
            if self._server._server is not None:
                self._server._server.server_close()
            self._server = None
        if self._isolation is not None:
            self._isolation.restore()
            self._isolation = None
        with LocalAws._running_lock:
            if LocalAws._running is self:
                LocalAws._running = None

    def session(self) -> boto3.Session:
        """A boto3 session with the local credentials and region (clients still need ``endpoint_url``)."""
        return _local_session(self.region)

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs so that boto3 reaches this emulation, whatever the user's AWS settings."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    @staticmethod
    def conflicting_variables(environ: Mapping[str, str] = os.environ) -> list[str]:
        """Variables of ``environ`` a local stack removes (profiles, tokens, per-service endpoints)."""
        per_service = [name for name in environ if name.startswith("AWS_ENDPOINT_URL_")]
        return [name for name in (*_CONFLICTING_VARIABLES, *per_service) if name in environ]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@cache
def _local_session(region: str) -> boto3.Session:
    # One session per region for the whole process: each new session loads botocore's service models again.
    # It ignores AWS_PROFILE: a profile of the user's shell missing from this machine fails a session.
    botocore_session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
        region_name=region,
        botocore_session=botocore_session,
    )


class ProcessEnvironment:
    """Set and unset variables of ``os.environ``, and put back exactly what was there before."""

    def __init__(self, values: Mapping[str, str], unset: Iterable[str] = ()) -> None:
        self.values = dict(values)
        self.unset = [name for name in unset if name not in self.values]
        self._saved: dict[str, str | None] | None = None

    def apply(self) -> None:
        if self._saved is not None:
            return
        self._saved = {name: os.environ.get(name) for name in (*self.values, *self.unset)}
        for name in self.unset:
            os.environ.pop(name, None)
        os.environ.update(self.values)

    def restore(self) -> None:
        if self._saved is None:
            return
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = None
