"""The mutants of one module: one operator, constant, condition or statement changed at a time.

Each mutant is found by walking the module's syntax tree in a fixed order, so the same source always gives
the same mutants, and is applied by walking a fresh parse of the source to the same node. A mutant's id
hashes where it is (the enclosing function or class), what it changes and to what, and its rank among the
identical changes there: it survives edits elsewhere in the module, so equivalent mutants stay marked.

Not mutated: docstrings, annotations, imports, ``__all__``, ``if TYPE_CHECKING:`` blocks, ``Protocol`` classes
(declarations of types) and lines ending in ``# pragma: no mutate``.
"""

from __future__ import annotations

import ast
import copy
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_PRAGMA = "# pragma: no mutate"


@dataclass(frozen=True)
class Mutant:
    """One change to one module."""

    id: str
    node_index: int
    kind: str
    line: int
    end_line: int
    scope: str
    before: str
    after: str
    # The lines of the statement holding the change (a compound statement's header only): a part of an
    # expression may start a line the interpreter never reports running (a constant key of a dict display
    # spread over lines), so the tests that ran its statement are the ones to run.
    statement: tuple[int, int] = (0, 0)

    def describe(self) -> str:
        return f"line {self.line} in {self.scope}: {self.kind}: {self.before}  ->  {self.after}"


# A mutation: (kind, description of the replacement, function applying it to the node found at its index).
type _Apply = Callable[[ast.AST, ast.AST, str, int | None], None]


def _replace(parent: ast.AST, field: str, index: int | None, new: ast.AST) -> None:
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new


def _is_docstring(node: ast.AST, parent: ast.AST | None, field: str, index: int | None) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and field == "body"
        and index == 0
        and isinstance(parent, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    )


_Visit = tuple[ast.AST, ast.AST | None, str, int | None, str]


def _walk(tree: ast.Module, lines: list[str]) -> Iterator[_Visit]:
    """Every mutable node in a fixed order, with its parent, field, index in the field and scope."""

    def skipped_statement(node: ast.AST) -> bool:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return True
        if isinstance(node, ast.ClassDef) and any(
            (isinstance(base, ast.Name) and base.id == "Protocol")
            or (isinstance(base, ast.Attribute) and base.attr == "Protocol")
            for base in node.bases
        ):
            return True  # a Protocol only declares types: its defaults and bodies never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                return True
        return False

    def visit(
        node: ast.AST, parent: ast.AST | None, field: str, index: int | None, scope: str
    ) -> Iterator[_Visit]:
        if skipped_statement(node) or _is_docstring(node, parent, field, index):
            return
        line = getattr(node, "lineno", None)
        if line is not None and lines[line - 1].rstrip().endswith(_PRAGMA):
            return
        yield node, parent, field, index, scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = node.name if scope == "<module>" else f"{scope}.{node.name}"
        for child_field, value in ast.iter_fields(node):
            if child_field in ("annotation", "returns", "type_comment", "type_params"):
                continue
            if isinstance(node, ast.AnnAssign) and child_field == "target":
                continue
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        yield from visit(item, node, child_field, i, scope)
            elif isinstance(value, ast.AST):
                yield from visit(value, node, child_field, None, scope)

    yield from visit(tree, None, "", None, "<module>")


def _mutations(  # noqa: PLR0912 - one branch per kind of node
    node: ast.AST, parent: ast.AST | None, field: str
) -> Iterator[tuple[str, _Apply]]:
    """The changes that apply to one node, each as (kind, apply)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = _COMPARE_SWAPS.get(type(op))
            if swap is not None:

                def apply_compare(
                    n: ast.AST, _p: ast.AST, _f: str, _i: int | None, i: int = i, s: type = swap
                ) -> None:
                    assert isinstance(n, ast.Compare)
                    n.ops[i] = s()

                yield f"compare {type(op).__name__}->{swap.__name__}", apply_compare
    elif isinstance(node, (ast.BinOp, ast.AugAssign)):
        swap_op = _BINOP_SWAPS.get(type(node.op))
        if swap_op is not None:

            def apply_binop(n: ast.AST, _p: ast.AST, _f: str, _i: int | None, s: type = swap_op) -> None:
                assert isinstance(n, (ast.BinOp, ast.AugAssign))
                n.op = s()

            yield f"operator {type(node.op).__name__}->{swap_op.__name__}", apply_binop
    elif isinstance(node, ast.BoolOp):
        other: type[ast.boolop] = ast.Or if isinstance(node.op, ast.And) else ast.And

        def apply_boolop(n: ast.AST, _p: ast.AST, _f: str, _i: int | None, s: type = other) -> None:
            assert isinstance(n, ast.BoolOp)
            n.op = s()

        yield f"boolean {type(node.op).__name__}->{other.__name__}", apply_boolop
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):

        def apply_unary(n: ast.AST, p: ast.AST, f: str, i: int | None) -> None:
            assert isinstance(n, ast.UnaryOp)
            _replace(p, f, i, n.operand)

        yield f"drop {type(node.op).__name__}", apply_unary
    elif isinstance(node, ast.Constant):
        yield from _constant_mutations(node)
    elif isinstance(node, ast.JoinedStr):

        def apply_fstring(n: ast.AST, _p: ast.AST, _f: str, _i: int | None) -> None:
            assert isinstance(n, ast.JoinedStr)
            n.values.insert(0, ast.Constant("XX"))

        yield "f-string", apply_fstring
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):

            def apply_return(n: ast.AST, _p: ast.AST, _f: str, _i: int | None) -> None:
                assert isinstance(n, ast.Return)
                n.value = ast.Constant(None)

            yield "return None", apply_return
    elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):

        def apply_delete(n: ast.AST, p: ast.AST, f: str, i: int | None) -> None:
            _replace(p, f, i, ast.Pass())

        yield "delete statement", apply_delete
    elif isinstance(node, (ast.Break, ast.Continue)):
        flip: type[ast.stmt] = ast.Continue if isinstance(node, ast.Break) else ast.Break

        def apply_flow(n: ast.AST, p: ast.AST, f: str, i: int | None, s: type = flip) -> None:
            _replace(p, f, i, s())

        yield f"{type(node).__name__}->{flip.__name__}", apply_flow
    # A comparison is already flipped by its operator's mutants; a negation is not negated twice.
    if (
        isinstance(parent, (ast.If, ast.While, ast.IfExp))
        and field == "test"
        and not isinstance(node, ast.Compare)
        and not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))
    ):

        def apply_negate(n: ast.AST, p: ast.AST, f: str, i: int | None) -> None:
            assert isinstance(n, ast.expr)
            _replace(p, f, i, ast.UnaryOp(ast.Not(), n))

        yield "negate condition", apply_negate


def _constant_mutations(node: ast.Constant) -> Iterator[tuple[str, _Apply]]:
    value = node.value
    new: str | bytes | int | float
    if isinstance(value, bool):
        new = not value
    elif isinstance(value, int):
        new = value + 1
    elif isinstance(value, float):
        new = value + 1.0
    elif isinstance(value, str):
        new = f"XX{value}XX"
    elif isinstance(value, bytes):
        new = b"XX" + value + b"XX"
    else:
        return

    def apply_constant(
        n: ast.AST, _p: ast.AST, _f: str, _i: int | None, v: str | bytes | int | float = new
    ) -> None:
        assert isinstance(n, ast.Constant)
        n.value = v

    yield "constant", apply_constant


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= 90 else text[:87] + "..."


def mutants(source: str, module: str) -> list[Mutant]:
    """Every mutant of a module's source, in source order."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found: list[Mutant] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    statements = _statement_spans(tree)
    for index, (node, parent, field, _position, scope) in enumerate(_walk(tree, lines)):
        for kind, apply in _mutations(node, parent, field):
            before = _snippet(node)
            after = _snippet(_applied_copy(node, apply))
            if before == after:
                continue
            key = (scope, kind, before, after)
            rank = seen.get(key, 0)
            seen[key] = rank + 1
            digest = hashlib.sha256(f"{module}|{scope}|{kind}|{before}|{after}|{rank}".encode()).hexdigest()[
                :10
            ]
            found.append(
                Mutant(
                    id=digest,
                    node_index=index,
                    kind=kind,
                    line=getattr(node, "lineno", 0),
                    end_line=_end_line(node),
                    scope=scope,
                    before=before,
                    after=after,
                    statement=statements.get(id(node), (0, 0)),
                )
            )
    return found


def _statement_spans(tree: ast.Module) -> dict[int, tuple[int, int]]:
    """For every node (by id), the lines of the innermost statement holding it; a compound statement's
    (``if``, ``for``, ``def``...) are its header's, up to the line before its body."""
    spans: dict[int, tuple[int, int]] = {}
    for statement in ast.walk(tree):  # breadth first: an inner statement overwrites its outer one's span
        if not isinstance(statement, ast.stmt):
            continue
        body: list[ast.stmt] = getattr(statement, "body", [])
        end = max(statement.lineno, body[0].lineno - 1) if body else _end_line(statement)
        for node in ast.walk(statement):
            spans[id(node)] = (statement.lineno, end)
    return spans


def _end_line(node: ast.AST) -> int:
    end: int | None = getattr(node, "end_lineno", None)
    start: int = getattr(node, "lineno", 0)
    return end if end is not None else start


def _applied_copy(node: ast.AST, apply: _Apply) -> ast.AST:
    """What a mutation turns the node into, applied to a copy held in a scratch parent."""
    holder = ast.AST()
    twin = copy.deepcopy(node)
    setattr(holder, "value", twin)  # noqa: B010 - a scratch attribute ast.AST does not declare
    apply(twin, holder, "value", None)
    result: ast.AST = getattr(holder, "value")  # noqa: B009
    return result


def mutated_tree(source: str, mutant: Mutant) -> ast.Module:
    """The module's tree with one mutant applied, ready to compile."""
    tree = ast.parse(source)
    node, parent, field, position, _scope = list(_walk(tree, source.splitlines()))[mutant.node_index]
    assert parent is not None
    for kind, apply in _mutations(node, parent, field):
        if kind == mutant.kind:
            apply(node, parent, field, position)
            return ast.fix_missing_locations(tree)
    raise LookupError(f"mutant {mutant.id} no longer applies")
