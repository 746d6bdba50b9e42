"""glassbox.detection is numpy-and-stdlib maths: it imports nothing but numpy, the standard
library, the concept bank, the evidence types and the settings (and its own modules)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import glassbox.detection

ALLOWED = {"numpy", "glassbox.concepts", "glassbox.evidence_types", "glassbox.config"}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def allowed(module: str) -> bool:
    top = module.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or module in ALLOWED
        or top == "numpy"
        or module == "glassbox.detection"
        or module.startswith("glassbox.detection.")
    )


def test_the_detection_package_imports_only_numpy_stdlib_and_the_shared_vocabulary():
    files = sorted(Path(glassbox.detection.__file__).parent.glob("*.py"))
    assert {f.stem for f in files} >= {"wordnet", "objects", "colour", "coco_labels"}
    for path in files:
        bad = sorted(m for m in imports_of(path) if not allowed(m))
        assert not bad, f"{path.name} imports {bad}"


def test_the_rule_itself_rejects_the_layers_above():
    for module in ("glassbox.explain.english", "glassbox.analysis", "torch", "PIL.Image"):
        assert not allowed(module)
    for module in ("numpy", "collections.abc", "glassbox.concepts", "glassbox.detection.wordnet"):
        assert allowed(module)
