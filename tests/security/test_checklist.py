"""docs/security.md: every row of the checklist names tests, each of them exists, and no row
the checklist must have is missing."""
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


# The rows the checklist must have (the start of their first column, case aside).
REQUIRED_ROWS = (
    "Reset token single-use and expiring", "Web code single-use and rate-limited",
    "Password strength on every path", "Current password to change credentials",
    "Throttling on every login path", "Shared limiter storage and real client IP",
    "Uniform answers", "Notice e-mail on", "Re-authentication for sensitive changes",
    "Scrypt hashing", "Staff MFA", "Cookie flags", "Server-side logout", "Idle timeout",
    "Absolute timeout", "Deactivation ends sessions and API tokens", "IDOR matrix",
    "Actions re-check ownership", "Role matrix deny-by-default", "Masking",
    "CSRF on every POST and no GET mutation", "Open redirects", "Server-side validation",
    "No secrets in logs", "No-store", "Security headers", "Auth events logged",
    "Stored XSS escaped", "Template sandbox", "SQL injection", "Path traversal", "CSV injection",
    "Uploads checked by content", "TOTP replay refused", "Recovery codes single use",
    "New session at sign-in",
)


def test_checklist_has_every_required_row():
    firsts = [row.split("|")[1].strip().lower() for row in _rows()]
    assert [r for r in REQUIRED_ROWS if not any(f.startswith(r.lower()) for f in firsts)] == []
