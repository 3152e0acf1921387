"""axe-core in the browser tests, one fixture for the whole suite.

axe-core comes from the pinned `axe-playwright-python` package (requirements-dev.txt), which
ships `axe.min.js` with its licence (MPL-2.0): nothing is fetched at run time. Every check runs
axe's default rule set, with no rule disabled, on the whole document, and keeps the violations
of impact critical, serious or moderate.

    def test_page(page, axe):
        page.goto(url)
        axe.assert_clean(page, "home, Italian")

`axe.check(page, label)` returns the violations instead of failing; every call counts one page
state for its suite, and the terminal summary prints one line per suite, e.g.
"axe: 74 portal page states checked, 0 violations".
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

IMPACTS = ("critical", "serious", "moderate")

_counts_key = pytest.StashKey[dict]()


def axe_source() -> str:
    """axe-core's script, as the pinned package ships it."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


@dataclass
class Violation:
    rule: str
    impact: str
    help: str
    targets: list[str]
    where: str = ""

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:6]) + (f" (+{len(self.targets) - 6} more)" if len(self.targets) > 6 else "")
        return f"{self.where}: {self.rule} ({self.impact}) {self.help} — {shown}"


def report(violations: list[Violation]) -> str:
    """A readable failure message: one line per rule and page, with the target selectors."""
    return f"{len(violations)} accessibility violation(s):\n" + "\n".join(f"  {v}" for v in violations)


@dataclass
class AxeChecker:
    suite: str = "portal"
    counts: dict = field(default_factory=dict)

    def check(self, page, where: str = "", count: bool = True) -> list[Violation]:
        """Run axe on the whole document of `page`; the critical/serious/moderate violations
        (counted for the suite's summary line unless `count` is false)."""
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(axe_source())  # through the DevTools protocol: the page's CSP allows it
        results = page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' '))})); }")
        found = [Violation(v["id"], v["impact"] or "", v["help"], v["targets"], where or page.url)
                 for v in results if v["impact"] in IMPACTS]
        if count:
            tally = self.counts.setdefault(self.suite, Counter())
            tally["states"] += 1
            tally["violations"] += len(found)
        return found

    def assert_clean(self, page, where: str = "") -> None:
        found = self.check(page, where)
        assert not found, report(found)


@pytest.fixture
def axe(request):
    """An axe-core checker for browser tests; set `.suite` to count pages per suite."""
    return AxeChecker(counts=request.config.stash.setdefault(_counts_key, {}))


def terminal_summary(terminalreporter) -> None:
    """One line per suite that ran axe (called from the conftest's terminal summary)."""
    for suite, tally in terminalreporter.config.stash.get(_counts_key, {}).items():
        terminalreporter.write_line(f"axe: {tally['states']} {suite} page states checked, "
                                    f"{tally['violations']} violations")
