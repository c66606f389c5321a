"""A function's cold import loads only what each of its invocations uses: the libraries of one path (reading
an uploaded certificate, parsing a public key, signing an APNs provider token) are loaded by that path.

Each case imports in a fresh interpreter, as a new Lambda instance does (bench/bench_cold_start.py measures
what it costs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The layer has no pyOpenSSL (template's requirements): the test venv does (aioapns for the benchmark), and
# botocore would load it, and cryptography with it. The probe hides it, as the layer does.
_PROBE = """
import json, sys
sys.modules["OpenSSL"] = None
{code}
print(json.dumps(sorted({{name.partition(".")[0] for name in sys.modules}} & {watched!r})))
"""

WATCHED = {"cryptography", "jwt", "aws_xray_sdk"}


def loaded_after(code: str) -> list[str]:
    """The watched top-level packages loaded once ``code`` has run in a new interpreter, tracing off."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "offline_push"), str(ROOT)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "offline-push",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", _PROBE.format(code=code, watched=WATCHED)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.parametrize("folder", ["certificates", "apps", "deliveries", "console"])
def test_an_admin_function_that_reads_no_key_material_imports_no_cryptography(folder: str) -> None:
    # Given a new instance, When the function is imported, Then neither cryptography nor PyJWT is loaded
    assert loaded_after(f"import functions.{folder}.app") == []


def test_the_dispatcher_imports_no_jwt_until_it_signs_a_provider_token() -> None:
    # Given a new dispatch instance, When it is imported, Then cryptography (certificates, TLS) is, PyJWT not
    assert loaded_after("import functions.dispatch.app") == ["cryptography"]


def test_signing_a_provider_token_loads_jwt_where_it_is_needed() -> None:
    # Given a dispatcher with a .p8 key, When it signs a provider token, Then PyJWT is loaded and signs it
    code = (
        "import functions.dispatch.app\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "from offline_push.apns.tokens import sign_provider_token\n"
        "key = ec.generate_private_key(ec.SECP256R1())\n"
        "token = sign_provider_token('TEAM123456', 'KEY1234567', key, 0)\n"
        "assert token.count('.') == 2\n"
    )
    assert loaded_after(code) == ["cryptography", "jwt"]


def test_checking_an_hs256_secret_needs_no_cryptography() -> None:
    # Given the apps function, When an HS256 secret is checked, Then cryptography stays unloaded
    code = (
        "import functions.apps.app\n"
        "from offline_push.logic.apps import check_user_auth_key\n"
        "from offline_push.models.app import UserAuthAlgorithm\n"
        "checked = check_user_auth_key(UserAuthAlgorithm.HS256, 'a' * 32)\n"
        "assert checked.verification == b'a' * 32\n"
    )
    assert loaded_after(code) == []


def test_checking_an_es256_public_key_loads_cryptography_and_accepts_it() -> None:
    # Given the apps function, When a P-256 public key is checked, Then cryptography is loaded, the key kept
    code = (
        "import functions.apps.app\n"
        "from cryptography.hazmat.primitives import serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        "from offline_push.logic.apps import check_user_auth_key\n"
        "from offline_push.models.app import UserAuthAlgorithm\n"
        "public = ec.generate_private_key(ec.SECP256R1()).public_key()\n"
        "spki = serialization.PublicFormat.SubjectPublicKeyInfo\n"
        "pem = public.public_bytes(serialization.Encoding.PEM, spki)\n"
        "checked = check_user_auth_key(UserAuthAlgorithm.ES256, pem.decode('ascii'))\n"
        "assert checked.key.material == pem.decode('ascii')\n"
        "assert checked.verification.public_numbers() == public.public_numbers()\n"
    )
    assert loaded_after(code) == ["cryptography"]
