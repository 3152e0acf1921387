"""Configuration safety: production refuses to start without a real secret key."""
import pytest

from config import Config, TestConfig


def test_production_refuses_to_start_without_secret_key():
    values = {"PRODUCTION": True, "SECRET_KEY": "", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Config.finalize(values)


def test_production_refuses_a_short_secret_key():
    values = {"PRODUCTION": True, "SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    with pytest.raises(RuntimeError, match="too short"):
        Config.finalize(values)


def test_development_generates_and_keeps_a_key(tmp_path, monkeypatch):
    import config

    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    first = {"PRODUCTION": False, "SECRET_KEY": "", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    second = dict(first)
    Config.finalize(first)
    Config.finalize(second)
    assert len(first["SECRET_KEY"]) >= 32 and first["SECRET_KEY"] == second["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_url_switches_to_psycopg(monkeypatch):
    import config

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/db")
    assert config.database_url() == "postgresql+psycopg://u@h:5432/db"
    monkeypatch.delenv("DATABASE_URL")
    assert config.database_url().startswith("sqlite:///")


def test_sqlite_connections_use_wal_and_busy_timeout(app, db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only apply to SQLite")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_test_config_is_not_production():
    assert not TestConfig.PRODUCTION
