"""The image and the systemd hosts install through the same script, and every file the
Dockerfile, the compose file and the units name exists (no container engine runs here)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_installs_with_the_deploy_script_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "RUN /src/deploy/install.sh /opt/sportello" in text
    assert re.search(r"^USER sportello$", text, re.M)
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert 'CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]' in text
    install = (ROOT / "deploy/install.sh").read_text()
    assert 'chmod -R a-w "$PREFIX/app"' in install  # the code is read-only
    assert "requirements.txt" in install and (ROOT / "requirements.txt").exists()
    assert (ROOT / "scripts/translations.py").exists()


def test_compose_matches_the_tested_configuration():
    text = (ROOT / "compose.yaml").read_text()
    for service in ("web:", "scheduler:", "db:", "redis:", "migrate:"):
        assert f"\n  {service}" in text, service
    assert "env_file: deploy/sportello.env" in text and (ROOT / "deploy/sportello.env").exists()
    assert "RATELIMIT_STORAGE_URI: redis://redis:6379/0" in text
    assert "read_only: true" in text
    assert '"sportello", "scheduler"' in text


def test_systemd_units_run_what_the_multi_node_test_runs():
    web = (ROOT / "deploy/systemd/sportello-web.service").read_text()
    scheduler = (ROOT / "deploy/systemd/sportello-scheduler.service").read_text()
    assert "gunicorn -c deploy/gunicorn.conf.py \"app:create_app()\"" in web
    assert "flask --app app.py sportello scheduler" in scheduler
    for unit in (web, scheduler):
        assert "EnvironmentFile=/etc/sportello/sportello.env" in unit and "User=sportello" in unit
    assert "deploy/install.sh" in web
    env = (ROOT / "deploy/sportello.env").read_text()
    assert "SPORTELLO_PROXIES=1" in env and "RATELIMIT_STORAGE_URI=redis://" in env
    site = (ROOT / "deploy/nginx-sportello.conf").read_text()
    assert {"${SPORTELLO_LISTEN}", "${SPORTELLO_NODE_1}", "${SPORTELLO_NODE_2}"} <= set(
        re.findall(r"\$\{[A-Z_0-9]+\}", site))
    assert "proxy_next_upstream" in site
