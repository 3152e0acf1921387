"""gunicorn settings for bench/mixed.py: the deployment's own (`deploy/gunicorn.conf.py`: workers,
threads, keep-alive, logger), plus two request hooks that add up, per worker, the CPU time of
the thread serving each request (`time.thread_time()`, user + system) by benchmark round (the
`X-Bench-Round` header the load generator sends) and page kind (`X-Bench-Kind`). The totals
are written as JSON to `$BENCH_CPU_DIR/<pid>.json` when the worker exits.

    gunicorn -c bench/mixed_gunicorn.py --bind 127.0.0.1:8000 'app:create_app()'
"""
import json
import os
import time
from pathlib import Path

_deploy = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
exec(compile(_deploy.read_text(), str(_deploy), "exec"))  # noqa: S102 - the deployment's settings

_TOTALS: dict = {}


def pre_request(worker, req):
    req._bench_cpu = time.thread_time()


def post_request(worker, req, environ, resp):
    started = getattr(req, "_bench_cpu", None)
    if started is None:
        return
    spent = time.thread_time() - started
    key = (environ.get("HTTP_X_BENCH_ROUND", "-"), environ.get("HTTP_X_BENCH_KIND", "-"))
    entry = _TOTALS.setdefault(key, [0, 0.0, 0])
    entry[0] += 1
    entry[1] += spent
    status = getattr(resp, "status_code", None) or 0
    if status >= 400:
        entry[2] += 1


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_CPU_DIR")
    if not directory:
        return
    rows = [{"round": r, "kind": k, "requests": n, "thread_cpu": cpu, "errors": e}
            for (r, k), (n, cpu, e) in _TOTALS.items()]
    Path(directory, f"{os.getpid()}.json").write_text(json.dumps(rows))
