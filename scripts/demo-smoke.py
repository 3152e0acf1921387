#!/usr/bin/env python3
"""Demo smoke test: the demo works on a fresh machine.

Clones this repository's HEAD (committed work only) into a temporary directory, runs `make run`
there on free ports (which creates a new .venv from requirements.txt alone), and checks:
the web app answers, the billing simulator serves its WSDL, the mail catcher answers SMTP, the
scheduler runs; a customer registers on the portal (the real form, with its CSRF token) and the
confirmation e-mail the app queues is delivered by the scheduler's `mail` job into the mail
catcher; no log holds a traceback. Then it stops everything and checks that no process is left.

    python3 scripts/demo-smoke.py [--keep] [--timeout SECONDS]

Python standard library only (it runs before any virtualenv exists). Exit status 0 when every
check passes; otherwise it says which check failed and shows the relevant log.
"""
from __future__ import annotations

import argparse
import email
import html.parser
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Sportello is running:"
HINT = re.compile(r"/portal/register with web code (\S+) and tax code (\S+)")
# Environment that would make the clone's demo use this checkout's settings instead of its own.
DROP_ENV = ("SPORTELLO_VAR_DIR", "DATABASE_URL", "TEST_DATABASE_URL", "BILLING_URL", "PUBLIC_BASE_URL",
            "MAIL_SERVER", "MAIL_PORT", "PORT", "SIMULATOR_PORT", "SECRET_KEY", "SPORTELLO_ENV",
            "JOB_TRIGGERS", "VIRTUAL_ENV", "PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
            "SPORTELLO_ADMIN_PASSWORD", "RATELIMIT_STORAGE_URI")


class SmokeFailure(Exception):
    pass


def say(message: str) -> None:
    print(f"[demo-smoke {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ok(message: str) -> None:
    say(f"ok    {message}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    return "\n".join(text[-lines:])


def free_ports(n: int) -> list[int]:
    """n distinct ports nothing listens on now (the kernel's choice of ephemeral ports)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def clone_head(dest: Path) -> str:
    head = git("rev-parse", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        say("note: uncommitted changes in this checkout are not part of the smoke (it tests HEAD)")
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(dest)], check=True)
    try:
        git("checkout", "--quiet", "--detach", head, cwd=dest)
    except subprocess.CalledProcessError:  # HEAD on no branch: fetch the commit itself
        git("fetch", "--quiet", "origin", head, cwd=dest)
        git("checkout", "--quiet", "--detach", head, cwd=dest)
    return head


# --- HTTP ---------------------------------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def opener():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def http_get(op, url: str, timeout: float = 15) -> tuple[int, str, dict]:
    try:
        with op.open(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)


def http_post(op, url: str, fields: dict, timeout: float = 30) -> tuple[int, str, dict]:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, headers={"Referer": url})
    try:
        with op.open(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)


class InputValues(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.values.setdefault(a["name"], a.get("value") or "")


def form_inputs(page: str) -> dict[str, str]:
    parser = InputValues()
    parser.feed(page)
    return parser.values


# --- the run ------------------------------------------------------------------------------------

class Demo:
    def __init__(self, clone: Path, timeout: float):
        self.clone = clone
        self.var = clone / "var"
        self.out_path = clone.parent / "make-run.out"
        self.timeout = timeout
        self.web_port, self.sim_port, self.mail_port = free_ports(3)
        self.base = f"http://127.0.0.1:{self.web_port}"
        # BILLING_SYSTEM=sap: the demo runs on the simulator's SAP IS-U flavour and SAP adapter
        if os.environ.get("BILLING_SYSTEM", "nav") == "sap":
            self.wsdl = (f"http://127.0.0.1:{self.sim_port}/sap/bc/srt/rfc/sap/zisu_portal/100/"
                         "zisu_portal/zisu_portal?wsdl")
        else:
            self.wsdl = f"http://127.0.0.1:{self.sim_port}/NAV/WS/DEMO/Page/Customer?wsdl"
        self.proc: subprocess.Popen | None = None
        self.output = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env.update(PORT=str(self.web_port), SIMULATOR_PORT=str(self.sim_port),
                   MAIL_PORT=str(self.mail_port),
                   # The mail job every 3 s instead of 30 s: the smoke waits for one delivery.
                   JOB_TRIGGERS=json.dumps({"mail": {"trigger": "interval", "seconds": 3}}))
        say(f"make run in {self.clone} (web {self.web_port}, simulator {self.sim_port}, "
            f"SMTP {self.mail_port}); output in {self.out_path}")
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(["make", "run"], cwd=self.clone, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def read_output(self) -> str:
        self.output = self.out_path.read_text(errors="replace") if self.out_path.exists() else ""
        return self.output

    def wait_banner(self) -> float:
        started = time.monotonic()
        last_note = started
        while BANNER not in self.read_output():
            if self.proc.poll() is not None:
                raise SmokeFailure(f"make run exited with status {self.proc.returncode} before its "
                                   f"banner; its output ends with:\n{tail(self.out_path, 40)}")
            if time.monotonic() - started > self.timeout:
                raise SmokeFailure(f"no banner from make run within {self.timeout:.0f} s; its output "
                                   f"ends with:\n{tail(self.out_path, 40)}")
            if time.monotonic() - last_note > 30:
                last_note = time.monotonic()
                lines = [l for l in self.output.splitlines() if l.strip()]
                say(f"  ... still starting ({time.monotonic() - started:.0f} s): "
                    f"{lines[-1][:100] if lines else 'no output yet'}")
            time.sleep(1)
        time.sleep(0.5)  # the rest of the banner
        self.read_output()
        return time.monotonic() - started

    # ----- checks -----

    def check_web(self) -> None:
        op = opener()
        status, _, _ = http_get(op, self.base + "/login/")
        if status != 200:
            raise SmokeFailure(f"web app: GET /login/ answered {status}, not 200")
        status2, _, _ = http_get(op, self.base + "/")
        if status2 not in (200, 302):
            raise SmokeFailure(f"web app: GET / answered {status2}, not 200 or 302")
        ok(f"web app: GET /login/ -> {status}, GET / -> {status2}")

    def check_simulator(self) -> None:
        status, body, _ = http_get(opener(), self.wsdl)
        if status != 200 or "definitions" not in body:
            raise SmokeFailure(f"billing simulator: WSDL answered {status} without a WSDL document")
        ok(f"billing simulator: {self.wsdl} -> 200, WSDL ({len(body)} bytes)")

    def check_mailcatcher(self) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.mail_port, timeout=10) as smtp:
                code, banner = smtp.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            raise SmokeFailure(f"mail catcher: no SMTP answer on port {self.mail_port}: {exc}") from exc
        if code != 250:
            raise SmokeFailure(f"mail catcher: EHLO answered {code}")
        ok(f"mail catcher: SMTP on port {self.mail_port} answers EHLO with 250")

    def processes(self) -> list[tuple[int, str]]:
        """Every process whose command line or working directory is inside the clone."""
        found, me = [], os.getpid()
        here = str(self.clone)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if (here in cmd or cwd == here or cwd.startswith(here + "/")) and cmd:
                found.append((int(entry.name), cmd))
        return found

    def check_scheduler(self) -> None:
        procs = [p for p in self.processes() if "sportello scheduler" in p[1]]
        if not procs:
            raise SmokeFailure("scheduler: no `flask sportello scheduler` process is running; "
                               f"its log ends with:\n{tail(self.var / 'log' / 'scheduler.log')}")
        log = self.var / "log" / "scheduler.log"
        if "Scheduler started with jobs" not in log.read_text(errors="replace"):
            raise SmokeFailure(f"scheduler: its log does not say it started:\n{tail(log)}")
        ok(f"scheduler: process {procs[0][0]} alive, its log says it started")

    def check_mail_flow(self) -> None:
        """A customer registers on the portal; the confirmation e-mail reaches the mail catcher."""
        match = HINT.search(self.output)
        if not match:
            raise SmokeFailure("the banner names no web code and tax code for the portal registration")
        web_code, tax_code = match.groups()
        tag = secrets.token_hex(4)
        address = f"smoke-{tag}@example.com"  # the form refuses special-use domains
        op = opener()
        url = self.base + "/portal/register"
        status, page, _ = http_get(op, url)
        if status != 200:
            raise SmokeFailure(f"portal: GET /portal/register answered {status}")
        token = form_inputs(page).get("csrf_token")
        if not token:
            raise SmokeFailure("portal: the registration form has no csrf_token field")
        password = "Smoke-" + secrets.token_urlsafe(12)
        fields = {"csrf_token": token, "web_code": web_code, "identifier": tax_code,
                  "username": f"smoke-{tag}", "password": password, "password_confirm": password,
                  "question": "Name of the smoke test?", "answer": "demo smoke", "email": address}
        status, page, headers = http_post(op, url, fields)
        location = headers.get("Location", "")
        if status != 302 or not location.rstrip("/").endswith("/portal/login"):
            errors = [e.strip() for e in re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', page)
                      if e.strip()]
            raise SmokeFailure(f"portal: the registration POST answered {status} (Location {location!r}), "
                               f"not a redirect to the login page; errors on the page: {errors[:5]}")
        ok(f"portal: customer registered with web code {web_code} and tax code {tax_code} "
           f"(POST /portal/register -> 302 {urllib.parse.urlsplit(location).path})")

        box = self.var / "mailcatcher"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for path in sorted(box.glob("*.eml")) if box.is_dir() else []:
                msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
                if address in str(msg.get("X-Mailcatcher-Rcpt", "")):
                    ok(f"e-mail: {path.name} in the mail catcher, to {address}, "
                       f"subject {str(msg['Subject'])!r}")
                    self.check_job_run()
                    return
            time.sleep(1)
        raise SmokeFailure(f"e-mail: no message to {address} in {box} within 90 s (the scheduler's "
                           f"mail job delivers it); scheduler log:\n{tail(self.var / 'log' / 'scheduler.log')}")

    def check_job_run(self) -> None:
        """The jobs page's data: a `mail` run recorded with its outcome and a message sent.

        The message reaches the catcher before the run that sent it records its counts, so the
        run is looked for until it has finished (a run still `running` is not yet an answer).
        """
        deadline = time.monotonic() + 30
        while True:
            db = sqlite3.connect(f"file:{self.var / 'sportello.db'}", uri=True, timeout=10)
            try:
                rows = db.execute("SELECT status, counts FROM job_runs WHERE job_id = 'mail' "
                                  "ORDER BY id DESC LIMIT 50").fetchall()
            finally:
                db.close()
            sent = [r for r in rows if r[0] == "ok" and json.loads(r[1] or "{}").get("sent", 0) > 0]
            if sent or time.monotonic() > deadline:
                break
            time.sleep(1)
        if not sent:
            raise SmokeFailure(f"scheduler: no `mail` job run that sent a message in job_runs (last: {rows[:3]})")
        ok(f"scheduler: job_runs has {len(rows)} `mail` run(s), one ok with counts {sent[0][1]}")

    def check_logs(self) -> None:
        logs = sorted((self.var / "log").glob("*.log"))
        bad = [p for p in logs if "Traceback" in p.read_text(errors="replace")]
        if "Traceback" in self.read_output():
            bad.append(self.out_path)
        if bad:
            raise SmokeFailure("a traceback in " + ", ".join(str(p) for p in bad) + ":\n" +
                               "\n\n".join(f"{p}:\n{tail(p)}" for p in bad))
        ok(f"no traceback in {', '.join(p.name for p in logs)} nor in make run's output")

    # ----- stop -----

    def stop(self) -> list[str]:
        """Stop make run's process group; returns the problems found (leftovers, open ports)."""
        problems = []
        if self.proc is None:
            return problems
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            problems.append("make run did not exit within 40 s of SIGTERM")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (self._group_alive(pgid) or self.processes()):
            time.sleep(0.5)
        leftovers = self.processes()
        if self._group_alive(pgid) or leftovers:
            problems.append("processes left after stopping: " +
                            ("; ".join(f"{pid} {cmd[:120]}" for pid, cmd in leftovers)
                             or f"some in process group {pgid}"))
            for pid, _ in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for port in (self.web_port, self.sim_port, self.mail_port):
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    problems.append(f"port {port} still answers after stopping")
        self.proc = None
        return problems

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("DEMO_SMOKE_TIMEOUT", 600)),
                    help="seconds for make run to install and print its banner (default 600)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary clone even on success")
    args = ap.parse_args()

    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sportello-smoke-"))
    clone = work / "sportello"
    demo = None
    failure = None
    try:
        head = clone_head(clone)
        say(f"cloned HEAD {head[:12]} into {clone}")
        demo = Demo(clone, args.timeout)
        demo.start()
        took = demo.wait_banner()
        ok(f"make run printed its banner after {took:.0f} s (fresh .venv from requirements.txt)")
        demo.check_web()
        demo.check_simulator()
        demo.check_mailcatcher()
        demo.check_scheduler()
        demo.check_mail_flow()
        demo.check_logs()
    except SmokeFailure as exc:
        failure = str(exc)
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        failure = f"{exc} {detail}".strip()
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        problems = demo.stop() if demo is not None else []
    if not failure and not problems:
        ok("stopped: make run exited, no process left, ports closed")
    for problem in problems:
        say(f"FAIL  {problem}")
    if failure:
        say(f"FAIL  {failure}")
    if failure or problems:
        say(f"DEMO SMOKE FAILED after {time.monotonic() - t0:.0f} s; the clone and its logs stay in {work}")
        return 1
    if args.keep:
        say(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    say(f"demo smoke passed in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
