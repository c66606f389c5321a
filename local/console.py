"""The console on the local stack: the same page the deployed stack's ConsoleFunction serves, at ``/console``,
signing in with the local stack's admin key (the local API checks it in place of SigV4).

The page is the layer's (:mod:`offline_push.api.console`); it is answered here, beside the template's routes,
because the template serves it only with ``Console=true``, whose Cognito sign-in the local stack replaces.
"""

from __future__ import annotations

from local.api_gateway import GatewayResponse
from offline_push.api.console import PREFIX, ConsoleConfig, SignIn, console_response

CONSOLE_PREFIX = PREFIX
_LOCAL = ConsoleConfig(sign_in=SignIn.ADMIN_KEY)


def serve_console(method: str, path: str) -> GatewayResponse | None:
    """The console's answer for ``path`` under ``/console``; None for any other path (the API's routes)."""
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return None
    answer = console_response(method, path, _LOCAL)
    # The server leaves a HEAD answer's body out and keeps its content-length.
    return GatewayResponse(answer.status.value, list(answer.headers.items()), answer.body.encode("utf-8"))
