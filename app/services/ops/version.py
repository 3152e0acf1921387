"""The running version: `SPORTELLO_VERSION` (set by deploy/install.sh from the release), else the
git commit of a checkout, else "development"."""
from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path


@functools.cache
def app_version() -> str:
    if os.environ.get("SPORTELLO_VERSION"):
        return os.environ["SPORTELLO_VERSION"][:40]
    root = Path(__file__).resolve().parents[3]
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "development"
    return out.stdout.strip()[:40] if out.returncode == 0 and out.stdout.strip() else "development"
