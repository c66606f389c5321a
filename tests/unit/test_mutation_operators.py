"""The mutation driver's changes (tests/mutation): one change per mutant, stable ids, compilable trees."""

from __future__ import annotations

import ast

from tests.mutation.operators import mutants, mutated_tree

SOURCE = '''"""A module docstring is never changed."""

from typing import Protocol

LIMIT: int = 3


class Store(Protocol):
    def get(self, key: str, *, consistent: bool = True) -> int: ...


def fits(size: int) -> bool:
    """Nor is a function's."""
    if size <= LIMIT and size > 0:
        return True
    return False
'''


def run(tree: ast.Module, size: int) -> object:
    namespace: dict[str, object] = {}
    exec(compile(tree, "<mutant>", "exec"), namespace)  # noqa: S102 - the mutant under test
    fits = namespace["fits"]
    assert callable(fits)
    return fits(size)


def test_each_mutant_changes_one_thing_outside_docstrings_annotations_and_protocols() -> None:
    # When the sample module's mutants are listed
    found = mutants(SOURCE, "sample.py")

    # Then each names its line, scope and change; docstrings, annotations and the Protocol are untouched
    assert [(m.line, m.scope, m.kind, m.before, m.after) for m in found] == [
        (5, "<module>", "constant", "3", "4"),
        (14, "fits", "boolean And->Or", "size <= LIMIT and size > 0", "size <= LIMIT or size > 0"),
        (14, "fits", "negate condition", "size <= LIMIT and size > 0", "not (size <= LIMIT and size > 0)"),
        (14, "fits", "compare LtE->Lt", "size <= LIMIT", "size < LIMIT"),
        (14, "fits", "compare Gt->GtE", "size > 0", "size >= 0"),
        (14, "fits", "constant", "0", "1"),
        (15, "fits", "return None", "return True", "return None"),
        (15, "fits", "constant", "True", "False"),
        (16, "fits", "return None", "return False", "return None"),
        (16, "fits", "constant", "False", "True"),
    ]


def test_mutant_ids_do_not_depend_on_line_numbers() -> None:
    # Given the same module with a line added at the top
    moved = "# a comment\n" + SOURCE

    # Then every mutant keeps its id
    assert [m.id for m in mutants(moved, "sample.py")] == [m.id for m in mutants(SOURCE, "sample.py")]
    assert len({m.id for m in mutants(SOURCE, "sample.py")}) == 10


def test_a_mutated_tree_compiles_and_behaves_as_the_change_says() -> None:
    # Given the mutant that turns `size <= LIMIT` into `size < LIMIT`
    boundary = next(m for m in mutants(SOURCE, "sample.py") if m.kind == "compare LtE->Lt")

    # When it is compiled, then the boundary moves, and the original is untouched
    assert run(ast.parse(SOURCE), 3) is True
    assert run(mutated_tree(SOURCE, boundary), 3) is False
    assert run(mutated_tree(SOURCE, boundary), 2) is True


def test_a_mutant_knows_its_statements_lines_and_a_compound_statement_only_its_header() -> None:
    # Given a dict display spread over lines (its constant keys are on lines the interpreter may not report)
    source = """def diagnosis(x: int) -> dict[str, int]:
    if x > 0:
        return {
            "a": x,
            "b": 2,
        }
    return {}
"""

    found = {(m.kind, m.before): m for m in mutants(source, "sample.py")}

    # Then a key's mutant holds the return statement's lines, the condition's only the `if` line
    assert (found[("constant", "'b'")].line, found[("constant", "'b'")].statement) == (5, (3, 6))
    assert found[("compare Gt->GtE", "x > 0")].statement == (2, 2)
