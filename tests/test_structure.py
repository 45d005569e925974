"""The package's shape: sizes a reader can hold in their head, and the table's column and status
names spelt out in one place (``batchface.output.table``, ``batchface.vocabulary``)."""

import ast
from pathlib import Path

from batchface.output.table import WHERE
from batchface.vocabulary import MediaType, Status

PACKAGE = Path(__file__).resolve().parents[1] / "batchface"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60  # of its body, its docstring not counted
MAX_CLASS_LINES = 120
NAMES = set(WHERE) | {"emotion", "emotion_score"}  # the columns other modules read or write
VALUES = {s.value for s in Status} | {m.value for m in MediaType}


def trees() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    if len(body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        first = body[1]  # the docstring is not counted
    return (node.end_lineno or node.lineno) - first.lineno + 1


def test_no_module_function_or_class_is_too_long():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.name}: {lines} lines")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and body_lines(node) > MAX_FUNCTION_LINES:
                long.append(f"{path.name}: {node.name}() {body_lines(node)} lines")
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                long.append(f"{path.name}: class {node.name} {node.end_lineno - node.lineno + 1} lines")
    assert long == []


def literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def test_column_and_status_names_come_from_the_table_module():
    """Outside the table module no row is indexed by a column name written out, and no status or
    media type is compared with a string written out."""
    spelt = []
    for name, tree in trees().items():
        if name == "output/table.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and literal(node.slice) in NAMES:
                spelt.append(f"{name}:{node.lineno} [{literal(node.slice)!r}]")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and node.args:
                if literal(node.args[0]) in NAMES:
                    spelt.append(f"{name}:{node.lineno} .get({literal(node.args[0])!r})")
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                if any(literal(o) in VALUES for o in operands):
                    spelt.append(f"{name}:{node.lineno} compared with {[literal(o) for o in operands]}")
    assert spelt == []
