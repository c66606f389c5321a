"""Runs pytest on one module's mutants, each in a forked child of a warmed-up parent.

The parent imports pytest, the project and the test suites' libraries (boto3, moto, cryptography,
pydantic...) once, by collecting the tests. Each child (``os.fork``) starts from that state, forgets the
mutated module, the project modules that import it and the tests, imports them afresh with the one mutated
module compiled from its mutated tree,
and runs only the tests that executed the mutated lines in an unmutated baseline run, fastest first,
stopping at the first failure (``-x``). A child that outlives its time limit is killed: the mutant is
counted as killed (an endless loop is a caught bug).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
_FIRST_PARTY = ("offline_push", "tests", "local", "functions", "bench", "conftest")
_TOOL_ID = (
    4  # sys.monitoring.OPTIMIZER_ID is 5; ids 0-2 and 5 are claimed by debuggers, coverage and profilers
)


@dataclass
class Baseline:
    """What the unmutated module's tests did: every test's duration and the module's lines it ran."""

    passed: bool
    durations: dict[str, float] = field(default_factory=dict)
    lines: dict[str, set[int]] = field(default_factory=dict)
    import_lines: set[int] = field(default_factory=set)
    output: str = ""


def _pytest_args(tests: Sequence[str]) -> list[str]:
    return [
        *tests,
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-o",
        "addopts=--import-mode=importlib --strict-markers",
        f"--rootdir={ROOT}",
    ]


# Property tests run at most this many examples per mutant: a mutant the rules' properties catch is
# almost always caught in the first few examples, and a survivor would otherwise cost the full count.
MAX_EXAMPLES = 10


def _hypothesis_profile() -> None:
    from hypothesis import settings  # noqa: PLC0415 - only the children need hypothesis configured

    settings.register_profile(
        "mutation",
        database=None,
        deadline=None,
        derandomize=True,
        print_blob=False,
        max_examples=MAX_EXAMPLES,
    )
    settings.load_profile("mutation")
    original = settings.__init__

    def capped(self: settings, parent: settings | None = None, **kwargs: Any) -> None:
        if kwargs.get("max_examples", 0) > MAX_EXAMPLES:
            kwargs["max_examples"] = MAX_EXAMPLES
        original(self, parent, **kwargs)

    settings.__init__ = capped  # type: ignore[method-assign]


def _project_modules() -> dict[str, ModuleType]:
    found = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name.startswith("tests.mutation") or module is None:
            continue
        if name.split(".")[0] in _FIRST_PARTY or (file.startswith(str(ROOT)) and "/.venv" not in file):
            found[name] = module
    return found


def _imports_of(module: ModuleType) -> set[str]:
    """The modules a module's source imports (absolute names; ``from a import b`` counts a and a.b)."""
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py"):
        return set()
    try:
        tree = ast.parse(Path(file).read_text())
    except (OSError, SyntaxError):
        return set()
    package = module.__name__ if file.endswith("__init__.py") else module.__name__.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def forget_dependents(target: str) -> None:
    """Drop the mutated module, every project module that imports it (directly or not), and the tests, so
    the next imports read them afresh; modules that cannot see the mutant stay loaded (fast children)."""
    for name in _stale(target):
        sys.modules.pop(name, None)
    # A package keeps its submodules as attributes: drop those too, or `import a.b` would find the old one.
    for name in _stale(target):
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and parent not in _stale(target):
            with contextlib.suppress(AttributeError):
                delattr(sys.modules[parent], child)


@functools.cache
def _stale(target: str) -> frozenset[str]:
    """The modules a mutant of ``target`` can reach (worked out once, in the parent)."""
    loaded = _project_modules()
    imports = {name: _imports_of(module) for name, module in loaded.items()}
    stale = {target} | {name for name in loaded if name.split(".")[0] in ("tests", "conftest")}
    stale |= {name for name in loaded if name.startswith(target + ".")}
    changed = True
    while changed:
        changed = False
        for name, imported in imports.items():
            if name not in stale and imported & stale:
                stale.add(name)
                changed = True
    return frozenset(stale)


def warm_up(tests: Sequence[str]) -> None:
    """Import the project and what the tests import, by collecting them (the children start from this)."""
    os.chdir(ROOT)
    with open(os.devnull, "w") as sink:
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            pytest.main([*_pytest_args(tests), "--collect-only"])
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module from a given syntax tree instead of its file."""

    def __init__(self, name: str, path: Path, tree: ast.Module) -> None:
        self.name = name
        self.path = path
        self.tree = tree

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self.tree, str(self.path), "exec"), module.__dict__)  # noqa: S102 - the mutant under test


class MutantTimeout(Exception):
    """A test ran far longer than it did on the unmutated module: the mutant made it loop."""


def _time_out(signum: int, frame: object) -> None:
    raise MutantTimeout


class _Select:
    """Keeps only the chosen tests, in the chosen order, each with a time limit of its own."""

    def __init__(self, order: Sequence[str], limits: Mapping[str, float], report: str) -> None:
        self.rank = {nodeid: i for i, nodeid in enumerate(order)}
        self.limits = limits
        self.report = report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:  # tell the parent which test caught the mutant: it runs first from now on
            Path(self.report).write_text(report.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        previous = signal.signal(signal.SIGALRM, _time_out)
        signal.setitimer(signal.ITIMER_REAL, self.limits.get(item.nodeid, 30.0))
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        kept = sorted(
            (item for item in items if item.nodeid in self.rank), key=lambda item: self.rank[item.nodeid]
        )
        deselected = [item for item in items if item.nodeid not in self.rank]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = kept


class _Coverage:
    """Records, per test, which lines of some files ran (sys.monitoring LINE events, each location once)."""

    def __init__(self, filenames: Sequence[str]) -> None:
        self.current: str | None = None
        self.durations: dict[str, float] = {}
        self.lines: dict[str, dict[str, set[int]]] = {name: {} for name in filenames}
        self.import_lines: dict[str, set[int]] = {name: set() for name in filenames}
        monitoring = sys.monitoring
        monitoring.use_tool_id(_TOOL_ID, "mutation")
        monitoring.register_callback(_TOOL_ID, monitoring.events.LINE, self._line)
        monitoring.set_events(_TOOL_ID, monitoring.events.LINE)

    def _line(self, code: Any, line: int) -> Any:
        per_test = self.lines.get(code.co_filename)
        if per_test is None:
            return sys.monitoring.DISABLE
        if self.current is None:
            self.import_lines[code.co_filename].add(line)
        else:
            per_test.setdefault(self.current, set()).add(line)
        return sys.monitoring.DISABLE

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self.current = item.nodeid
        for per_test in self.lines.values():
            per_test[item.nodeid] = set()
        sys.monitoring.restart_events()
        started = time.perf_counter()
        try:
            return (yield)
        finally:
            self.durations[item.nodeid] = time.perf_counter() - started
            self.current = None
            sys.monitoring.restart_events()


def _in_child(work: Callable[[], int], timeout: float) -> tuple[int | None, bool]:
    """Run `work` in a forked child with its own process group; returns (exit code, timed out).

    The child and everything it started are killed when it outlives ``timeout`` or the driver stops."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            os.setpgid(0, 0)
            with open(os.devnull, "w") as sink:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
            code = work()
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    status: int | None = None
    try:
        while status is None:
            done, waited = os.waitpid(pid, os.WNOHANG)
            if done:
                status = waited
            elif time.monotonic() > deadline:
                break
            else:
                time.sleep(0.02)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # anything the child started and left behind
    if status is None:
        os.waitpid(pid, 0)
        return None, True
    if os.WIFSIGNALED(status):
        return None, False
    return os.WEXITSTATUS(status), False


def baseline(module: str, path: Path, tests: Sequence[str], timeout: float) -> Baseline:
    """Run the module's tests unmutated (in a child), recording coverage and durations."""
    return baselines({module: path}, tests, timeout)[module]


def baselines(modules: Mapping[str, Path], tests: Sequence[str], timeout: float) -> dict[str, Baseline]:
    """One unmutated run of ``tests`` recording the coverage of several modules: modules that share their
    tests share this run (a run of the dispatch integration tests costs minutes)."""
    for module in modules:
        _stale(module)  # worked out in the parent, inherited by the children
    files = {module: str(path) for module, path in modules.items()}
    with tempfile.NamedTemporaryFile("r", suffix=".json") as report:

        def work() -> int:
            _hypothesis_profile()
            for module in modules:
                forget_dependents(module)
            coverage = _Coverage(list(files.values()))
            code = pytest.main(_pytest_args(tests), plugins=[coverage])
            Path(report.name).write_text(
                json.dumps(
                    {
                        "durations": coverage.durations,
                        "lines": {
                            file: {k: sorted(v) for k, v in per_test.items()}
                            for file, per_test in coverage.lines.items()
                        },
                        "imports": {file: sorted(lines) for file, lines in coverage.import_lines.items()},
                    }
                )
            )
            return int(code)

        code, _ = _in_child(work, timeout)
        if code != 0:
            failed = Baseline(passed=False, output=f"pytest exited with {code} on the unmutated modules")
            return dict.fromkeys(modules, failed)
        data = json.loads(Path(report.name).read_text())
    return {
        module: Baseline(
            passed=True,
            durations=data["durations"],
            lines={k: set(v) for k, v in data["lines"][file].items()},
            import_lines=set(data["imports"][file]),
        )
        for module, file in files.items()
    }


def run_mutant(
    module: str,
    path: Path,
    tree: ast.Module,
    *,
    tests: Sequence[str],
    order: Sequence[str],
    limits: Mapping[str, float],
    timeout: float,
) -> tuple[str, str | None]:
    """'killed', 'timeout', 'survived' or 'error' for one mutant against the chosen tests, and the test that
    caught it. Each test has its own time limit (``limits``), the whole run ``timeout``."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:

        def work() -> int:
            _hypothesis_profile()
            forget_dependents(module)
            sys.meta_path.insert(0, _MutantFinder(module, path, tree))
            plugin = _Select(order, limits, report.name)
            return int(pytest.main([*_pytest_args(tests), "-x"], plugins=[plugin]))

        code, timed_out = _in_child(work, timeout)
        killer = Path(report.name).read_text() or None
    if timed_out:
        return "timeout", killer
    if code == 0:
        return "survived", None
    if code is None or code in (1, 2):  # a crash, failed tests, or a collection error: a caught bug
        return "killed", killer
    if code == 4:
        # pytest could not load a conftest the unmutated run loaded with the same arguments: the mutant breaks
        # an import every test needs (a model pydantic refuses to build), which `make test` reports at once.
        return "killed", "(conftest import)"
    return "error", None
