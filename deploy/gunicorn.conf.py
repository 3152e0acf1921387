"""gunicorn settings for a Sportello web node: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Prometheus multiprocess mode: every worker writes its counters under PROMETHEUS_MULTIPROC_DIR,
emptied when the master starts; a worker that exits is marked dead so its gauges go away (its
counters stay counted). The environment comes from deploy/sportello.env (systemd's
EnvironmentFile).
"""
import os
import shutil

bind = os.environ.get("SPORTELLO_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("SPORTELLO_THREADS", "4"))
timeout = 60
graceful_timeout = 20
keepalive = 5
# Standard error, collected by journald or the container runtime; the app writes its own web log
# line per request (sportello.web, with the request id), so gunicorn's access log stays off here.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
