"""gunicorn's logger for Sportello: its access log masks the tokens links carry (a password reset
link's path, an invoice link's `t=`), with the app's own function
(app.services.core.masking.mask_tokens), so an access log never holds a usable link.

The one gunicorn configuration, `deploy/gunicorn.conf.py`, installs it (`logger_class`), for the
deployments and the demo alike.
"""
from __future__ import annotations

from gunicorn.glogging import Logger

from app.services.core.masking import mask_tokens


class MaskingLogger(Logger):
    """gunicorn's logger, every access-log field passed through `mask_tokens`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask_tokens(value) if isinstance(value, str) else value for key, value in atoms.items()}
