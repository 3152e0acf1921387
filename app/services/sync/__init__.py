"""Sync with billing: gateway access (F-50), alignment (F-14, F-51), data freshness (F-51), the
outbox of writes (F-33, F-52, F-53) and invoice PDFs from billing."""
