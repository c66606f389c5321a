"""``python -m local.apns_sandbox --state-dir DIR``: run the APNs sandbox as its own process.

The CA is loaded from DIR (created and saved there on first run), so other processes can issue client
certificates it trusts (``ApplePki.load(DIR)``) and trust its server certificate (``DIR/ca.pem``). Once
listening it prints one JSON line (``production``, ``development``, ``control`` URLs, ``ca``, ``pid``) and
writes the same to ``DIR/sandbox.json``; it serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path

from local.apns_sandbox.server import ApnsSandbox
from local.apns_sandbox.state import SandboxState
from local.apple_pki import ApplePki


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.apns_sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True, help="where the CA and sandbox.json live")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--production-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--development-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--control-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--max-concurrent-streams", type=int, default=1000)
    return parser.parse_args(argv)


async def serve(arguments: argparse.Namespace) -> None:
    pki = ApplePki.load_or_create(arguments.state_dir)
    state = SandboxState(max_concurrent_streams=arguments.max_concurrent_streams)
    sandbox = ApnsSandbox(
        pki,
        host=arguments.host,
        production_port=arguments.production_port,
        development_port=arguments.development_port,
        control_port=arguments.control_port,
        state=state,
    )
    await sandbox.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    description = {**sandbox.describe(), "ca": str(arguments.state_dir / ApplePki.CA_CERTIFICATE_FILE)}
    (arguments.state_dir / "sandbox.json").write_text(json.dumps(description, indent=2))
    print(json.dumps(description), flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
