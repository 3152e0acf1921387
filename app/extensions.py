"""Unbound extensions; `create_app` binds them in a fixed order.

FAB owns Flask-Babel: never create a second Babel here.
"""
from flask_appbuilder.models.sqla.base import SQLA
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from app.models.base import Model

db = SQLA(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
