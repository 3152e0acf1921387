"""gunicorn settings shared by the demo (scripts/run-demo.sh) and deployments:
`gunicorn -c python:app.gunicorn_config 'app:create_app()'`.

Its access log masks the tokens links carry (a password reset link's path, an invoice link's
`t=`), with the app's own function (app.services.core.masking.mask_tokens), so the access log
never holds a usable link. Command-line options (workers, bind) still override these.
"""
from __future__ import annotations

from gunicorn.glogging import Logger

from app.services.core.masking import mask_tokens


class MaskingLogger(Logger):
    """gunicorn's logger, every access-log field passed through `mask_tokens`."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask_tokens(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = "app.gunicorn_config.MaskingLogger"
