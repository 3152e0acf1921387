"""gunicorn settings for bench/mixed.py: the deployment's own (`deploy/gunicorn.conf.py`: workers,
threads, keep-alive, logger), plus two request hooks that add up, per worker, the CPU time of
the thread serving each request (`time.thread_time()`, user + system) by benchmark round (the
`X-Bench-Round` header the load generator sends) and page kind (`X-Bench-Kind`). The totals
are written as JSON to `$BENCH_CPU_DIR/<pid>.json` when the worker exits, with the garbage
collector's full collections (count, the longest and the total pause) in `<pid>.gc.json`.
`BENCH_NO_GC_FREEZE=1` leaves out the deployment's freeze of the application's objects
(`post_worker_init`), to compare.

    gunicorn -c bench/mixed_gunicorn.py --bind 127.0.0.1:8000 'app:create_app()'
"""
import gc
import json
import os
import time
from pathlib import Path

_deploy = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
exec(compile(_deploy.read_text(), str(_deploy), "exec"))  # noqa: S102 - the deployment's settings

_TOTALS: dict = {}
_GC = {"full": 0, "longest": 0.0, "total": 0.0, "started": None}


def _gc_timer(phase, info):
    if info.get("generation") != 2:
        return
    if phase == "start":
        _GC["started"] = time.perf_counter()
    elif _GC["started"] is not None:
        pause = time.perf_counter() - _GC["started"]
        _GC["full"] += 1
        _GC["total"] += pause
        _GC["longest"] = max(_GC["longest"], pause)


_deployed_post_worker_init = post_worker_init  # noqa: F821 - from the deployment's settings


def post_worker_init(worker):  # noqa: F811
    if not os.environ.get("BENCH_NO_GC_FREEZE"):
        _deployed_post_worker_init(worker)
    gc.callbacks.append(_gc_timer)


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
    Path(directory, f"{os.getpid()}.gc.json").write_text(json.dumps(
        {"full": _GC["full"], "longest_ms": 1000 * _GC["longest"], "total_ms": 1000 * _GC["total"],
         "frozen": gc.get_freeze_count()}))
