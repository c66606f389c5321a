"""The console's SigV4 signing (sigv4.js, WebCrypto in the browser) against botocore's signer on the same
requests: what API Gateway's IAM authorization verifies for a deployed console. Same method, URL, headers,
body, credentials and time: the same authorization header, byte for byte."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from playwright.sync_api import Browser, Page

from offline_push.api.console import ASSETS

SIGNED_AT = dt.datetime(2026, 11, 25, 12, 34, 56, tzinfo=dt.UTC)
API = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
ACCESS_KEY = "ASIAEXAMPLEEXAMPLE01"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQExample+token/with=chars"


@dataclass(frozen=True)
class Call:
    method: str
    segments: list[str]
    query: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # JSON
    with_token: bool = True


CALLS = [
    Call("GET", ["v1", "apps"]),
    Call("GET", ["v1", "apps", "1400000001", "certificates"], with_token=False),
    Call(
        "GET",
        ["v1", "apps", "1400000001", "users", "vinson@example.com", "deliveries"],
        {"limit": "20", "cursor": "eyJwayI6Im0jMTQwMDAwMDAwMSJ9+/="},
    ),
    Call("GET", ["v1", "apps", "1400000001", "users", "用户 一/二", "deliveries"], {"limit": "5"}),
    Call("GET", ["v1", "apps", "1400000001", "messages", "msg key (1)!*'~"]),
    Call(
        "POST",
        ["v1", "apps", "1400000001", "certificates"],
        body='{"name":"Chat prod","environment":"production","password":"p@ss wörd","file":"MIIKAAI="}',
    ),
    Call(
        "PUT",
        ["v1", "apps", "1400000001", "settings"],
        body='{"kickPolicy":"multi","placeholderLanguage":"zh"}',
    ),
    Call("DELETE", ["v1", "apps", "1400000001", "certificates", "3"]),
]


class _Assets(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(ASSETS), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def signing_page(browser: Browser) -> Iterator[Page]:
    """A page of 127.0.0.1 (a secure context: WebCrypto's subtle API exists only there) with sigv4.js."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Assets)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
    page.add_script_tag(url="/sigv4.js")
    assert page.evaluate("window.isSecureContext && typeof crypto.subtle.sign === 'function'")
    yield page
    context.close()
    server.shutdown()
    server.server_close()
    thread.join()


def browser_signature(page: Page, call: Call) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """async ([method, api, segments, query, body, credentials, at]) => {
                const search = window.sigv4.encodeQuery(query);
                const url = api + window.sigv4.encodePath(segments) + (search ? "?" + search : "");
                const headers = body === null ? {} : {"content-type": "application/json"};
                const signed = await window.sigv4.signRequest({
                    method, url, headers, body: body === null ? "" : body, region: "eu-west-1",
                    service: "execute-api", credentials, date: new Date(at),
                });
                return {url, ...signed};
            }""",
            [
                call.method,
                API,
                call.segments,
                call.query,
                call.body,
                {
                    "accessKeyId": ACCESS_KEY,
                    "secretAccessKey": SECRET_KEY,
                    "sessionToken": SESSION_TOKEN if call.with_token else None,
                },
                SIGNED_AT.isoformat(),
            ],
        )
    )


def botocore_signature(method: str, url: str, body: str | None, *, with_token: bool) -> dict[str, str]:
    headers = {} if body is None else {"content-type": "application/json"}
    request = AWSRequest(method=method, url=url, data=(body or "").encode("utf-8"), headers=headers)
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN if with_token else None)
    botocore.auth.SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    answer = {"authorization": request.headers["Authorization"], "x-amz-date": request.headers["X-Amz-Date"]}
    if with_token:
        answer["x-amz-security-token"] = request.headers["X-Amz-Security-Token"]
    return answer


@pytest.mark.parametrize("call", CALLS, ids=[f"{call.method} {'/'.join(call.segments)}" for call in CALLS])
def test_the_browser_signs_a_request_as_botocore_does(
    signing_page: Page, monkeypatch: pytest.MonkeyPatch, call: Call
) -> None:
    # Given botocore's clock at the moment the browser signs
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT.replace(tzinfo=None))

    # When the page signs the request, and botocore signs the same method, URL and body
    signed = browser_signature(signing_page, call)
    url = signed.pop("url")
    expected = botocore_signature(call.method, url, call.body, with_token=call.with_token)

    # Then both give the same headers
    assert signed == expected
    assert expected["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20261125/eu-west-1/execute-api/aws4_request, "
        "SignedHeaders="
    )


def test_a_path_and_query_are_sent_encoded_once(signing_page: Page) -> None:
    # When the page builds the URL of a user id with reserved characters and a cursor with + / =
    url = browser_signature(
        signing_page, Call("GET", ["v1", "users", "a b/c@d"], {"cursor": "x+y/z=", "limit": "2"})
    )["url"]

    # Then each segment and value is percent-encoded once, RFC 3986, and the query sorted
    assert url == f"{API}/v1/users/a%20b%2Fc%40d?cursor=x%2By%2Fz%3D&limit=2"
