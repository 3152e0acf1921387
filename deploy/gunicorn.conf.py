"""gunicorn settings for a Sportello web node: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`
(the deployments, the image and the demo; command-line options such as --bind still override).

Prometheus multiprocess mode: every worker writes its counters under PROMETHEUS_MULTIPROC_DIR
(the web unit sets /run/sportello/metrics, in its RuntimeDirectory; the image
/tmp/sportello-metrics), emptied, or created, when the master starts; when it can't be created the
master counts in a private directory instead and says so. A worker that exits is marked dead so
its gauges go away (its counters stay counted). The rest of the environment comes from
deploy/sportello.env (systemd's EnvironmentFile).
"""
import gc
import os
import shutil
import tempfile

bind = os.environ.get("SPORTELLO_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("SPORTELLO_THREADS", "4"))
timeout = 60
graceful_timeout = 20
keepalive = 5
# Standard error, collected by journald or the container runtime. The access log is off: the app
# writes its own line per request (logger sportello.web: endpoint name, status, duration and the
# request id, in JSON), which never holds a URL. Turned on (--access-logfile), it goes through
# the logger below, which masks the tokens of reset and invoice links.
accesslog = None
errorlog = "-"
logger_class = "app.gunicorn_logging.MaskingLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server):
    directory = os.environ.get(METRICS_ENV)
    if not directory:
        return
    shutil.rmtree(directory, ignore_errors=True)
    try:
        os.makedirs(directory, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"{directory} is not writable")
    except OSError as exc:
        fallback = tempfile.mkdtemp(prefix="sportello-metrics-")
        os.environ[METRICS_ENV] = fallback  # the workers, forked later, inherit it
        server.log.warning("Metrics: %s=%s can't be used (%s: %s); the workers count in %s instead",
                           METRICS_ENV, directory, type(exc).__name__, exc, fallback)


def child_exit(server, worker):
    if os.environ.get(METRICS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The application is built: its objects (FAB's views and menus, SQLAlchemy's mappers,
    Babel's catalogues, about 270,000 of them) live as long as the worker. Frozen out of the
    garbage collector's view, a full collection walks only what requests left behind instead of
    holding every thread of the worker for about 160 ms while it walks them all."""
    gc.collect()
    gc.freeze()
