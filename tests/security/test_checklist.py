"""docs/security.md: every row of the checklist names tests, and each of them exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _rows() -> list[str]:
    text = (ROOT / "docs" / "security.md").read_text()
    return [line for line in text.splitlines()
            if line.startswith("|") and not line.startswith(("| Requirement", "|---"))]


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            and node.name.startswith("test")}


def test_checklist_every_row_names_existing_tests():
    rows = _rows()
    assert len(rows) >= 15
    missing = []
    for row in rows:
        refs = REFERENCE.findall(row.rsplit("|", 2)[-2])
        if not refs:
            missing.append(("no test named", row[:80]))
        for path, name in refs:
            file = ROOT / path
            if not file.exists() or name not in _test_functions(file):
                missing.append((path, name))
    assert missing == []
