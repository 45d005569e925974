"""The package's layers, read from each module's imports: media < faces < output < engine < cli, and
report beside engine, at its rank: report < cli.

A module may import its own layer and those below it, never one above nor one of its own rank
(report never imports engine, nor engine report: a report needs no model and starts no worker).
``options``, ``errors`` and ``vocabulary`` sit beside the layers and may be imported by any of them; the package
root ``batchface`` may be imported for its constants only (its ``run``, ``Options`` and ``Analyzer``
load the upper layers)."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "batchface"
RANK = {"media": 0, "faces": 1, "output": 2, "engine": 3, "report": 3, "cli": 4, "__main__": 5}
BESIDE = {"options", "errors", "vocabulary"}
ROOT_CONSTANTS = {"__version__", "MAX_IMAGE_PIXELS"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """Each batchface module the file imports (anywhere in it, lazy imports included), with the
    names taken from it; ``from batchface.faces import crop`` counts as ``batchface.faces.crop``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "batchface"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "batchface":
            names = [a.name for a in node.names]
            if node.module.count(".") == 1 and node.module.split(".")[1] in RANK:  # a layer's package
                found += [(f"{node.module}.{n}", []) for n in names]
            else:
                found.append((node.module, names))
    return found


def layer_of(module: str) -> str | None:
    """The layer of ``batchface.X...``: X for the five subpackages and ``cli``; None for the root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_is_in_a_layer_or_beside_them():
    for name in modules():
        layer = layer_of(name)
        assert layer is None or layer in RANK or layer in BESIDE, name


def wrong_imports(name: str, path: Path) -> list[str]:
    """What module ``name`` (its file at ``path``) imports against the layering."""
    wrong = []
    layer = layer_of(name)
    if layer is None:
        return []  # the root loads run, Options and Analyzer lazily, for the users of the package
    for imported, names in imports_of(path):
        target = layer_of(imported)
        if target is None:
            if not set(names) <= ROOT_CONSTANTS:
                wrong.append(f"{name} imports {names} from the package root")
        elif target in ("errors", "vocabulary"):
            continue
        elif layer in BESIDE:
            # options describes the faces' settings; errors and vocabulary import nothing of the package
            if layer in ("errors", "vocabulary") or target not in {"media", "faces", "options"}:
                wrong.append(f"{name} imports {imported}")
        elif target in BESIDE:
            continue
        elif RANK[target] > RANK[layer]:
            wrong.append(f"{name} imports {imported}, a layer above")
        elif RANK[target] == RANK[layer] and target != layer:
            wrong.append(f"{name} imports {imported}, a layer beside its own")
    return wrong


def test_no_module_imports_a_layer_above_its_own():
    wrong = [line for name, path in modules().items() for line in wrong_imports(name, path)]
    assert not wrong, "\n".join(wrong)


def test_the_report_and_the_engine_may_not_import_each_other(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from batchface.engine.runner import run\nfrom batchface.output import annotate\n")
    assert wrong_imports("batchface.report.m", module) == [
        "batchface.report.m imports batchface.engine.runner, a layer beside its own"
    ]
    module.write_text("def f():\n    from batchface.report.tracks import tracks\n")
    assert wrong_imports("batchface.engine.m", module) == [
        "batchface.engine.m imports batchface.report.tracks, a layer beside its own"
    ]


def test_cli_is_imported_by_nothing_it_imports():
    importers = {name for name, path in modules().items() if any(m == "batchface.cli" for m, _ in imports_of(path))}
    assert importers <= {"batchface.__main__"}


def test_a_worker_loads_neither_the_cli_nor_the_writers():
    # what a spawned worker imports to unpickle its initializer and its tasks' function
    code = (
        "import sys, batchface.engine.pool, batchface.engine.worker\n"
        "print(' '.join(m for m in sys.modules if m.startswith('batchface')))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "batchface.engine.worker" in loaded
    for module in (
        "batchface.cli",
        "batchface.engine.runner",
        "batchface.output.writers",
        "batchface.output.formats",
        "batchface.output.lock",
    ):
        assert module not in loaded, module
    # the worker builds the rows (output.table) and draws the annotated copies (output.annotate) itself
    assert {"batchface.output.table", "batchface.output.annotate"} <= loaded


def test_the_documented_names_import_from_the_package():
    import batchface
    from batchface.engine.ray_engine import FaceRows
    from batchface.engine.runner import Options, run
    from batchface.faces.analysis import Analyzer
    from batchface.media.decoding import read_image
    from batchface.report.tracks import tracks

    assert (batchface.run, batchface.Options, batchface.Analyzer) == (run, Options, Analyzer)
    assert (batchface.read_image, batchface.FaceRows, batchface.tracks) == (read_image, FaceRows, tracks)
    assert sorted(batchface.__all__) == sorted(
        ["Analyzer", "FaceRows", "Options", "read_image", "run", "tracks", "__version__"]
    )
