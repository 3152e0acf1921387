"""Helpers for the CRM tests."""
import re


def any_csrf_token(html: str) -> str:
    """The session's CSRF token from any form of the page (prefixed forms included)."""
    match = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
