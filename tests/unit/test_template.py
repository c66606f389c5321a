"""template.yaml agrees with the code and the test environment."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from local.template import function_runtime, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]


def test_lambda_runtime_layer_build_method_and_test_python_are_one_version() -> None:
    # Given the runtime of every function, and the layer's build method and compatible runtimes
    runtime = function_runtime()
    layers = resources_of_type("AWS::Serverless::LayerVersion")
    makefile_version = re.search(r"^PYTHON_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)

    # Then they name the Python these tests run on: a layer built for another minor version fails to import
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert makefile_version is not None
    assert runtime == f"python{makefile_version.group(1)}"
    assert layers, "template.yaml declares the shared layer"
    for layer in layers.values():
        assert layer["Metadata"]["BuildMethod"] == runtime
        assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    for function in resources_of_type("AWS::Serverless::Function").values():
        assert function["Properties"].get("Runtime", runtime) == runtime


def test_every_function_points_at_a_handler_that_exists() -> None:
    for name, function in resources_of_type("AWS::Serverless::Function").items():
        code_uri = ROOT / function["Properties"]["CodeUri"]
        module, _, attribute = function["Properties"]["Handler"].partition(".")
        source = code_uri / f"{module}.py"
        assert source.is_file(), f"{name}: {source} is missing"
        assert f"def {attribute}(" in source.read_text(), f"{name}: {attribute} not defined in {source}"


def test_layer_requirements_are_pinned() -> None:
    template = load_template()
    for layer in resources_of_type("AWS::Serverless::LayerVersion", template).values():
        requirements = ROOT / layer["Properties"]["ContentUri"] / "requirements.txt"
        for raw_line in requirements.read_text().splitlines():
            requirement = raw_line.split("#", 1)[0].strip()
            if requirement:
                assert "==" in requirement, f"{requirements}: {requirement} is not pinned"


def test_tracing_is_a_parameter_and_the_functions_tracer_follows_it() -> None:
    template = load_template()
    assert template["Parameters"]["Tracing"]["Default"] == "Active"
    function_globals = template["Globals"]["Function"]
    assert function_globals["Tracing"] == {"Ref": "Tracing"}
    assert template["Conditions"]["TracingActive"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]}
    assert function_globals["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingActive", "false", "true"]
    }
