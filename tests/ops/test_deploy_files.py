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


def test_nginx_closes_an_idle_node_connection_before_the_node_does():
    """A node that closes a kept-alive connection as nginx sends a request on it fails that
    request (a POST is not retried) and gets marked down; nginx must be the side that closes."""
    import runpy

    site = (ROOT / "deploy/nginx-sportello.conf").read_text()
    upstream = re.search(r"upstream sportello_web \{(.*?)\n\}", site, re.S).group(1)
    assert re.search(r"^\s*keepalive \d+;", upstream, re.M)  # connections are reused at all
    nginx_idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)
    assert nginx_idle, "no keepalive_timeout in the upstream: nginx's 60 s default outlives the node's"
    gunicorn_idle = runpy.run_path(str(ROOT / "deploy/gunicorn.conf.py"))["keepalive"]
    assert int(nginx_idle.group(1)) < gunicorn_idle


def test_a_web_worker_freezes_the_application_it_built():
    """Once the worker has built the application, its objects leave the garbage collector's
    view: a full collection, which holds every thread of the worker, then walks only what
    requests left behind."""
    import gc
    import runpy

    post_worker_init = runpy.run_path(str(ROOT / "deploy/gunicorn.conf.py"))["post_worker_init"]
    before = gc.get_freeze_count()
    try:
        post_worker_init(None)
        frozen = gc.get_freeze_count()
        assert frozen > before and len(gc.get_objects()) < frozen
    finally:
        gc.unfreeze()


def test_every_process_counts_its_metrics_where_it_may_write():
    """No metrics directory in the shared environment file: a web node's is in what its unit or
    container may write, the scheduler counts in its private /tmp and serves its own /metrics."""
    import yaml

    from tests.ops.helpers import read_env_file, unit_settings

    env = read_env_file(ROOT / "deploy/sportello.env")
    assert "PROMETHEUS_MULTIPROC_DIR" not in env  # it would override the units' and the image's
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["SCHEDULER_METRICS_BIND"])

    web = unit_settings("sportello-web.service")
    web_env = dict(line.split("=", 1) for line in web["Environment"])
    writable = [f"/run/{name}/" for name in web.get("RuntimeDirectory", [])] + \
        [path.rstrip("/") + "/" for line in web.get("ReadWritePaths", []) for path in line.split()]
    assert any(web_env["PROMETHEUS_MULTIPROC_DIR"].startswith(path) for path in writable), web_env
    scheduler = unit_settings("sportello-scheduler.service")
    scheduler_env = dict(line.split("=", 1) for line in scheduler["Environment"])
    assert "PROMETHEUS_MULTIPROC_DIR" not in scheduler_env and scheduler["PrivateTmp"] == ["yes"]

    dockerfile = (ROOT / "Dockerfile").read_text()
    image_dir = re.search(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", dockerfile).group(1)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name in ("web", "scheduler"):
        service = compose["services"][name]
        assert service["read_only"] is True
        effective = service.get("environment", {}).get("PROMETHEUS_MULTIPROC_DIR", image_dir)
        mounts = list(service.get("tmpfs", [])) + [v.split(":")[1] for v in service.get("volumes", [])]
        assert any(effective.startswith(m.rstrip("/") + "/") for m in mounts), (name, effective, mounts)
    scheduler_service = compose["services"]["scheduler"]
    port = scheduler_service["environment"]["SCHEDULER_METRICS_BIND"].rpartition(":")[2]
    assert f"127.0.0.1:{port}:{port}" in scheduler_service["ports"]
