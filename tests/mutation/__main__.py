"""Mutation testing of the layer's rules: ``python -m tests.mutation [module ...]`` (``make mutate``).

For each module (tests/mutation/modules.toml): every mutant (tests/mutation/operators.py) is run against
the tests that exercise the module; it prints each module's survivors and a table of scores, and keeps
the results in .mutation/<module>.json. Equivalent mutants are listed, each with its reason, in
tests/mutation/equivalent.toml.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import re
import signal
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.mutation.operators import Mutant, mutants, mutated_tree
from tests.mutation.runner import ROOT, Baseline, baselines, run_mutant, warm_up

PACKAGE = ROOT / "layers" / "offline_push" / "offline_push"
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    name: str  # e.g. logic/formatter.py
    tests: tuple[str, ...]

    @property
    def path(self) -> Path:
        return PACKAGE / self.name

    @property
    def module(self) -> str:
        return "offline_push." + self.name.removesuffix(".py").replace("/", ".")


def targets() -> list[Target]:
    config = tomllib.loads((HERE / "modules.toml").read_text())
    found: list[Target] = []
    for pattern in config["targets"]:
        for path in sorted(PACKAGE.glob(pattern)):
            name = path.relative_to(PACKAGE).as_posix()
            if path.name == "__init__.py" and not mutants(path.read_text(), name):
                continue
            for entry in config["tests"]:
                if any(fnmatch.fnmatch(name, glob) for glob in entry["modules"]):
                    found.append(Target(name, tuple(entry["tests"])))
                    break
            else:
                raise SystemExit(f"tests/mutation/modules.toml names no tests for {name}")
    return found


def equivalents() -> dict[str, dict[str, str]]:
    path = HERE / "equivalent.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


type ImportUses = list[tuple[int, int, set[int] | None, set[str]]]


def import_time_uses(source: str) -> ImportUses:
    """For each statement run at import (module and class level): the lines that use what it defines.

    A module-level ``NAME = ...`` is used where ``NAME`` is read; a class-level one where ``.NAME`` is read.
    Uses that themselves run at import are followed to their own uses. ``None``: used at import in a way not
    followed (a default, a decorator, another module), so every test counts.
    """
    tree = ast.parse(source)
    top: list[tuple[ast.stmt, bool]] = [(stmt, False) for stmt in tree.body]
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            top.extend(
                (inner, True)
                for inner in stmt.body
                if not isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    reads: dict[str, set[int]] = {}
    attributes: dict[str, set[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads.setdefault(node.id, set()).add(node.lineno)
        elif isinstance(node, ast.Attribute):
            attributes.setdefault(node.attr, set()).add(node.lineno)
    spans = [(stmt.lineno, stmt.end_lineno or stmt.lineno) for stmt, _ in top]
    # A function's decorators and defaults run at import too: its header counts as import time.
    headers = [
        (min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.body[0].lineno - 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]

    def at_import(line: int) -> tuple[int, int] | None:
        for start, end in spans:
            if start <= line <= end and not isinstance(
                _stmt_at(start), (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                return start, end
        return None

    by_start = {stmt.lineno: stmt for stmt, _ in top}

    def _stmt_at(line: int) -> ast.stmt:
        return by_start[line]

    def uses(stmt: ast.stmt, in_class: bool, seen: set[int]) -> set[int] | None:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return None
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if not names or len(names) != len(targets):
            return None
        found: set[int] = set()
        for name in names:
            lines = (attributes if in_class else reads).get(name, set())
            if not lines:
                return None
            for line in lines:
                if any(start <= line <= end for start, end in headers):
                    return None
                span = at_import(line)
                if span is None:
                    found.add(line)
                    continue
                if span[0] in seen:
                    continue
                seen.add(span[0])
                inner = uses(by_start[span[0]], False, seen)
                if inner is None:
                    return None
                found |= inner
        return found

    return [
        (stmt.lineno, stmt.end_lineno or stmt.lineno, uses(stmt, in_class, {stmt.lineno}), _defined(stmt))
        for stmt, in_class in top
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]


def _defined(stmt: ast.stmt) -> set[str]:
    targets = (
        stmt.targets
        if isinstance(stmt, ast.Assign)
        else [stmt.target]
        if isinstance(stmt, ast.AnnAssign)
        else []
    )
    return {t.id for t in targets if isinstance(t, ast.Name)}


def _mentioning(names: set[str], tests: list[str]) -> list[str]:
    """The tests whose file names one of ``names``: they may read the value directly."""
    texts: dict[str, str] = {}
    chosen = []
    for test in tests:
        path = test.split("::")[0]
        if path not in texts:
            texts[path] = (ROOT / path).read_text() if (ROOT / path).exists() else ""
        if any(re.search(rf"\b{re.escape(name)}\b", texts[path]) for name in names):
            chosen.append(test)
    return chosen


def select(
    mutant: Mutant,
    base_lines: dict[str, set[int]],
    import_lines: set[int],
    durations: dict[str, float],
    import_uses: ImportUses,
) -> list[str]:
    """The tests that ran the mutant's lines, fastest first.

    A mutant of a line run at import counts the tests that ran the lines using what the line defines and
    the tests in files that name it, or every test when that is not known. A mutant whose own lines no
    test ran (a line the interpreter does not report, such as a dict display's constant key) counts the
    tests that ran its statement.
    """
    span = set(range(mutant.line, mutant.end_line + 1))
    if span & import_lines or any(start <= mutant.line <= end for start, end, _, _ in import_uses):
        used: set[int] | None = None
        names: set[str] = set()
        for start, end, lines, defined in import_uses:
            if start <= mutant.line <= end:
                used, names = lines, defined
                break
        if used is None:
            chosen = list(durations)
        else:
            reading = {test for test, lines in base_lines.items() if lines & used}
            chosen = sorted(reading | set(_mentioning(names, list(durations))))
    else:
        chosen = [test for test, lines in base_lines.items() if lines & span]
        if not chosen and mutant.statement != (0, 0):
            first, last = mutant.statement
            statement = set(range(first, last + 1))
            chosen = [test for test, lines in base_lines.items() if lines & statement]
    return sorted(chosen, key=lambda test: durations.get(test, 0.0))


def _results_file(target: Target) -> Path:
    return RESULTS / (target.name.replace("/", ".") + ".json")


# Unmutated runs, per set of tests: the modules of one run that share their tests share one baseline.
_BASELINES: dict[tuple[str, ...], dict[str, Baseline]] = {}


def run_target(
    target: Target,
    marked: dict[str, str],
    limit: int | None,
    verbose: bool,
    reuse: str | None,
    *,
    sharing: Sequence[Target] = (),
) -> dict[str, object]:
    """Run every mutant of one module; ``reuse`` "killed" keeps the last run's kills (runs the survivors
    again), "all" keeps every outcome of the last (perhaps interrupted) run and runs the rest. ``sharing``:
    the modules of this run with the same tests, whose coverage the first of them records in the same
    unmutated run (its time is counted in that module's time)."""
    source = target.path.read_text()
    found = mutants(source, target.name)[:limit]
    previous: dict[str, str] = {}
    spent_before = 0.0
    interrupted = False
    if reuse and _results_file(target).exists():
        last = json.loads(_results_file(target).read_text())
        previous = last.get("outcomes", {})
        spent_before = float(last.get("seconds") or 0.0)
        interrupted = bool(last.get("partial"))
    kept = ("killed", "timeout") if reuse == "killed" else ("killed", "timeout", "survived", "uncovered")
    started = time.monotonic()
    print(f"== {target.name}: {len(found)} mutants, tests: {' '.join(target.tests)}", flush=True)
    if target.module not in _BASELINES.get(target.tests, {}):
        group = {t.module: t.path for t in (target, *sharing) if t.tests == target.tests}
        _BASELINES[target.tests] = baselines(group, target.tests, timeout=1800)
    base = _BASELINES[target.tests][target.module]
    if not base.passed:
        print(f"   baseline failed: {base.output}", flush=True)
        return {"module": target.name, "error": base.output}
    base_seconds = sum(base.durations.values())
    uses = import_time_uses(source)
    outcomes: dict[str, str] = {}
    killers: Counter[str] = Counter()
    for number, mutant in enumerate(found, 1):
        began = time.monotonic()
        order = select(mutant, base.lines, base.import_lines, base.durations, uses)
        if previous.get(mutant.id) in kept:
            outcome = previous[mutant.id]
        elif mutant.id in marked:
            outcome = "equivalent"  # listed with its reason: not run
        elif not order:
            outcome = "uncovered"
        else:
            expected = sum(base.durations[test] for test in order)
            limits = {test: 2 + 3 * base.durations[test] for test in order}
            # Tests that caught earlier mutants first: they most often catch the next one too.
            order = sorted(order, key=lambda test: -killers[test])
            outcome, killer = run_mutant(
                target.module,
                target.path,
                mutated_tree(source, mutant),
                tests=sorted({test.split("::")[0] for test in order}),
                order=order,
                limits=limits,
                timeout=10 + 3 * expected,
            )
            if killer is not None:
                killers[killer] += 1
        outcomes[mutant.id] = outcome
        # Saved as it goes: an interrupted run can be resumed (--resume).
        _save(
            target,
            {
                "module": target.name,
                "partial": True,
                "total": len(found),
                "outcomes": outcomes,
                "seconds": round(spent_before + time.monotonic() - started, 1),
            },
        )

        if number % 25 == 0:
            done = sum(1 for o in outcomes.values() if o in ("killed", "timeout"))
            print(
                f"   ... {number}/{len(found)} run, {done} killed, {time.monotonic() - started:.0f} s",
                flush=True,
            )
        if outcome in ("survived", "uncovered", "error") or verbose:
            flag = "  (marked equivalent)" if mutant.id in marked else ""
            spent = f" {time.monotonic() - began:.1f}s/{len(order)}t" if verbose else ""
            print(
                f"   [{number}/{len(found)}] {outcome}{spent} {mutant.id} {mutant.describe()}{flag}",
                flush=True,
            )
    result = summarise(target, found, outcomes, marked)
    result["outcomes"] = outcomes
    # The time a whole run of the module takes: a run of the survivors alone adds nothing to it, unless it
    # finishes an interrupted run.
    elapsed = time.monotonic() - started
    counted = elapsed if reuse != "killed" or interrupted else 0.0
    result["seconds"] = round(spent_before + counted, 1) or round(elapsed, 1)
    result["baselineSeconds"] = round(base_seconds, 1)
    _save(target, result)
    return result


def _save(target: Target, result: dict[str, object]) -> None:
    RESULTS.mkdir(exist_ok=True)
    _results_file(target).write_text(json.dumps(result, indent=1))


def summarise(
    target: Target, found: list[Mutant], outcomes: dict[str, str], marked: dict[str, str]
) -> dict[str, object]:
    killed = sum(1 for m in found if outcomes[m.id] in ("killed", "timeout"))
    equivalent = sum(1 for m in found if m.id in marked and outcomes[m.id] not in ("killed", "timeout"))
    live = [m for m in found if m.id not in marked and outcomes[m.id] not in ("killed", "timeout")]
    wrongly_marked = [m.id for m in found if m.id in marked and outcomes[m.id] in ("killed", "timeout")]
    stale = sorted(set(marked) - {m.id for m in found})
    scored = len(found) - equivalent
    return {
        "module": target.name,
        "mutants": len(found),
        "killed": killed,
        "equivalent": equivalent,
        "survived": len(live),
        "score": round(100 * killed / scored, 1) if scored else 100.0,
        "survivors": [{"id": m.id, "outcome": outcomes[m.id], "mutant": m.describe()} for m in live],
        "markedButKilled": wrongly_marked,
        "staleMarks": stale,
    }


def _rescored(result: dict[str, Any], marked: dict[str, str]) -> dict[str, Any]:
    """A finished run's counts with today's list of equivalent mutants (reasons added after the run)."""
    if result.get("partial") or "outcomes" not in result:
        return result
    outcomes: dict[str, str] = result["outcomes"]
    killed = sum(1 for o in outcomes.values() if o in ("killed", "timeout"))
    equivalent = sum(1 for i, o in outcomes.items() if i in marked and o not in ("killed", "timeout"))
    scored = len(outcomes) - equivalent
    return {
        **result,
        "killed": killed,
        "equivalent": equivalent,
        "survived": scored - killed,
        "score": round(100 * killed / scored, 1) if scored else 100.0,
    }


def table(results: list[dict[str, object]]) -> str:
    rows = [
        "| module | mutants | killed | equivalent | survived | score | time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['module']} | - | - | - | - | baseline failed | - |")
            continue
        if "notRun" in r:
            rows.append(f"| {r['module']} | {r['notRun']} | - | - | - | not run yet | - |")
            continue
        if r.get("partial"):
            outcomes = list(dict(r["outcomes"]).values())  # type: ignore[call-overload]
            caught = sum(1 for o in outcomes if o in ("killed", "timeout"))
            rows.append(
                f"| {r['module']} | {r.get('total', '?')} | {caught} of {len(outcomes)} run | - "
                f"| {len(outcomes) - caught} | interrupted (`--resume` continues) | {r['seconds']} s |"
            )
            continue
        rows.append(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['equivalent']} | {r['survived']} "
            f"| {r['score']}% | {r.get('seconds', '-')} s |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutation", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "modules", nargs="*", help="modules to mutate (e.g. logic/formatter.py); all by default"
    )
    parser.add_argument("--list", action="store_true", help="list the modules, their tests and mutant counts")
    parser.add_argument("--show", metavar="ID", help="print one mutant's change")
    parser.add_argument("--limit", type=int, help="only the first N mutants of each module (a smoke run)")
    parser.add_argument("--verbose", action="store_true", help="print every mutant's outcome and time")
    parser.add_argument("--survivors", action="store_true", help="run again only the last run's survivors")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument(
        "--table", action="store_true", help="print the table from the last results in .mutation/"
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # children are cleaned up
    chosen = targets()
    if args.modules:
        unknown = set(args.modules) - {t.name for t in chosen}
        if unknown:
            parser.error(f"not a mutated module: {', '.join(sorted(unknown))}")
        by_name = {t.name: t for t in chosen}
        chosen = [by_name[name] for name in dict.fromkeys(args.modules)]
    marked_all = equivalents()
    if args.list:
        for t in chosen:
            print(f"{t.name}: {len(mutants(t.path.read_text(), t.name))} mutants; tests: {' '.join(t.tests)}")
        return 0
    if args.show:
        for t in chosen:
            for m in mutants(t.path.read_text(), t.name):
                if m.id == args.show:
                    print(f"{t.name} {m.id} {m.describe()}")
                    return 0
        parser.error(f"no mutant {args.show}")
    if args.table:
        results = [
            _rescored(json.loads(_results_file(t).read_text()), marked_all.get(t.name, {}))
            if _results_file(t).exists()
            else {"module": t.name, "notRun": len(mutants(t.path.read_text(), t.name))}
            for t in chosen
        ]
        print(table(results))
        return 0
    warm_up(sorted({test for t in chosen for test in t.tests}))
    results = []
    for t in chosen:
        results.append(
            run_target(
                t,
                marked_all.get(t.name, {}),
                args.limit,
                args.verbose,
                "killed" if args.survivors else "all" if args.resume else None,
                sharing=chosen,
            )
        )
        result = results[-1]
        for key in ("markedButKilled", "staleMarks"):
            if result.get(key):
                print(f"   {key}: {result[key]}", flush=True)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
