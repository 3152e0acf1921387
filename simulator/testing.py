"""Run the simulator from tests, benchmarks and `make run`.

    from simulator.testing import SimulatorProcess, generate

    generate("var/sim.db", customers=30, seed=1)
    with SimulatorProcess("var/sim.db") as sim:      # free port, waits for the WSDL
        gw = NavGateway(sim.url)                      # http://127.0.0.1:PORT/NAV/WS/DEMO
        sim.control("delay", seconds=2, count=1)      # next SOAP call sleeps 2 s
        sim.control("http500")                        # every SOAP call -> 500 until clear
        sim.clear()
        sim.stats()["applied"]                        # {"SubmitReading": 3, ...}
        sim.touch(0.01)                               # modify 1 % of every entity
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def generate(db_path, customers: int, seed: int, months: int = 12, *,
             subprocess_: bool = False) -> dict:
    """Generate a simulator DB (in-process by default; `subprocess_=True` via the CLI)."""
    db_path = str(db_path)
    if not subprocess_:
        from .generator import generate as _generate
        return _generate(db_path, customers, seed, months)
    out = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--customers", str(customers),
         "--seed", str(seed), "--months", str(months), "--db", db_path, "--quiet"],
        cwd=str(ROOT), check=True, capture_output=True, text=True, env=_env())
    return json.loads(out.stdout)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    return env


class SimulatorProcess:
    """`python -m simulator serve` in a subprocess on a (free) port."""

    def __init__(self, db_path, port: int | None = None, company: str | None = None,
                 host: str = "127.0.0.1", auth: str | None = None,
                 log_path: str | None = None, flavour: str = "nav",
                 ntlm_user_file: str | None = None) -> None:
        self.db_path = str(db_path)
        self.port = port
        self.flavour = flavour
        self.company = company or ("100" if flavour == "sap" else "DEMO")
        self.host = host
        self.auth = "ntlm" if ntlm_user_file else auth  # NTLM: users from ntlm_user_file
        self.ntlm_user_file = ntlm_user_file
        self.log_path = log_path or self.db_path + ".serve.log"
        self.proc: subprocess.Popen | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The adapter's base URL: http://HOST:PORT/NAV/WS/<Company> (NAV) or the SAP service
        http://HOST:PORT/sap/bc/srt/rfc/sap/zisu_portal/<client>/zisu_portal/zisu_portal"""
        if self.flavour == "sap":
            from .sap import path

            return self.root_url + path(self.company)
        return f"{self.root_url}/NAV/WS/{self.company}"

    def start(self, timeout: float = 30.0) -> "SimulatorProcess":
        if self.proc is not None and self.proc.poll() is None:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        cmd = [sys.executable, "-m", "simulator", "serve", "--db", self.db_path,
               "--host", self.host, "--port", str(self.port), "--company", self.company,
               "--flavour", self.flavour]
        if self.auth:
            cmd += ["--auth", self.auth]
        env = _env()
        if self.ntlm_user_file:
            env["NTLM_USER_FILE"] = str(self.ntlm_user_file)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.root_url}/_control/health", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"simulator did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> "SimulatorProcess":
        self.stop()
        return self.start()

    def control(self, action: str, **params) -> dict:
        """POST /_control/<action> with params as JSON; returns the JSON answer."""
        req = urllib.request.Request(f"{self.root_url}/_control/{action}",
                                     data=json.dumps(params).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self.control("stats")

    def clear(self) -> dict:
        return self.control("clear")

    def touch(self, fraction: float = 0.01, seed: int | None = None) -> dict:
        return self.control("touch", fraction=fraction, seed=seed)

    def decide_mandate(self, supply_point: str, status: str, reason: str = "",
                       reference: str = "") -> dict:
        """The bank's answer to the supply point's pending mandate: active or rejected."""
        return self.control("mandate", supply_point=supply_point, status=status, reason=reason,
                            reference=reference)

    def delete(self, entity: str, key: str, merged_into: str = "") -> dict:
        """Delete a customer or supply point in billing (NAV keys), or merge a duplicate
        customer into `merged_into`."""
        return self.control("delete", entity=entity, key=key, merged_into=merged_into)

    def __enter__(self) -> "SimulatorProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
