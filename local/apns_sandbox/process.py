"""Start the APNs sandbox as a child process and talk to it (benchmarks, the local stack, tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from local.apns_sandbox.control import SandboxControl
from local.apple_pki import ApplePki

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    state_dir: Path
    production_url: str
    development_url: str
    control_url: str
    ca_path: Path
    control: SandboxControl = field(init=False)

    def __post_init__(self) -> None:
        self.control = SandboxControl(self.control_url)

    @property
    def pid(self) -> int:
        return self.process.pid

    def pki(self) -> ApplePki:
        """The sandbox's CA, to issue client certificates it trusts."""
        return ApplePki.load(self.state_dir)

    def cpu_seconds(self) -> float:
        """User + system CPU time the sandbox process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox_process(
    state_dir: Path, *, max_concurrent_streams: int = 1000, startup_timeout: float = 20.0
) -> SandboxProcess:
    """``python -m local.apns_sandbox`` on free ports; returns once it is listening."""
    environment = dict(os.environ)
    paths = [str(ROOT / "layers" / "offline_push"), str(ROOT)]
    environment["PYTHONPATH"] = os.pathsep.join([*paths, environment.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "local.apns_sandbox",
            "--state-dir",
            str(state_dir),
            "--max-concurrent-streams",
            str(max_concurrent_streams),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=ROOT,
    )
    assert process.stdout is not None
    import selectors  # noqa: PLC0415

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(startup_timeout):
            process.kill()
            process.wait()
            raise RuntimeError(f"the APNs sandbox did not start within {startup_timeout} s")
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(f"the APNs sandbox exited with {process.returncode} before listening")
    description = json.loads(line)
    return SandboxProcess(
        process=process,
        state_dir=state_dir,
        production_url=description["production"],
        development_url=description["development"],
        control_url=description["control"],
        ca_path=Path(description["ca"]),
    )
