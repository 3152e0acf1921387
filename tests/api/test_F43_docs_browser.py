"""F-43: the API's interactive page works in a real browser under the site's CSP, with
Swagger UI's own files served locally (no request leaves the app's origin)."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser]


def test_F43_interactive_documentation_renders_the_operations(live_server, page):
    errors, foreign = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: foreign.append(req.url) if not req.url.startswith(live_server) else None)
    page.goto(f"{live_server}/api/portal/v1/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/invoices" in p for p in paths) and any("/readings" in p for p in paths)
    assert foreign == [] and not [e for e in errors if "Content Security Policy" in e], errors
