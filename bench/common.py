"""What every benchmark shares: the machine's description and the results document."""
from __future__ import annotations

import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.node()}, {os.cpu_count()} cores {cpu}, Python {platform.python_version()}"


def append_results(text: str) -> Path:
    """Append a section to docs/benchmarks.md (created with its preamble if missing)."""
    DOC.parent.mkdir(exist_ok=True)
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nEach benchmark measures its baseline in the same run; "
                       "machines are shared and noisy, so compare ratios, not absolute figures.\n")
    with DOC.open("a") as fh:
        fh.write(text)
    return DOC
