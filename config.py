"""Configuration: every setting from the environment, with safe defaults.

`SPORTELLO_ENV=production` turns on the production checks (a real SECRET_KEY is required);
anything else is development, where a secret key is generated once and kept under `var/`.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import flask_appbuilder

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("SPORTELLO_VAR_DIR", BASE_DIR / "var")).resolve()


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _dev_secret_key() -> str:
    """A development key generated once and kept in var/, so sessions survive restarts."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def database_url() -> str:
    url = env("DATABASE_URL")
    if url:
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR_DIR / 'sportello.db'}"


# A production key must carry at least this much (estimated) entropy: 32 random URL-safe or hex
# characters do; 32 times the same character, or a short pattern repeated, do not.
MIN_KEY_BITS = 90


def key_entropy_bits(key: str) -> float:
    """An estimate of the key's entropy: its length times the Shannon entropy of its characters,
    0 when the key is a shorter string repeated."""
    import math
    from collections import Counter

    if not key or key in (key + key)[1:-1]:
        return 0.0
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    return per_char * len(key)


class Config:
    ENV_NAME = env("SPORTELLO_ENV", "development")
    PRODUCTION = ENV_NAME == "production"
    SECRET_KEY = env("SECRET_KEY")

    APP_NAME = "Sportello"
    APP_THEME = ""
    SQLALCHEMY_DATABASE_URI = database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # No `pool_pre_ping` (a round trip before every request): a pooled connection is pinged on
    # checkout only when its socket shows the server ended it, or when it sat idle longer than
    # this many seconds (app.dbpool; 0 pings on every checkout).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DATABASE_PING_IDLE_SECONDS = float(env("DATABASE_PING_IDLE_SECONDS", "30"))

    # Flask-AppBuilder: the schema belongs to Alembic, permissions to `flask sportello init`.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_SECURITY_MANAGER_CLASS = "app.security.SportelloSecurityManager"
    FAB_ADD_SECURITY_API = False
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_USER_REGISTRATION = False
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_RATE_LIMITED = True
    # A flood brake per address on the staff form; wrong passwords are throttled and locked by
    # the sign-in policy (app.services.core.login_policy), the same on every login path.
    AUTH_RATE_LIMIT = env("AUTH_RATE_LIMIT", "60 per minute")
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    FAB_PASSWORD_COMPLEXITY_VALIDATOR = "app.security.password_complexity"

    # Languages: Italian first. FAB owns Flask-Babel; point it at the top-level catalogues.
    BABEL_DEFAULT_LOCALE = "it"
    BABEL_DEFAULT_TIMEZONE = "Europe/Rome"
    # FAB's own catalogue first (its screens' texts), ours after it: ours wins where both translate.
    BABEL_TRANSLATION_DIRECTORIES = ";".join(
        (str(Path(flask_appbuilder.__file__).resolve().parent / "translations"), str(BASE_DIR / "translations")))
    LANGUAGES = {"it": {"flag": "it", "name": "Italiano"}, "en": {"flag": "gb", "name": "English"}}

    # Sessions and cookies.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Over HTTPS the cookies carry the `__Host-` prefix: the browser then takes them only when set
    # by this very host over HTTPS, with Path=/ and no Domain (no sibling subdomain can plant one).
    # (finalize() adds the prefix when SESSION_COOKIE_SECURE is on).
    SESSION_COOKIE_NAME = "session"
    REMEMBER_COOKIE_NAME = "remember_token"
    # Strict-Transport-Security in production (one year); 0 sends none (the demo runs over HTTP).
    HSTS_SECONDS = env("HSTS_SECONDS")  # finalize(): one year in production unless set
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = env_int("SESSION_LIFETIME_SECONDS", 8 * 3600)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Rate limits (Flask-Limiter); shared storage when several processes serve the app.
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = env("RATELIMIT_KEY_PREFIX", "sportello")
    # memory:// counts per process: production accepts it only when one process serves the app.
    SINGLE_PROCESS = env_bool("SPORTELLO_SINGLE_PROCESS", False)
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are trusted (ProxyFix):
    # the client's address (rate limits, sign-in locks, logs) is the one they report.
    PROXY_COUNT = env_int("SPORTELLO_PROXIES", 0)
    # A proxy in front of the app that sets X-Request-ID: its ids are taken for requests.
    TRUST_PROXY_REQUEST_ID = env_bool("TRUST_PROXY_REQUEST_ID", False)
    RATELIMIT_HEADERS_ENABLED = True
    # Customers' JSON API (F-43, F-61): calls allowed per personal token (or per session or address).
    API_RATE_LIMIT = env("API_RATE_LIMIT", "120 per minute")

    # Billing system (F-50).
    BILLING_SYSTEM = env("BILLING_SYSTEM", "nav")  # nav | sap: which adapter (app/billing)
    BILLING_URL = env("BILLING_URL", "http://127.0.0.1:7047/NAV/WS/DEMO")
    BILLING_USERNAME = env("BILLING_USERNAME")
    BILLING_PASSWORD = env("BILLING_PASSWORD")
    # basic | ntlm (Windows authentication; BILLING_USERNAME as DOMAIN\user)
    BILLING_AUTH = env("BILLING_AUTH", "basic")
    BILLING_TIMEOUT = float(env("BILLING_TIMEOUT", "10"))
    BILLING_LOGIN_TIMEOUT = float(env("BILLING_LOGIN_TIMEOUT", "2"))
    BILLING_PAGE_SIZE = env_int("BILLING_PAGE_SIZE", 1000)
    BILLING_WSDL_CACHE_DIR = env("BILLING_WSDL_CACHE_DIR", str(VAR_DIR / "wsdl-cache"))

    # Scheduler (F-30).
    ALIGNMENT_INTERVAL_MINUTES = env_int("ALIGNMENT_INTERVAL_MINUTES", 5)
    # After a full alignment, or an incremental one that read at least this many records, the
    # aligned tables' planner statistics are refreshed (ANALYZE) in the same run: the autovacuum
    # daemon would get there later, and until then the portal's plans are made on wrong counts.
    ALIGNMENT_ANALYZE_MIN_RECORDS = env_int("ALIGNMENT_ANALYZE_MIN_RECORDS", 10000)
    SCHEDULER_ENABLED = env_bool("SCHEDULER_ENABLED", True)
    # How often the scheduler process looks for settings changes (a job's hours, F-42).
    SCHEDULER_CHECK_SECONDS = env_int("SCHEDULER_CHECK_SECONDS", 30)
    # Per-job trigger overrides, JSON: {"outbox": {"trigger": "interval", "seconds": 60}}.
    JOB_TRIGGERS = json.loads(env("JOB_TRIGGERS", "{}") or "{}")

    # Mail (SMTP): the demo points at the local mail catcher.
    MAIL_SERVER = env("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = env_int("MAIL_PORT", 8025)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
    MAIL_USERNAME = env("MAIL_USERNAME")
    MAIL_PASSWORD = env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = env("MAIL_DEFAULT_SENDER", "Sportello <noreply@sportello.localhost>")
    # Where links in e-mails point; production requires it (links never follow the Host header).
    PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")

    # First admin for `flask sportello init` (otherwise it prompts).
    ADMIN_USERNAME = env("SPORTELLO_ADMIN_USERNAME")
    ADMIN_EMAIL = env("SPORTELLO_ADMIN_EMAIL")
    ADMIN_PASSWORD = env("SPORTELLO_ADMIN_PASSWORD")

    DEMO_MODE = env_bool("SPORTELLO_DEMO", False)

    # Operations: who may read /metrics (a bearer token, or networks: "10.0.0.0/8,127.0.0.1");
    # neither set: /metrics answers 404.
    METRICS_TOKEN = env("METRICS_TOKEN")
    METRICS_ALLOW = env("METRICS_ALLOW")
    # The scheduler process serves its own counters (job runs, e-mails, billing calls) at
    # http://<this address>/metrics, same token or networks ("127.0.0.1:9108"; empty: not served).
    SCHEDULER_METRICS_BIND = env("SCHEDULER_METRICS_BIND", "")
    # Log lines: "json" (one object per line) or "text"; JSON by default in production.
    LOG_FORMAT = env("LOG_FORMAT", "json" if PRODUCTION else "text")
    # /readyz asks billing and SMTP at most this often per process (seconds).
    READYZ_SOFT_CHECK_SECONDS = float(env("READYZ_SOFT_CHECK_SECONDS", "15"))

    @classmethod
    def finalize(cls, values: dict) -> None:
        """Fill in derived values and refuse unsafe production settings."""
        if not values.get("SECRET_KEY"):
            if values.get("PRODUCTION"):
                raise RuntimeError(
                    "SECRET_KEY is not set: a production server refuses to start without one "
                    "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
            values["SECRET_KEY"] = _dev_secret_key()
        elif values.get("PRODUCTION") and len(values["SECRET_KEY"]) < 32:
            raise RuntimeError("SECRET_KEY is too short for production: use at least 32 characters")
        elif values.get("PRODUCTION") and key_entropy_bits(values["SECRET_KEY"]) < MIN_KEY_BITS:
            raise RuntimeError(
                "SECRET_KEY looks guessable (too few different characters, repeated patterns): generate "
                "one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'")
        if not values.get("PUBLIC_BASE_URL"):
            if values.get("PRODUCTION"):
                raise RuntimeError("PUBLIC_BASE_URL is not set: a production server needs the address "
                                   "its e-mailed links point to (e.g. https://sportello.example.it)")
            values["PUBLIC_BASE_URL"] = "http://127.0.0.1:5000"
        if values.get("HSTS_SECONDS") in (None, ""):
            values["HSTS_SECONDS"] = 365 * 24 * 3600 if values.get("PRODUCTION") else 0
        values["HSTS_SECONDS"] = int(values["HSTS_SECONDS"])
        if values.get("SESSION_COOKIE_SECURE"):
            for key, default in (("SESSION_COOKIE_NAME", "session"), ("REMEMBER_COOKIE_NAME", "remember_token")):
                name = values.get(key) or default
                values[key] = name if name.startswith("__Host-") else "__Host-" + name
        if values.get("PRODUCTION") and str(values.get("RATELIMIT_STORAGE_URI", "")).startswith("memory") \
                and not values.get("SINGLE_PROCESS"):
            raise RuntimeError(
                "RATELIMIT_STORAGE_URI is memory://: each process would count sign-in attempts on its "
                "own. Set it to the shared Redis (redis://host:6379), or set SPORTELLO_SINGLE_PROCESS=1 "
                "when a single process serves the app")
        if values["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            values["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production-000000"
    SQLALCHEMY_DATABASE_URI = env("TEST_DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = env_bool("TEST_CSRF", True)
    RATELIMIT_STORAGE_URI = "memory://"
    PROXY_COUNT = 0
    MAIL_TEMPLATE_FALLBACK = False  # a missing English e-mail template fails the test that sends it
    SESSION_COOKIE_SECURE = False
    BILLING_TIMEOUT = 5.0
    SCHEDULER_ENABLED = False
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
