"""The invoice ZIP exports job (F-61): builds the waiting exports, then forgets expired ones."""
from __future__ import annotations

from app.services.portal import zip_exports


def export_job() -> dict:
    """Build what is due and purge what expired: the counts of one run."""
    counts = zip_exports.build_due()
    counts["purged"] = zip_exports.purge_expired()
    return counts
